"""Faults injected into real (tiny) training runs through the CLI: one-line exit 2, nothing lost, resume works."""

from __future__ import annotations

import errno
import json
import os

import pytest
import torch
from conftest import one_line_error

from ganzoo.cli.commands import main
from ganzoo.store.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to aim faults at one file")

TINY = ["--steps", "4", "--batch-size", "16", "--log-every", "1", "--checkpoint-every", "2", "--precision", "fp32",
        "--device", "cpu", "--quiet"]


def disk_full_on(monkeypatch, name: str, after_calls: int):
    """os.write to files whose name contains `name` fails with ENOSPC from call number `after_calls` + 1 on."""
    real_write = os.write
    calls = []

    def write(fd, data):
        if name in os.path.basename(os.readlink(f"/proc/self/fd/{fd}")):
            calls.append(1)
            if len(calls) > after_calls:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def final_weights(run):
    state = load_checkpoint(run / "checkpoint.pt")
    return state["step"], [t for k in ("generator", "discriminator") for t in state[k].values()]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    assert main(["run", "vanilla", *TINY, "--out", str(out)]) == 0
    return final_weights(out)


@pytest.mark.parametrize("target,after", [("metrics.jsonl", 2), (".checkpoint.pt.", 1)], ids=["metrics append", "checkpoint"])
def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes_to_the_same_weights(tmp_path, capsys, monkeypatch,
                                                                              straight, target, after):
    out = tmp_path / "run"
    disk_full_on(monkeypatch, target, after)  # the 3rd metrics record, or the 2nd checkpoint (step 4)
    assert main(["run", "vanilla", *TINY, "--out", str(out)]) == 2
    monkeypatch.undo()
    one_line_error(capsys, "no space left on the disk")
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 2, "the step-2 checkpoint is intact"
    assert not list(out.glob(".*.tmp")), "a failed write leaves no temp file"
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines), "no cut-off line"
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    step, weights = final_weights(out)
    assert step == straight[0] == 4
    assert all(torch.equal(a, b) for a, b in zip(weights, straight[1])), "resumed == uninterrupted, bit for bit"
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4], "every step logged once"


def test_a_flipped_byte_in_a_trained_checkpoint_is_refused_by_resume_and_eval(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vanilla", *TINY, "--out", str(out)]) == 0
    capsys.readouterr()
    path = out / "checkpoint.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x04  # somewhere in the weights
    path.write_bytes(bytes(data))
    assert main(["run", "--resume", str(out), "--steps", "6"]) == 2
    one_line_error(capsys, "corrupt or truncated", "checkpoint.prev.pt (step 2) verifies", "--from-previous")
    assert main(["eval", str(out), "--samples", "50"]) == 2
    one_line_error(capsys, "corrupt or truncated")
    assert path.read_bytes() == bytes(data), "the damaged checkpoint is left as it was"
    assert load_checkpoint(out / "checkpoint.prev.pt")["step"] == 2


def test_bad_targets_and_sample_counts_are_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    assert main(["run", "vanilla", *TINY, "--out", str(blocker)]) == 2
    one_line_error(capsys, f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "keep me"
    out = tmp_path / "run"
    assert main(["run", "vanilla", *TINY, "--out", str(out)]) == 0
    capsys.readouterr()
    for n in ("1", "2"):
        assert main(["eval", str(out), "--samples", n]) == 2
        one_line_error(capsys, f"--samples {n} is too few for image metrics: at least 20")
    assert not (out / "eval.json").exists()


def test_a_read_only_file_system_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and str(path).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    assert main(["run", "vanilla", *TINY, "--out", str(out)]) == 2
    one_line_error(capsys, "read-only file system")
