"""stylegan2 and stylegan2-ada: each trains, and each piece that makes it StyleGAN2 matches a direct computation."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo.testing import check_model, step_context
from ganzoo_plugins.stylegan2 import (
    EqualizedLinear,
    MinibatchStd,
    PathLength,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    fir_filter,
    modulated_conv2d,
    upsample2d,
)

TINY_G = {"channel_max": 8, "w_dim": 16, "mapping_layers": 2}
TINY_D = {"channel_max": 8}
TINY = dict(generator_options=["channel_max=8,w_dim=16", "mapping_layers=2"], discriminator_options=["channel_max=8"],
            latent_dim=16)


def tiny_generator(shape=(1, 8, 8), **options):
    torch.manual_seed(0)
    return StyleGAN2Generator(shape, latent_dim=16, **{**TINY_G, **options})


@pytest.mark.parametrize("model", ["stylegan2", "stylegan2-ada", "stylegan2-ada-cond"])
def test_trains_in_fp32_and_bf16(model):
    check_model(model)


def test_recipes_name_the_paper_and_its_defaults():
    stylegan2 = ganzoo.get_registry().get("model", "stylegan2").obj
    ada = ganzoo.get_registry().get("model", "stylegan2-ada").obj
    assert "Karras" in stylegan2.citation and "Karras" in ada.citation
    regs = {r["name"]: r for r in stylegan2.regularizers}
    assert regs["r1"]["every"] == 16 and regs["pl"]["every"] == 4 and regs["pl"]["weight"] == 2.0
    # the paper's lazy-regularisation correction of Adam: lr x k/(k+1), betas ** (k/(k+1))
    assert stylegan2.lr_g == pytest.approx(0.002 * 4 / 5) and stylegan2.lr_d == pytest.approx(0.002 * 16 / 17)
    assert stylegan2.betas["G"] == pytest.approx((0.0, 0.99 ** 0.8))
    assert stylegan2.betas["D"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert ada.augment == {"name": "ada", "target": 0.6}


def test_demodulated_weights_give_unit_output_variance_for_unit_input():
    torch.manual_seed(0)
    x = torch.randn(64, 32, 12, 12)
    weight = torch.randn(16, 32, 3, 3) * 3.0
    styles = torch.rand(64, 32) * 4 + 0.1
    y = modulated_conv2d(x, weight, styles)
    inner = y[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert inner.var().item() == pytest.approx(1.0, abs=0.05)
    # and it is the per-sample convolution with w'' = s w / ||s w|| (eq. 1-3), computed sample by sample
    for i in (0, 5):
        w = weight * styles[i][None, :, None, None]
        w = w / w.flatten(1).norm(dim=1)[:, None, None, None]
        torch.testing.assert_close(y[i], F.conv2d(x[i:i + 1], w, padding=1)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("options, ratio", [({}, 0.01), ({"mapping_lr_mul": 1.0}, 1.0), ({"mapping_lr_mul": 0.1}, 0.1)])
def test_mapping_network_learns_at_its_lr_multiplier(options, ratio):
    """The paper's 0.01x by default; --generator-option mapping_lr_mul=M sets another multiplier."""
    G = tiny_generator(**options)
    mapping_layer = G.mapping.net[0]
    other = EqualizedLinear(mapping_layer.weight.shape[1], mapping_layer.weight.shape[0])  # lr multiplier 1
    layers = (mapping_layer, other)
    before = [(layer.weight * layer.weight_gain).detach().clone() for layer in layers]
    opt = torch.optim.Adam([mapping_layer.weight, other.weight], lr=1e-3, betas=(0.0, 0.99))
    x = torch.randn(8, mapping_layer.weight.shape[1])
    (mapping_layer(x).square().sum() + other(x).square().sum()).backward()
    opt.step()
    moved = [((layer.weight * layer.weight_gain).detach() - b).abs().mean() for layer, b in zip(layers, before)]
    assert (moved[0] / moved[1]).item() == pytest.approx(ratio, rel=0.05)


