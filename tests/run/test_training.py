"""Every built-in model trains on the shared trainer, on CPU, in fp32 and bf16."""

from __future__ import annotations

import json
import math

import pytest
import torch

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.run.trainer import Trainer
from ganzoo.spec.config import TrainConfig


def params(module):
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("model,dataset", [("vanilla", "digits"), ("minimax", "digits"), ("dcgan", "digits"),
                                           ("wgan-gp", "digits"), ("wgan-gp", "ring8"), ("vanilla", "grid25")])
def test_builtin_models_train_a_few_steps(model, dataset, precision, tmp_path):
    trainer = Trainer(TrainConfig(model=model, dataset=dataset, steps=6, batch_size=32, precision=precision,
                                  device="cpu", log_every=2, out=str(tmp_path)), progress=False)
    g0, d0 = params(trainer.gan.generator), params(trainer.gan.discriminator)
    result = trainer.fit()
    assert result.step == 6
    records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in records)
    assert not torch.equal(g0, params(trainer.gan.generator)), "the generator was updated"
    assert not torch.equal(d0, params(trainer.gan.discriminator)), "the discriminator was updated"
    assert torch.isfinite(params(trainer.gan.generator)).all()
    samples = trainer.sample()
    assert samples.shape[1:] == trainer.dataset.shape and samples.dtype == torch.float32
    assert result.config["precision"] == precision


def test_n_critic_schedule_consumes_n_batches_per_generator_step(tmp_path):
    trainer = Trainer(TrainConfig(model="wgan-gp", steps=3, batch_size=16, device="cpu", precision="fp32",
                                  out=str(tmp_path)), progress=False)
    trainer.fit()
    # 3 generator steps x 5 critic steps x 16 samples have been drawn from the sampler
    position = trainer.sampler.state_dict()
    assert (position["epoch"], position["cursor"]) == (0, 3 * 5 * 16)
    assert trainer.opt_d.state[next(iter(trainer.gan.discriminator.parameters()))]["step"].item() == 15
    assert trainer.opt_g.state[next(iter(trainer.gan.generator.parameters()))]["step"].item() == 3


def test_same_seed_same_weights_in_fp32(tmp_path):
    runs = []
    for i in range(2):
        trainer = Trainer(TrainConfig(model="dcgan", steps=4, batch_size=16, device="cpu", precision="fp32", seed=7,
                                      out=str(tmp_path / str(i))), progress=False)
        trainer.fit()
        runs.append(params(trainer.gan.generator))
    assert torch.equal(runs[0], runs[1])


