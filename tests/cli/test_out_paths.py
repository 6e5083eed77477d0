"""--out of export, report, sample and interpolate never names a run folder's own files (or the folder itself)."""

from __future__ import annotations

import os

import pytest
from conftest import one_line_error
from use_runs import train_vanilla

from ganzoo.cli.commands import main
from ganzoo.store.folder import is_run_file


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_vanilla(tmp_path_factory.mktemp("outs") / "run")


def _snapshot(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv", [
    ["export", "{run}", "--format", "torchscript", "--out", "{run}/checkpoint.pt"],
    ["export", "{run}", "--format", "torchscript", "--out", "{run}/config.json"],
    ["export", "{run}", "--format", "torchscript", "--out", "{run}"],
    ["export", "{run}", "--format", "torchscript", "--out", "{run}/eval"],
    ["report", "{run}", "--out", "{run}/config.json"],
    ["sample", "{run}", "--out", "{run}/samples/"],
    ["sample", "{run}", "--out", "{run}/metrics.jsonl"],
    ["interpolate", "{run}", "--out", "{run}/eval.json"],
])
def test_an_out_naming_the_run_folders_own_files_is_refused(run_dir, argv, capsys):
    before = _snapshot(run_dir)
    code = main([a.format(run=run_dir) for a in argv])
    assert code == 2
    one_line_error(capsys, "--out", "run folder")
    assert _snapshot(run_dir) == before


def test_an_out_reaching_a_run_file_through_a_symlink_is_refused(run_dir, tmp_path, capsys):
    link = tmp_path / "elsewhere"
    os.symlink(run_dir, link)
    before = _snapshot(run_dir)
    assert main(["export", str(run_dir), "--format", "torchscript", "--out", str(link / "checkpoint.pt")]) == 2
    one_line_error(capsys, "--out", "checkpoint.pt")
    assert _snapshot(run_dir) == before


def test_files_beside_a_run_are_not_run_files(run_dir, tmp_path):
    assert is_run_file(run_dir / "config.json") and is_run_file(run_dir / ".lock")
    assert is_run_file(run_dir / "samples" / "step_1.png") and is_run_file(run_dir)
    assert not is_run_file(run_dir / "exports" / "generator.pt") and not is_run_file(tmp_path / "config.json")
