"""The original GAN: Goodfellow et al. 2014, "Generative Adversarial Nets" (NeurIPS).

Fully connected generator and discriminator, trained with the non-saturating generator loss that the paper
recommends in practice (``ns``), or the saturating minimax loss of its value function (``minimax``). The paper used
maxout and dropout on MNIST with SGD+momentum; like most reimplementations we use LeakyReLU MLPs with Adam, which
trains reliably on small data.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

import ganzoo

ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
               "tanh": nn.Tanh}
INITS = ("default", "orthogonal")


def _check_options(activation: str, init: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")


def _initialise(module: nn.Module, init: str, gain: float) -> None:
    """PyTorch's default, or orthogonal weights (times `gain`) with zero biases: the 2-D networks of Unrolled GAN,
    VEEGAN and GDPP (tf.orthogonal_initializer(gain=1.4))."""
    if init == "orthogonal":
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                nn.init.orthogonal_(layer.weight, gain=gain)
                nn.init.zeros_(layer.bias)


class MLPGenerator(nn.Module):
    """Noise -> hidden layers (ReLU by default) -> sample; tanh output for images, linear output for points."""

    def __init__(self, shape, latent_dim, hidden=(256, 512), normalization="none", activation="relu",
                 init="default", gain=1.0):
        super().__init__()
        _check_options(activation, init)
        self.shape = tuple(shape)
        layers, width = [], latent_dim
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if normalization == "batch":
                layers.append(nn.BatchNorm1d(h))
            layers.append(ACTIVATIONS[activation]())
            width = h
        layers.append(nn.Linear(width, math.prod(self.shape)))
        if len(self.shape) == 3:  # images live in [-1, 1]
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        _initialise(self, init, gain)

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """Sample -> hidden layers (LeakyReLU(0.2) by default) -> one logit/score per sample."""

    def __init__(self, shape, hidden=(512, 256), normalization="none", activation="leaky_relu", init="default",
                 gain=1.0):
        super().__init__()
        if normalization not in ("none", "layer"):
            raise ValueError(f"normalization must be 'none' or 'layer', not {normalization!r}")
        _check_options(activation, init)
        layers, width = [], math.prod(shape)
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if normalization == "layer":
                layers.append(nn.LayerNorm(h))
            layers.append(ACTIVATIONS[activation]())
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        _initialise(self, init, gain)
        self.per_sample = True  # each score depends on its own sample only: the trainer may batch real and fake

    def forward(self, x):
        return self.net(x.flatten(1)).squeeze(1)


class NonSaturatingLoss(ganzoo.Loss):
    """Non-saturating GAN loss (Goodfellow et al. 2014, sec. 3): G maximizes log D(G(z))."""

    def discriminator_loss(self, real_scores, fake_scores):
        # -log sigmoid(r) - log(1 - sigmoid(f)), written with softplus to stay finite for any logit
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores):
        return F.softplus(-fake_scores).mean()


class MinimaxLoss(NonSaturatingLoss):
    """Saturating minimax GAN loss (Goodfellow et al. 2014, eq. 1): G minimizes log(1 - D(G(z)))."""

    def generator_loss(self, fake_scores):
        return -F.softplus(fake_scores).mean()


VANILLA = ganzoo.Recipe(
    generator="mlp",
    discriminator="mlp",
    loss="ns",
    latent_dim=64,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.5, 0.999),
    batch_size=64,
    steps=10000,  # ~35 s on 2 CPU cores; digits are recognizable from ~5k steps
    ema_decay=0.999,  # samples come from an EMA of G's weights: smoother digits, same training
    # On 2-D points: the GAN baseline of PacGAN's Table 1 (Lin et al. 2018), its networks and protocol (see
    # ganzoo_plugins.pacgan): G 4x400 BN-ReLU with z dim 2, D 3x200 maxout, Adam(1e-4, betas (0.8, 0.999)),
    # batch 100, simultaneous updates, no EMA (the paper evaluates the raw generator).
    variants={"vector": dict(
        generator="pacgan-mlp", discriminator="pacgan-maxout", latent_dim=2, lr_g=1e-4, lr_d=1e-4,
        betas=(0.8, 0.999), batch_size=100, steps=60_000, ema_decay=None, update="simultaneous")},
    citation="Goodfellow et al. 2014, Generative Adversarial Nets: MLP GAN, non-saturating loss. 2-D points: "
             "PacGAN's GAN baseline protocol (Lin et al. 2018).",
)


@ganzoo.hookimpl
def register_generators(register):
    register("mlp", MLPGenerator, "fully connected generator (Goodfellow et al. 2014); images or points")


@ganzoo.hookimpl
def register_discriminators(register):
    register("mlp", MLPDiscriminator, "fully connected LeakyReLU discriminator; images or points")


@ganzoo.hookimpl
def register_losses(register):
    register("ns", NonSaturatingLoss, "non-saturating GAN loss (Goodfellow et al. 2014)")
    register("minimax", MinimaxLoss, "saturating minimax GAN loss (Goodfellow et al. 2014, eq. 1)")


@ganzoo.hookimpl
def register_models(register):
    register("vanilla", VANILLA, "MLP GAN, non-saturating loss (Goodfellow et al. 2014)")
    from dataclasses import replace

    register("minimax", replace(VANILLA, loss="minimax"),
             "MLP GAN with the saturating minimax loss (Goodfellow et al. 2014)")
