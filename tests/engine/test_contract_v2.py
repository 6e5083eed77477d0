"""Contract v2: seven modern GAN ingredients written as small plugins (each < 40 lines, in this file, not in
plugins/), trained by the shared trainer, with their math checked against direct computations."""

from __future__ import annotations

import copy
import json
import math
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.engine.assemble import build_engine
from ganzoo.registry import get_registry
from ganzoo.spec.resolve import spec_from_recipe

CPU = torch.device("cpu")
PRECISIONS = ["fp32", "bf16"]


# --- plugin 1: R1, lazy every 16 (Mescheder et al. 2018; Karras et al. 2020) ----------------------------------------
class R1(ganzoo.Regularizer):
    needs_real_grad = True

    def __init__(self, gamma=10.0):
        self.gamma = gamma

    def __call__(self, ctx):
        grad = ctx.input_grad(ctx.real_scores, ctx.real)
        return self.gamma / 2 * grad.flatten(1).pow(2).sum(1).mean()


# --- plugin 2: R1 + R2 with the relativistic pairing loss (RpGAN, Huang et al. 2024) -----------------------------------
class R2(ganzoo.Regularizer):
    needs_fake_grad = True

    def __init__(self, gamma=10.0):
        self.gamma = gamma

    def __call__(self, ctx):
        grad = ctx.input_grad(ctx.fake_scores, ctx.fake)
        return self.gamma / 2 * grad.flatten(1).pow(2).sum(1).mean()


class RpGAN(ganzoo.Loss):
    needs_real_scores_in_g_step = True
    seen: list = []  # the test reads what the G step got

    def discriminator_loss(self, real, fake, ctx=None):
        return F.softplus(-(real - fake)).mean()

    def generator_loss(self, fake, ctx):
        RpGAN.seen.append((ctx.real.detach().clone(), ctx.real_scores.detach().clone()))
        return F.softplus(-(fake - ctx.real_scores)).mean()


# --- plugin 3: balanced consistency regularisation (Zhao et al. 2021), T = horizontal flip ---------------------------
class BCR(ganzoo.Regularizer):
    def __init__(self, lambda_real=10.0, lambda_fake=10.0):
        self.lr, self.lf = lambda_real, lambda_fake

    def __call__(self, ctx):
        flip = lambda x: x.flip(-1)
        real = (ctx.real_scores - ctx.D(flip(ctx.real.detach()), ctx.real_labels)).pow(2).mean()
        fake = (ctx.fake_scores - ctx.D(flip(ctx.fake.detach()), ctx.fake_labels)).pow(2).mean()
        return self.lr * real + self.lf * fake


# --- plugin 4: DiffAugment-style translation (Zhao et al. 2020), on every D input, differentiable ---------------------
class Translate(ganzoo.Augmentation):
    calls = 0

    def __init__(self, shape, ratio=0.125):
        super().__init__()
        self.pad = max(1, int(shape[-1] * ratio))

    def forward(self, x):
        Translate.calls += 1
        n, _, h, w = x.shape
        shift = torch.randint(-self.pad, self.pad + 1, (2,)).tolist()
        padded = F.pad(x, [self.pad] * 4)
        return padded[:, :, self.pad + shift[0]: self.pad + shift[0] + h, self.pad + shift[1]: self.pad + shift[1] + w]


# --- plugin 5: a projection-discriminator conditional GAN (Miyato & Koyama 2018) ---------------------------------------
class CondG(nn.Module):
    def __init__(self, shape, latent_dim, num_classes):
        super().__init__()
        self.shape, self.embed = tuple(shape), nn.Embedding(num_classes, latent_dim)
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, math.prod(shape)), nn.Tanh())

    def forward(self, z, y):
        return self.net(z * self.embed(y)).view(-1, *self.shape)


class ProjectionD(nn.Module):
    def __init__(self, shape, num_classes):
        super().__init__()
        self.phi = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 32), nn.LeakyReLU(0.2))
        self.linear, self.embed = nn.Linear(32, 1), nn.Embedding(num_classes, 32)
        self.seen: list = []

    def forward(self, x, y):
        self.seen.append((x.detach(), y.detach()))
        h = self.phi(x)
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(1)


