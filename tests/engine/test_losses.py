"""Loss formulas against hand-computed values, and the trainer's gradient penalty against a closed form."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.engine.update import Draw
from ganzoo.run.trainer import Trainer
from ganzoo.spec.config import TrainConfig


def loss(name):
    return ganzoo.get_registry().get("loss", name).obj()


def sig(x):
    return 1 / (1 + math.exp(-x))


def test_non_saturating_loss_matches_hand_computation():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    ns = loss("ns")
    expected_d = -(math.log(sig(2.0)) + math.log(sig(-1.0))) / 2 - (math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0))) / 2
    expected_g = -(math.log(sig(0.5)) + math.log(sig(-3.0))) / 2
    assert ns.discriminator_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert ns.generator_loss(fake).item() == pytest.approx(expected_g, rel=1e-6)


def test_minimax_generator_minimizes_log_one_minus_d():
    fake = torch.tensor([0.5, -3.0])
    expected = (math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0))) / 2
    assert loss("minimax").generator_loss(fake).item() == pytest.approx(expected, rel=1e-6)
    # same discriminator objective as the non-saturating loss
    real = torch.tensor([1.0, 2.0])
    assert loss("minimax").discriminator_loss(real, fake).item() == pytest.approx(loss("ns").discriminator_loss(real, fake).item())


def test_losses_stay_finite_for_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    for name in ("ns", "minimax"):
        assert torch.isfinite(loss(name).discriminator_loss(big, -big))
        assert torch.isfinite(loss(name).generator_loss(big))


def test_wasserstein_loss_and_penalty_weight():
    wgan = loss("wgan-gp")
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([0.0, -2.0])
    assert wgan.discriminator_loss(real, fake).item() == pytest.approx(-1.0 - 2.0)
    assert wgan.generator_loss(fake).item() == pytest.approx(1.0)
    assert wgan.gradient_penalty_weight == 10.0


class LinearCritic(nn.Module):
    """D(x) = w . x: its input gradient is w everywhere, so the penalty is (||w|| - 1)^2 exactly."""

    def __init__(self, dim):
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-1, 2, dim))

    def forward(self, x):
        return x.flatten(1) @ self.w


def _gp_context(trainer, real, fake, critic):
    """The D-phase step context the trainer hands regularisers, around a critic with a known gradient."""
    update = trainer.update
    trainer.gan.discriminator = update.gan.discriminator = update.D = critic
    return update.context(1, 1, "D", Draw(real, None, fake, None, None), real, fake, None, critic(fake).float())


def _gp(trainer):
    return next(e.reg for e in trainer.extensions.regularizers if e.name == "gp")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_gradient_penalty_matches_closed_form_under_autocast(precision, tmp_path):
    trainer = Trainer(TrainConfig(model="wgan-gp", steps=1, precision=precision, device="cpu", out=str(tmp_path)),
                      progress=False)
    critic = LinearCritic(64)
    real = torch.randn(16, 1, 8, 8)
    fake = torch.randn(16, 1, 8, 8)
    gp = _gp(trainer)(_gp_context(trainer, real, fake, critic))
    expected = 10 * (critic.w.detach().norm() - 1) ** 2  # lambda 10: the recipe's weight
    tolerance = 1e-5 if precision == "fp32" else 2e-2  # bf16 matmul under autocast
    assert gp.dtype == torch.float32
    assert gp.item() == pytest.approx(expected.item(), rel=tolerance)
    gp.backward()  # double backward reaches the critic's weights
    assert critic.w.grad is not None
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w||
    w = critic.w.detach()
    expected_grad = 20 * (w.norm() - 1) * w / w.norm()
    assert torch.allclose(critic.w.grad, expected_grad, rtol=tolerance, atol=tolerance)


def test_gradient_penalty_is_unscaled_when_a_grad_scaler_is_active(tmp_path):
    """The fp16 path: the penalty's gradient is taken of the scaled output and unscaled before the norm."""
    trainer = Trainer(TrainConfig(model="wgan-gp", steps=1, precision="fp32", device="cpu", out=str(tmp_path)),
                      progress=False)
    critic = LinearCritic(64)
    real, fake = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    state = trainer.update.noise.get_state()
    plain = _gp(trainer)(_gp_context(trainer, real, fake, critic))
    trainer.update.noise.set_state(state)
    trainer.update.scaler_d = torch.amp.GradScaler("cpu", init_scale=2.0**14)
    scaled = _gp(trainer)(_gp_context(trainer, real, fake, critic))
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-5)
    expected = 10 * (critic.w.detach().norm() - 1) ** 2
    assert scaled.item() == pytest.approx(expected.item(), rel=1e-5)
