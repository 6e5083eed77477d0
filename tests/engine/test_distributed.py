"""Data-parallel training: two gloo processes on CPU, launched with torchrun as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
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


def _pid_of_rank(rank: int, command_part: str):
    """The pid of the torchrun worker with RANK=`rank` whose command line contains `command_part`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode()
            environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if command_part in cmdline and "-m ganzoo" in cmdline and f"RANK={rank}".encode() in environ:
            return int(entry)
    return None


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the rank's process through /proc")
def test_a_killed_rank_leaves_the_survivor_one_line_and_the_run_resumable(tmp_path):
    import signal
    import time

    run = tmp_path / "killed"
    env = {**os.environ, "GANZOO_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ganzoo", "run",
           "vanilla", "--steps", "100000", "--batch-size", "16", "--checkpoint-every", "20", "--log-every", "20",
           "--device", "cpu", "--precision", "fp32", "--quiet", "--out", str(run)]
    launcher = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline and launcher.poll() is None:
            time.sleep(0.2)
        victim = _pid_of_rank(1, str(run))
        assert victim is not None and (run / "checkpoint.pt").exists(), "the job did not get going"
        os.kill(victim, signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    ours = [line for line in stderr.splitlines() if line.startswith("ganzoo:")]
    assert len(ours) == 1, stderr[-3000:]
    assert "rank 0: another process of this torchrun job stopped" in ours[0] and "internal error" not in ours[0]
    assert f"ganzoo run --resume {run}" in ours[0]
    # torchrun's launcher then reports the dead child with its own traceback (torch's, not a ganzoo process's)
    assert "Traceback" not in stderr.split("distributed/elastic")[0], "no traceback from ganzoo's processes"
    step = torch.load(run / "checkpoint.pt", weights_only=True)["step"]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ganzoo", "run", "--resume", str(run), "--steps", str(step + 2), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_separate_generator_regulariser_step_keeps_the_ranks_in_sync(tmp_path):
    """StyleGAN2's path length (its own G step every 4) runs through the plain generator, not DDP's wrapper: its
    gradients are averaged over the ranks by the engine, or the ranks' generators drift apart."""
    run = tmp_path / "sg2"
    proc = torchrun(tmp_path, "stylegan2", "--steps", "4", "--batch-size", "8", "--log-every", "4",
                    "--generator-option", "channel_max=8,w_dim=16", "--generator-option", "mapping_layers=2",
                    "--discriminator-option", "channel_max=8", "--latent-dim", "16", "--out", str(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any("reg/pl" in r for r in records(run)), "the path-length step ran"
    assert records(run)[-1]["ranks_in_sync"] is True