# --- plugin 6: linear lr decay + EMA warm-up --------------------------------------------------------------------------
class LinearDecayWarmup(ganzoo.Schedule):
    def lr_scale(self, network, step, total_steps):
        return 1.0 - (step - 1) / total_steps

    def ema_decay(self, step, total_steps, decay):
        return min(decay, (step - 1) / (step + 1))  # 0 at step 1, 1/3 at step 2, ...


# --- plugin 7: weight clipping (Arjovsky et al. 2017) -----------------------------------------------------------------
class Clip(ganzoo.Constraint):
    def __init__(self, c=0.01):
        self.c = c

    def __call__(self, module):
        for p in module.parameters():
            p.clamp_(-self.c, self.c)


def _plugin():
    ns = types.SimpleNamespace()
    ns.register_regularizers = ganzoo.hookimpl(lambda register: (register("t-r1", R1), register("t-r2", R2),
                                                                 register("t-bcr", BCR)))
    ns.register_losses = ganzoo.hookimpl(lambda register: register("t-rpgan", RpGAN))
    ns.register_augmentations = ganzoo.hookimpl(lambda register: register("t-translate", Translate))
    ns.register_generators = ganzoo.hookimpl(lambda register: register("t-cond", CondG))
    ns.register_discriminators = ganzoo.hookimpl(lambda register: register("t-proj", ProjectionD))
    ns.register_schedules = ganzoo.hookimpl(lambda register: register("t-decay", LinearDecayWarmup))
    ns.register_constraints = ganzoo.hookimpl(lambda register: register("t-clip", Clip))
    ns.register_models = ganzoo.hookimpl(lambda register: register("t-cgan", ganzoo.Recipe(
        generator="t-cond", discriminator="t-proj", loss="ns", latent_dim=16, conditional=True, batch_size=16)))
    return ns


@pytest.fixture
def registry():
    reg = get_registry()
    reg.add_plugin(_plugin(), "contract-v2-test")
    mine = [p for p in reg.problems() if "contract-v2-test" in p]
    assert not mine, mine
    return reg


MLP = dict(generator="mlp", discriminator="mlp", loss="ns", latent_dim=8, batch_size=16,
           generator_options={"hidden": (32,)}, discriminator_options={"hidden": (32,)})

CASES = {
    "r1-lazy-16": dict(MLP, regularizers=({"name": "t-r1", "gamma": 10.0, "every": 16},)),
    "r1-r2-rpgan": dict(MLP, loss="t-rpgan", regularizers=("t-r1", "t-r2")),
    "bcr": dict(MLP, regularizers=("t-bcr",)),
    "diffaugment": dict(MLP, augment="t-translate"),
    "projection-cgan": dict(generator="t-cond", discriminator="t-proj", loss="ns", latent_dim=16, conditional=True,
                            batch_size=16),
    "lr-decay-ema-warmup": dict(MLP, schedules=("t-decay",), ema_decay=0.99),
    "weight-clipping": dict(MLP, loss="wasserstein", constraints=("t-clip",), optimizer="rmsprop", lr_g=5e-5,
                            lr_d=5e-5, n_critic=5),
}


def make_update(registry, fields, precision="fp32", shape=(1, 8, 8), num_classes=None, seed=0):
    spec = spec_from_recipe("t", ganzoo.Recipe(**fields), shape, num_classes=num_classes, registry=registry)
    return build_engine(spec, registry=registry, device=CPU, precision=precision, seed=seed)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_plugin_trains_20_steps(case, precision, registry, tmp_path, monkeypatch):
    """Every ingredient trains through the run loop on digits, with finite losses and its terms logged."""
    recipe = ganzoo.Recipe(**dict(CASES[case], steps=20))
    ns = types.SimpleNamespace(register_models=ganzoo.hookimpl(lambda register: register("t-case", recipe)))
    registry.add_plugin(ns, "case")
    result = ganzoo.train(model="t-case", steps=20, device="cpu", precision=precision, log_every=20,
                          out=str(tmp_path / "run"), registry=registry)
    metrics = result.last_metrics
    assert math.isfinite(metrics["loss_d"]) and math.isfinite(metrics["loss_g"])
    for reg in ganzoo.RunSpec.from_dict(json.loads((tmp_path / "run" / "config.json").read_text())["spec"]).regularizers:
        assert math.isfinite(metrics[f"reg/{reg.name}"]), "each regulariser's term is logged"


