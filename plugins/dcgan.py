"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional GANs".

Architecture guidelines from the paper: strided (transposed) convolutions instead of pooling, batch norm in both
networks (not on G's output or D's input), ReLU in G with tanh output, LeakyReLU(0.2) in D, no fully connected
hidden layers, weights initialised from N(0, 0.02), Adam with lr 2e-4 and beta1 0.5, batch 128 (we use 64).

The networks build for any square image size from 8 to 128 that is a multiple of 4: the size is factored as
``base * 2**k`` (base >= 4), G projects the noise to a ``base x base`` map and doubles it k times.
"""

from __future__ import annotations

from torch import nn

import ganzoo
from ganzoo.api import normal_init_, resolution_plan


def _plan(shape):
    """(channels, base, k) for a (C, S, S) image: S = base * 2**k, base >= 4, k >= 1."""
    return resolution_plan(shape, "DCGAN", min_size=8, max_size=128, multiple=4)


class DCGANGenerator(nn.Module):
    def __init__(self, shape, latent_dim, width=64):
        super().__init__()
        channels, base, k = _plan(shape)
        ch = width * 2 ** (k - 1)
        layers = [
            nn.ConvTranspose2d(latent_dim, ch, base, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_init_(self, 0.02, norm_weight_mean=1.0)  # N(0, 0.02); batch norm N(1, 0.02) (Radford et al. 2015)

    def forward(self, z):
        return self.net(z.view(z.shape[0], z.shape[1], 1, 1))


def _norm(kind, channels):
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-sample normalisation, safe with a gradient penalty
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"normalization must be 'batch', 'layer' or 'none', not {kind!r}")


class DCGANDiscriminator(nn.Module):
    """Mirror of the generator; ``normalization='none'`` gives the WGAN-GP critic (Gulrajani et al. 2017)."""

    def __init__(self, shape, width=64, normalization="batch"):
        super().__init__()
        channels, base, k = _plan(shape)
        ch = width
        layers = [nn.Conv2d(channels, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(k - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=normalization == "none"), _norm(normalization, ch * 2),
                       nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, base, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        normal_init_(self, 0.02, norm_weight_mean=1.0)  # N(0, 0.02); batch norm N(1, 0.02) (Radford et al. 2015)
        # Batch norm mixes a batch's samples; without it each score depends on its own sample only.
        self.per_sample = normalization != "batch"

    def forward(self, x):
        return self.net(x).flatten()


@ganzoo.hookimpl
def register_generators(register):
    register("dcgan", DCGANGenerator, "transposed-conv generator with batch norm (Radford et al. 2015)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("dcgan", DCGANDiscriminator, "strided-conv discriminator with batch norm (Radford et al. 2015)")


@ganzoo.hookimpl
def register_models(register):
    register(
        "dcgan",
        ganzoo.Recipe(
            # DCGAN is convolutional; on 2-D point data the recipe falls back to MLPs.
            generator={"image": "dcgan", "vector": "mlp"},
            discriminator={"image": "dcgan", "vector": "mlp"},
            loss="ns",
            latent_dim=100,
            lr_g=2e-4,
            lr_d=2e-4,
            betas=(0.5, 0.999),
            batch_size=64,
            steps=2000,
            citation="Radford et al. 2015, DCGAN: conv nets with batch norm, Adam(2e-4, 0.5), N(0, 0.02) init.",
        ),
        "deep convolutional GAN (Radford et al. 2015)",
    )
