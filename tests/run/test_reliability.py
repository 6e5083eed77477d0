"""Reliability: exact resume, atomic checkpoints, divergence handling, safe loading, clean errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.errors import CheckpointError, DivergenceError
from ganzoo.registry import get_registry
from ganzoo.run.trainer import Trainer
from ganzoo.spec.config import TrainConfig
from ganzoo.store import checkpoint as checkpoint_module
from ganzoo.store.checkpoint import load_checkpoint, save_checkpoint


def weights(trainer):
    nets = [trainer.gan.generator, trainer.gan.discriminator] + ([trainer.ema.shadow] if trainer.ema else [])
    return [t.detach().clone() for net in nets for t in net.state_dict().values()]


@pytest.mark.parametrize("model,extra", [("dcgan", {"ema_decay": 0.9}), ("wgan-gp", {}), ("vanilla", {"ema_decay": 0.99})])
def test_stop_and_resume_gives_identical_weights(model, extra, tmp_path):
    """k steps, stop, resume to n == n uninterrupted steps, bit for bit (CPU, fp32, same seed)."""
    common = dict(model=model, batch_size=16, device="cpu", precision="fp32", seed=11, log_every=2, **extra)
    straight = Trainer(TrainConfig(steps=8, out=str(tmp_path / "straight"), **common), progress=False)
    straight.fit()
    Trainer(TrainConfig(steps=3, out=str(tmp_path / "split"), **common), progress=False).fit()
    resumed = ganzoo.resume(tmp_path / "split", steps=8)
    assert resumed.step == 8
    resumed_trainer_weights = [t.detach().clone() for net in (resumed.gan.generator, resumed.gan.discriminator)
                               for t in net.state_dict().values()]
    straight_weights = weights(straight)[: len(resumed_trainer_weights)]
    assert all(torch.equal(a, b) for a, b in zip(straight_weights, resumed_trainer_weights))
    state = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    if extra.get("ema_decay"):
        ema_straight = straight.ema.state_dict()
        assert all(torch.equal(ema_straight[k], state["ema"][k]) for k in ema_straight)
    steps = [json.loads(l)["step"] for l in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6, 8], "metrics continue after the checkpoint step without duplicates"


def test_resume_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vanilla", "--steps", "6", "--out", str(out), "--quiet"]) == 0
    assert main(["run", "--resume", str(out), "--steps", "10", "--quiet"]) == 0
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 10
    assert json.loads((out / "config.json").read_text())["spec"]["steps"] == 10
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    assert "already at step 10" in capsys.readouterr().err
    assert main(["run", "--resume", str(out), "--lr", "0.1"]) == 2
    assert "--resume takes its settings from the run folder; drop --lr" in capsys.readouterr().err


def test_a_new_run_never_overwrites_an_existing_one(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vanilla", "--steps", "3", "--out", str(out), "--quiet"]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    assert main(["run", "vanilla", "--steps", "3", "--out", str(out), "--quiet"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda run: None, "does not exist"),
        (lambda run: run.mkdir(), "has no config.json"),
        (lambda run: (run.mkdir(), (run / "config.json").write_text("{not json")), "config.json is corrupt"),
    ],
)
def test_missing_or_corrupt_run_folder(tmp_path, capsys, damage, message):
    run = tmp_path / "run"
    damage(run)
    assert main(["run", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_corrupt_or_truncated_checkpoint_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vanilla", "--steps", "3", "--out", str(out), "--quiet"]) == 0
    ckpt = out / "checkpoint.pt"
    truncated = ckpt.read_bytes()[:500]
    ckpt.write_bytes(truncated)
    assert main(["run", "--resume", str(out), "--steps", "6"]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert ckpt.read_bytes() == truncated, "a bad checkpoint is never overwritten"
    ckpt.unlink()
    assert main(["run", "--resume", str(out), "--steps", "6"]) == 2
    assert "no checkpoint.pt" in capsys.readouterr().err


class Payload:
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))


def test_checkpoint_carrying_a_pickled_callable_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint_module.FORMAT, "generator": Payload()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(path)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, path)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.os, "replace", crash)
    with pytest.raises(OSError):
        save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    assert path.read_bytes() == good, "the previous checkpoint survives a failed write"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"], "no temporary file is left behind"


def nan_plugin(after: int):
    class NaNAfter(ganzoo.Loss):
        calls = 0

        def discriminator_loss(self, real, fake):
            NaNAfter.calls += 1
            base = torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean()
            return base * float("nan") if NaNAfter.calls > after else base

        def generator_loss(self, fake):
            return torch.nn.functional.softplus(-fake).mean()

    hook = staticmethod(ganzoo.hookimpl(lambda register: register("nan-later", NaNAfter)))
    hook.__func__.__name__ = "register_losses"
    return type("P", (), {"register_losses": hook})()


def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    get_registry().add_plugin(nan_plugin(after=4), name="nan")
    trainer = Trainer(TrainConfig(model="vanilla", loss="nan-later", steps=20, log_every=2, checkpoint_every=2,
                                  device="cpu", precision="fp32", out=str(tmp_path)), progress=False)
    # the NaN loss reaches the weights in the same update, so the message names the networks it made non-finite
    with pytest.raises(DivergenceError, match=r"diverged between steps 5 and 6: generator, discriminator became "
                                              r"non-finite; the last good checkpoint \(step 4\) is kept"):
        trainer.fit()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(t).all() for t in state["generator"].values())


def test_on_nan_skip_skips_bad_updates_and_finishes(tmp_path):
    get_registry().add_plugin(nan_plugin(after=4), name="nan")
    trainer = Trainer(TrainConfig(model="vanilla", loss="nan-later", steps=8, log_every=4, on_nan="skip",
                                  device="cpu", precision="fp32", out=str(tmp_path)), progress=False)
    d_params = [p.detach().clone() for p in trainer.gan.discriminator.parameters()]
    result = trainer.fit()
    assert result.step == 8
    records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["skipped_updates"] == 4
    assert all(torch.isfinite(p).all() for p in trainer.gan.discriminator.parameters())
    assert not all(torch.equal(a, b) for a, b in zip(d_params, trainer.gan.discriminator.parameters()))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_the_run_resumes(sig, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "GANZOO_CACHE": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "run", "vanilla", "--steps", "1000000", "--log-every", "5",
                             "--checkpoint-every", "1000000", "--out", str(out), "--quiet"],
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not (out / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "Traceback" not in err
    step = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert step > 0
    assert main(["run", "--resume", str(out), "--steps", str(step + 3), "--quiet"]) == 0


def test_debug_flag_shows_the_traceback(capsys):
    assert main(["run", "vanila", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "did you mean 'vanilla'" in err