def _direct_r1(D, real, gamma):
    x = real.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x)
    return gamma / 2 * g.flatten(1).pow(2).sum(1).mean()


def test_r1_lazy_every_16_runs_only_on_multiples_of_16_with_the_term_times_16(registry):
    """On step 16 D's SGD step equals -lr * (grad of the NS loss + 16 * grad of gamma/2 E||grad_x D(x)||^2);
    on other steps the term is absent."""
    fields = dict(CASES["r1-lazy-16"], optimizer="sgd", lr_d=0.1)
    update = make_update(registry, fields)
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    batch = lambda: (real, None)
    for step in range(1, 16):
        update.step(step, 32, batch)
        assert "reg/t-r1" not in update.read_metrics()
    D0 = copy.deepcopy(update.gan.discriminator)
    G0 = copy.deepcopy(update.gan.generator)
    noise = update.noise.get_state()
    update.step(16, 32, batch)
    logged = update.read_metrics()["reg/t-r1"]
    # direct: the same fake batch, the NS loss and 16 x R1 at D0's weights
    z = torch.randn(16, 8, generator=torch.Generator().set_state(noise))
    fake = G0(z).detach()
    r1 = _direct_r1(D0, real, 10.0)
    assert logged == pytest.approx(float(r1), rel=1e-4)
    objective = F.softplus(-D0(real)).mean() + F.softplus(D0(fake)).mean() + 16 * _direct_r1_graph(D0, real, 10.0)
    grads = torch.autograd.grad(objective, list(D0.parameters()))
    for p0, g, p1 in zip(D0.parameters(), grads, update.gan.discriminator.parameters()):
        torch.testing.assert_close(p1.detach(), p0.detach() - 0.1 * g, rtol=1e-4, atol=1e-6)


def _direct_r1_graph(D, real, gamma):
    x = real.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return gamma / 2 * g.flatten(1).pow(2).sum(1).mean()


def test_r1_r2_rpgan_terms_and_fresh_real_scores_in_the_g_step(registry):
    update = make_update(registry, CASES["r1-r2-rpgan"])
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    D0, G0, noise = copy.deepcopy(update.gan.discriminator), copy.deepcopy(update.gan.generator), update.noise.get_state()
    RpGAN.seen.clear()
    update.step(1, 10, lambda: (real, None))
    metrics = update.read_metrics()
    fake = G0(torch.randn(16, 8, generator=torch.Generator().set_state(noise))).detach()
    assert metrics["reg/t-r1"] == pytest.approx(float(_direct_r1(D0, real, 10.0)), rel=1e-4)
    assert metrics["reg/t-r2"] == pytest.approx(float(_direct_r1(D0, fake, 10.0)), rel=1e-4)
    with torch.no_grad():
        assert metrics["loss_d"] == pytest.approx(float(F.softplus(-(D0(real) - D0(fake))).mean()), rel=1e-5)
    # the G step's real scores come from the *updated* discriminator, on this step's real batch
    seen_real, seen_scores = RpGAN.seen[-1]
    torch.testing.assert_close(seen_real, real)
    with torch.no_grad():
        torch.testing.assert_close(seen_scores, update.gan.discriminator(real).float())
        assert not torch.allclose(seen_scores, D0(real))


