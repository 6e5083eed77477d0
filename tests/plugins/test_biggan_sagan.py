"""sagan and biggan: each trains, and each does what makes it that model, checked against direct computations
(hand-computed numbers, hand-written attention, the projection term from D's own features and embedding)."""

from __future__ import annotations

import math
import types

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo
from ganzoo.api import SelfAttention2d
from ganzoo.errors import GanzooError
from ganzoo.testing import check_model

MODELS = ("sagan", "biggan")


def _build(model, shape=(1, 8, 8), seed=0):
    torch.manual_seed(seed)
    return ganzoo.build(model, image_shape=shape, num_classes=10 if model == "biggan" else None)


def _entry(kind, name):
    return ganzoo.get_registry().get(kind, name).obj


# -- every model ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_passes_the_conformance_kit_in_fp32_and_bf16(model):
    check_model(model, dataset="digits", steps=3, precisions=("fp32", "bf16"))


@pytest.mark.parametrize("model", MODELS)
def test_three_training_steps_on_digits_give_finite_losses(model, tmp_path):
    result = ganzoo.train(model=model, dataset="digits", steps=3, batch_size=16, device="cpu", precision="fp32",
                          log_every=1, out=str(tmp_path / model), progress=False)
    m = result.last_metrics
    assert m["step"] == 3 and math.isfinite(m["loss_d"]) and math.isfinite(m["loss_g"])
    if model == "biggan":
        assert math.isfinite(m["reg/ortho"]) and m["reg/ortho"] > 0, "the recipe's orthogonal regulariser runs in G"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_builds_for_digits_fashion_and_cifar_shapes(model, shape):
    gan = _build(model, shape)
    z = torch.randn(3, gan.latent_dim)
    y = torch.tensor([0, 4, 9])
    with torch.no_grad():
        x = gan.generator(z, y) if model == "biggan" else gan.generator(z)
        scores = gan.discriminator(x, y) if model == "biggan" else gan.discriminator(x)
    assert x.shape == (3, *shape) and x.abs().max() <= 1
    assert scores.shape == (3,)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("bad, rule", [((1, 9, 9), "base 4..7 and k >= 1"), ((3, 32, 16), "square images"),
                                       ((1, 4, 4), "at least 8x8"), ((2,), r"\(C, H, W\) images")])
def test_refuses_shapes_that_do_not_fit_naming_the_rule(model, bad, rule):
    generator = _entry("generator", model)
    with pytest.raises(ValueError, match=rule):
        generator(bad, latent_dim=128)
    with pytest.raises(GanzooError, match=rule):
        ganzoo.build(model, image_shape=bad, num_classes=10 if model == "biggan" else None)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("shape, side", [((1, 8, 8), 4), ((1, 28, 28), 14), ((3, 32, 32), 16)])
def test_attention_sits_on_the_half_resolution_map_in_g_and_d(model, shape, side):
    gan = _build(model, shape)
    seen = {}
    for net_name, net in (("G", gan.generator), ("D", gan.discriminator)):
        blocks = [m for m in net.modules() if isinstance(m, SelfAttention2d)]
        assert len(blocks) == 1, f"one attention block in {net_name}"
        blocks[0].register_forward_hook(lambda m, args, out, n=net_name: seen.__setitem__(n, tuple(args[0].shape)))
    z, y = torch.randn(2, gan.latent_dim), torch.tensor([1, 2])
    with torch.no_grad():
        x = gan.generator(z, y) if model == "biggan" else gan.generator(z)
        gan.discriminator(x, y) if model == "biggan" else gan.discriminator(x)
    assert seen["G"][2:] == (side, side) and seen["D"][2:] == (side, side)


