"""lsgan, dragan and the lecam regulariser: losses and penalties equal hand values; models train; LeCam's anchors
survive a resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.testing import check_model, check_regularizer, step_context
from ganzoo_plugins.dragan import DRAGANPenalty
from ganzoo_plugins.lecam import LeCam
from ganzoo_plugins.lsgan import LeastSquaresLoss


@pytest.mark.parametrize("model", ["lsgan", "dragan"])
def test_trains_in_fp32_and_bf16(model):
    check_model(model)


@pytest.mark.parametrize("name", ["dragan", "lecam"])
def test_regularisers_pass_the_conformance_kit(name):
    check_regularizer(name)


def test_least_squares_loss_matches_hand_values_for_both_codes():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 2.0])
    chi2 = LeastSquaresLoss(codes="chi2")  # a=-1, b=1, c=0
    # D: 1/2 mean((r - 1)^2) + 1/2 mean((f + 1)^2) = 1/2 * 1/2 + 1/2 * 9/2
    assert chi2.discriminator_loss(real, fake).item() == pytest.approx(2.5)
    assert chi2.generator_loss(fake).item() == pytest.approx(0.5 * (1 + 4) / 2)  # 1/2 mean(f^2)
    binary = LeastSquaresLoss()  # the default: a=0, b=c=1
    assert binary.discriminator_loss(real, fake).item() == pytest.approx(0.25 + 0.5 * (1 + 4) / 2)
    assert binary.generator_loss(fake).item() == pytest.approx(0.5 * (4 + 1) / 2)  # 1/2 mean((f - 1)^2)
    assert LeastSquaresLoss(a=-2.0).a == -2.0
    with pytest.raises(ValueError, match="codes"):
        LeastSquaresLoss(codes="xy")


def test_lsgan_codes_can_be_chosen_from_the_command_line(tmp_path):
    result = ganzoo.train(model="lsgan", dataset="digits", steps=2, loss_options=["codes=chi2"],
                          out=str(tmp_path / "run"), progress=False)
    assert result.config["spec"]["loss"]["options"] == {"codes": "chi2"}
    with pytest.raises(GanzooError, match="key=value"):
        ganzoo.train(model="lsgan", dataset="digits", steps=2, loss_options=["codes"], out=str(tmp_path / "b"),
                     progress=False)
    with pytest.raises(GanzooError, match=r"--loss-option code: the loss 'least-squares' takes a, b, c, codes"):
        ganzoo.train(model="lsgan", dataset="digits", steps=2, loss_options=["code=binary"], out=str(tmp_path / "c"),
                     progress=False)


def test_dragan_penalty_is_taken_at_the_perturbed_real_point():
    torch.manual_seed(0)
    real = torch.randn(4, 3)
    D = lambda x: 0.5 * x.pow(2).sum(1)
    ctx = step_context(real, real, D, seed=7)
    term = DRAGANPenalty(weight=10.0, c=0.5, k=1.0)(ctx)
    g = torch.Generator().manual_seed(7)  # the same draws, in the same order: u, then alpha
    u = torch.rand((4, 3), generator=g)
    alpha = torch.rand((4, 1), generator=g)
    x_hat = real + alpha * 0.5 * real.std() * u
    expect = 10.0 * ((x_hat.norm(dim=1) - 1.0) ** 2).mean()
    assert term.item() == pytest.approx(expect.item(), rel=1e-5)


def test_lecam_anchors_and_penalty_equal_hand_values():
    reg = LeCam(weight=0.5, decay=0.9, start=1, one_sided=False)
    s1 = step_context(torch.zeros(2, 1), torch.zeros(2, 1), lambda x: x[:, 0] + torch.tensor([2.0, 4.0]), step=1)
    assert reg(s1).item() == 0.0  # step 1 <= start: the anchors only follow the scores
    assert (reg.ema_real.item(), reg.ema_fake.item()) == (3.0, 3.0)
    real = torch.tensor([[1.0], [3.0]])
    fake = torch.tensor([[-1.0], [0.0]])
    s2 = step_context(real, fake, lambda x: x[:, 0], step=2)
    term = reg(s2)
    a_r = 0.9 * 3.0 + 0.1 * 2.0  # mean real score 2
    a_f = 0.9 * 3.0 + 0.1 * -0.5  # mean fake score -0.5
    assert reg.ema_real.item() == pytest.approx(a_r) and reg.ema_fake.item() == pytest.approx(a_f)
    expect = 0.5 * (((1 - a_f) ** 2 + (3 - a_f) ** 2) / 2 + ((a_r + 1) ** 2 + (a_r - 0) ** 2) / 2)
    assert term.item() == pytest.approx(expect)
    # the authors' code squares only what lies beyond the anchor
    one_sided = LeCam(weight=1.0, decay=0.0, start=0)
    one_sided.ema_real, one_sided.ema_fake = torch.tensor(1.0), torch.tensor(0.0)
    assert one_sided.penalty(torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])).item() == pytest.approx(
        (4.0 + 0.0) / 2 + (0.25 + 0.0) / 2)


def test_lecam_anchors_resume_bit_identically(tmp_path):
    common = dict(model="dcgan", dataset="digits", batch_size=16, log_every=2, progress=False, sample_every=100,
                  regularizers=["lecam:weight=0.3,start=2"])
    ganzoo.train(steps=6, out=str(tmp_path / "a"), checkpoint_every=6, **common)
    ganzoo.train(steps=3, out=str(tmp_path / "b"), checkpoint_every=3, **common)
    ganzoo.resume(tmp_path / "b", steps=6)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    find = lambda s: s["regularizers"]["lecam"] if "regularizers" in s else find(s["state"])
    anchors_a, anchors_b = find(a), find(b)
    assert math.isfinite(float(anchors_a["ema_real"]))
    assert all(torch.equal(anchors_a[k], anchors_b[k]) for k in ("ema_real", "ema_fake"))
    ga, gb = a.get("state", a)["generator"], b.get("state", b)["generator"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)


def test_a_score_reading_regulariser_can_take_its_own_step(tmp_path):
    """separate=true for LeCam (it reads D's real and fake scores): its own step scores the same draw again."""
    from ganzoo.cli.commands import main

    out = tmp_path / "run"
    assert main(["run", "dcgan", "--regularizer", "lecam:weight=0.3,start=0,separate=true", "--steps", "3",
                 "--batch-size", "16", "--log-every", "1", "--precision", "fp32", "--out", str(out), "--quiet"]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("reg/lecam" in r for r in rows if "loss_d" in r)