def test_bcr_equals_its_formula(registry):
    update = make_update(registry, CASES["bcr"])
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    D0, G0, noise = copy.deepcopy(update.gan.discriminator), copy.deepcopy(update.gan.generator), update.noise.get_state()
    update.step(1, 10, lambda: (real, None))
    fake = G0(torch.randn(16, 8, generator=torch.Generator().set_state(noise))).detach()
    with torch.no_grad():
        direct = 10 * (D0(real) - D0(real.flip(-1))).pow(2).mean() + 10 * (D0(fake) - D0(fake.flip(-1))).pow(2).mean()
    assert update.read_metrics()["reg/t-bcr"] == pytest.approx(float(direct), rel=1e-4)


def test_augmentation_sees_every_d_input_in_both_phases_and_keeps_g_gradients(registry):
    update = make_update(registry, CASES["diffaugment"])
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    Translate.calls = 0
    update.step(1, 10, lambda: (real, None))
    # the MLP critic is per-sample: real and fake in one D pass (1 call), then the G step (1 call)
    assert Translate.calls == 2
    # gradients reach G through the augmentation
    z = torch.randn(4, 8)
    x = update.gan.generator(z)
    score = update.call_D(update.D_for_g, x, None)[0].sum()
    grads = torch.autograd.grad(score, list(update.gan.generator.parameters()))
    assert all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_projection_cgan_gets_the_datasets_labels_and_computes_the_projection(registry, tmp_path):
    dataset = ganzoo.load_dataset("digits")
    result = ganzoo.train(model="t-cgan", steps=3, device="cpu", precision="fp32", out=str(tmp_path / "c"),
                          registry=registry)
    D = result.gan.discriminator
    assert result.gan.num_classes == 10
    data = dataset.float_data() if hasattr(dataset, "float_data") else dataset.data
    x_real, y_real = D.seen[0]  # the first D call of a non-fused critic scores the real batch
    # every real sample was passed with its own label
    matches = (data.flatten(1)[None] == x_real.flatten(1)[:, None]).all(-1)
    idx = matches.float().argmax(1)
    assert matches.any(1).all() and torch.equal(dataset.labels[idx].long(), y_real)
    # projection: score = linear(phi(x)) + <embed(y), phi(x)>
    x, y = x_real[:4], torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        h = D.phi(x)
        direct = D.linear(h).squeeze(1) + (D.embed.weight[y] * h).sum(1)
        torch.testing.assert_close(D(x, y), direct)
    # sample grids: one class per row; sample(labels=...) conditions G
    samples = result.gan.sample(4, labels=[5, 5, 5, 5], seed=1)
    assert samples.shape == (4, 1, 8, 8)
    assert not torch.allclose(samples, result.gan.sample(4, labels=[2, 2, 2, 2], seed=1))


def test_linear_lr_decay_and_ema_warmup_follow_their_formulas(registry):
    update = make_update(registry, CASES["lr-decay-ema-warmup"])
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    weights = []
    for step in (1, 2, 3):
        update.step(step, 10, lambda: (real, None))
        assert update.opt_g.param_groups[0]["lr"] == pytest.approx(2e-4 * (1 - (step - 1) / 10))
        assert update.opt_d.param_groups[0]["lr"] == pytest.approx(2e-4 * (1 - (step - 1) / 10))
        weights.append([p.detach().clone() for p in update.gan.generator.parameters()])
    # decay 0 at step 1 (shadow = w1), 1/3 at step 2, 1/2 at step 3
    expected = [w for w in weights[0]]
    expected = [e / 3 + w * 2 / 3 for e, w in zip(expected, weights[1])]
    expected = [e / 2 + w / 2 for e, w in zip(expected, weights[2])]
    for e, s in zip(expected, update.ema.shadow.parameters()):
        torch.testing.assert_close(s, e)


def test_weight_clipping_keeps_every_critic_weight_within_c(registry):
    update = make_update(registry, CASES["weight-clipping"])
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    for step in range(1, 6):
        update.step(step, 5, lambda: (real, None))
        assert all(p.abs().max() <= 0.01 for p in update.gan.discriminator.parameters())
    assert isinstance(update.opt_d, torch.optim.RMSprop) and update.opt_d.param_groups[0]["lr"] == 5e-5
    assert any(p.abs().max() > 0.01 for p in update.gan.generator.parameters()), "G is not clipped"


