"""SAGAN: Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative Adversarial Networks" (ICML).

What makes it SAGAN (section 3-4 of the paper):

- **Self-attention** (``ganzoo.api.SelfAttention2d``): queries f(x) and keys g(x) are 1x1 convs to C/8 channels,
  values h(x) a 1x1 conv to C/2, ``beta = softmax(f(x_i)^T g(x_j))`` over the key positions j, ``o = v(sum_j
  beta_ij h(x_j))`` with a 1x1 conv v back to C, and ``y = gamma * o + x`` with the scalar gamma initialised to 0,
  so the network starts as a plain convolutional GAN and learns to lean on the non-local evidence. The paper's
  section 3 has h to C/8 as well (C-bar = C/8 for W_f, W_g, W_h); h to C/2 and the 2x2 max-pooling of keys and
  values are BigGAN-PyTorch's ``layers.Attention`` (the reference the brief names), pooling only maps whose sides
  are both even.
- **Spectral norm in G and in D** (the paper's "spectral normalisation for both generator and discriminator"):
  every conv and linear weight of both networks, the attention convs included.
- **TTUR**: Adam lr 1e-4 for G and 4e-4 for D, betas (0, 0.9), one D step per G step.
- **Hinge loss** (the ``hinge`` loss registered by the sngan plugin).

The paper's official configuration is ImageNet 128x128 only (class-conditional: conditional batch norm in G, a
projection D; batch 256; attention compared at feat8..feat64, best at feat32/feat64, i.e. the maps of side S/4 and
S/2): the paper has no 32x32 / CIFAR-10 experiment. The 32x32 configuration followed here is the common one of
PyTorch-StudioGAN's ``src/configs/CIFAR10/SAGAN.yaml``: SNGAN-style ResNets with one attention block in G after its
second up block (the 16x16 map) and one in D after its first block (16x16). This model is **unconditional** (no
conditional batch norm, no projection), as the brief for ganzoo's zoo asks; the rest is the paper's recipe.

Networks (ResNets as ``sngan-resnet``, Miyato et al. 2018 Table 4, with attention inserted):

- G: z 128 -> SN linear to M x M x ch -> k up ResBlocks [BN, ReLU, 2x nearest, SN conv3x3, BN, ReLU, SN conv3x3;
  shortcut 2x nearest, SN conv1x1] -> BN, ReLU, SN conv3x3, tanh, with self-attention on the feature map of side
  S/2 (before the last up block; on the M x M base map when k = 1).
- D: an optimised first down ResBlock, then 3 ResBlocks (4 in all, two of them downsampling as in the paper's CIFAR
  D, one when only one halving leaves a map of side >= 4), self-attention right after the first block (side S/2),
  ReLU, global sum pooling, SN linear -> 1.
- Init: Xavier/Glorot uniform weights and zero biases (BigGAN-PyTorch's ``scripts/launch_SAGAN_bs128x2_ema.sh``,
  ``--G_init xavier --D_init xavier``).

**Attention rule for any size**: the map of side S/2 in both networks. 32 px: 16x16 (StudioGAN's CIFAR placement);
28 px (Fashion-MNIST): 14x14; 8 px (digits): 4x4 (keys and values pooled to 2x2).

Widths: CIFAR-scale (SNGAN Table 4) is G 256, D 128 channels (``width`` in the options). The recipe's default is
G 64, D 64 so that a step at 8x8, batch 64, runs in well under 0.5 s on one CPU core (about 0.16 s in fp32 measured
on a shared 2-core machine).

Sizes: square images S = M * 2**k with 4 <= M <= 7 and k >= 1 (``resolution_plan``): 8, 10, 12, 14, 16, 28, 32, ...
(9, 11 or non-square images raise a ValueError naming the rule).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo
from ganzoo.api import SelfAttention2d, resolution_plan

# SNGAN's residual D block, as BigGAN-PyTorch writes it (sagan's first block always downsamples, so its shortcut rule
# is BigGAN's): one implementation for both families
from ganzoo_plugins.biggan import DBlock as DownBlock

LATENT_DIM = 128


def image_plan(shape) -> tuple[int, int, int]:
    """(channels, M, k) for (C, S, S) images, S = M * 2**k, 4 <= M <= 7, k >= 1; a ValueError naming the rule."""
    return resolution_plan(shape, "SAGAN's networks", min_size=8, min_halvings=1)


def d_downsamplings(k: int) -> int:
    """How many of D's blocks halve the map: two as the CIFAR D (32 -> 8), fewer when G has fewer up blocks."""
    return min(2, k)


