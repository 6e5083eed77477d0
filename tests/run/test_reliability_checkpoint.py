"""Checksummed checkpoints: every damaged byte is refused before unpickling, the file is left as it was, and the
previous good checkpoint is offered (and kept by rotation)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import warnings
import zipfile

import pytest
import torch

from ganzoo.errors import CorruptCheckpointError, describe_os_error
from ganzoo.store import checkpoint as ck
from ganzoo.store.checkpoint import (
    TRAILER_LEN,
    UnverifiedCheckpointWarning,
    load_checkpoint,
    newest_good_checkpoint,
    previous_path,
    save_checkpoint,
)
from ganzoo.store.folder import RunFolder


def real_state(step: int) -> dict:
    """What a trainer saves: network weights, Adam moments, RNG state (a small MLP keeps it fast)."""
    torch.manual_seed(step)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(5, 8)).square().mean().backward()
    opt.step()
    return {"step": step, "generator": net.state_dict(), "opt_g": opt.state_dict(),
            "rng": {"torch": torch.get_rng_state()}}


@pytest.fixture
def two_checkpoints(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(real_state(1), path)
    save_checkpoint(real_state(2), path)
    return path


def test_round_trip_with_a_sha256_trailer_that_plain_torch_load_also_reads(tmp_path):
    path = tmp_path / "checkpoint.pt"
    state = real_state(3)
    save_checkpoint(state, path)
    data = path.read_bytes()
    payload = data[:-TRAILER_LEN]
    assert data[-TRAILER_LEN:] == b"\n#ganzoo sha256=%s size=%020d\n" % (
        hashlib.sha256(payload).hexdigest().encode(), len(payload))
    loaded = load_checkpoint(path)
    assert loaded["step"] == 3
    assert all(torch.equal(loaded["generator"][k], v) for k, v in state["generator"].items())
    assert torch.load(path, weights_only=True)["step"] == 3, "zip readers ignore the trailer"
    assert zipfile.ZipFile(io.BytesIO(payload)).comment == ck.ZIP_COMMENT


def test_saving_rotates_the_previous_checkpoint_and_checkpoint_pt_always_exists(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(real_state(1), path)
    first = path.read_bytes()
    seen = []
    real_replace = os.replace

    def watching_replace(src, dst):  # at every rename during a save, checkpoint.pt is present
        seen.append(path.exists())
        return real_replace(src, dst)

    monkeypatch.setattr(ck.os, "replace", watching_replace)
    save_checkpoint(real_state(2), path)
    assert seen and all(seen)
    assert previous_path(path).read_bytes() == first
    assert load_checkpoint(path)["step"] == 2 and load_checkpoint(previous_path(path))["step"] == 1
    save_checkpoint(real_state(3), path)
    assert load_checkpoint(previous_path(path))["step"] == 2, "only one previous checkpoint is kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.prev.pt", "checkpoint.pt"]


def offsets(size: int) -> dict[str, int]:
    payload = size - TRAILER_LEN
    end_record = payload - len(ck.ZIP_COMMENT) - 22
    return {"zip header": 0, "payload start": 40, "payload middle": payload // 2, "zip end record": end_record,
            "zip comment": payload - 1,
            "trailer newline": payload, "trailer checksum": payload + 20, "trailer size": size - 3}


@pytest.mark.parametrize("section", list(offsets(1000)))
def test_one_flipped_byte_anywhere_is_refused_before_unpickling_and_the_previous_is_offered(
        two_checkpoints, section, monkeypatch):
    path = two_checkpoints
    data = bytearray(path.read_bytes())
    data[offsets(len(data))[section]] ^= 0x01
    path.write_bytes(bytes(data))

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a damaged checkpoint reached torch.load")

    monkeypatch.setattr(ck.torch, "load", no_unpickling)
    with pytest.raises(CorruptCheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and "corrupt or truncated" in message and "left untouched" in message
    assert "--from-previous" in message
    assert info.value.previous == previous_path(path)
    assert path.read_bytes() == bytes(data), "the damaged file is left exactly as it was"
    assert newest_good_checkpoint(path) == previous_path(path)


def test_the_error_names_the_previous_checkpoints_step(two_checkpoints):
    data = bytearray(two_checkpoints.read_bytes())
    data[len(data) // 3] ^= 0x80
    two_checkpoints.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError, match=r"checkpoint.prev.pt \(step 1\) verifies.*--resume .* "
                                                     r"--from-previous"):
        load_checkpoint(two_checkpoints)
    assert load_checkpoint(previous_path(two_checkpoints))["step"] == 1


@pytest.mark.parametrize("keep", [0, 1, 22, 500, -TRAILER_LEN - 1, -TRAILER_LEN, -1])
def test_truncated_files_are_refused(two_checkpoints, keep):
    data = two_checkpoints.read_bytes()
    cut = data[:keep] if keep >= 0 else data[:len(data) + keep]
    two_checkpoints.write_bytes(cut)
    with pytest.raises(CorruptCheckpointError, match="corrupt or truncated"):
        load_checkpoint(two_checkpoints)
    assert two_checkpoints.read_bytes() == cut


def test_without_a_previous_checkpoint_the_error_says_how_to_start_over(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(real_state(1), path)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError, match=r"no verifying previous checkpoint.*--restart") as info:
        load_checkpoint(path)
    assert info.value.previous is None


def test_a_v1_checkpoint_without_checksum_loads_with_a_notice_and_is_upgraded_on_save(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": ck.FORMAT, **real_state(5)}, path)  # exactly what ganzoo 0.1 wrote
    notes = []
    assert load_checkpoint(path, notice=notes.append)["step"] == 5
    assert len(notes) == 1 and "without a checksum" in notes[0]
    with pytest.warns(UnverifiedCheckpointWarning):
        load_checkpoint(path)
    v1 = path.read_bytes()
    save_checkpoint(real_state(6), path)
    assert previous_path(path).read_bytes() == v1, "the old file is kept as the previous checkpoint"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new one verifies: no notice
        assert load_checkpoint(path)["step"] == 6


def test_a_damaged_v1_checkpoint_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    buffer = io.BytesIO()
    torch.save({"format": ck.FORMAT, **real_state(5)}, buffer)
    path.write_bytes(buffer.getvalue()[:-30])
    with pytest.raises(CorruptCheckpointError):
        load_checkpoint(path)


def test_saving_over_a_damaged_checkpoint_keeps_the_good_previous_one_and_moves_the_damaged_aside(two_checkpoints):
    prev = previous_path(two_checkpoints)
    good_prev = prev.read_bytes()
    data = bytearray(two_checkpoints.read_bytes())
    data[200] ^= 0x10
    two_checkpoints.write_bytes(bytes(data))
    notes = []
    save_checkpoint(real_state(3), two_checkpoints, notice=notes.append)
    assert prev.read_bytes() == good_prev, "a damaged file is never rotated over the good previous one"
    aside = list(two_checkpoints.parent.glob("checkpoint.corrupt-*.pt"))
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(data), "nothing is deleted"
    assert notes and aside[0].name in notes[0]
    assert load_checkpoint(two_checkpoints)["step"] == 3


def enospc_for(suffix: str, monkeypatch, after_bytes: int = 100):
    """Make os.write fail with ENOSPC, after writing `after_bytes`, for files whose name ends with `suffix`."""
    real_write = os.write

    def full_disk(fd, data):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.endswith(suffix):
            if os.fstat(fd).st_size < after_bytes:
                return real_write(fd, bytes(data)[:max(1, after_bytes - os.fstat(fd).st_size)])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to aim the fault at one file")
def test_a_full_disk_during_a_checkpoint_write_leaves_both_checkpoints_intact(two_checkpoints, monkeypatch):
    before = {p.name: p.read_bytes() for p in two_checkpoints.parent.iterdir()}
    enospc_for(".tmp", monkeypatch)
    with pytest.raises(OSError) as info:
        save_checkpoint(real_state(3), two_checkpoints)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(two_checkpoints)
    assert {p.name: p.read_bytes() for p in two_checkpoints.parent.iterdir()} == before, "no temp file left"
    assert load_checkpoint(two_checkpoints)["step"] == 2
    message = describe_os_error(info.value)
    assert "no space left" in message and str(two_checkpoints) in message and "\n" not in message


def test_stale_temp_files_from_a_killed_write_are_removed_at_the_next_start(two_checkpoints):
    folder = two_checkpoints.parent
    stale = [folder / ".checkpoint.pt.1a2b3c.tmp", folder / ".checkpoint.prev.pt.99.tmp",
             folder / ".config.json.x.tmp", folder / ".metrics.jsonl.y.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    keep = [folder / ".eval.json.z.tmp", folder / "notes.tmp"]  # not ours to remove (eval runs without the lock)
    for p in keep:
        p.write_bytes(b"someone else's")
    removed = RunFolder(folder).clean_stale_temp()
    assert sorted(removed) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)
    assert load_checkpoint(two_checkpoints)["step"] == 2