def test_penalty_gradient_is_the_same_under_an_fp16_loss_scale_of_65536(registry):
    """The trainer takes input gradients of the *scaled* scores and unscales them: the D update with a grad scaler
    at 65,536 equals the unscaled one (a custom autograd hack inside D loses the penalty here)."""
    fields = dict(CASES["r1-r2-rpgan"], optimizer="sgd", lr_d=0.05, lr_g=0.05)
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    results = []
    for scale in (None, 65536.0):
        update = make_update(registry, fields)
        if scale:
            update.scaler_d = torch.amp.GradScaler("cpu", init_scale=scale, growth_interval=10**6)
            update.scaler_g = torch.amp.GradScaler("cpu", init_scale=scale, growth_interval=10**6)
        update.step(1, 10, lambda: (real, None))
        results.append(([p.detach().clone() for p in update.gan.discriminator.parameters()], update.read_metrics()))
    (plain, m_plain), (scaled, m_scaled) = results
    assert m_scaled["reg/t-r1"] == pytest.approx(m_plain["reg/t-r1"], rel=1e-5)
    for a, b in zip(plain, scaled):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


class InfOnce(ganzoo.Regularizer):
    """A penalty whose input gradient overflows once (as an fp16-scaled gradient can)."""

    needs_real_grad = True

    def __call__(self, ctx):
        g = ctx.input_grad(ctx.real_scores, ctx.real)
        bad = torch.tensor(float("inf")) if ctx.step == 2 else torch.tensor(1.0)
        return g.pow(2).mean() * bad


def test_an_overflowing_step_is_skipped_by_the_scaler_and_is_not_divergence(registry, tmp_path):
    ns = types.SimpleNamespace(register_regularizers=ganzoo.hookimpl(lambda register: register("t-inf", InfOnce)),
                               register_models=ganzoo.hookimpl(lambda register: register(
                                   "t-inf-model", ganzoo.Recipe(**dict(MLP, regularizers=("t-inf",), steps=4)))))
    registry.add_plugin(ns, "inf")
    trainer = ganzoo.Trainer(ganzoo.TrainConfig(model="t-inf-model", device="cpu", precision="fp32", steps=4,
                                                log_every=1, out=str(tmp_path / "r")), registry=registry, progress=False)
    update = trainer.update
    update.scaler_d = torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=10**6)
    trainer.step()
    before = [p.detach().clone() for p in update.gan.discriminator.parameters()]
    trainer.step()  # step 2 overflows: the scaler skips D's update and halves its scale
    assert all(torch.equal(a, b) for a, b in zip(before, update.gan.discriminator.parameters()))
    assert update.scaler_d.get_scale() == 2.0**15
    trainer.step()
    assert not all(torch.equal(a, b) for a, b in zip(before, update.gan.discriminator.parameters()))
    # and the run loop does not call it divergence
    trainer2 = ganzoo.Trainer(ganzoo.TrainConfig(model="t-inf-model", device="cpu", precision="fp32", steps=4,
                                                 log_every=1, out=str(tmp_path / "r2")), registry=registry,
                              progress=False)
    trainer2.update.scaler_d = torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=10**6)
    result = trainer2.fit()
    assert result.step == 4


# --- every new hook: registered through a real entry point, listed, built by name ------------------------------------
V2_PLUGIN = '''
import ganzoo
import torch


class Half(ganzoo.Regularizer):
    def __call__(self, ctx):
        return 0.5 * ctx.real_scores.pow(2).mean()


class Noise(ganzoo.Augmentation):
    def __init__(self, shape):
        super().__init__()

    def forward(self, x):
        return x + 0.01 * torch.randn_like(x)


class Const(ganzoo.Schedule):
    def lr_scale(self, network, step, total_steps):
        return 0.5


class Zero(ganzoo.Constraint):
    phase = "G"

    def __call__(self, module):
        pass


@ganzoo.hookimpl
def register_regularizers(register):
    register("ep-half", Half)


@ganzoo.hookimpl
def register_augmentations(register):
    register("ep-noise", Noise)


@ganzoo.hookimpl
def register_schedules(register):
    register("ep-const", Const)


@ganzoo.hookimpl
def register_constraints(register):
    register("ep-zero", Zero)


@ganzoo.hookimpl
def register_optimizers(register):
    register("ep-sgd", lambda params, lr, betas=None: torch.optim.SGD(params, lr=lr))
'''

