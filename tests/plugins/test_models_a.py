"""wgan, sngan, sngan-resnet, gan-r1 (issue #12), the clip constraint, the hinge loss and the built-in schedules.

Each model gets a test of what makes it that model: clipping bounds every critic weight, spectral norm makes every
D layer's spectral norm 1, the hinge loss and R1's logged term equal direct computations, RMSprop drives the WGAN
critic, and the schedules follow their formulas at given steps.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.engine.assemble import build_engine
from ganzoo.errors import GanzooError
from ganzoo.spec.resolve import spec_from_recipe
from ganzoo.testing import check_constraint, check_loss, check_model, check_schedule

MODELS = ["wgan", "sngan", "sngan-resnet", "gan-r1"]


def recipe(name):
    return ganzoo.get_registry().get("model", name).obj


def make_update(name_or_recipe, shape=(1, 8, 8), batch=8, seed=0, **overrides):
    """An AdversarialUpdate of a registered model (or a Recipe) on fixed random data, fp32 on the CPU."""
    rec = recipe(name_or_recipe) if isinstance(name_or_recipe, str) else name_or_recipe
    spec = spec_from_recipe("t", rec, shape, batch_size=batch, **overrides)
    update = build_engine(spec, seed=seed)
    data = torch.rand(4 * batch, *shape) * 2 - 1
    state = {"i": 0}

    def next_batch():
        i = state["i"]
        state["i"] = (i + batch) % data.shape[0]
        return data[i: i + batch], None

    return update, next_batch, data


# -- conformance: every model trains on the shared trainer in fp32 and bf16 -------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_model_passes_the_conformance_kit_in_fp32_and_bf16(model):
    # sngan-resnet keeps the paper's widths (G 256, D 128 channels) and n_dis 5: 2 steps = 10 critic updates
    check_model(model, steps=2 if model == "sngan-resnet" else 3)


@pytest.mark.parametrize("model, author", [("wgan", "Arjovsky"), ("sngan", "Miyato"), ("sngan-resnet", "Miyato"),
                                           ("gan-r1", "Mescheder")])
def test_recipes_cite_their_papers_and_are_listed(model, author):
    assert author in recipe(model).citation
    assert model in ganzoo.list_models()


def test_components_pass_their_conformance_checks():
    check_loss("hinge")
    check_constraint("clip")
    check_schedule("linear-decay")
    check_schedule("linear-decay", start=0.5, networks="D")
    check_schedule("ema-warmup")
    check_schedule("ema-warmup", mode="rampup")


@pytest.mark.parametrize("kind, name, options", [
    ("constraint", "clip", {"bound": -1}), ("constraint", "clip", {"phase": "X"}),
    ("schedule", "linear-decay", {"start": 1.5}), ("schedule", "linear-decay", {"networks": "both-ish"}),
    ("schedule", "ema-warmup", {"mode": "cosine"}),
])
def test_bad_component_options_give_one_line_errors(kind, name, options):
    from ganzoo.registry import call_factory

    with pytest.raises(GanzooError) as info:
        call_factory(kind, name, ganzoo.get_registry().get(kind, name).obj, **options)
    assert "\n" not in str(info.value)


# -- wgan -------------------------------------------------------------------------------------------------------------
def test_wgan_has_the_papers_defaults():
    r = recipe("wgan")
    assert (r.loss, r.lr_g, r.lr_d, r.n_critic, r.batch_size, r.latent_dim) == ("wasserstein", 5e-5, 5e-5, 5, 64, 100)
    assert r.optimizer == "rmsprop" and r.generator_noise == "fresh"
    gan = ganzoo.build("wgan", image_shape=(3, 32, 32))
    assert any(isinstance(m, nn.BatchNorm2d) for m in gan.discriminator.modules()), "the paper's DCGAN critic has BN"


def test_wgan_critic_is_trained_by_rmsprop_and_clipped_to_001_after_every_step():
    update, batches, _ = make_update("wgan")
    assert isinstance(update.opt_d, torch.optim.RMSprop) and isinstance(update.opt_g, torch.optim.RMSprop)
    assert update.opt_d.param_groups[0]["lr"] == 5e-5
    critic = update.gan.discriminator
    assert max(p.abs().max().item() for p in critic.parameters()) > 0.01, "N(0, 0.02) init exceeds the bound"
    for step in range(1, 4):
        update.step(step, 3, batches)
        for name, p in critic.named_parameters():
            assert p.abs().max().item() <= 0.01 + 1e-9, f"{name} left [-0.01, 0.01] after step {step}"
    flat = torch.cat([p.detach().flatten() for p in critic.parameters()])
    assert (flat.abs() == 0.01).any(), "clipping reached the bound (the test could fail)"
    g_max = max(p.abs().max().item() for p in update.gan.generator.parameters())
    assert g_max > 0.01, "only the critic is clipped"
    assert math.isfinite(update.read_metrics()["loss_d"])


def test_clip_is_an_in_place_projection_of_every_parameter():
    clip = ganzoo.get_registry().get("constraint", "clip").obj(bound=0.05)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).view_as(p))
    expected = [p.detach().clamp(-0.05, 0.05) for p in net.parameters()]
    clip(net)
    assert all(torch.equal(p, e) for p, e in zip(net.parameters(), expected))
    assert torch.equal(net[1].running_var, torch.ones(4)), "buffers are not parameters: left alone"


# -- sngan / sngan-resnet ----------------------------------------------------------------------------------------------
def test_hinge_loss_equals_hand_values():
    loss = ganzoo.get_registry().get("loss", "hinge").obj()
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([-2.0, 0.0, 0.5])
    # D: mean(relu(1 - r)) + mean(relu(1 + f)) = mean(0, 0.5, 2) + mean(0, 1, 1.5) = 5/6 + 5/6
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(5 / 3)
    # G: -mean(f) = -(-2 + 0 + 0.5) / 3
    assert loss.generator_loss(fake).item() == pytest.approx(0.5)


def _sn_modules(module):
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("model", ["sngan", "sngan-resnet"])
def test_every_discriminator_layer_has_spectral_norm_one(model):
    torch.manual_seed(0)
    d = ganzoo.build(model, image_shape=(1, 8, 8)).discriminator.train()
    layers = _sn_modules(d)
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    x = torch.rand(1, 1, 8, 8)
    with torch.no_grad():
        for _ in range(300):  # one power iteration per training-mode forward pass (Miyato et al. 2018, Alg. 1)
            d(x)
    d.eval()
    for m in layers:
        w = m.weight.detach()  # the normalised weight W / sigma(W)
        w_orig = m.parametrizations.weight.original.detach()
        exact = torch.linalg.matrix_norm(w_orig.reshape(w_orig.shape[0], -1), ord=2)
        normalised = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
        assert normalised.item() == pytest.approx(1.0, abs=2e-2), f"{m}: spectral norm {normalised.item():.4f}"
        assert (w_orig / w).mean().item() == pytest.approx(exact.item(), rel=2e-2), "power iteration ~ sigma"


def test_sngan_standard_cnn_is_the_papers_table_3_at_32px():
    gan = ganzoo.build("sngan", image_shape=(3, 32, 32))
    g, d = gan.generator, gan.discriminator
    assert gan.latent_dim == 128 and g.dense.out_features == 4 * 4 * 512
    deconvs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in deconvs] == [256, 128, 64]
    assert all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in deconvs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 4
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size[0], m.stride[0]) for m in convs] == [
        (64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1)]
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    r = recipe("sngan")
    assert (r.loss, r.lr_g, r.lr_d, tuple(r.betas), r.n_critic) == ("hinge", 2e-4, 2e-4, (0.5, 0.999), 1)


def test_sngan_resnet_is_the_papers_table_4_at_32px():
    from ganzoo_plugins.sngan import DownBlock, UpBlock

    gan = ganzoo.build("sngan-resnet", image_shape=(3, 32, 32))
    g, d = gan.generator, gan.discriminator
    ups = [m for m in g.modules() if isinstance(m, UpBlock)]
    assert len(ups) == 3 and all(m.c1.out_channels == 256 for m in ups) and g.dense.out_features == 4 * 4 * 256
    downs = [m for m in d.modules() if isinstance(m, DownBlock)]
    assert [(m.down, m.first, m.c1.out_channels) for m in downs] == [
        (True, True, 128), (True, False, 128), (False, False, 128), (False, False, 128)]
    with torch.no_grad():
        assert d.blocks(torch.zeros(2, 3, 32, 32)).shape == (2, 128, 8, 8)
    r = recipe("sngan-resnet")
    assert (r.loss, r.lr_g, tuple(r.betas), r.n_critic, r.schedules) == ("hinge", 2e-4, (0.0, 0.9), 5,
                                                                        ("linear-decay",))


@pytest.mark.parametrize("model", ["sngan", "sngan-resnet"])
@pytest.mark.parametrize("size, blocks", [(8, 1), (16, 2), (24, 2), (32, 3), (40, 3), (48, 3), (64, 3)])
def test_sngan_networks_build_for_every_multiple_of_8(model, size, blocks):
    from ganzoo_plugins.sngan import UpBlock, image_plan

    assert image_plan((3, size, size))[2] == blocks
    gan = ganzoo.build(model, image_shape=(3, size, size))
    with torch.no_grad():
        x = gan.generator(torch.randn(2, gan.latent_dim))
        assert x.shape == (2, 3, size, size)
        assert gan.discriminator(x).shape == (2,)
    ups = [m for m in gan.generator.modules() if isinstance(m, (UpBlock, nn.ConvTranspose2d))]
    assert len(ups) == blocks


@pytest.mark.parametrize("bad", [(3, 12, 12), (3, 30, 30), (3, 32, 16), (3, 4, 4)])
def test_sngan_refuses_sizes_it_cannot_build_with_a_one_line_error(bad):
    with pytest.raises(GanzooError, match="multiple of 8") as info:
        ganzoo.build("sngan", image_shape=bad)
    assert "\n" not in str(info.value)


# -- gan-r1 -------------------------------------------------------------------------------------------------------------
def test_gan_r1_has_the_papers_defaults_and_no_normalisation():
    r = recipe("gan-r1")
    assert (r.loss, r.lr_g, r.lr_d, tuple(r.betas), r.n_critic, r.ema_decay) == ("ns", 1e-4, 1e-4, (0.0, 0.99), 1,
                                                                                 0.999)
    assert tuple(r.regularizers) == ({"name": "r1", "gamma": 10.0},)
    gan = ganzoo.build("gan-r1", image_shape=(3, 32, 32))
    norms = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)
    for net in (gan.generator, gan.discriminator):
        assert not any(isinstance(m, norms) for m in net.modules())
        assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in net.modules())


def test_r1_logged_term_equals_a_direct_computation_on_a_fixed_batch():
    import copy

    update, batches, data = make_update("gan-r1")
    d_before = copy.deepcopy(update.gan.discriminator)
    update.step(1, 1, batches)
    logged = update.read_metrics()["reg/r1"]
    x = data[:8].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(d_before(x).sum(), x)
    direct = 10.0 / 2 * grad.flatten(1).pow(2).sum(1).mean().item()
    assert direct > 0
    assert logged == pytest.approx(direct, rel=1e-4)


def test_lazy_r1_runs_every_k_steps_only():
    lazy = ganzoo.Recipe(**{**recipe("gan-r1").__dict__, "regularizers": ({"name": "r1", "gamma": 10.0, "every": 2},)})
    update, batches, _ = make_update(lazy)
    update.step(1, 2, batches)
    assert "reg/r1" not in update.read_metrics()
    update.step(2, 2, batches)
    assert update.read_metrics()["reg/r1"] > 0


# -- schedules --------------------------------------------------------------------------------------------------------
def _schedule(name, **options):
    return ganzoo.get_registry().get("schedule", name).obj(**options)


def test_linear_decay_follows_its_formula():
    full = _schedule("linear-decay")
    # T = 10, t = step - 1: factor 1 - t / 10
    assert [full.lr_scale("G", s, 10) for s in (1, 6, 10)] == pytest.approx([1.0, 0.5, 0.1])
    late = _schedule("linear-decay", start=0.5, networks="D")
    # s = 5: 1 while t < 5, then 1 - (t - 5) / 5
    assert [late.lr_scale("D", s, 10) for s in (5, 6, 8, 10)] == pytest.approx([1.0, 1.0, 0.6, 0.2])
    assert late.lr_scale("G", 10, 10) == 1.0


def test_linear_decay_sets_both_optimisers_learning_rates_in_a_run():
    base = ganzoo.Recipe(generator="mlp", discriminator="mlp", loss="hinge", latent_dim=4, lr_g=1e-3, lr_d=4e-3,
                         schedules=("linear-decay",), generator_options={"hidden": (8,)},
                         discriminator_options={"hidden": (8,)})
    update, batches, _ = make_update(base, shape=(2,))
    update.step(6, 10, batches)
    assert update.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5)
    assert update.opt_d.param_groups[0]["lr"] == pytest.approx(4e-3 * 0.5)


def test_ema_warmup_follows_its_formulas():
    tf = _schedule("ema-warmup")
    # min(decay, (1 + t) / (10 + t)), t = step - 1
    assert [tf.ema_decay(s, 10**5, 0.999) for s in (1, 11, 10_000)] == pytest.approx([0.1, 11 / 20, 0.999])
    ramp = _schedule("ema-warmup", mode="rampup", rampup=0.05)
    half_life = math.log(0.5) / math.log(0.999)  # ~692.8 steps
    assert ramp.ema_decay(1, 10**5, 0.999) == 0.0
    assert ramp.ema_decay(101, 10**5, 0.999) == pytest.approx(0.5 ** (1 / 5))
    assert ramp.ema_decay(20_001, 10**5, 0.999) == pytest.approx(0.999)
    assert 0.05 * 20_000 > half_life
