"""The run loop's reliability as a user meets it: one owner per folder, kills at any moment, restart, hand edits of
config.json, and a property test of random run / kill / resume / eval sequences against an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from conftest import one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.run.trainer import Interrupted, Trainer
from ganzoo.spec.config import TrainConfig
from ganzoo.store.checkpoint import load_checkpoint
from ganzoo.store.folder import RunFolder
from ganzoo.store.lock import held_here
from ganzoo.use.evaluate import evaluate_run

pytest.importorskip("fcntl")

STEPS = 6
TINY = dict(model="vanilla", dataset="ring8", steps=STEPS, batch_size=16, device="cpu", precision="fp32", seed=5,
            log_every=1, sample_every=1000)
TINY_ARGS = ["--dataset", "ring8", "--steps", str(STEPS), "--batch-size", "16", "--device", "cpu", "--precision",
             "fp32", "--seed", "5", "--log-every", "1", "--sample-every", "1000", "--quiet"]


def final_weights(run):
    state = load_checkpoint(run / "checkpoint.pt")
    nets = [state[k] for k in ("generator", "discriminator")] + ([state["ema"]] if state.get("ema") else [])
    return state["step"], [t for net in nets for t in net.values()]


def metric_steps(run):
    return [r["step"] for r in RunFolder(run).read_metrics() if "loss_d" in r]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run every interrupted one must reproduce bit for bit."""
    out = tmp_path_factory.mktemp("straight") / "run"
    Trainer(TrainConfig(out=str(out), checkpoint_every=2, **TINY), progress=False).fit()
    return final_weights(out)


# -- one owner -------------------------------------------------------------------------------------------------------
LIVE_RUN = [sys.executable, "-m", "ganzoo", "run", "vanilla", "--dataset", "ring8", "--steps", "1000000",
            "--log-every", "5", "--sample-every", "1000000", "--checkpoint-every", "1000000", "--device", "cpu",
            "--quiet"]


