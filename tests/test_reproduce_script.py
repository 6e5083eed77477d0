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