def test_mapping_lr_mul_must_be_positive():
    with pytest.raises(ValueError, match="mapping_lr_mul must be > 0"):
        tiny_generator(mapping_lr_mul=0)


def test_style_mixing_switches_styles_at_the_crossover_layer():
    G = tiny_generator().train()
    z = torch.randn(3, 16)
    seen_crossovers = set()
    for seed in range(12):
        # what the generator draws, in its order: the crossover, the mixing coin, the second latent
        torch.manual_seed(seed)
        cutoff = int(torch.randint(1, G.num_ws, ()))
        mixed = float(torch.rand(())) < G.mixing_prob
        z2 = torch.randn_like(z)
        torch.manual_seed(seed)
        ws = G.ws(z)
        w1, w2 = G.mapping(z, update_avg=False), G.mapping(z2, update_avg=False)
        for layer in range(G.num_ws):
            expect = w2 if mixed and layer >= cutoff else w1
            torch.testing.assert_close(ws[:, layer], expect)
        if mixed:
            seen_crossovers.add(cutoff)
    assert len(seen_crossovers) >= 2  # the crossover moves
    G.mixing_prob = 0.0
    ws = G.ws(z)
    assert all(torch.equal(ws[:, 0], ws[:, i]) for i in range(G.num_ws))


def test_synthesis_reads_each_layer_style_from_its_own_ws_index():
    G = tiny_generator((1, 16, 16)).eval()
    ws = G.ws(torch.randn(2, 16))
    base = G.synthesis(ws)
    for i in range(G.num_ws):
        changed = ws.clone()
        changed[:, i] += 1.0
        assert not torch.allclose(G.synthesis(changed), base), f"ws[{i}] reaches no layer"
    assert G.num_ws == 2 * 2 + 2  # base conv + toRGB, then 2 convs per up-sampling block (2 blocks), last toRGB


