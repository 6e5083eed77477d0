"""A hypothesis state machine over one run folder: train some steps, kill -9 a `ganzoo run --resume` at a random
moment, resume, evaluate, export, prepare the dataset again. Whatever the order, the finished run equals an
uninterrupted run bit for bit, each step is logged once, and eval/export/prepare never change the run's files.

Slow (each example starts several processes): ``pytest -m slow tests/run/test_state_machine.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule  # noqa: E402

from ganzoo.cli.commands import main  # noqa: E402

pytestmark = pytest.mark.slow

TOTAL = 40
COMMON = ["--batch-size", "16", "--device", "cpu", "--precision", "fp32", "--seed", "3", "--log-every", "1",
          "--checkpoint-every", "4", "--sample-every", "1000", "--quiet"]
_REFERENCE: dict[str, dict] = {}
KILLS = {"mid-run": 0}


def cli(*args) -> int:
    return main([str(a) for a in args])


def weights(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    return {f"{k}.{n}": t for k in ("generator", "discriminator", "ema") if state.get(k) for n, t in state[k].items()}


def owned_bytes(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name in
            ("checkpoint.pt", "checkpoint.prev.pt", "config.json", "metrics.jsonl")}


def reference(root: Path, cache: Path) -> dict[str, torch.Tensor]:
    """The same run to TOTAL steps without interruption (made once per session)."""
    if "weights" not in _REFERENCE:
        out = root / "reference"
        assert cli("run", "vanilla", "--dataset", cache, "--steps", TOTAL, *COMMON, "--out", out) == 0
        _REFERENCE["weights"] = weights(out)
    return _REFERENCE["weights"]


class RunFolderMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.root = Path(os.environ["GANZOO_STATE_MACHINE_ROOT"]) / f"case-{time.monotonic_ns()}"
        self.root.mkdir(parents=True)
        self.cache = Path(os.environ["GANZOO_STATE_MACHINE_ROOT"]) / "digits-8px"
        if not self.cache.exists():
            assert cli("prepare", "digits", "--image-size", "8", "--out", self.cache, "--quiet") == 0
        self.run = self.root / "run"
        self.started = False

    def step(self) -> int:
        if not (self.run / "checkpoint.pt").exists():
            return 0
        return int(torch.load(self.run / "checkpoint.pt", weights_only=True)["step"])

    @rule(steps=st.integers(1, 9))
    def train(self, steps):
        target = min(TOTAL, self.step() + steps)
        if not self.started:
            assert cli("run", "vanilla", "--dataset", self.cache, "--steps", target, *COMMON, "--out", self.run) == 0
            self.started = True
        elif target > self.step():
            assert cli("run", "--resume", self.run, "--steps", target, "--quiet") == 0

    @precondition(lambda self: self.started and self.step() < TOTAL)
    @rule(checkpoints=st.integers(0, 3), jitter=st.floats(0.0, 0.05))
    def kill_a_resume(self, checkpoints, jitter):
        """SIGKILL a resume after it wrote `checkpoints` more checkpoints, `jitter` seconds later: mid-step,
        mid-checkpoint or mid-log, wherever it lands."""
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        start = self.step()
        process = subprocess.Popen([sys.executable, "-m", "ganzoo", "run", "--resume", str(self.run), "--steps",
                                    str(TOTAL), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if self.step() >= start + 4 * checkpoints:
                    break
            except Exception:  # the checkpoint is being replaced: look again
                pass
            time.sleep(0.002)
        time.sleep(jitter)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            KILLS["mid-run"] += 1
        process.wait()

    @precondition(lambda self: self.started)
    @rule()
    def evaluate(self):
        before = owned_bytes(self.run)
        assert cli("eval", self.run, "--samples", "200", "--json") == 0
        assert owned_bytes(self.run) == before

    @precondition(lambda self: self.started)
    @rule()
    def export(self):
        from safetensors.torch import load_file

        import ganzoo

        before = owned_bytes(self.run)
        out = self.root / "export" / "g.safetensors"
        assert cli("export", self.run, "--format", "safetensors", "--out", out) == 0
        assert owned_bytes(self.run) == before
        exported = load_file(str(out))
        loaded = ganzoo.load(self.run).generator.state_dict()
        assert exported.keys() == loaded.keys() and all(torch.equal(exported[k], loaded[k]) for k in loaded)

    @rule()
    def prepare_again(self):
        before = (self.cache / "meta.json").read_text()
        assert cli("prepare", "digits", "--image-size", "8", "--out", self.cache, "--quiet") == 0
        assert json.loads((self.cache / "meta.json").read_text())["hash"] == json.loads(before)["hash"]

    @invariant()
    def resumable_and_logged_once(self):
        if not self.started:
            return
        assert (self.run / "config.json").is_file()
        steps = [json.loads(line)["step"] for line in (self.run / "metrics.jsonl").read_text().splitlines()
                 if line.strip()] if (self.run / "metrics.jsonl").exists() else []
        assert len(steps) == len(set(steps)), "a step logged twice"

    def teardown(self):
        if self.started:
            if self.step() < TOTAL:
                assert cli("run", "--resume", self.run, "--steps", TOTAL, "--quiet") == 0
            expected = reference(Path(os.environ["GANZOO_STATE_MACHINE_ROOT"]), self.cache)
            found = weights(self.run)
            assert found.keys() == expected.keys()
            assert all(torch.equal(found[k], expected[k]) for k in expected), "the finished run differs"
            logged = [json.loads(line)["step"] for line in (self.run / "metrics.jsonl").read_text().splitlines()]
            assert logged == list(range(1, TOTAL + 1))


RunFolderMachine.TestCase.settings = settings(max_examples=10, stateful_step_count=8, deadline=None,
                                              suppress_health_check=list(HealthCheck))


def test_run_folder_state_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_STATE_MACHINE_ROOT", str(tmp_path))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    hypothesis.stateful.run_state_machine_as_test(RunFolderMachine, settings=RunFolderMachine.TestCase.settings)
    assert KILLS["mid-run"] > 0, "no kill landed while a resume was running"
