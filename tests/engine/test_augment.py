"""DiffAugment and ADA (plugins/augment.py): each op against its formula, gradients, the trainer applying them to
every D input, ADA's p heuristic, checkpointing and exact resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

import ganzoo
from ganzoo.engine.assemble import build_extensions
from ganzoo.errors import GanzooError
from ganzoo.registry import get_registry
from ganzoo.run.trainer import Trainer
from ganzoo.spec.config import TrainConfig
from ganzoo.spec.resolve import spec_from_recipe
from ganzoo_plugins import augment as aug


def make(name, shape=(1, 8, 8), **options):
    return get_registry().get("augmentation", name).obj(shape, **options)


def test_both_are_registered_with_their_papers():
    entries = get_registry().entries["augmentation"]
    assert "Zhao et al. 2020" in entries["diffaugment"].description
    assert "Karras et al. 2020" in entries["ada"].description


# -- DiffAugment: each op against its formula -------------------------------------------------------------------------

def test_colour_ops_match_their_formulas():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2) / 10 - 1
    u = torch.tensor([0.1, 0.8])
    # brightness: x + (u - 0.5)
    assert torch.allclose(aug.brightness(x, u), torch.stack([x[0] - 0.4, x[1] + 0.3]))
    # saturation: per pixel, (x - mean over channels) * 2u + mean
    expected = torch.empty_like(x)
    for n in range(2):
        for i in range(2):
            for j in range(2):
                m = sum(x[n, c, i, j].item() for c in range(3)) / 3
                for c in range(3):
                    expected[n, c, i, j] = (x[n, c, i, j] - m) * 2 * u[n] + m
    assert torch.allclose(aug.saturation(x, u), expected, atol=1e-6)
    # contrast: (x - image mean) * (u + 0.5) + image mean
    for n in range(2):
        m = x[n].sum().item() / x[n].numel()
        assert torch.allclose(aug.contrast(x, u)[n], (x[n] - m) * (u[n] + 0.5) + m, atol=1e-6)
    grey = torch.randn(3, 1, 4, 4)
    assert torch.equal(aug.saturation(grey, torch.rand(3)), grey), "saturation does nothing to one channel"


def test_translation_by_a_fixed_shift_zero_pads():
    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4)
    out = aug.translate(x, torch.tensor([1]), torch.tensor([-2]), "zeros")
    expected = torch.zeros(4, 4)
    for i in range(4):
        for j in range(4):
            si, sj = i - 1, j + 2  # content moved down 1, left 2
            if 0 <= si < 4 and 0 <= sj < 4:
                expected[i, j] = x[0, 0, si, sj]
    assert torch.equal(out[0, 0], expected)
    assert torch.equal(aug.translate(x, torch.tensor([0]), torch.tensor([0])), x)


def test_diffaugment_translation_uses_the_drawn_shifts(monkeypatch):
    """With the RNG patched, the module translates by exactly the drawn integers, within +-1/8 of the size."""
    calls = []

    def fake_randint(low, high, size, device=None):
        calls.append((low, high))
        return torch.tensor([2, -1][: size[0]]) if len(calls) == 1 else torch.tensor([-2, 0][: size[0]])

    monkeypatch.setattr(aug.torch, "randint", fake_randint)
    x = torch.randn(2, 3, 16, 16)
    out = make("diffaugment", (3, 16, 16), policy="translation")(x)
    assert calls == [(-2, 3), (-2, 3)], "shift range round(16/8) = 2 pixels, both ends included"
    assert torch.equal(out, aug.translate(x, torch.tensor([2, -1]), torch.tensor([-2, 0]), "zeros"))
    assert torch.equal(out[0, :, 2:, :14], x[0, :, :14, 2:]) and (out[0, :, :2] == 0).all()
    assert torch.equal(out[1, :, :15], x[1, :, 1:]) and (out[1, :, 15] == 0).all()


def test_cutout_zeroes_a_half_size_square_clipped_at_the_border():
    x = torch.ones(2, 2, 8, 8)
    out = aug.cutout(x, torch.tensor([4, 0]), torch.tensor([3, 7]), 4, 4)
    # sample 0: rows 2..5, cols 1..4; sample 1: rows -2..1 -> 0..1, cols 5..8 -> 5..7
    expected = torch.ones(2, 2, 8, 8)
    expected[0, :, 2:6, 1:5] = 0
    expected[1, :, 0:2, 5:8] = 0
    assert torch.equal(out, expected)
    d = make("diffaugment", (1, 8, 8), policy="cutout")
    assert d.cut == (4, 4)
    zeros = (d(torch.ones(64, 1, 8, 8)) == 0).flatten(1).sum(1)
    assert zeros.max() == 16 and zeros.min() >= 4, "a 4x4 square, at least a 2x2 corner of it inside the image"


def test_diffaugment_keeps_gradients_to_the_input_and_to_g():
    torch.manual_seed(0)
    d = make("diffaugment", (3, 8, 8))
    g = torch.nn.Linear(4, 3 * 8 * 8)
    x = g(torch.randn(5, 4)).view(5, 3, 8, 8)
    d(x).square().sum().backward()
    assert g.weight.grad is not None and g.weight.grad.abs().sum() > 0 and torch.isfinite(g.weight.grad).all()
    # the augmentation's Jacobian at a point equals the one of the same transform with its draws replayed
    x = torch.randn(3, 3, 8, 8, requires_grad=True)
    state = torch.get_rng_state()
    y = d(x)
    (gx,) = torch.autograd.grad((y * y.detach()).sum(), x)
    torch.set_rng_state(state)
    assert torch.equal(d(x.detach()), y.detach()), "the same RNG state gives the same transform"
    assert torch.isfinite(gx).all() and gx.abs().sum() > 0


def test_the_trainer_augments_every_d_input_real_and_fake_in_both_phases(tmp_path):
    """One training step: D sees augmented reals and fakes in the D phase and augmented fakes in the G phase."""
    trainer = Trainer(TrainConfig(model="dcgan", steps=1, batch_size=8, device="cpu", precision="fp32",
                                  augment="diffaugment", out=str(tmp_path / "run")), progress=False)
    update = trainer.update
    seen, reals = [], []
    original = update.augment.forward

    def spy(x):
        seen.append(x.detach().clone())
        return original(x)

    update.augment.forward = spy

    def next_batch():
        real, y = trainer.sampler.next()
        reals.append(real.clone())
        return real, y

    update.step(1, 1, next_batch)
    rows = torch.cat([s.flatten(1) for s in seen])
    assert rows.shape[0] == 3 * 8, "real and fake in the D step, fake in the G step"
    real = reals[0].flatten(1)
    is_real = (rows[:, None, :] == real[None]).all(-1).any(1)
    assert int(is_real.sum()) == 8, "every real sample passes through the augmentation, once"
    assert int((~is_real).sum()) == 16, "and every fake sample, in both phases"


def test_bad_options_are_one_line_errors(tmp_path):
    with pytest.raises(GanzooError, match="unknown policy entry 'colour'"):
        make("diffaugment", policy="colour,cutout")
    with pytest.raises(GanzooError, match="works on images"):
        make("diffaugment", (2,))
    with pytest.raises(GanzooError, match="unknown option 'ratio'"):
        make("diffaugment", ratio=0.2)
    with pytest.raises(GanzooError, match="p must be a probability"):
        make("ada", p=1.5)
    with pytest.raises(GanzooError, match="interval must be a positive"):
        make("ada", interval=0)
    with pytest.raises(GanzooError, match="rotate90 needs square images"):
        make("ada", (3, 8, 16))
    with pytest.raises(GanzooError, match="works on images"):
        ganzoo.train(model="vanilla", dataset="ring8", steps=1, augment="ada", out=str(tmp_path / "r"))
    assert make("diffaugment", policy="color+cutout").policy == ("color", "cutout"), "'+' separates on the CLI"


# -- ADA ------------------------------------------------------------------------------------------------------------

def feed(a, value, times, n=8):
    for _ in range(times):
        a.feedback(torch.full((n,), float(value)))


def test_ada_p_rises_when_d_is_confident_on_reals_and_falls_otherwise():
    a = make("ada", interval=4, kimg=1)  # step: 8 images * 4 / 1000 = 0.032
    feed(a, 2.0, 3)
    assert float(a.p) == 0.0, "no adjustment before `interval` D steps"
    feed(a, 2.0, 1)
    assert math.isclose(float(a.p), 0.032, rel_tol=1e-6)
    feed(a, 2.0, 36)
    assert math.isclose(float(a.p), 0.32, rel_tol=1e-5), "10 intervals of +0.032"
    feed(a, -1.0, 8)
    assert math.isclose(float(a.p), 0.256, rel_tol=1e-5)
    feed(a, 3.0, 4 * 40)
    assert float(a.p) == 1.0, "clamped at 1"
    feed(a, -3.0, 4 * 40)
    assert float(a.p) == 0.0, "clamped at 0"


def test_ada_uses_the_sign_mean_against_the_target():
    a = make("ada", p=0.5, interval=1, kimg=1, target=0.6)
    # r_t = (7 - 1) / 8 = 0.75 > 0.6 -> up by 8/1000, even though the mean score is negative
    a.feedback(torch.tensor([0.1] * 7 + [-100.0]))
    assert math.isclose(float(a.p), 0.508, rel_tol=1e-6) and math.isclose(float(a.rt), 0.75)
    a.feedback(torch.tensor([1.0] * 5 + [-1.0] * 3))  # r_t = 0.25 < 0.6 -> down
    assert math.isclose(float(a.p), 0.5, rel_tol=1e-6)
    a.feedback(torch.tensor([1.0] * 4 + [-1.0] * 1))  # r_t = 0.6: sign 0, p stays
    assert math.isclose(float(a.p), 0.5, rel_tol=1e-6)
    fixed = make("ada", p=0.2, adaptive=False, interval=1, kimg=1)
    feed(fixed, 1.0, 5)
    assert math.isclose(float(fixed.p), 0.2, rel_tol=1e-6), "adaptive=false keeps p"
    assert set(make("ada").stats()) == {"p"} and set(a.stats()) == {"p", "rt"}


def test_ada_default_speed_is_the_papers():
    a = make("ada")  # interval 4, kimg 500: 64 * 4 / 500,000 per adjustment
    feed(a, 1.0, 4, n=64)
    assert math.isclose(float(a.p), 64 * 4 / 500_000, rel_tol=1e-5)


def test_ada_state_survives_a_state_dict_round_trip():
    a = make("ada", interval=4, kimg=1)
    feed(a, 1.0, 6)  # one adjustment and two D steps into the next interval
    b = make("ada", interval=4, kimg=1)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.p, b.p) and torch.equal(a.accum, b.accum)
    feed(a, 1.0, 2)
    feed(b, 1.0, 2)
    assert torch.equal(a.p, b.p) and math.isclose(float(b.p), 0.064, rel_tol=1e-6)


def test_ada_with_p_zero_is_the_identity_and_with_p_one_it_transforms():
    x = torch.randn(32, 3, 8, 8)
    assert torch.equal(make("ada", (3, 8, 8), p=0.0)(x), x)
    out = make("ada", (3, 8, 8), p=1.0)(x)
    changed = (out != x).flatten(1).any(1)
    assert changed.float().mean() > 0.9


def test_ada_ops_match_their_formulas():
    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4).repeat(4, 1, 1, 1)
    # 90-degree rotations: k quarter turns counter-clockwise
    r = aug.rotate90(x, torch.tensor([0, 1, 2, 3]))
    for k in range(4):
        assert torch.equal(r[k], torch.rot90(x[k], k, dims=(1, 2)))
    assert torch.equal(r[1, 0, 0], torch.tensor([4.0, 8, 12, 16])), "first row after a quarter turn = last column"
    # integer translation with reflection padding (no repeated edge)
    row = torch.tensor([[[[0.0, 1, 2, 3]]]])
    assert aug.translate(row, torch.tensor([0]), torch.tensor([1]), "reflect").flatten().tolist() == [1, 0, 1, 2]
    assert aug.translate(row, torch.tensor([0]), torch.tensor([-2]), "reflect").flatten().tolist() == [2, 3, 2, 1]
    # colour: ADA's 4x4 matrix product S(s) @ C(c) @ B(b) on homogeneous RGB, computed directly
    rgb = torch.randn(2, 3, 2, 2)
    b, c, s = torch.tensor([0.3, -0.2]), torch.tensor([1.5, 0.7]), torch.tensor([2.0, 0.25])
    v = torch.tensor([1.0, 1, 1, 0]) / math.sqrt(3)
    eye = torch.eye(4)
    out = aug.ada_color(rgb, b, c, s)
    for n in range(2):
        B = eye.clone()
        B[:3, 3] = b[n]
        C = torch.diag(torch.tensor([c[n], c[n], c[n], 1.0]))
        S = torch.outer(v, v) + (eye - torch.outer(v, v)) * s[n]
        M = S @ C @ B
        pix = torch.cat([rgb[n].reshape(3, -1), torch.ones(1, 4)])
        assert torch.allclose(out[n], (M @ pix)[:3].reshape(3, 2, 2), atol=1e-5)
    grey = torch.randn(2, 1, 3, 3)
    assert torch.allclose(aug.ada_color(grey, b, c, None), (grey + b.view(2, 1, 1, 1)) * c.view(2, 1, 1, 1))


def test_ada_applies_each_op_with_probability_p():
    torch.manual_seed(0)
    x = torch.randn(4000, 1, 8, 8)
    for p in (0.25, 0.75):
        out = make("ada", p=p, ops="brightness")(x)
        share = (out != x).flatten(1).any(1).float().mean().item()
        assert abs(share - p) < 0.03


@pytest.mark.parametrize("model,augment", [("vanilla", "ada:p=0.3,interval=2,kimg=1"),
                                           ("dcgan", "ada:p=0.3,interval=2,kimg=1"),
                                           ("vanilla", "diffaugment")])
def test_a_resumed_run_repeats_exactly_with_augmentation(model, augment, tmp_path):
    common = dict(model=model, dataset="digits", batch_size=16, device="cpu", precision="fp32", seed=5, log_every=1,
                  augment=augment)
    straight = ganzoo.train(steps=6, out=str(tmp_path / "straight"), **common)
    ganzoo.train(steps=3, out=str(tmp_path / "split"), **common)
    resumed = ganzoo.resume(tmp_path / "split", steps=6)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert resumed.step == straight.step == 6
    for key in ("generator", "discriminator", "augment"):
        if a[key] is None:
            assert key == "augment" and augment == "diffaugment"
            continue
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    if augment.startswith("ada"):
        ps = [json.loads(line).get("augment/p") for line in (tmp_path / "split" / "metrics.jsonl").read_text()
              .splitlines()]
        assert len(set(ps)) > 1, "p moved during the run and is logged"
        assert math.isclose(ps[-1], float(a["augment"]["p"]), rel_tol=1e-6)


def test_spec_records_the_augmentation_for_resume():
    registry = get_registry()
    recipe = registry.get("model", "dcgan").obj
    spec = spec_from_recipe("dcgan", recipe, (1, 8, 8), augment="ada:target=0.7", registry=registry)
    assert spec.augment.name == "ada" and spec.augment.options == {"target": 0.7}
    ext = build_extensions(spec, registry)
    assert isinstance(ext.augment, aug.ADA) and ext.augment.target == 0.7