def _sn_modules(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("model", MODELS)
def test_spectral_norm_is_on_every_conv_and_linear_weight_of_g_and_d(model):
    gan = _build(model)
    for net in (gan.generator, gan.discriminator):
        layers = _sn_modules(net)
        assert layers
        for m in layers:
            assert parametrize.is_parametrized(m, "weight"), f"{type(m).__name__} without spectral norm"
            assert type(m.parametrizations.weight[0]).__name__ == "_SpectralNorm"
            raw = m.parametrizations.weight.original.detach().flatten(1)
            # drive the persistent power iteration to convergence, then the weight the layer uses has norm 1
            sn = m.parametrizations.weight[0]
            with torch.no_grad():
                sn._power_method(raw, 300)
                used = m.weight.detach().flatten(1)
            sigma = torch.linalg.matrix_norm(raw, 2)
            assert torch.linalg.matrix_norm(used, 2).item() == pytest.approx(1.0, abs=2e-2)
            assert torch.allclose(used * sigma, raw, rtol=2e-2, atol=1e-6)
    if model == "biggan":
        assert parametrize.is_parametrized(gan.discriminator.embed, "weight"), "D's projection embedding has SN"
        assert not parametrize.is_parametrized(gan.generator.shared, "weight"), "G's shared embedding has none"


# -- self-attention ----------------------------------------------------------------------------------------------------
def _hand_attention(block, x, pool):
    """SAGAN's attention written out per sample and position: s_ij = f_i . g_j, beta_i = softmax_j(s_ij),
    o_i = sum_j beta_ij h_j, y = gamma * W_v o + x; keys/values max-pooled over 2x2 windows by hand."""
    wf, wg = block.theta.weight[:, :, 0, 0], block.phi.weight[:, :, 0, 0]
    wh, wv = block.g.weight[:, :, 0, 0], block.o.weight[:, :, 0, 0]
    n, c, h, w = x.shape
    out = torch.empty_like(x)
    for b in range(n):
        feats = x[b].reshape(c, h * w)                        # (C, positions)
        f, g, v = wf @ feats, wg @ feats, wh @ feats
        if pool:
            def pool2(t):
                t = t.reshape(t.shape[0], h // 2, 2, w // 2, 2)
                return t.amax(dim=(2, 4)).reshape(t.shape[0], -1)
            g, v = pool2(g.reshape(-1, h, w)), pool2(v.reshape(-1, h, w))
        o = torch.zeros(v.shape[0], h * w)
        for i in range(h * w):
            s = torch.stack([f[:, i] @ g[:, j] for j in range(g.shape[1])])
            beta = torch.exp(s - s.max()) / torch.exp(s - s.max()).sum()
            o[:, i] = sum(beta[j] * v[:, j] for j in range(g.shape[1]))
        out[b] = (block.gamma * (wv @ o) + feats).reshape(c, h, w)
    return out


def test_self_attention_with_gamma_zero_is_the_identity():
    torch.manual_seed(0)
    block = SelfAttention2d(16)
    assert block.gamma.item() == 0.0, "gamma starts at 0"
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("pool, size", [(False, 3), (True, 4)])
def test_self_attention_equals_a_hand_written_softmax_attention(pool, size):
    torch.manual_seed(1)
    block = SelfAttention2d(8, pool=pool)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 8, size, size)
    with torch.no_grad():
        want = _hand_attention(block, x, pool)
        got = block(x)
    assert not torch.allclose(got, x)
    assert torch.allclose(got, want, atol=1e-5)
    beta = block.attention(x)
    assert beta.shape == (2, size * size, (size // 2) ** 2 if pool else size * size)
    assert torch.allclose(beta.sum(-1), torch.ones(2, size * size), atol=1e-6), "a softmax over positions"


# -- biggan ------------------------------------------------------------------------------------------------------------
def test_orthogonal_regularisation_equals_the_hand_computed_value():
    """beta * sum ||W^T W (.) (1 - I)||_F^2 with W's columns the filters: the squared dot products of every ordered
    pair of distinct filters, summed over the weights; biases, norms and embeddings left out; the raw weight under
    spectral norm."""

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)                     # filters (1,2,0), (0,1,1): dot 2 -> 2 * 2^2 = 8
            self.conv = nn.Conv2d(1, 3, (1, 2), bias=False)  # filters (1,0), (0,1), (1,1): dots 0, 1, 1 -> 2 * 2 = 4
            self.tall = nn.Linear(1, 3, bias=False)       # filters 1, 2, 3: dots 2, 3, 6 -> 2 * (4 + 9 + 36) = 98
            self.sn = spectral_norm(nn.Linear(2, 2, bias=False))  # raw filters (1,1), (1,0): dot 1 -> 2
            self.norm = nn.BatchNorm2d(3)
            self.embed = nn.Embedding(4, 5)               # excluded (BigGAN-PyTorch blacklists G.shared)
            with torch.no_grad():
                self.fc.weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]))
                self.fc.bias.copy_(torch.tensor([5.0, 7.0]))
                self.conv.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).view(3, 1, 1, 2))
                self.tall.weight.copy_(torch.tensor([[1.0], [2.0], [3.0]]))
                self.sn.parametrizations.weight.original.copy_(torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
                self.embed.weight.fill_(3.0)

    module = Tiny()
    reg = _entry("regularizer", "ortho")(beta=1e-4)
    assert reg.phase == "G"
    ctx = types.SimpleNamespace(generator=module, phase="G", step=1, total_steps=1)
    term = reg(ctx)
    assert term.item() == pytest.approx(1e-4 * (8 + 4 + 98 + 2), rel=1e-6)
    term.backward()
    # d/dW beta ||W W^T (.) (1 - I)||^2 = 4 beta (W W^T (.) (1 - I)) W: for fc, W W^T off-diagonal [[0, 2], [2, 0]]
    assert torch.allclose(module.fc.weight.grad, 4e-4 * torch.tensor([[0.0, 2.0, 2.0], [2.0, 4.0, 0.0]]))
    assert module.fc.bias.grad is None and module.embed.weight.grad is None


def test_orthogonal_regularisation_covers_bigGAN_weights_but_not_the_shared_embedding():
    gan = _build("biggan")
    reg = _entry("regularizer", "ortho")(beta=1.0)
    ctx = types.SimpleNamespace(generator=gan.generator, phase="G")
    reg(ctx).backward()
    assert gan.generator.shared.weight.grad is None
    originals = [m.parametrizations.weight.original for m in _sn_modules(gan.generator)]
    # every spectrally normalised weight with at least two filters (the 1-channel output conv has no pair) is reached
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in originals if p.shape[0] > 1)
    with pytest.raises(GanzooError, match="generator"):
        reg(types.SimpleNamespace(phase="G"))


