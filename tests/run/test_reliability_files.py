"""A run folder's files are its own: no write through a symbolic link, no checkpoint of another run, no huge file read
before it is known to be a checkpoint, no picture left half-written; each refusal is one line, exit 2."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

from ganzoo.cli.commands import main
from ganzoo.errors import CorruptCheckpointError
from ganzoo.store import checkpoint as checkpoint_module
from ganzoo.store.images import save_picture

ARGS = ["--dataset", "ring8", "--steps", "4", "--batch-size", "16", "--device", "cpu", "--precision", "fp32",
        "--log-every", "1", "--checkpoint-every", "2", "--sample-every", "2", "--quiet"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run, copied by each test that damages one."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["run", "vanilla", *ARGS, "--out", str(out)]) == 0
    return out


def one_line(capsys, *parts):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "internal error" not in err, err
    for part in parts:
        assert part in err, err
    return err


def snapshot(folder):
    """Every file below `folder` (links as links) -> its bytes or link target."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                found[os.path.relpath(path, folder)] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    found[os.path.relpath(path, folder)] = f.read()
    return found


@pytest.mark.parametrize("name", ["metrics.jsonl", ".lock", "checkpoint.pt", "config.json", "samples/step_0000006.png"])
def test_a_symbolic_link_among_a_runs_files_is_refused_and_nothing_is_written_through_it(finished, tmp_path, capsys,
                                                                                          name):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "victim"
    if (run / name).exists():
        shutil.copy(run / name, target)  # a plausible target: a copy of what the link replaces
        (run / name).unlink()
    else:
        target.write_bytes(b"not ganzoo's")
    os.symlink(target, run / name)
    before_outside, before_run = snapshot(outside), snapshot(run)
    for command in (["run", "--resume", str(run), "--steps", "6", "--quiet"], ["sample", str(run), "--out",
                                                                             str(tmp_path / "s.png")]):
        assert main(command) == 2
        one_line(capsys, str(run / name), "symbolic link")
    assert snapshot(outside) == before_outside, "nothing written outside the run folder"
    assert snapshot(run) == before_run, "the run folder loses nothing"


def test_a_new_run_into_a_folder_whose_lock_file_is_a_link_creates_nothing_outside(tmp_path, capsys):
    out = tmp_path / "new"
    out.mkdir()
    os.symlink(tmp_path / "elsewhere", out / ".lock")
    assert main(["run", "vanilla", *ARGS, "--out", str(out)]) == 2
    one_line(capsys, ".lock is a symbolic link")
    assert not (tmp_path / "elsewhere").exists() and sorted(os.listdir(out)) == [".lock"]


def test_a_checkpoint_copied_from_another_run_of_the_same_networks_is_refused(finished, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["run", "vanilla", *ARGS, "--seed", "9", "--out", str(other)]) == 0
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    mine = json.loads((run / "config.json").read_text())["run_id"]
    assert mine and mine != json.loads((other / "config.json").read_text())["run_id"], "each run has its own id"
    shutil.copy(other / "checkpoint.pt", run / "checkpoint.pt")
    before = snapshot(run)
    for command in (["run", "--resume", str(run), "--steps", "6", "--quiet"], ["sample", str(run), "--out",
                                                                             str(tmp_path / "s.png")]):
        assert main(command) == 2
        one_line(capsys, "belongs to another run", mine, "--restart")
    assert snapshot(run) == before


def test_a_resumed_run_keeps_its_id_and_its_checkpoints_carry_it(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    run_id = json.loads((run / "config.json").read_text())["run_id"]
    assert main(["run", "--resume", str(run), "--steps", "6", "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["run_id"] == run_id
    assert checkpoint_module.load_checkpoint(run / "checkpoint.pt")["run_id"] == run_id
    assert main(["run", "--resume", str(run), "--restart", "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["run_id"] != run_id, "a restart is another run"


def test_config_options_that_cannot_build_the_network_are_one_line(finished, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    config = json.loads((run / "config.json").read_text())
    config["spec"]["generator"]["options"]["hidden"] = [-5]
    (run / "config.json").write_text(json.dumps(config))
    assert main(["run", "--resume", str(run), "--steps", "6", "--quiet"]) == 2
    one_line(capsys, "cannot be built with hidden=[-5]", "config.json")
    assert main(["run", "vanilla", *ARGS, "--generator-option", "hidden=-5", "--out", str(tmp_path / "new")]) == 2
    one_line(capsys, "cannot be built with hidden=-5", "--generator-option")


def test_a_huge_sparse_file_as_checkpoint_is_refused_without_reading_it(finished, tmp_path):
    """4 GiB of holes under a 3 GiB address-space limit: reading it whole would fail with MemoryError."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    with open(run / "checkpoint.pt", "r+b") as f:
        f.truncate(4 * 2 ** 30)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 * 2 ** 30, 3 * 2 ** 30));"
            "from ganzoo.cli.commands import main; sys.exit(main(['sample', sys.argv[1], '--out', sys.argv[2]]))")
    result = subprocess.run([sys.executable, "-c", code, str(run), str(tmp_path / "s.png")], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cut off or not a checkpoint" in result.stderr
    with pytest.raises(CorruptCheckpointError):
        checkpoint_module.read_checkpoint_bytes(run / "checkpoint.pt")


def test_a_picture_replaces_a_link_at_its_path_and_a_failed_write_leaves_nothing(tmp_path, monkeypatch, capsys):
    from PIL import Image

    picture = Image.new("RGB", (4, 4), (255, 0, 0))
    target = tmp_path / "target.png"
    target.write_bytes(b"keep me")
    os.symlink(target, tmp_path / "grid.png")
    save_picture(picture, tmp_path / "grid.png")
    assert not os.path.islink(tmp_path / "grid.png") and target.read_bytes() == b"keep me"
    assert Image.open(tmp_path / "grid.png").getpixel((0, 0)) == (255, 0, 0)

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "write_fully", full)
    with pytest.raises(OSError):
        save_picture(picture, tmp_path / "new.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "target.png"], "no temp file, no half picture"


def test_a_hard_linked_copy_of_a_run_is_refused_before_it_writes_into_the_others_files(finished, tmp_path, capsys):
    """`cp -al`: metrics.jsonl (appended) and .lock (written) would be written through to the original's."""
    run = tmp_path / "copy"
    run.mkdir()
    for path in finished.rglob("*"):
        target = run / path.relative_to(finished)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    before = snapshot(finished)
    assert main(["run", "--resume", str(run), "--steps", "6", "--quiet"]) == 2
    one_line(capsys, "is a hard link shared with", "cp ")
    assert snapshot(finished) == before, "the original run is untouched"


def test_a_refused_new_run_does_not_keep_the_folder_locked(finished, tmp_path):
    """The error names the folder; kept alive (a notebook's last exception), it must not hold the lock."""
    from ganzoo.errors import CheckpointError
    from ganzoo.run.trainer import Trainer
    from ganzoo.spec.config import TrainConfig
    from ganzoo.store.lock import held_here

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    with pytest.raises(CheckpointError) as caught:
        Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=4, out=str(run)), progress=False)
    assert "already holds a run" in str(caught.value) and not held_here(run)


def test_a_folder_from_before_run_ids_takes_its_checkpoints_id_on_resume(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    config = json.loads((run / "config.json").read_text())
    old_id = config.pop("run_id")
    (run / "config.json").write_text(json.dumps(config))
    assert main(["run", "--resume", str(run), "--steps", "6", "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["run_id"] == old_id
    assert checkpoint_module.load_checkpoint(run / "checkpoint.pt")["run_id"] == old_id