@pytest.mark.slow
def test_a_second_run_or_resume_of_a_folder_in_training_is_refused_with_the_holders_pid(tmp_path, capsys):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(LIVE_RUN + ["--out", str(out)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 60
        while not (out / "metrics.jsonl").exists() and time.time() < deadline:
            time.sleep(0.1)
        assert (out / "metrics.jsonl").exists(), "the live run started"
        assert main(["run", "--resume", str(out), "--steps", "2000000", "--quiet"]) == 2
        one_line_error(capsys, f"in use by pid {proc.pid}", f"kill {proc.pid}")
        assert main(["run", "vanilla", *TINY_ARGS, "--out", str(out), "--restart"]) == 2
        one_line_error(capsys, f"in use by pid {proc.pid}")
        assert (out / "config.json").exists() and not list(out.glob(".restarted-*")), "nothing was moved aside"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    step = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert main(["run", "--resume", str(out), "--steps", str(step + 2), "--quiet"]) == 0, "the lock died with it"


HOLDER = textwrap.dedent("""
    import sys, time
    from ganzoo.store.lock import RunLock
    for folder in sys.argv[1:]:
        RunLock(folder).acquire()
    print("locked", flush=True)
    time.sleep(120)
""")


def test_a_run_or_resume_is_refused_while_another_process_holds_the_folder(tmp_path, capsys):
    out, done = tmp_path / "run", tmp_path / "done"
    assert main(["run", "vanilla", *TINY_ARGS, "--steps", "2", "--out", str(done)]) == 0
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(done), str(out)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert proc.stdout.readline().strip() == "locked"
        capsys.readouterr()
        assert main(["run", "--resume", str(done), "--steps", "4", "--quiet"]) == 2
        one_line_error(capsys, f"in use by pid {proc.pid}")
        assert main(["run", "--resume", str(done), "--restart", "--quiet"]) == 2
        one_line_error(capsys, f"in use by pid {proc.pid}")
        assert not list(done.glob(".restarted-*")) and load_checkpoint(done / "checkpoint.pt")["step"] == 2
        assert main(["run", "vanilla", *TINY_ARGS, "--out", str(out)]) == 2
        one_line_error(capsys, f"in use by pid {proc.pid}")
        assert not (out / "config.json").exists()
    finally:
        proc.kill()
        proc.wait()
    assert main(["run", "vanilla", *TINY_ARGS, "--out", str(out)]) == 0


def test_the_trainer_holds_the_lock_while_it_writes_and_a_resume_or_restart_from_when_it_is_built(tmp_path):
    out = tmp_path / "run"
    seen = []
    real_create = RunFolder.create
    created = []
    trainer = Trainer(TrainConfig(out=str(out), **TINY), progress=lambda event: seen.append(held_here(out)))
    assert not out.exists(), "a trainer that is never fit writes nothing"
    RunFolder.create = lambda self: (created.append(held_here(out)), real_create(self))[1]
    try:
        trainer.fit()
    finally:
        RunFolder.create = real_create
    assert created == [True], "held before the first file is written"
    assert seen and all(seen) and not held_here(out), "held during fit, released after"
    resumed = Trainer(TrainConfig(out=str(out), **{**TINY, "steps": STEPS + 2}), resume=out, progress=False)
    assert held_here(out)
    resumed.close()
    assert not held_here(out)
    restarting = Trainer(TrainConfig(out=str(out), **TINY), restart=True, progress=False)
    assert held_here(out), "a restart locks the existing folder when it is built, before it moves anything aside"
    restarting.close()
    assert not held_here(out) and not list(out.glob(".restarted-*"))


# -- killed at the worst moment --------------------------------------------------------------------------------------
def test_sigterm_between_config_write_and_the_first_step_leaves_a_resumable_folder(tmp_path, monkeypatch, straight):
    out = tmp_path / "run"
    real_write = RunFolder.write_config

    def write_then_sigterm(self, config):
        real_write(self, config)
        os.kill(os.getpid(), signal.SIGTERM)  # the trainer's handler is already installed: it must checkpoint

    monkeypatch.setattr(RunFolder, "write_config", write_then_sigterm)
    with pytest.raises(Interrupted, match="stopped by SIGTERM at step 1; checkpoint saved"):
        Trainer(TrainConfig(out=str(out), checkpoint_every=2, **TINY), progress=False).fit()
    monkeypatch.undo()
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 1
    assert metric_steps(out) == [1]
    ganzoo.resume(out)
    assert final_weights(out)[0] == STEPS
    assert all(torch.equal(a, b) for a, b in zip(final_weights(out)[1], straight[1]))


class Killed(BaseException):
    """A hard kill: nothing after it runs in the trainer (no checkpoint)."""


def test_killed_before_the_first_checkpoint_is_restartable_never_a_dead_end(tmp_path, monkeypatch, capsys, straight):
    out = tmp_path / "run"
    real_write = RunFolder.write_config

    def write_then_die(self, config):
        real_write(self, config)
        raise Killed()

    monkeypatch.setattr(RunFolder, "write_config", write_then_die)
    with pytest.raises(Killed):
        main(["run", "vanilla", *TINY_ARGS, "--checkpoint-every", "2", "--out", str(out)])
    monkeypatch.undo()
    capsys.readouterr()
    assert (out / "config.json").exists() and not (out / "checkpoint.pt").exists()
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    one_line_error(capsys, "stopped before its first checkpoint", f"ganzoo run --resume {out} --restart")
    assert main(["run", "vanilla", *TINY_ARGS, "--out", str(out)]) == 2
    one_line_error(capsys, "already holds a run", "--restart")
    assert main(["run", "--resume", str(out), "--restart", "--quiet"]) == 0
    aside = list(out.glob(".restarted-*"))
    assert len(aside) == 1 and (aside[0] / "config.json").exists(), "the old config is kept, not deleted"
    assert json.loads((out / "config.json").read_text())["train"] == json.loads(
        (aside[0] / "config.json").read_text())["train"], "restarted with the folder's own settings"
    assert all(torch.equal(a, b) for a, b in zip(final_weights(out)[1], straight[1]))
    assert metric_steps(out) == list(range(1, STEPS + 1))


def test_restart_with_out_starts_a_new_run_in_a_used_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vanilla", *TINY_ARGS, "--out", str(out)]) == 0
    assert main(["run", "vanilla", *TINY_ARGS, "--seed", "9", "--out", str(out), "--restart"]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 9
    assert len(list(out.glob(".restarted-*/checkpoint.pt"))) == 1
    assert "started" in capsys.readouterr().err, "the move is announced"
    assert main(["run", "--restart", *TINY_ARGS[2:]]) == 2  # no model/--out: nothing to restart
    one_line_error(capsys, "--restart needs the folder")


def test_from_previous_resumes_from_the_checkpoint_before_the_last(tmp_path, capsys, straight):
    out = tmp_path / "run"
    assert main(["run", "vanilla", *TINY_ARGS, "--checkpoint-every", "2", "--out", str(out)]) == 0
    (out / "checkpoint.pt").write_bytes(b"damaged")
    assert main(["run", "--resume", str(out), "--steps", "4", "--from-previous", "--quiet"]) == 2
    one_line_error(capsys, "already at step 4")  # checkpoint.prev.pt holds step 4 of 6
    assert main(["run", "--resume", str(out), "--steps", str(STEPS + 2), "--from-previous", "--quiet"]) == 0
    assert final_weights(out)[0] == STEPS + 2
    assert list(out.glob("checkpoint.corrupt-*.pt")), "the damaged file was moved aside, not overwritten"
    assert "failed verification" in capsys.readouterr().err
    assert main(["run", "vanilla", *TINY_ARGS, "--from-previous", "--out", str(tmp_path / "x")]) == 2
    one_line_error(capsys, "--from-previous goes with --resume")


# -- hand edits of config.json ---------------------------------------------------------------------------------------
def test_a_hand_edited_learning_rate_in_the_spec_is_applied_on_resume(tmp_path):
    out = tmp_path / "run"
    Trainer(TrainConfig(out=str(out), **{**TINY, "steps": 3}), progress=False).fit()
    config = json.loads((out / "config.json").read_text())
    assert config["spec"]["optimizer_g"]["options"]["lr"] == 1e-4  # vanilla's 2-D variant (PacGAN's protocol)
    config["spec"]["optimizer_g"]["options"]["lr"] = 3e-3
    config["spec"]["optimizer_d"]["options"]["betas"] = [0.5, 0.99]
    (out / "config.json").write_text(json.dumps(config))
    ganzoo.resume(out, steps=5)
    state = load_checkpoint(out / "checkpoint.pt")
    assert [g["lr"] for g in state["opt_g"]["param_groups"]] == [3e-3]
    assert [tuple(g["betas"]) for g in state["opt_d"]["param_groups"]] == [(0.5, 0.99)]
    assert state["opt_d"]["param_groups"][0]["lr"] == config["spec"]["optimizer_d"]["options"]["lr"]
    assert state["opt_g"]["state"], "the optimiser's moments were kept"
    saved = json.loads((out / "config.json").read_text())
    assert saved["spec"]["optimizer_g"]["options"]["lr"] == 3e-3 and "hyperparameters" not in saved


@pytest.mark.parametrize("edit,phrase", [
    (lambda c: c.__setitem__("train", [1, 2]), "\"train\" must be an object, got list"),
    (lambda c: c["train"].__setitem__("steps", "ten"), "train.steps: --steps must be a positive integer, got 'ten'"),
    (lambda c: c["train"].__setitem__("seed", None), "train.seed is null"),
    (lambda c: c["train"].__setitem__("precision", 16), "train.precision: --precision must be a string"),
    (lambda c: c["train"].__setitem__("mirror", "yes"), "train.mirror: --mirror must be true or false"),
    (lambda c: c["spec"].__setitem__("latent_dim", "64"), "latent_dim"),
    (lambda c: c["spec"]["optimizer_g"]["options"].__setitem__("lr", None), "learning rate must be a positive"),
    (lambda c: c.__setitem__("spec", 3), "\"spec\" must be an object"),
])
def test_a_damaged_config_json_is_one_line_exit_2_on_resume_and_eval(tmp_path, capsys, edit, phrase):
    out = tmp_path / "run"
    assert main(["run", "vanilla", *TINY_ARGS, "--steps", "2", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    edit(config)
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["run", "--resume", str(out), "--steps", "4", "--quiet"]) == 2
    one_line_error(capsys, phrase)
    assert main(["eval", str(out)]) == 2
    one_line_error(capsys, phrase)
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 2, "nothing was trained or written"


# -- random sequences ------------------------------------------------------------------------------------------------
class Crash(Exception):
    """A crash in the middle of training (no checkpoint written at that moment)."""


def kill_at(step: int, how: str):
    def progress(event):
        if event.get("event") == "log" and event["step"] == step:
            if how == "term":
                os.kill(os.getpid(), signal.SIGTERM)  # checkpoint at the next step, then Interrupted
            else:
                raise Crash(f"crash at step {step}")
    return progress


def check_consistent(run, crashed: bool):
    """config, checkpoint and metrics agree: every logged step up to the checkpoint exactly once."""
    folder = RunFolder(run)
    config = folder.read_config()
    assert "steps" not in config["train"] and config["spec"]["steps"] > 0  # stored once, in the spec
    if not folder.has_checkpoint():
        return
    step = load_checkpoint(folder.checkpoint)["step"]
    logged = metric_steps(run)
    assert logged[:step] == list(range(1, step + 1)), logged
    if not crashed:  # a crash can leave records after the checkpoint; the next resume drops them
        assert logged == list(range(1, step + 1)), logged
    for path in (run / "eval.json",):
        if path.exists():
            assert json.loads(path.read_text())["step"] <= step


OPS = st.lists(st.tuples(st.sampled_from(["term", "crash", "eval"]), st.integers(1, STEPS)), min_size=1, max_size=3)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS, checkpoint_every=st.integers(1, 3))
def test_random_kill_resume_eval_sequences_end_in_the_uninterrupted_weights(tmp_path_factory, straight, ops,
                                                                            checkpoint_every):
    run = tmp_path_factory.mktemp("seq") / "run"
    config = TrainConfig(out=str(run), checkpoint_every=checkpoint_every, **TINY)
    started = False
    for kind, at in ops:
        if kind == "eval":
            if RunFolder(run).has_checkpoint() and (run / "config.json").exists():
                result = evaluate_run(run)
                assert result["step"] == load_checkpoint(run / "checkpoint.pt")["step"]
            continue
        progress = kill_at(at, kind)
        with pytest.raises((Interrupted, Crash, ganzoo.GanzooError)) as info:
            if not started:
                Trainer(config, progress=progress).fit()
            elif RunFolder(run).has_checkpoint():
                ganzoo.resume(run, progress=progress)
            else:
                ganzoo.resume(run, progress=progress, restart=True)
            raise ganzoo.GanzooError("finished before the kill")  # the kill step was past the end
        started = True
        assert not held_here(run), "the lock is released however fit() ends"
        check_consistent(run, crashed=info.type is Crash)
    if not started:
        Trainer(config, progress=False).fit()
    elif RunFolder(run).has_checkpoint() and load_checkpoint(run / "checkpoint.pt")["step"] < STEPS:
        ganzoo.resume(run)
    elif not RunFolder(run).has_checkpoint():
        ganzoo.resume(run, restart=True)
    check_consistent(run, crashed=False)
    step, weights = final_weights(run)
    assert step == STEPS and metric_steps(run) == list(range(1, STEPS + 1))
    assert all(torch.equal(a, b) for a, b in zip(weights, straight[1])), f"{ops} changed the weights"