def test_path_length_penalty_and_its_running_mean_equal_their_formulas():
    G = tiny_generator().eval()  # eval: no style mixing and fixed noise, so the only draw is y
    z = torch.randn(4, 16)
    fake = torch.zeros(8, 1, 8, 8)
    reg = PathLength(weight=2.0, decay=0.01, batch_shrink=2)

    def direct(z, y):
        """||J^T y|| per sample from the full Jacobian of the image w.r.t. that sample's ws."""
        out = []
        for i in range(z.shape[0]):
            ws = G.ws(z[i:i + 1]).detach()
            jac = torch.autograd.functional.jacobian(lambda w: G.synthesis(w).flatten(), ws)  # (pixels, 1, L, w)
            g = torch.einsum("p,plw->lw", y[i].flatten(), jac[:, 0])
            out.append(g.square().sum(1).mean().sqrt())
        return torch.stack(out)

    mean = torch.zeros(())
    for call in range(2):
        ctx = step_context(fake, fake, phase="G", generator=G, latent_dim=16, seed=call)
        ctx.draw_z = lambda n: z[:n]
        torch.manual_seed(100 + call)
        term = reg(ctx)
        torch.manual_seed(100 + call)
        y = torch.randn(4, 1, 8, 8) / math.sqrt(64)
        a = direct(z, y)
        mean = mean + 0.01 * (a.mean() - mean)
        torch.testing.assert_close(term.detach(), 2.0 * ((a - mean) ** 2).mean(), rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(reg.pl_mean, mean, rtol=1e-5, atol=1e-7)
    term.backward()
    assert G.mapping.net[0].weight.grad is not None  # the penalty trains G


def test_minibatch_std_appends_the_group_standard_deviation():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStd(group=4)(x)
    assert out.shape == (8, 4, 4, 4)
    for j in range(2):  # samples j, j+2, j+4, j+6 form a group (the reference's reshape(G, -1, ...))
        members = x[j::2]
        expect = members.std(dim=0, unbiased=False).mean()
        torch.testing.assert_close(out[j, 3], expect.expand(4, 4), rtol=1e-4, atol=1e-5)


def test_upsampling_keeps_a_constant_image_constant_inside():
    x = torch.ones(1, 2, 4, 4)
    y = upsample2d(x, fir_filter())
    assert y.shape == (1, 2, 8, 8)
    torch.testing.assert_close(y[:, :, 2:-2, 2:-2], torch.ones(1, 2, 4, 4))


@pytest.mark.parametrize("size, blocks", [(8, 1), (16, 2), (28, 2), (32, 3)])
def test_networks_fit_the_dataset_sizes(size, blocks):
    G = tiny_generator((3, size, size))
    D = StyleGAN2Discriminator((3, size, size), **TINY_D)
    assert len(G.convs) == blocks + 1 and len(D.blocks) == blocks
    img = G(torch.randn(4, 16))
    assert img.shape == (4, 3, size, size) and D(img).shape == (4,)


def test_lazy_regularisers_run_on_their_steps(tmp_path):
    result = ganzoo.train(model="stylegan2", dataset="digits", steps=16, batch_size=8, log_every=1,
                          out=str(tmp_path / "run"), progress=False, checkpoint_every=16, **TINY)
    spec = result.config["spec"]
    assert spec["generator"]["options"]["channel_max"] == 8 and spec["generator"]["options"]["mapping_layers"] == 2
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss_d" in r]
    assert [r["step"] for r in rows if "reg/pl" in r] == [4, 8, 12, 16]
    assert [r["step"] for r in rows if "reg/r1" in r] == [16]


def test_resume_is_bit_identical_with_path_length_mean_ada_p_and_ema_rampup(tmp_path):
    common = dict(model="stylegan2-ada", dataset="digits", batch_size=8, log_every=4, progress=False,
                  sample_every=100, **TINY)
    straight = ganzoo.train(steps=12, out=str(tmp_path / "a"), checkpoint_every=12, **common)
    ganzoo.train(steps=8, out=str(tmp_path / "b"), checkpoint_every=8, **common)
    resumed = ganzoo.resume(tmp_path / "b", steps=12)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    state_a, state_b = a["state"] if "state" in a else a, b["state"] if "state" in b else b
    assert straight.last_metrics["loss_d"] == resumed.last_metrics["loss_d"]
    flat_a, flat_b = _tensors(state_a), _tensors(state_b)
    assert flat_a.keys() == flat_b.keys() and any("pl_mean" in k for k in flat_a) and any("augment" in k for k in flat_a)
    for key in flat_a:
        assert torch.equal(flat_a[key], flat_b[key]), key


def _tensors(state, prefix=""):
    out = {}
    if isinstance(state, torch.Tensor):
        out[prefix] = state
    elif isinstance(state, dict):
        for k, v in state.items():
            if k in ("meta", "time", "saved_at", "wall_time"):
                continue
            out.update(_tensors(v, f"{prefix}/{k}"))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            out.update(_tensors(v, f"{prefix}/{i}"))
    return out


def test_the_lazy_terms_take_their_own_optimiser_steps_as_the_official_loop(tmp_path):
    """Dreg on step 16: a second D step whose gradient is R1 x 16 alone, gamma/2 E||grad D(x)||^2 computed here by
    hand at the parameters the main step left; Greg on steps 4, 8, 12, 16: a second G step."""
    import copy

    from ganzoo.run.trainer import Trainer
    from ganzoo.spec.config import TrainConfig

    trainer = Trainer(TrainConfig(model="stylegan2", dataset="digits", steps=16, batch_size=8, device="cpu",
                                  precision="fp32", out=str(tmp_path / "run"), **TINY), progress=False)
    engine, calls = trainer.update, {"D": [], "G": []}
    for p, net in (("D", trainer.gan.discriminator), ("G", trainer.gan.generator)):
        opt, real_step = engine.opts[p], engine.opts[p].step

        def spy(*args, _p=p, _net=net, _real=real_step, **kwargs):
            calls[_p].append((engine_step["now"], copy.deepcopy(_net),
                              [None if q.grad is None else q.grad.clone() for q in _net.parameters()]))
            return _real(*args, **kwargs)

        opt.step = spy
    reals = []
    r1 = next(e.reg for e in trainer.extensions.regularizers if e.name == "r1")
    cls_call = type(r1).__call__  # a call goes through the class, so the spy sits there for this test

    def stash(self, ctx):
        reals.append(ctx.real.detach().clone())
        return cls_call(self, ctx)

    type(r1).__call__ = stash
    engine_step = {"now": 0}
    real_engine_step = engine.step

    def counted(step, total, next_batch):
        engine_step["now"] = step
        return real_engine_step(step, total, next_batch)

    engine.step = counted
    try:
        trainer.fit()
    finally:
        type(r1).__call__ = cls_call
    d_steps = [s for s, _, _ in calls["D"]]
    g_steps = [s for s, _, _ in calls["G"]]
    assert d_steps == [*range(1, 16), 16, 16] and g_steps.count(4) == g_steps.count(16) == 2 and g_steps.count(5) == 1
    (x,) = reals
    _, D, grads = calls["D"][-1]  # the Dreg step: D as the main step left it, and the gradient it applies
    x = x.requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
    penalty = 0.01 / 2 * g.pow(2).flatten(1).sum(1).mean() * 16
    expected = torch.autograd.grad(penalty, list(D.parameters()), allow_unused=True)
    for got, want in zip(grads, expected):
        if want is None:
            assert got is None or not got.abs().any()
        else:
            assert torch.allclose(got, want, rtol=1e-4, atol=1e-7)


def test_the_conditional_model_embeds_the_class_in_g_and_projects_d_on_the_mapped_class():
    """StyleGAN2-ADA's --cond=1: G's mapping reads [norm(z), norm(embed(onehot))]; D's score is its cmap_dim output
    dotted with the class's mapped embedding / sqrt(cmap_dim)."""
    torch.manual_seed(0)
    G = StyleGAN2Generator((1, 8, 8), latent_dim=16, num_classes=3, **TINY_G).eval()
    D = StyleGAN2Discriminator((1, 8, 8), num_classes=3, mapping_layers=2, **TINY_D)
    assert G.conditional and D.conditional and D.cmap_dim == 8
    z = torch.randn(4, 16)
    a, b = G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.full((4,), 2))
    assert a.shape == (4, 1, 8, 8) and not torch.allclose(a, b), "the class changes the image"
    def norm(e):  # normalize_2nd_moment, written out
        return e * e.square().mean(1, keepdim=True).add(1e-8).rsqrt()

    joint = torch.cat([norm(z), norm(G.mapping.embed(F.one_hot(torch.ones(4, dtype=torch.long), 3).float()))], 1)
    assert torch.allclose(G.mapping(z, torch.ones(4, dtype=torch.long), update_avg=False), G.mapping.net(joint))
    images = torch.randn(4, 1, 8, 8)
    labels = torch.tensor([0, 1, 2, 1])
    phi = D.out(D.fc(D.conv(D.mbstd(D.blocks(D.from_rgb(images)))).flatten(1)))  # (4, cmap_dim)
    cmap = D.mapping.net(norm(D.mapping.embed(F.one_hot(labels, 3).float())))
    assert torch.allclose(D(images, labels), (phi * cmap).sum(1) / math.sqrt(8), atol=1e-6)
    with pytest.raises(ganzoo.GanzooError, match="class-conditional"):
        D(images)
    unconditional = StyleGAN2Discriminator((1, 8, 8), **TINY_D)
    assert unconditional.mapping is None and unconditional(images).shape == (4,)


def test_path_length_of_a_conditional_generator_uses_the_phases_classes(tmp_path):
    seen = []
    real_ws = StyleGAN2Generator.ws

    def spy(self, z, c=None, **kwargs):
        seen.append(c)
        return real_ws(self, z, c, **kwargs)

    StyleGAN2Generator.ws = spy
    try:
        ganzoo.train(model="stylegan2-ada-cond", dataset="digits", steps=4, batch_size=8, log_every=1,
                     out=str(tmp_path / "run"), progress=False, **TINY)
    finally:
        StyleGAN2Generator.ws = real_ws
    assert seen and all(c is not None and c.dtype == torch.long for c in seen), "every mapping gets labels"
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "reg/pl" in r] == [4]
