"""benchmarks/reproduce.py: a run continued with --resume equals one trained straight through, so the 400k-step
PacGAN table can be built in pieces (sessions, machines) without changing its numbers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import ganzoo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reproduce():
    spec = importlib.util.spec_from_file_location("reproduce_script", ROOT / "benchmarks" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _job(out: Path, steps: int, resume: bool = False) -> dict:
    return dict(model="vanilla", dataset="ring8", seed=0, steps=steps, eval_every=10, precision="fp32",
                resume=resume, path=str(out / "runs" / "ring8-vanilla-seed0.jsonl"))


def _evals(out: Path) -> list[dict]:
    lines = (out / "runs" / "ring8-vanilla-seed0.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


def test_resumed_run_equals_straight_run(reproduce, tmp_path):
    threads = torch.get_num_threads()
    try:
        reproduce.run_one(_job(tmp_path / "straight", 30))
        reproduce.run_one(_job(tmp_path / "pieces", 20))
        assert [e["step"] for e in _evals(tmp_path / "pieces")] == [10, 20]
        reproduce.run_one(_job(tmp_path / "pieces", 30, resume=True))
    finally:
        torch.set_num_threads(threads)
    straight, pieces = _evals(tmp_path / "straight"), _evals(tmp_path / "pieces")
    assert [e["step"] for e in pieces] == [10, 20, 30]  # the first piece's evaluations kept, none repeated
    for a, b in zip(straight, pieces):
        assert a["raw"] == b["raw"] and a["ema"] == b["ema"]
    header = json.loads((tmp_path / "pieces" / "runs" / "ring8-vanilla-seed0.jsonl").read_text().splitlines()[0])
    assert header["header"]["steps"] == 30
    g1 = ganzoo.load(tmp_path / "straight" / "runs" / "ring8-vanilla-seed0").generator.state_dict()
    g2 = ganzoo.load(tmp_path / "pieces" / "runs" / "ring8-vanilla-seed0").generator.state_dict()
    assert g1.keys() == g2.keys() and all(torch.equal(g1[k], g2[k]) for k in g1)
    assert (tmp_path / "pieces" / "runs" / "ring8-vanilla-seed0.png").stat().st_size > 0
    summary = reproduce.summarize(tmp_path / "pieces", "cmd")
    assert summary["rows"][0]["seeds_complete"] == 1 and summary["rows"][0]["steps"] == 30


def test_without_resume_a_run_starts_over(reproduce, tmp_path):
    threads = torch.get_num_threads()
    try:
        reproduce.run_one(_job(tmp_path, 20))
        reproduce.run_one(_job(tmp_path, 10))
    finally:
        torch.set_num_threads(threads)
    assert [e["step"] for e in _evals(tmp_path)] == [10]


def _run(reproduce, job):
    threads = torch.get_num_threads()
    try:
        return reproduce.run_one(job)
    finally:
        torch.set_num_threads(threads)


def test_resume_follows_the_new_eval_every_and_updates_config_json(reproduce, tmp_path):
    _run(reproduce, _job(tmp_path, 20))
    job = {**_job(tmp_path, 30, resume=True), "eval_every": 5}
    _run(reproduce, job)
    assert [e["step"] for e in _evals(tmp_path)] == [10, 20, 25, 30]
    saved = json.loads((tmp_path / "runs" / "ring8-vanilla-seed0" / "config.json").read_text())
    assert saved["train"]["steps"] == 30 and saved["spec"]["steps"] == 30 and saved["train"]["log_every"] == 5


def test_resume_of_a_finished_run_keeps_its_evaluations(reproduce, tmp_path):
    _run(reproduce, _job(tmp_path, 20))
    before = _evals(tmp_path)
    (tmp_path / "runs" / "ring8-vanilla-seed0.png").unlink()
    _run(reproduce, _job(tmp_path, 20, resume=True))
    assert _evals(tmp_path) == before
    assert (tmp_path / "runs" / "ring8-vanilla-seed0.png").exists()


def test_resume_refuses_fewer_steps_and_evaluations_without_a_checkpoint(reproduce, tmp_path):
    _run(reproduce, _job(tmp_path, 20))
    before = (tmp_path / "runs" / "ring8-vanilla-seed0.jsonl").read_text()
    with pytest.raises(SystemExit, match="already at step 20.*--steps 10"):
        _run(reproduce, _job(tmp_path, 10, resume=True))
    assert (tmp_path / "runs" / "ring8-vanilla-seed0.jsonl").read_text() == before
    # the folder's lock was released: the run continues
    _run(reproduce, _job(tmp_path, 30, resume=True))
    assert [e["step"] for e in _evals(tmp_path)] == [10, 20, 30]
    # a results file from before checkpoints were kept: --resume would lose it, so it is refused
    import shutil

    shutil.rmtree(tmp_path / "runs" / "ring8-vanilla-seed0")
    with pytest.raises(SystemExit, match="no checkpoint"):
        _run(reproduce, _job(tmp_path, 40, resume=True))
    assert [e["step"] for e in _evals(tmp_path)] == [10, 20, 30]