HOOK_KINDS = {"register_regularizers": ("regularizer", "ep-half"), "register_augmentations": ("augmentation", "ep-noise"),
              "register_schedules": ("schedule", "ep-const"), "register_constraints": ("constraint", "ep-zero"),
              "register_optimizers": ("optimizer", "ep-sgd")}


def _entry_point_plugin(plugin_dist):
    plugin_dist("ganzoo-v2-kinds", "ganzoo_v2_kinds", V2_PLUGIN)
    registry = get_registry()
    return registry


def _check_hook(plugin_dist, hook, tmp_path):
    registry = _entry_point_plugin(plugin_dist)
    kind, name = HOOK_KINDS[hook]
    entry = registry.get(kind, name)
    assert entry.distribution == "ganzoo-v2-kinds" and name in registry.names(kind)
    fields = dict(MLP, steps=3)
    key = {"regularizer": "regularizers", "augmentation": "augment", "schedule": "schedules",
           "constraint": "constraints", "optimizer": "optimizer"}[kind]
    fields[key] = name if kind in ("augmentation", "optimizer") else (name,)
    ns = types.SimpleNamespace(register_models=ganzoo.hookimpl(lambda register: register("ep-model",
                                                                                         ganzoo.Recipe(**fields))))
    registry.add_plugin(ns, "ep-model")
    result = ganzoo.train(model="ep-model", device="cpu", precision="fp32", log_every=1, out=str(tmp_path / "r"),
                          registry=registry)
    return registry, result


def test_hook_register_regularizers(plugin_dist, tmp_path):
    _, result = _check_hook(plugin_dist, "register_regularizers", tmp_path)
    assert "reg/ep-half" in result.last_metrics


def test_hook_register_augmentations(plugin_dist, tmp_path):
    _check_hook(plugin_dist, "register_augmentations", tmp_path)


def test_hook_register_schedules(plugin_dist, tmp_path):
    _, result = _check_hook(plugin_dist, "register_schedules", tmp_path)
    assert result.last_metrics["lr_g"] == pytest.approx(1e-4)  # 0.5 x the recipe's 2e-4


def test_hook_register_constraints(plugin_dist, tmp_path):
    _check_hook(plugin_dist, "register_constraints", tmp_path)


def test_hook_register_optimizers(plugin_dist, tmp_path):
    registry, result = _check_hook(plugin_dist, "register_optimizers", tmp_path)
    assert json.loads((tmp_path / "r" / "config.json").read_text())["spec"]["optimizer_g"]["name"] == "ep-sgd"


def test_unknown_extension_names_fail_before_training_with_suggestions(registry, tmp_path):
    with pytest.raises(ganzoo.GanzooError, match="r1"):
        ganzoo.train(model="vanilla", steps=2, regularizers=["r11"], out=str(tmp_path / "x"), registry=registry)
    assert not (tmp_path / "x").exists()


def _weights(gan):
    return [t.detach().clone() for t in (*gan.generator.state_dict().values(), *gan.discriminator.state_dict().values())]