def test_bf16_losses_track_fp32_on_the_same_seed(tmp_path):
    """The mixed-precision path must not change what is learned: losses agree within 0.15 over 30 steps."""
    curves = {}
    for precision in ("fp32", "bf16"):
        Trainer(TrainConfig(model="vanilla", steps=30, batch_size=64, device="cpu", precision=precision, seed=3,
                            log_every=10, out=str(tmp_path / precision)), progress=False).fit()
        curves[precision] = [json.loads(l) for l in (tmp_path / precision / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(curves["fp32"], curves["bf16"]):
        assert abs(a["loss_d"] - b["loss_d"]) < 0.15 and abs(a["loss_g"] - b["loss_g"]) < 0.15


def test_ema_generator_averages_weights(tmp_path):
    trainer = Trainer(TrainConfig(model="vanilla", steps=5, ema_decay=0.5, device="cpu", precision="fp32",
                                  out=str(tmp_path)), progress=False)
    before = params(trainer.ema.shadow)
    trainer.fit()
    after, live = params(trainer.ema.shadow), params(trainer.gan.generator)
    assert not torch.equal(before, after) and not torch.equal(after, live)


def test_python_api_train_and_build(tmp_path):
    result = ganzoo.train(model="vanilla", steps=3, out=str(tmp_path), device="cpu")
    assert result.run_dir == tmp_path and result.step == 3
    gan = ganzoo.build("vanilla", image_shape=(1, 8, 8))
    assert gan.sample(4).shape == (4, 1, 8, 8)


def test_channels_last_is_used_for_conv_models_only(tmp_path):
    conv = Trainer(TrainConfig(model="dcgan", steps=1, device="cpu", out=str(tmp_path / "a")), progress=False)
    mlp = Trainer(TrainConfig(model="vanilla", steps=1, device="cpu", out=str(tmp_path / "b")), progress=False)
    assert conv.channels_last and not mlp.channels_last
    assert conv.sampler.next()[0].is_contiguous(memory_format=torch.channels_last)
    assert mlp.sampler.next()[0].is_contiguous()


def test_batch_larger_than_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(GanzooError, match="larger than the dataset"):
        Trainer(TrainConfig(model="vanilla", batch_size=5000, out=str(tmp_path)), progress=False)


@pytest.mark.parametrize("model", ["wgan-gp", "vanilla"])
def test_per_sample_critic_scores_real_fake_and_penalty_in_one_pass_with_the_same_result(model, tmp_path):
    """Fusing the discriminator's forward passes is an optimisation only: same losses, same weights (fp32)."""
    results = []
    for fuse in (True, False):
        trainer = Trainer(TrainConfig(model=model, steps=3, batch_size=16, n_critic=2, device="cpu",
                                      precision="fp32", log_every=1, out=str(tmp_path / str(fuse))), progress=False)
        assert trainer.update.fuse_d, "the built-in critic declares per_sample"
        trainer.update.fuse_d = fuse
        trainer.fit()
        results.append((params(trainer.gan.discriminator), params(trainer.gan.generator)))
    (d1, g1), (d2, g2) = results
    assert torch.allclose(d1, d2, atol=1e-5) and torch.allclose(g1, g2, atol=1e-5)


def test_batch_norm_discriminator_is_never_fused(tmp_path):
    trainer = Trainer(TrainConfig(model="dcgan", steps=1, device="cpu", out=str(tmp_path)), progress=False)
    assert not trainer.update.fuse_d


def test_failed_compilation_falls_back_to_eager_with_a_notice(tmp_path, monkeypatch):
    class Broken(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, *args):
            raise RuntimeError("no C compiler")

    monkeypatch.setattr(torch, "compile", lambda module, **kw: Broken(module))
    trainer = Trainer(TrainConfig(model="wgan-gp", steps=2, batch_size=16, device="cpu", compile=True,
                                  out=str(tmp_path)), progress=False)
    result = trainer.fit()
    assert result.step == 2 and trainer.update.G is trainer.gan.generator
    assert any("discriminator left eager: its regularisers take input gradients" in n for n in trainer.notices)
    assert any("torch.compile failed (RuntimeError: no C compiler); running eager" in n for n in trainer.notices)
    saved = json.loads((tmp_path / "config.json").read_text())  # the fallback is on record
    assert saved["compile"] is False and saved["train"]["compile"] is False
    assert any("torch.compile failed" in n for n in saved["notices"])


def recording_logger_plugin(calls):
    class Recorder(ganzoo.Logger):
        def __init__(self, run_dir, start_step=0):
            calls.append(("open", start_step))

        def log_config(self, config):
            calls.append(("config", config["model"]))

        def log_scalars(self, step, values):
            calls.append(("scalars", step, dict(values)))

        def log_images(self, step, tag, image):
            calls.append(("images", step, tag, tuple(image.shape), image.dtype))

        def log_eval(self, step, metrics):
            calls.append(("eval", step, metrics.get("modes_total")))

        def close(self):
            calls.append(("close",))

    hook = staticmethod(ganzoo.hookimpl(lambda register: register("recorder", Recorder)))
    hook.__func__.__name__ = "register_loggers"
    return type("P", (), {"register_loggers": hook})()


def test_loggers_get_log_points_sample_grids_evals_and_are_closed(tmp_path):
    from ganzoo.registry import get_registry

    calls = []
    get_registry().add_plugin(recording_logger_plugin(calls), name="recorder")
    Trainer(TrainConfig(model="vanilla", dataset="ring8", steps=4, batch_size=16, log_every=2, sample_every=2,
                        eval_every=4, logger="recorder", device="cpu", out=str(tmp_path)), progress=False).fit()
    kinds = [c[0] for c in calls]
    assert kinds[:2] == ["open", "config"] and kinds[-1] == "close" and kinds.count("close") == 1
    scalars = [c for c in calls if c[0] == "scalars"]
    assert [c[1] for c in scalars] == [2, 4] and {"loss_d", "loss_g", "img_per_s"} <= set(scalars[0][2])
    assert "step" not in scalars[0][2]
    images = [c for c in calls if c[0] == "images"]
    assert [(c[1], c[2], c[3][0], c[4]) for c in images] == [(2, "samples", 3, torch.uint8), (4, "samples", 3,
                                                                                               torch.uint8)]
    assert ("eval", 4, 8) in calls
    jsonl = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in jsonl] == [2, 4, 4] and "eval" in jsonl[-1], "jsonl stays on beside it"
    resumed = []
    calls.clear()
    ganzoo.resume(tmp_path, steps=6)
    resumed = [c for c in calls if c[0] in ("open", "config")]
    assert resumed == [("open", 4)], "on resume: start_step is the checkpoint's, no log_config"


def test_an_unknown_logger_is_refused_before_training(tmp_path):
    with pytest.raises(GanzooError, match="unknown logger 'tensorbored'"):
        Trainer(TrainConfig(model="vanilla", steps=2, logger="jsonl,tensorbored", device="cpu", out=str(tmp_path)),
                progress=False).fit()
    assert not (tmp_path / "checkpoint.pt").exists()


@pytest.mark.parametrize("shape,update", [((1, 8, 8), "alternating"), ((2,), "simultaneous")])
def test_per_sample_critic_takes_one_joint_pass_except_on_steps_with_an_input_gradient_penalty(shape, update):
    """The joint real+fake pass is kept for both update orders (the simultaneous one's fakes carry G's graph, which
    must not count as an input-gradient request), and split only on the R1 steps (every 2nd here)."""
    from ganzoo.engine.assemble import build_update

    up = build_update("vanilla", shape, batch_size=16, extra_regularizers=("r1:every=2",))
    assert up.spec.update == update and up.fuse_d
    calls = []
    up.gan.discriminator.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    data = torch.randn(64, *shape)
    batches = lambda: (data[torch.randint(64, (16,))], None)
    per_step = []
    for step in (1, 2):
        calls.clear()
        up.step(step, 10, batches)
        per_step.append(list(calls))
    g_phase = [16] if update == "alternating" else []  # the alternating G step scores its fakes once more
    assert per_step == [[32] + g_phase, [16, 16] + g_phase]


def test_continue_run_refuses_overrides_that_change_the_training_and_releases_the_folder(tmp_path):
    import ganzoo

    run = ganzoo.train(model="vanilla", dataset="ring8", steps=4, batch_size=16, out=str(tmp_path / "run"),
                       progress=False).run_dir
    with pytest.raises(GanzooError, match="cannot change 'seed'"):
        ganzoo.continue_run(run, steps=6, overrides={"seed": 1})
    with pytest.raises(GanzooError, match="already at step 4"):
        ganzoo.continue_run(run, steps=4)
    trainer = ganzoo.continue_run(run, steps=4, finished_ok=True)  # the refusals released the lock
    trainer.close()
    assert ganzoo.continue_run(run, steps=6, overrides={"log_every": 1}).fit().step == 6


def test_a_run_continued_on_a_machine_without_bf16_units_keeps_the_precision_it_trained_in(tmp_path, monkeypatch):
    """`auto` resolves per machine (bf16 with bf16 units, fp32 without): a run started in bf16 and continued on a
    machine where `auto` means fp32 goes on in bf16, so its weights equal an uninterrupted bf16 run's."""
    import ganzoo.engine.precision as precision

    def train(out, steps, units):
        monkeypatch.setattr(precision, "bf16_supported", lambda device: units)
        return ganzoo.train(model="vanilla", dataset="digits", steps=steps, batch_size=16, precision="auto",
                            device="cpu", checkpoint_every=2, out=str(tmp_path / out), progress=False)

    uninterrupted = train("whole", 4, True)
    whole_config = json.loads((uninterrupted.run_dir / "config.json").read_text())
    assert whole_config["precision"] == "bf16"
    # the machine in words: CPU model, cores, bf16 instructions, and what `auto` means on it (patched: bf16)
    assert whole_config["device_name"] == precision.device_label(torch.device("cpu"))
    assert whole_config["device_name"].endswith("auto precision bf16")
    part = train("parts", 2, True).run_dir
    monkeypatch.setattr(precision, "bf16_supported", lambda device: False)
    assert Trainer(TrainConfig(model="vanilla", dataset="digits", precision="auto", device="cpu"),
                   progress=False).precision.name == "fp32"  # what `auto` means on this machine
    trainer = ganzoo.continue_run(part, steps=4)
    assert trainer.precision.name == "bf16"
    trainer.fit()
    whole, parts = ganzoo.load(uninterrupted.run_dir), ganzoo.load(part)
    assert torch.equal(params(whole.generator), params(parts.generator))
    assert json.loads((part / "config.json").read_text())["train"]["precision"] == "bf16"


def test_a_run_made_in_fp16_on_an_older_gpu_continues_on_a_cpu_in_what_auto_means_there(tmp_path, monkeypatch):
    """fp16 needs CUDA: such a run continued on a CPU resolves `auto` again instead of failing."""
    import ganzoo.engine.precision as precision

    monkeypatch.setattr(precision, "bf16_supported", lambda device: False)
    run = ganzoo.train(model="vanilla", dataset="digits", steps=2, batch_size=16, precision="auto", device="auto",
                       out=str(tmp_path / "run"), progress=False).run_dir
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "precision": "fp16"}))  # as an older GPU resolved it
    trainer = ganzoo.continue_run(run, steps=4)
    assert trainer.precision.name == "fp32"
    assert trainer.fit().step == 4
