"""The engine's shape, as a user relies on it: a shallow step, one assembly path, and a compile fallback that never
leaves a half-applied step behind."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.engine.update import AdversarialUpdate
from ganzoo.spec.config import TrainConfig
from ganzoo.store.checkpoint import load_checkpoint

PACKAGE = Path(ganzoo.__file__).resolve().parent


def _ganzoo_frames_at_first_backward(monkeypatch, argv) -> list[str]:
    seen: list[list[str]] = []
    original = torch.Tensor.backward

    def spy(self, *args, **kwargs):
        if not seen:
            stack = inspect.stack()[1:]
            seen.append([f"{Path(f.filename).name}:{f.function}" for f in stack
                         if Path(f.filename).resolve().is_relative_to(PACKAGE)])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", spy)
    assert main(argv) == 0
    return seen[0]


@pytest.mark.parametrize("model", ["vanilla", "pacgan"])  # alternating and simultaneous updates
def test_ganzoo_run_reaches_the_first_backward_in_at_most_five_frames(model, monkeypatch, tmp_path):
    frames = _ganzoo_frames_at_first_backward(
        monkeypatch, ["run", model, "--steps", "1", "--out", str(tmp_path / "run"), "--quiet", "--precision", "fp32",
                      "--device", "cpu"])
    assert len(frames) <= 5, frames
    assert frames[0].endswith(("update.py:phase", "update.py:both")), frames


def test_the_step_reads_on_one_screen():
    lines = sum(len(inspect.getsource(f).splitlines()) for f in (AdversarialUpdate.step, AdversarialUpdate.phase))
    assert lines <= 40, lines


def _fail_when_d_is_frozen(monkeypatch):
    """torch.compile stand-in whose discriminator fails in the G phase (D's weights frozen there), as a compiler
    that cannot handle that graph would, after the D phase has already stepped D's optimiser."""
    failures = []

    def fake_compile(module, **kwargs):
        def run(*args, **kw):
            if any(True for _ in module.parameters()) and not any(p.requires_grad for p in module.parameters()):
                failures.append(type(module).__name__)
                raise RuntimeError("inductor: this graph cannot be compiled")
            return module(*args, **kw)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    return failures


def _config(tmp_path, name, **changes):
    settings = dict(model="dcgan", steps=4, batch_size=16, precision="fp32", device="cpu", out=str(tmp_path / name),
                    log_every=1, checkpoint_every=1, sample_every=1000)
    return TrainConfig(**{**settings, **changes})


def _state(trainer):
    return trainer.update.state_dict(), trainer.sampler.state_dict()


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return torch.equal(torch.as_tensor(a), torch.as_tensor(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_a_compile_failure_in_the_g_phase_leaves_one_clean_eager_step(monkeypatch, tmp_path):
    failures = _fail_when_d_is_frozen(monkeypatch)
    compiled = ganzoo.Trainer(_config(tmp_path, "compiled", compile=True), progress=False)
    eager = ganzoo.Trainer(_config(tmp_path, "eager"), progress=False)
    compiled.step(1)
    eager.step(1)
    assert failures, "the stand-in compiler failed in the G phase"
    assert any("torch.compile failed" in n for n in compiled.update.notices)
    opt_steps = {int(s["step"]) for s in compiled.update.opt_d.state.values()}
    assert opt_steps == {1}, "D's optimiser stepped once, not twice"
    (got, got_sampler), (want, want_sampler) = _state(compiled), _state(eager)
    assert _same(got_sampler, want_sampler), "one batch drawn, not two"
    for key in ("generator", "discriminator", "opt_g", "opt_d", "noise"):
        assert _same(got[key], want[key]), key
    assert compiled.update.read_metrics() == eager.update.read_metrics()


def test_resume_after_a_compile_fallback_is_bit_identical_to_an_eager_run(monkeypatch, tmp_path):
    _fail_when_d_is_frozen(monkeypatch)
    ganzoo.Trainer(_config(tmp_path, "compiled", compile=True, steps=2), progress=False).fit()
    ganzoo.resume(tmp_path / "compiled", steps=4)
    ganzoo.Trainer(_config(tmp_path, "eager"), progress=False).fit()
    got = load_checkpoint(tmp_path / "compiled" / "checkpoint.pt")
    want = load_checkpoint(tmp_path / "eager" / "checkpoint.pt")
    assert got["step"] == want["step"] == 4
    for key in ("generator", "discriminator", "opt_g", "opt_d", "noise", "sampler", "rng"):
        assert _same(got[key], want[key]), key
