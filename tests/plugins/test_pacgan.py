"""pacgan (Lin et al. 2018): packing, the authors' 2-D networks and optimiser, per-slot batch norm (issue #12/#13).

What makes it PacGAN: the discriminator scores packs of m samples; on 2-D data the recipe uses the reference code's
G (4 x 400 BN-ReLU, latent 2) and maxout D (3 x 200, 5 pieces), Adam(1e-4, betas (0.8, 0.999)), 100 packed D inputs
per batch and simultaneous updates. Each is checked against a direct computation or the numbers of the reference.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.engine.assemble import build_gan
from ganzoo.errors import GanzooError
from ganzoo.spec.resolve import spec_from_recipe
from ganzoo.testing import check_model


def plugin():
    import ganzoo_plugins.pacgan as module

    return module


@pytest.mark.parametrize("model", ["pacgan", "pacgan2"])
@pytest.mark.parametrize("dataset", ["digits", "ring8"])
def test_pacgan_passes_the_conformance_kit_in_fp32_and_bf16(model, dataset):
    check_model(model, dataset=dataset, steps=2)


def test_pack_samples_puts_one_sample_of_every_slot_in_each_pack():
    pack_samples = plugin().pack_samples
    x = torch.arange(12.0).view(6, 2)  # 3 slots of 2 samples (rows 0-1, 2-3, 4-5) for m = 3
    packs = pack_samples(x, 3)
    assert packs.shape == (2, 6)
    # pack i = [slot 0 sample i, slot 1 sample i, slot 2 sample i]
    assert torch.equal(packs[0], torch.cat([x[0], x[2], x[4]]))
    assert torch.equal(packs[1], torch.cat([x[1], x[3], x[5]]))
    assert torch.equal(pack_samples(x, 1), x)
    with pytest.raises(GanzooError, match="packs of 4; use a --batch-size divisible by 4"):
        pack_samples(x, 4)


@pytest.mark.parametrize("m", [1, 2, 4])
def test_the_discriminator_sees_m_samples_per_score(m):
    D = plugin().PacDiscriminator((2,), pack=m)
    assert D.net[0].linear.in_features == 2 * m
    x = torch.randn(100 * m, 2)
    assert D(x).shape == (100,)
    # changing one sample changes exactly the score of its pack
    y = x.clone()
    y[m * 0 + 1] += 1.0  # sample 1 of slot 0 -> pack 1
    changed = (D(x) != D(y)).nonzero().flatten().tolist()
    assert changed == [1]


def test_packed_image_discriminator_stacks_m_images_along_channels():
    gan = ganzoo.build("pacgan", (1, 8, 8))
    D = gan.discriminator
    first = next(m for m in D.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 4  # 4 grey images per pack
    assert D(torch.randn(16, 1, 8, 8)).shape[0] == 4


def test_2d_networks_are_the_reference_codes():
    G = plugin().PacGenerator((2,), latent_dim=2, pack=4)
    linears = [m for m in G.net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is not None) for m in linears] == [
        (2, 400, False), (400, 400, False), (400, 400, False), (400, 400, False), (400, 2, True)]
    bns = [m for m in G.net if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 4 and all(b.eps == 1e-4 and b.momentum == 0.05 for b in bns)
    D = plugin().PacDiscriminator((2,), pack=4)
    maxouts = [m for m in D.net if isinstance(m, plugin().Maxout)]
    assert [(m.linear.in_features, m.units, m.pieces) for m in maxouts] == [(8, 200, 5), (200, 200, 5), (200, 200, 5)]
    assert D.net[-1].in_features == 200 and D.net[-1].out_features == 1
    weights = torch.cat([m.weight.flatten() for m in [*linears, D.net[-1]] + [x.linear for x in maxouts]])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)  # N(0, 0.02) init
    assert all(torch.count_nonzero(m.bias) == 0 for m in [*D.modules()] if isinstance(m, nn.Linear))


def test_maxout_is_the_max_over_pieces():
    mx = plugin().Maxout(3, 4, 5)
    x = torch.randn(7, 3)
    direct = (x @ mx.linear.weight.T + mx.linear.bias).view(7, 4, 5).max(-1).values
    torch.testing.assert_close(mx(x), direct)


@pytest.mark.parametrize("m", [1, 4])
def test_2d_recipe_has_the_papers_optimiser_batch_and_update(m):
    name = "pacgan" if m == 4 else "vanilla"
    spec = spec_from_recipe(name, ganzoo.get_registry().get("model", name).obj, (2,))
    assert spec.generator.name == "pacgan-mlp" and spec.discriminator.name == "pacgan-maxout"
    assert spec.latent_dim == 2 and spec.batch_size == 100 * m and spec.update == "simultaneous"
    for net in ("G", "D"):
        opt = spec.optimizer(net)
        assert opt.name == "adam" and opt.options["lr"] == 1e-4 and tuple(opt.options["betas"]) == (0.8, 0.999)
    gan = build_gan(spec)
    assert gan.discriminator(torch.randn(spec.batch_size, 2)).shape == (100,)


def test_slot_batch_norm_normalises_each_slot_and_merges_the_running_statistics():
    """Outputs: torch's batch norm run on each slot alone. Running statistics: the mean of what m separate
    BatchNorm1d layers, each shown one slot, would hold (one momentum step from the same buffers)."""
    bn = plugin().SlotBatchNorm1d(6, slots=3, eps=1e-4, momentum=0.05)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    separate = [nn.BatchNorm1d(6, eps=1e-4, momentum=0.05) for _ in range(3)]
    for s in separate:
        s.load_state_dict(bn.state_dict())
    x = torch.randn(30, 6) * 3 + 1
    y = bn(x)
    torch.testing.assert_close(y, torch.cat([s(c) for s, c in zip(separate, x.chunk(3))]))
    torch.testing.assert_close(bn.running_mean, torch.stack([s.running_mean for s in separate]).mean(0))
    torch.testing.assert_close(bn.running_var, torch.stack([s.running_var for s in separate]).mean(0))
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    torch.testing.assert_close(bn(x), F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                                                   training=False, eps=1e-4))
    with pytest.raises(ValueError, match="momentum"):
        plugin().SlotBatchNorm1d(6, slots=3, momentum=None)


def test_packed_generator_equals_one_call_per_slot():
    """The reference calls G once per pack slot; one call with per-slot statistics gives the same samples."""
    torch.manual_seed(0)
    G = plugin().PacGenerator((2,), pack=4).double()  # float64: the comparison is of the math, not of rounding
    single = plugin().PacGenerator((2,), pack=1).double()
    single.load_state_dict(G.state_dict())
    z = torch.randn(400, 2, dtype=torch.float64)
    torch.testing.assert_close(G(z), torch.cat([single(c) for c in z.chunk(4)]))
    # gradients too
    gz = torch.autograd.grad(G(z).square().sum(), list(G.parameters()))
    gs = torch.autograd.grad(torch.cat([single(c) for c in z.chunk(4)]).square().sum(), list(single.parameters()))
    for a, b in zip(gz, gs):
        torch.testing.assert_close(a, b)


def test_every_pack_size_trains_with_its_recipes_image_batch():
    """pacgan3's image batch is 63, not 64: a batch the packs cannot split would fail at the first step."""
    for m in (2, 3, 4):
        name = "pacgan" if m == 4 else f"pacgan{m}"
        spec = spec_from_recipe(name, ganzoo.get_registry().get("model", name).obj, (1, 8, 8))
        assert spec.batch_size % m == 0 and spec.batch_size >= 60
    check_model("pacgan3", steps=1, precisions=("fp32",), batch_size=12)
