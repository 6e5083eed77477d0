"""Least Squares GAN: Mao et al. 2017, "Least Squares Generative Adversarial Networks" (ICCV).

The discriminator regresses real samples to b = 1 and fakes to a = 0, the generator pushes fakes towards c = 1
(the 0-1-1 coding of the paper's section 3.2.2), which penalises samples
far from the decision boundary and gives non-vanishing gradients. The paper's networks are DCGAN-like; this example
registers its own small MLP pair too, to show every hook.

ganzoo ships LSGAN itself since 0.3 (``lsgan``, loss ``least-squares``, on DCGAN networks); registry names are
first come, first kept, so this example registers its model and loss under names of its own (``lsgan-mlp``,
``least-squares-01``) instead of shadowing the built-ins.
"""

from __future__ import annotations

import math

from torch import nn

import ganzoo


class LeastSquaresLoss(ganzoo.Loss):
    """D: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2];  G: 1/2 E[(D(G(z)) - c)^2]  (a, b, c) = (0, 1, 1)."""

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0):
        self.a, self.b, self.c = a, b, c

    def discriminator_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores - self.b) ** 2).mean() + 0.5 * ((fake_scores - self.a) ** 2).mean()

    def generator_loss(self, fake_scores):
        return 0.5 * ((fake_scores - self.c) ** 2).mean()


class LSGenerator(nn.Module):
    """MLP generator: noise -> 2 hidden ReLU layers -> sample (tanh for images)."""

    def __init__(self, shape, latent_dim, hidden=256):
        super().__init__()
        self.shape = tuple(shape)
        layers = [nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                  nn.Linear(hidden, math.prod(self.shape))]
        if len(self.shape) == 3:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.shape)


class LSDiscriminator(nn.Module):
    """MLP discriminator with a linear output (least squares needs no sigmoid)."""

    def __init__(self, shape, hidden=256):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


@ganzoo.hookimpl
def register_generators(register):
    register("lsgan-mlp", LSGenerator, "MLP generator of the LSGAN example")


@ganzoo.hookimpl
def register_discriminators(register):
    register("lsgan-mlp", LSDiscriminator, "MLP discriminator with linear output")


@ganzoo.hookimpl
def register_losses(register):
    register("least-squares-01", LeastSquaresLoss, "least-squares GAN loss, 0-1-1 coding (Mao et al. 2017)")


@ganzoo.hookimpl
def register_models(register):
    register(
        "lsgan-mlp",
        ganzoo.Recipe(
            generator="lsgan-mlp",
            discriminator="lsgan-mlp",
            loss="least-squares-01",
            latent_dim=64,
            lr_g=2e-4,
            lr_d=2e-4,
            betas=(0.5, 0.999),  # Mao et al. 2017 used Adam(2e-4, 0.5)
            batch_size=64,
            steps=5000,
            citation="Mao et al. 2017, Least Squares GAN: Adam(2e-4, 0.5), 0-1-1 coding.",
        ),
        "least-squares GAN (Mao et al. 2017)",
    )