def test_resume_is_bit_identical_across_an_epoch_boundary_with_ada_and_schedules(tmp_path):
    """digits (1,797 samples) in batches of 600: a new epoch every 2 steps; stopped after step 4 (the signal arrives
    at step 3's log point), the resumed run starts an epoch. ADA's p, the lr decay, the EMA warm-up, the data position
    and every random stream are checkpointed, so it equals 6 straight steps bit for bit."""
    settings = dict(model="vanilla", batch_size=600, device="cpu", precision="fp32", augment="ada:p=0.3",
                    schedules=["linear-decay", "ema-warmup"], ema_decay=0.99, log_every=1)
    straight = ganzoo.train(steps=6, out=str(tmp_path / "a"), **settings)
    # the same 6-step run, stopped at step 3 as by SIGTERM (checkpoint, exit), then resumed
    box = {}

    def stop_at_3(event):
        if event["event"] == "log" and event["step"] == 3:
            box["trainer"]._stop_requested = "SIGTERM"

    trainer = box["trainer"] = ganzoo.Trainer(ganzoo.TrainConfig(steps=6, out=str(tmp_path / "b"), **settings),
                                              progress=stop_at_3)
    with pytest.raises(ganzoo.run.trainer.Interrupted):
        trainer.fit()
    assert json.loads((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 4
    del trainer
    resumed = ganzoo.resume(tmp_path / "b")
    for a, b in zip(_weights(straight.gan), _weights(resumed.gan)):
        assert torch.equal(a, b)
    lines = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    pick = lambda rs: [(r["step"], r["loss_d"], r["loss_g"], r["lr_g"], r["augment/p"]) for r in rs if "loss_d" in r]
    assert pick(lines) == pick(ref)
    assert [r["lr_g"] for r in ref if "lr_g" in r] == pytest.approx([2e-4 * (1 - s / 6) for s in range(6)], rel=1e-6)


RECIPE_PLUGIN = '''
import os
import ganzoo


@ganzoo.hookimpl
def register_models(register):
    lr = float(os.environ.get("TEST_RECIPE_LR", "1e-3"))
    register("drifting", ganzoo.Recipe(generator="mlp", discriminator="mlp", loss="ns", latent_dim=8, lr_g=lr, lr_d=lr,
                                       batch_size=16, steps=6))
'''


def test_a_resumed_run_keeps_its_saved_hyperparameters_when_the_plugin_recipe_changes(plugin_dist, tmp_path,
                                                                                      monkeypatch):
    import subprocess
    import sys

    root = plugin_dist("ganzoo-drifting", "ganzoo_drifting", RECIPE_PLUGIN)
    env = {**__import__("os").environ, "PYTHONPATH": str(root), "GANZOO_CACHE": str(tmp_path / "cache")}
    run = [sys.executable, "-m", "ganzoo", "run", "drifting", "--steps", "3", "--checkpoint-every", "3",
           "--precision", "fp32", "--device", "cpu", "--quiet", "--out", str(tmp_path / "r")]
    subprocess.run(run, check=True, env={**env, "TEST_RECIPE_LR": "1e-3"}, capture_output=True)
    # the plugin is upgraded: its recipe now says 5e-2; the resumed run must keep the saved 1e-3
    resume = [sys.executable, "-c", "import ganzoo, sys; r = ganzoo.resume(sys.argv[1], steps=6); "
              "print(r.gan.name, ganzoo.Trainer.__name__)", str(tmp_path / "r")]
    code = ("import ganzoo, sys, json; from ganzoo.run.session import resume\n"
            "import ganzoo.engine.update as u\n"
            "seen = []\n"
            "orig = u.AdversarialUpdate.step\n"
            "def spy(self, *a, **k):\n"
            "    seen.append((self.opt_g.param_groups[0]['lr'], self.opt_d.param_groups[0]['lr']))\n"
            "    return orig(self, *a, **k)\n"
            "u.AdversarialUpdate.step = spy\n"
            "resume(sys.argv[1], steps=6)\n"
            "print(json.dumps(seen))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], check=True, capture_output=True,
                         text=True, env={**env, "TEST_RECIPE_LR": "5e-2"}).stdout
    assert resume  # (the command above is the plain form of what the spy runs)
    assert json.loads(out.strip().splitlines()[-1]) == [[1e-3, 1e-3]] * 3
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["spec"]
    assert saved["optimizer_g"]["options"]["lr"] == 1e-3 and saved["steps"] == 6
