"""LSGAN: Mao, Li, Xie, Lau, Wang & Smolley 2017, "Least Squares Generative Adversarial Networks" (ICCV).

The discriminator is a regressor onto codes instead of a classifier: D minimises
``1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]`` and G minimises ``1/2 E[(D(G(z)) - c)^2]`` (the paper's eq. 2),
on D's raw output (no sigmoid). The paper gives two settings of the codes (section 3.2.3), both available as the
loss's ``codes`` option (``--loss-option codes=binary``):

- ``codes="binary"`` (default): a = 0, b = c = 1 (eq. 9), G asks D to call its samples real.
- ``codes="chi2"``: a = -1, b = 1, c = 0 (eq. 8). With b - c = 1 and b - a = 2 minimising the objective
  minimises the Pearson chi^2 divergence between p_data + p_g and 2 p_g (the paper's Theorem). Measured here it
  fails on digits with these networks: G parks its samples on D's zero level set (grey images, D(fake) = 0.00 =
  c while D(real) = 0.91), FID 3664 against 85 for the binary codes (``ganzoo run lsgan --loss-option codes=chi2
  --steps 2000 --precision fp32`` then ``ganzoo eval``, seed 0), hence the binary default.

Explicit ``a``, ``b``, ``c`` options override the named codes.

Networks: the paper's Figure 3 networks are for 112x112 LSUN scenes; its stability comparisons use DCGAN's
architecture, and so does this recipe at any image size (the built-in ``dcgan`` networks, Radford et al. 2015), with
the optimiser of the paper's experiments: Adam lr 2e-4, beta1 0.5, batch 64. On 2-D points it uses the MLPs.
"""

from __future__ import annotations

import torch

import ganzoo

CODES = {"chi2": (-1.0, 1.0, 0.0), "binary": (0.0, 1.0, 1.0)}


class LeastSquaresLoss(ganzoo.Loss):
    """Least-squares codes loss: D regresses real scores to b and fake ones to a; G pulls fake scores to c."""

    def __init__(self, codes: str = "binary", a=None, b=None, c=None):
        if codes not in CODES:
            raise ValueError(f"lsgan codes must be one of {', '.join(CODES)}, got {codes!r}")
        default = CODES[codes]
        self.a, self.b, self.c = (float(v if v is not None else d) for v, d in zip((a, b, c), default))

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor, ctx=None) -> torch.Tensor:
        return 0.5 * (real_scores - self.b).pow(2).mean() + 0.5 * (fake_scores - self.a).pow(2).mean()

    def generator_loss(self, fake_scores: torch.Tensor, ctx=None) -> torch.Tensor:
        return 0.5 * (fake_scores - self.c).pow(2).mean()


LSGAN = ganzoo.Recipe(
    generator={"image": "dcgan", "vector": "mlp"},
    discriminator={"image": "dcgan", "vector": "mlp"},
    loss="least-squares",
    latent_dim=100,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.5, 0.999),
    batch_size=64,
    steps=2000,
    citation="Mao et al. 2017, LSGAN: least-squares loss, codes a=0, b=c=1 (eq. 9; codes=chi2 for eq. 8), "
             "DCGAN networks, Adam(2e-4, 0.5).",
)


@ganzoo.hookimpl
def register_losses(register):
    register("least-squares", LeastSquaresLoss, "least-squares loss with codes a, b, c (Mao et al. 2017)")


@ganzoo.hookimpl
def register_models(register):
    register("lsgan", LSGAN, "least-squares GAN on DCGAN networks (Mao et al. 2017)")
