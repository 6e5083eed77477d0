"""GAN + R1: Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?" (ICML).

The non-saturating GAN loss (``ns``) with the zero-centred gradient penalty on real data,
``R1 = gamma/2 * E_real ||grad_x D(x)||^2`` (the paper's eq. 9; the built-in ``r1`` regulariser, computed by the
trainer from the main D pass, scale- and autocast-safe). The recipe follows the authors' code (LMescheder/
GAN_stability):

- gamma = 10: the paper's and its code's value for every image experiment (``reg_param: 10`` in the celebA, LSUN,
  celebA-HQ and ImageNet configs).
- Networks: the code's ``resnet`` architecture, scaled down in width (``nfilter`` 32 instead of 64/16) so it trains on
  a CPU. No normalisation in either network; pre-activation ResNet blocks with LeakyReLU(0.2), two 3x3 convs,
  the residual branch scaled by 0.1, a 1x1 shortcut (no bias) when the width changes. G: z in R^256 -> dense to
  4 x 4 x min(nf * 2**k, 512) -> k x [block, nearest 2x upsample] -> block(nf) -> LeakyReLU, 3x3 conv, tanh.
  D: 3x3 conv to nf -> block(nf) -> k x [3x3/2 average pool (padding 1), block doubling the width (max 1024)]
  -> LeakyReLU, dense -> 1. PyTorch's default initialisation, as the code. The image size is factored as
  ``4 * 2**k`` (or M * 2**k with M >= 4 for sizes that are not powers of two); the code's embedding of the class
  label is omitted (one class: it only adds a constant to G's first layer).
- Optimiser: Adam, lr 1e-4 for both networks, betas (0, 0.99), eps 1e-8 (the code's ``adam`` setting, used for
  ImageNet; its LSUN/celebA configs use RMSProp with the same lr), one D step per G step, batch 64.
- Generator EMA with decay 0.999 (the code's ``model_average_beta``), from the first step (no warm-up; add
  ``--schedule ema-warmup`` for short runs).

Lazy regularisation (Karras et al. 2020): ``regularizers=({"name": "r1", "gamma": 10.0, "every": 16},)`` computes
R1 on every 16th step only, multiplied by 16 so its expected gradient is unchanged (``ganzoo run gan-r1
--no-recipe-regularizers --regularizer r1:gamma=10,every=16`` on the command line); the paper evaluates it on every
step, as the recipe does. On 2-D points the recipe uses the MLP networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.api import resolution_plan

LATENT_DIM = 256


def _plan(shape) -> tuple[int, int, int]:
    """(channels, s0, k): size = s0 * 2**k with the most halvings keeping s0 >= 4 (4 for powers of two)."""
    return resolution_plan(shape, "the R1 ResNet", min_size=8, multiple=4)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ResnetBlock(nn.Module):
    """x_s + 0.1 * conv(act(conv(act(x)))): no normalisation; learned 1x1 shortcut when the width changes."""

    def __init__(self, fin: int, fout: int):
        super().__init__()
        hidden = min(fin, fout)
        self.conv_0 = nn.Conv2d(fin, hidden, 3, 1, 1)
        self.conv_1 = nn.Conv2d(hidden, fout, 3, 1, 1)
        self.conv_s = nn.Conv2d(fin, fout, 1, bias=False) if fin != fout else None

    def forward(self, x):
        shortcut = x if self.conv_s is None else self.conv_s(x)
        return shortcut + 0.1 * self.conv_1(_act(self.conv_0(_act(x))))


class R1Generator(nn.Module):
    def __init__(self, shape, latent_dim=LATENT_DIM, nfilter=32, nfilter_max=512):
        super().__init__()
        channels, s0, k = _plan(shape)
        self.s0 = s0
        self.nf0 = min(nfilter_max, nfilter * 2 ** k)
        self.fc = nn.Linear(latent_dim, self.nf0 * s0 * s0)
        blocks = []
        for i in range(k):
            fin = min(nfilter * 2 ** (k - i), nfilter_max)
            fout = min(nfilter * 2 ** (k - i - 1), nfilter_max)
            blocks += [ResnetBlock(fin, fout), nn.Upsample(scale_factor=2, mode="nearest")]
        blocks.append(ResnetBlock(nfilter, nfilter))
        self.resnet = nn.Sequential(*blocks)
        self.conv_img = nn.Conv2d(nfilter, channels, 3, 1, 1)

    def forward(self, z):
        out = self.fc(z.flatten(1)).view(z.shape[0], self.nf0, self.s0, self.s0)
        return torch.tanh(self.conv_img(_act(self.resnet(out))))


class R1Discriminator(nn.Module):
    def __init__(self, shape, nfilter=32, nfilter_max=1024):
        super().__init__()
        channels, s0, k = _plan(shape)
        self.nf0 = min(nfilter_max, nfilter * 2 ** k)
        self.conv_img = nn.Conv2d(channels, nfilter, 3, 1, 1)
        blocks = [ResnetBlock(nfilter, nfilter)]
        for i in range(k):
            fin = min(nfilter * 2 ** i, nfilter_max)
            fout = min(nfilter * 2 ** (i + 1), nfilter_max)
            blocks += [nn.AvgPool2d(3, stride=2, padding=1), ResnetBlock(fin, fout)]
        self.resnet = nn.Sequential(*blocks)
        self.fc = nn.Linear(self.nf0 * s0 * s0, 1)
        self.per_sample = True  # no normalisation: each score depends on its own sample only

    def forward(self, x):
        out = self.resnet(self.conv_img(x))
        return self.fc(_act(out.flatten(1))).squeeze(1)


GAN_R1 = ganzoo.Recipe(
    generator={"image": "r1-resnet", "vector": "mlp"},
    discriminator={"image": "r1-resnet", "vector": "mlp"},
    loss="ns",
    latent_dim=LATENT_DIM,
    lr_g=1e-4,
    lr_d=1e-4,
    betas=(0.0, 0.99),
    n_critic=1,
    batch_size=64,
    steps=4000,
    ema_decay=0.999,
    regularizers=({"name": "r1", "gamma": 10.0},),
    variants={"vector": {"latent_dim": 64}},
    citation="Mescheder et al. 2018, Which Training Methods for GANs do actually Converge?: non-saturating loss + "
             "R1 on reals (gamma 10), the authors' ResNet without normalisation (width scaled), Adam(1e-4, "
             "betas (0, 0.99)), EMA 0.999.",
)


@ganzoo.hookimpl
def register_generators(register):
    register("r1-resnet", R1Generator, "ResNet generator without normalisation (Mescheder et al. 2018 code)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("r1-resnet", R1Discriminator, "ResNet discriminator without normalisation (Mescheder et al. 2018 code)")


@ganzoo.hookimpl
def register_models(register):
    register("gan-r1", GAN_R1, "non-saturating GAN with R1 on real data (Mescheder et al. 2018)")
