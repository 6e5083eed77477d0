"""Shared by the torchrun tests (engine and data): launch `ganzoo run` under torchrun, read what the run wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch


def torchrun(tmp_path, *args, nproc=2):
    env = {**os.environ, "GANZOO_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "ganzoo", "run", *args, "--device", "cpu", "--precision", "fp32", "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def weights(run_dir):
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    return {f"{net}.{k}": v for net in ("generator", "discriminator") for k, v in state[net].items()}


def records(run_dir):
    return [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]


def max_difference(a, b):
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)
