"""metrics.jsonl survives crashes and full disks: whole lines or nothing, damaged lines skipped and reported."""

from __future__ import annotations

import errno
import json
import os

import pytest

from ganzoo.errors import describe_os_error
from ganzoo.store.folder import RunFolder

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to aim the fault at one file")


def folder_with(tmp_path, records):
    run = RunFolder(tmp_path / "run")
    run.create()
    for r in records:
        run.append_metrics(r)
    return run


def test_append_writes_one_json_line_per_record_and_reads_back(tmp_path):
    records = [{"step": s, "loss_d": 0.5 * s, "loss_g": float("nan")} for s in (2, 4, 6)]
    run = folder_with(tmp_path, records)
    lines = run.metrics.read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4, 6]
    assert run.read_metrics()[1]["loss_d"] == 2.0
    assert run.read_metrics()[0]["loss_g"] == "nan", "non-finite values are kept as strings, valid JSON"


def test_a_cut_off_last_line_is_skipped_and_reported_never_a_json_error(tmp_path):
    run = folder_with(tmp_path, [{"step": 2}, {"step": 4}])
    with open(run.metrics, "ab") as f:
        f.write(b'{"step": 6, "loss_d": 0.3')  # what a crash or a full disk mid-line leaves
    scan = run.scan_metrics()
    assert [r["step"] for r in scan.records] == [2, 4]
    assert len(scan.skipped) == 1 and "line 3 is cut off" in scan.skipped[0]
    run.append_metrics({"step": 8})  # the next record starts on its own line, so it is not lost with the fragment
    assert [r["step"] for r in run.read_metrics()] == [2, 4, 8]


def test_garbage_lines_anywhere_are_skipped(tmp_path):
    run = folder_with(tmp_path, [{"step": 2}])
    with open(run.metrics, "ab") as f:
        f.write(b"\x00\xff\xfe not json\n[1, 2]\n")
    run.append_metrics({"step": 4})
    scan = run.scan_metrics()
    assert [r["step"] for r in scan.records] == [2, 4]
    assert [s.split(" line ")[1][:1] for s in scan.skipped] == ["2", "3"]


def test_resume_truncation_keeps_good_lines_up_to_the_checkpoint_and_reports_dropped_ones(tmp_path):
    run = folder_with(tmp_path, [{"step": s} for s in (2, 4, 6)] + [{"step": 4, "eval": {"fid": 1.0}}])
    with open(run.metrics, "ab") as f:
        f.write(b'{"step": 8, "lo')
    notices = run.truncate_metrics_after(4)
    assert run.read_metrics() == [{"step": 2}, {"step": 4}, {"step": 4, "eval": {"fid": 1.0}}]
    assert len(notices) == 1 and "dropped on resume" in notices[0]
    assert run.metrics.read_bytes().endswith(b"\n") and run.scan_metrics().skipped == []


def fail_writes(monkeypatch, suffix: str, partial: int = 7):
    """os.write to files ending in `suffix` writes `partial` bytes, then the disk is full."""
    real_write = os.write
    calls = []

    def full_disk(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(suffix):
            calls.append(len(data))
            if len(calls) == 1:
                return real_write(fd, bytes(data)[:partial])  # a short write first, as a filling disk does
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    return calls


@needs_proc
def test_a_full_disk_during_an_append_leaves_no_half_line(tmp_path, monkeypatch):
    run = folder_with(tmp_path, [{"step": 2}, {"step": 4}])
    before = run.metrics.read_bytes()
    calls = fail_writes(monkeypatch, "metrics.jsonl")
    with pytest.raises(OSError) as info:
        run.append_metrics({"step": 6, "loss_d": 0.25})
    monkeypatch.undo()
    assert len(calls) == 2, "the short write was continued, then failed"
    assert run.metrics.read_bytes() == before, "the partial record was cut back off"
    assert info.value.filename == str(run.metrics)
    assert "no space left" in describe_os_error(info.value)
    run.append_metrics({"step": 6})  # space freed: logging goes on
    assert [r["step"] for r in run.read_metrics()] == [2, 4, 6]


def test_sync_fsyncs_the_metrics_file(tmp_path, monkeypatch):
    run = folder_with(tmp_path, [{"step": 2}])
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else fd)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    run.sync()
    if os.path.isdir("/proc/self/fd"):
        assert str(run.metrics.resolve()) in synced
    else:
        assert synced
    RunFolder(tmp_path / "empty").sync()  # nothing logged yet: nothing to do, no error
