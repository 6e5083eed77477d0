"""Data-parallel training: two gloo processes on CPU, launched with torchrun as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from torchrun_runs import max_difference, records, torchrun, weights

from ganzoo.cli.commands import main


def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    proc = torchrun(tmp_path, "vanilla", "--steps", "8", "--batch-size", "32", "--log-every", "4", "--out", str(ddp))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert main(["run", "vanilla", "--steps", "8", "--batch-size", "32", "--log-every", "4", "--device", "cpu",
                 "--precision", "fp32", "--out", str(single), "--quiet"]) == 0
    config = json.loads((ddp / "config.json").read_text())
    assert config["world_size"] == 2 and config["backend"] == "gloo"
    assert records(ddp)[-1] == {"step": 8, "ranks_in_sync": True, "world_size": 2}
    # same data shards and the same global noise: only float summation order differs
    assert max_difference(weights(ddp), weights(single)) < 1e-5
    assert abs(records(ddp)[1]["loss_d"] - records(single)[1]["loss_d"]) < 1e-5


def test_gradient_penalty_and_n_critic_under_ddp_and_resume(tmp_path):
    run = tmp_path / "wgan"
    proc = torchrun(tmp_path, "wgan-gp", "--steps", "2", "--batch-size", "16", "--out", str(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert records(run)[-1]["ranks_in_sync"] is True
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ganzoo", "run", "--resume", str(run), "--steps", "3", "--quiet"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GANZOO_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 3
    assert records(run)[-1]["ranks_in_sync"] is True


def test_global_batch_must_split_evenly(tmp_path):
    proc = torchrun(tmp_path, "vanilla", "--steps", "2", "--batch-size", "33", "--out", str(tmp_path / "r"))
    assert proc.returncode != 0
    assert "must be divisible by the 2 processes" in proc.stderr
