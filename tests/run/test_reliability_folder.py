"""A run folder is never a dead end and never written into when it is not a run; OS errors read as one line."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from ganzoo.errors import CheckpointError, GanzooError, describe_os_error
from ganzoo.metrics import FeatureExtractor, image_metrics
from ganzoo.metrics.evaluate import MIN_IMAGE_SAMPLES, MIN_REAL_IMAGES, check_sample_count
from ganzoo.store.checkpoint import save_checkpoint
from ganzoo.store.folder import RunFolder


def run_with_files(path, checkpoint=True):
    run = RunFolder(path)
    run.create()
    run.write_config({"model": "vanilla", "train": {"steps": 4}})
    run.append_metrics({"step": 2, "loss_d": 1.0})
    (run.samples / "step_0000002.png").write_bytes(b"png")
    if checkpoint:
        save_checkpoint({"step": 2, "w": torch.ones(2)}, run.checkpoint)
    return run


@pytest.mark.parametrize("setup", ["missing", "empty", "lock and temp only"])
def test_new_or_empty_folders_are_fine_targets(tmp_path, setup):
    path = tmp_path / "run"
    if setup != "missing":
        path.mkdir()
    if setup == "lock and temp only":  # what a run killed before writing anything leaves
        (path / ".lock").write_text("")
        (path / ".config.json.abc.tmp").write_text("{")
    RunFolder(path).check_new_run_target()


def test_a_folder_holding_other_files_is_never_written_into(tmp_path):
    path = tmp_path / "photos"
    path.mkdir()
    for name in ("a.jpg", "b.jpg", "notes.txt", "metrics.csv"):
        (path / name).write_text("mine")
    with pytest.raises(GanzooError) as info:
        RunFolder(path).check_new_run_target()
    message = str(info.value)
    assert "not a ganzoo run (a.jpg, b.jpg, metrics.csv and 1 more)" in message and "\n" not in message
    assert sorted(p.name for p in path.iterdir()) == ["a.jpg", "b.jpg", "metrics.csv", "notes.txt"]


def test_out_naming_a_file_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(GanzooError, match="is a file, not a folder; pass another --out"):
        RunFolder(path).check_new_run_target()


def test_an_existing_run_says_resume_or_restart(tmp_path):
    with pytest.raises(CheckpointError, match=r"already holds a run; continue it with `ganzoo run --resume"):
        run_with_files(tmp_path / "a").check_new_run_target()
    with pytest.raises(CheckpointError, match=r"stopped before its first checkpoint, start it over with .*--restart"):
        run_with_files(tmp_path / "b", checkpoint=False).check_new_run_target()


def test_restart_moves_everything_aside_and_deletes_nothing(tmp_path):
    run = run_with_files(tmp_path / "run")
    save_checkpoint({"step": 4, "w": torch.ones(2)}, run.checkpoint)  # now a .prev too
    (run.path / "my-notes.txt").write_text("user file stays where it is")
    before = {p.relative_to(run.path): p.read_bytes() for p in run.path.rglob("*") if p.is_file()}
    aside = run.restart()
    assert aside.parent == run.path and aside.name.startswith(".restarted-")
    after_aside = {p.relative_to(aside): p.read_bytes() for p in aside.rglob("*") if p.is_file()}
    moved = {k: v for k, v in before.items() if k.parts[0] not in ("my-notes.txt", ".lock")}
    assert after_aside == moved, "every run file is in the aside folder, byte for byte"
    assert (run.path / "my-notes.txt").read_text() == "user file stays where it is"
    assert not run.holds_run() and not run.has_checkpoint()
    with pytest.raises(GanzooError, match="my-notes.txt"):
        run.check_new_run_target()  # the user's own file still guards the folder
    (run.path / "my-notes.txt").unlink()
    run.check_new_run_target()  # a restarted folder takes a new run
    run_with_files(run.path)
    second = run.restart()
    assert second != aside and aside.exists(), "a second restart never overwrites the first one's files"
    assert run.restart() is None, "nothing left to move"


def test_has_checkpoint_and_resume_checkpoint_always_say_how_to_go_on(tmp_path):
    run = run_with_files(tmp_path / "run", checkpoint=False)
    assert not run.has_checkpoint()
    with pytest.raises(CheckpointError, match="before its first checkpoint: start it over with .*--restart"):
        run.resume_checkpoint()
    save_checkpoint({"step": 2}, run.checkpoint)
    assert run.has_checkpoint() and run.resume_checkpoint() == run.checkpoint
    with pytest.raises(CheckpointError, match="no checkpoint.prev.pt"):
        run.resume_checkpoint(from_previous=True)
    save_checkpoint({"step": 4}, run.checkpoint)
    assert run.resume_checkpoint(from_previous=True) == run.previous_checkpoint
    run.checkpoint.unlink()  # e.g. a crash between the two renames on a file system without hard links
    assert run.has_checkpoint()
    with pytest.raises(CheckpointError, match="--from-previous"):
        run.resume_checkpoint()
    assert run.good_checkpoint() == run.previous_checkpoint


# -- OS errors -------------------------------------------------------------------------------------------------------
def test_real_os_errors_become_one_line_messages(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OSError) as info:
        (blocker / "run" / "samples").mkdir(parents=True)
    message = describe_os_error(info.value)
    assert message == f"{blocker} is a file, not a folder; pass another --out (or move the file away)"
    with pytest.raises(OSError) as info:
        os.mkdir(blocker)
    assert describe_os_error(info.value) == f"{blocker} already exists and is not a folder; pass another --out"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_permission_denied_is_a_one_line_message(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(OSError) as info:
        (locked / "config.json").write_text("{}")
    assert describe_os_error(info.value).startswith(f"permission denied ({locked / 'config.json'})")


@pytest.mark.parametrize("code,phrase", [
    (errno.ENOSPC, "no space left on the disk while writing (/r/metrics.jsonl)"),
    (errno.EROFS, "read-only file system (/r/metrics.jsonl); pass --out"),
    (errno.EACCES, "permission denied (/r/metrics.jsonl)"),
    (errno.EIO, "input/output error"),
])
def test_error_classes_that_need_a_mount_or_a_full_disk(code, phrase):
    message = describe_os_error(OSError(code, os.strerror(code), "/r/metrics.jsonl"))
    assert phrase in message and "\n" not in message


def test_unmapped_os_errors_stay_internal():
    assert describe_os_error(OSError(errno.ECONNRESET, "reset")) is None
    assert describe_os_error(FileNotFoundError(errno.ENOENT, "gone", "/x")) is None  # may be a bug: keep exit 1


# -- evaluation sample counts -----------------------------------------------------------------------------------------
class TinyExtractor(FeatureExtractor):
    num_features, description, name = 8, "random projection", "tiny"

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.proj, self.head = torch.nn.Linear(16, 8), torch.nn.Linear(8, 5)

    def features(self, x):
        return self.proj(x.flatten(1).float())

    def logits(self, x):
        return self.head(self.features(x)) * 5


@pytest.mark.parametrize("n", [1, 2, 19])
def test_too_few_eval_samples_are_refused_with_the_reason(n):
    with pytest.raises(GanzooError) as info:
        check_sample_count(n, "image", flag="--eval-samples")
    message = str(info.value)
    assert f"--eval-samples {n} is too few for image metrics: at least {MIN_IMAGE_SAMPLES}" in message
    assert "\n" not in message
    check_sample_count(n, "vector")  # mode coverage works for any count
    with pytest.raises(GanzooError, match=f"at least {MIN_REAL_IMAGES} real images"):
        check_sample_count(None, "image", num_real=MIN_REAL_IMAGES - 1)


def test_the_minimum_is_where_every_image_metric_becomes_meaningful():
    """Below 4 samples the metrics crash; up to 10 the Inception Score is exactly 1 (one sample per split);
    at MIN_IMAGE_SAMPLES every metric is defined and IS depends on the samples."""
    torch.manual_seed(1)
    real = torch.rand(50, 1, 4, 4) * 2 - 1
    with pytest.raises(RuntimeError):
        image_metrics(real, torch.rand(3, 1, 4, 4) * 2 - 1, TinyExtractor())
    assert image_metrics(real, torch.rand(10, 1, 4, 4) * 2 - 1, TinyExtractor())["is_mean"] == pytest.approx(1.0)
    result = image_metrics(real, torch.rand(MIN_IMAGE_SAMPLES, 1, 4, 4) * 2 - 1, TinyExtractor())
    assert all(torch.isfinite(torch.tensor(v)) for k, v in result.items() if isinstance(v, float))
    assert result["is_mean"] > 1.0 + 1e-6