def test_hierarchical_z_reaches_each_block_and_no_earlier_one():
    gan = _build("biggan", (3, 32, 32))
    G = gan.generator.eval()  # running statistics: each sample's features depend on that sample only
    assert G.chunks == [32, 32, 32, 32], "z 128 split into 3 blocks + 1 equal chunks"
    outputs = {}
    for i, block in enumerate(G.blocks):
        block.bn1.register_forward_hook(lambda m, args, out, i=i: outputs.__setitem__(i, out.detach().clone()))
    z, y = torch.randn(4, 128), torch.tensor([0, 3, 5, 7])

    def cbn_outputs(z):
        with torch.no_grad():
            G(z, y)
        return dict(outputs)

    base = cbn_outputs(z)
    for chunk in range(1, 4):  # chunk c conditions block c - 1
        z2 = z.clone()
        z2[:, 32 * chunk:32 * (chunk + 1)] += 1.0
        changed = cbn_outputs(z2)
        for b in range(3):
            same = torch.equal(changed[b], base[b])
            assert same == (b < chunk - 1), f"chunk {chunk}: block {b}'s conditional BN output changed: {not same}"
    z2 = z.clone()
    z2[:, :32] += 1.0
    assert not torch.equal(cbn_outputs(z2)[0], base[0]), "chunk 0 feeds the linear layer"


def test_conditional_batch_norm_is_one_plus_linear_gain_and_linear_bias():
    gan = _build("biggan", (3, 32, 32))
    G = gan.generator.eval()
    cbn = G.blocks[1].bn1
    cond_dim = 128 + 32
    assert cbn.gain.in_features == cond_dim and cbn.bias.in_features == cond_dim
    x, cond = torch.randn(4, G.width, 8, 8), torch.randn(4, cond_dim)
    cbn.bn.train()  # batch statistics; the spectrally normalised linears stay in eval mode (no power iteration)
    with torch.no_grad():
        got = cbn(x, cond)
        wg, wb = cbn.gain.weight, cbn.bias.weight
        mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        want = (x - mean) / torch.sqrt(var + 1e-5) * (1 + cond @ wg.T)[:, :, None, None] + (cond @ wb.T)[:, :, None, None]
    assert torch.allclose(got, want, atol=1e-4)


def test_projection_discriminator_output_changes_with_the_label_by_the_projection_term():
    gan = _build("biggan")
    D = gan.discriminator.eval()
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        a = D(x, torch.full((5,), 2))
        b = D(x, torch.full((5,), 7))
        phi = D.features(x)
        e = D.embed.weight  # the spectrally normalised class embeddings D uses
    assert (a - b).abs().min() > 0, "the score depends on the label"
    assert torch.allclose(a - b, phi @ (e[2] - e[7]), atol=1e-5)
    with torch.no_grad():
        unconditional = D.linear(phi).squeeze(1)
    assert torch.allclose(a, unconditional + phi @ e[2], atol=1e-5)


def test_ema_start_pegs_the_average_before_step_1000():
    sched = _entry("schedule", "ema-start")(start=1000)
    assert [sched.ema_decay(s, 2000, 0.9999) for s in (1, 999, 1000, 1500)] == [0.0, 0.0, 0.9999, 0.9999]


def test_recipes_carry_the_papers_settings():
    sagan, biggan = _entry("model", "sagan"), _entry("model", "biggan")
    assert sagan.citation.startswith("Zhang et al. 2019") and biggan.citation.startswith("Brock et al. 2019")
    assert (sagan.loss, sagan.lr_g, sagan.lr_d, tuple(sagan.betas), sagan.n_critic) == ("hinge", 1e-4, 4e-4,
                                                                                          (0.0, 0.9), 1)
    assert not sagan.conditional and biggan.conditional
    assert (biggan.loss, biggan.lr_g, biggan.lr_d, tuple(biggan.betas), biggan.n_critic) == ("hinge", 2e-4, 2e-4,
                                                                                              (0.0, 0.999), 4)
    assert (biggan.ema_decay, biggan.batch_size, biggan.latent_dim) == (0.9999, 50, 128)
    assert {"name": "ortho", "beta": 1e-4} in biggan.regularizers
    assert {"name": "ema-start", "start": 1000} in biggan.schedules
    G = _build("biggan").generator
    weights = [m.parametrizations.weight.original for m in _sn_modules(G)] + [G.shared.weight]
    std = torch.cat([w.detach().flatten() for w in weights]).std().item()
    assert std == pytest.approx(0.02, rel=0.1), "N(0, 0.02) init (--G_init N02)"


def test_unconditional_sagan_refuses_labels_and_biggan_needs_them():
    gan = _build("biggan")
    with pytest.raises(GanzooError, match="labels"):
        gan.generator(torch.randn(2, 128))
    with pytest.raises(GanzooError, match="labels"):
        gan.discriminator(torch.zeros(2, 1, 8, 8))
    assert _build("sagan").generator.conditional is False
