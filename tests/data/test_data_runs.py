"""Whole `ganzoo run`s on a prepared set of real PNG files, streamed from disk: the same weights as in memory,
and stop/resume bit-identical to a straight run across an epoch boundary, in one process and under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torchrun_runs import max_difference, records, torchrun, weights

import ganzoo
from ganzoo.cli.commands import main

# 20 images, batch 8: two batches an epoch (4 images left over), so epoch 1 starts at step 3 and epoch 2 at step 5.
IMAGES, BATCH = 20, 8
RUN = ["--batch-size", str(BATCH), "--image-size", "8", "--device", "cpu", "--precision", "fp32", "--quiet"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """`ganzoo prepare` on a folder of 20 random 8x8 PNGs."""
    root = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    out = tmp_path_factory.mktemp("prep") / "set"
    assert main(["prepare", str(root), "--image-size", "8", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    return out


def run(prepared, out, *args, model="dcgan"):
    assert main(["run", model, "--dataset", str(prepared), "--out", str(out), *RUN, *args]) == 0
    return out


def test_a_streamed_run_trains_exactly_as_the_in_memory_run(prepared, tmp_path):
    stream = run(prepared, tmp_path / "stream", "--steps", "4", "--data-mode", "stream", "--mirror")
    memory = run(prepared, tmp_path / "memory", "--steps", "4", "--data-mode", "memory", "--mirror")
    config = json.loads((stream / "config.json").read_text())
    assert config["train"]["data_mode"] == "stream" and config["train"]["mirror"] is True
    assert config["dataset"]["mode"] == "stream" and config["dataset"]["size"] == IMAGES
    assert config["dataset"]["bytes_in_memory"] < config["dataset"]["bytes"] * 4  # prefetch buffers, not the set
    assert json.loads((memory / "config.json").read_text())["dataset"]["mode"] == "memory"
    a, b = weights(stream), weights(memory)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "same batches, same weights"
    # and the batches did matter: another data seed trains to other weights
    other = weights(run(prepared, tmp_path / "seed1", "--steps", "4", "--data-mode", "stream", "--mirror",
                        "--seed", "1"))
    assert not all(torch.equal(a[k], other[k]) for k in a)


@pytest.mark.parametrize("stop", [2, 3])  # just before the epoch wrap, and just after it
def test_streamed_resume_across_an_epoch_boundary_is_bit_identical(prepared, tmp_path, stop):
    flags = ["--data-mode", "stream", "--mirror"]
    straight = run(prepared, tmp_path / "straight", "--steps", "6", *flags)
    part = run(prepared, tmp_path / "part", "--steps", str(stop), *flags)
    assert torch.load(part / "checkpoint.pt", weights_only=True)["sampler"]["epoch"] == (stop - 1) // 2
    ganzoo.resume(part, steps=6)
    end_a = torch.load(straight / "checkpoint.pt", weights_only=True)
    end_b = torch.load(part / "checkpoint.pt", weights_only=True)
    assert end_a["step"] == end_b["step"] == 6 and end_b["sampler"]["epoch"] == 2
    assert torch.equal(end_a["sampler"]["permutation"], end_b["sampler"]["permutation"])
    a, b = weights(straight), weights(part)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((part / "config.json").read_text())["dataset"]["mode"] == "stream"


@pytest.mark.slow  # three torchrun launches and a run: about 20 s on 2 busy CPU cores
def test_two_ranks_stream_stop_resume_match_straight_and_one_process(prepared, tmp_path):
    """vanilla (MLPs, no batch norm) so that 2 ranks x 4 samples equal 1 process x 8 up to summation order."""
    flags = ["vanilla", "--dataset", str(prepared), "--batch-size", str(BATCH), "--image-size", "8",
             "--data-mode", "stream", "--mirror", "--log-every", "1"]
    straight, part, single = tmp_path / "straight", tmp_path / "part", tmp_path / "single"
    proc = torchrun(tmp_path, *flags, "--steps", "6", "--out", str(straight))
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = torchrun(tmp_path, *flags, "--steps", "3", "--out", str(part))
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ganzoo", "run", "--resume", str(part), "--steps", "6", "--quiet"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GANZOO_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = json.loads((part / "config.json").read_text())
    assert config["world_size"] == 2 and config["dataset"]["mode"] == "stream"
    assert records(part)[-1] == {"step": 6, "ranks_in_sync": True, "world_size": 2}
    a, b = weights(straight), weights(part)
    assert all(torch.equal(a[k], b[k]) for k in a), "2-rank stop/resume == 2-rank straight, bit for bit"
    assert main(["run", *flags, "--steps", "6", "--out", str(single), *RUN[-5:]]) == 0
    assert max_difference(a, weights(single)) < 1e-5  # same global batches; only the all-reduce's sums differ