def xavier_init_(module: nn.Module) -> nn.Module:
    """Xavier-uniform conv/linear weights, zero biases (before spectral norm is attached)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def spectral_norm_all_(module: nn.Module, kinds=(nn.Conv2d, nn.Linear)) -> nn.Module:
    """torch's spectral norm (one power iteration per training-mode forward) on every weight of the given kinds."""
    for m in [m for m in module.modules() if isinstance(m, kinds)]:
        spectral_norm(m)
    return module


class UpBlock(nn.Module):
    """BN, ReLU, 2x nearest upsample, conv3x3, BN, ReLU, conv3x3; shortcut: upsample, conv1x1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class SAGANGenerator(nn.Module):
    """SN ResNet generator with self-attention on the map of side S/2 (unconditional)."""

    conditional = False

    def __init__(self, shape, latent_dim: int = LATENT_DIM, width: int = 256, attention: bool = True):
        super().__init__()
        channels, base, k = image_plan(shape)
        self.base, self.width = base, width
        self.linear = nn.Linear(latent_dim, base * base * width)
        layers: list[nn.Module] = []
        for i in range(k):
            if attention and i == k - 1:  # before the last up block: on the S/2 map
                layers.append(SelfAttention2d(width))
            layers.append(UpBlock(width, width))
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, channels, 3, padding=1)
        spectral_norm_all_(xavier_init_(self))

    def forward(self, z):
        h = self.linear(z.flatten(1)).view(z.shape[0], self.width, self.base, self.base)
        return torch.tanh(self.out(F.relu(self.bn(self.blocks(h)))))


class SAGANDiscriminator(nn.Module):
    """SN ResNet discriminator (optimised block, 3 blocks) with self-attention after the first block (side S/2)."""

    per_sample = True  # spectral norm and attention within a sample, no batch statistics
    conditional = False

    def __init__(self, shape, width: int = 128, blocks: int = 4, attention: bool = True):
        super().__init__()
        channels, _, k = image_plan(shape)
        downs = d_downsamplings(k)
        layers: list[nn.Module] = [DownBlock(channels, width, down=True, first=True)]
        if attention:
            layers.append(SelfAttention2d(width))
        layers += [DownBlock(width, width, down=i + 1 < downs) for i in range(blocks - 1)]
        self.blocks = nn.Sequential(*layers)
        self.linear = nn.Linear(width, 1)
        spectral_norm_all_(xavier_init_(self))

    def forward(self, x):
        return self.linear(F.relu(self.blocks(x)).sum(dim=(2, 3))).squeeze(1)


SAGAN = ganzoo.Recipe(
    generator="sagan",
    discriminator="sagan",
    loss="hinge",
    latent_dim=LATENT_DIM,
    lr_g=1e-4,
    lr_d=4e-4,
    betas=(0.0, 0.9),
    n_critic=1,
    batch_size=64,
    steps=2000,
    # CIFAR scale (SNGAN's ResNet widths) is G 256 / D 128; 64 / 64 here so a CPU step stays well under 0.5 s.
    generator_options={"width": 64},
    discriminator_options={"width": 64},
    citation=("Zhang et al. 2019, Self-Attention Generative Adversarial Networks (ICML): self-attention "
              "(f, g to C/8, h to C/2, softmax over positions, gamma * o + x with gamma = 0 at init) on the S/2 "
              "map of G and D, spectral norm in G and D, hinge loss, TTUR Adam(G 1e-4, D 4e-4, betas (0, 0.9)), "
              "n_critic 1; unconditional SNGAN-style ResNets (CIFAR scale G 256 / D 128; 64 / 64 here for CPU), "
              "batch 64 (paper: ImageNet 128x128, batch 256)."),
)


@ganzoo.hookimpl
def register_generators(register):
    register("sagan", SAGANGenerator, "SAGAN's SN ResNet generator with self-attention at S/2 (Zhang et al. 2019)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("sagan", SAGANDiscriminator,
             "SAGAN's SN ResNet discriminator with self-attention at S/2 (Zhang et al. 2019)")


@ganzoo.hookimpl
def register_models(register):
    register("sagan", SAGAN, "self-attention GAN, unconditional, SN in G and D, TTUR (Zhang et al. 2019)")
