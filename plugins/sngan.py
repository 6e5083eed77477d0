"""SNGAN: Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for Generative Adversarial Networks" (ICLR).

Every weight of the discriminator is divided by its spectral norm (largest singular value), estimated by one step of
power iteration per forward pass with a persistent vector u (the paper's Algorithm 1); convolution kernels are
reshaped to ``(out, in * kh * kw)`` matrices, as in the paper. We use ``torch.nn.utils.parametrizations
.spectral_norm`` (one power iteration per training-mode forward pass). Loss: the hinge loss (the paper's eq. 17,
``hinge``): D minimises ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``, G minimises ``-E[D(G(z))]``.

Two models, with the paper's CIFAR-10 networks (appendix B.4):

- ``sngan``: the *standard CNN* (Table 3). G: z in R^128 ~ N(0, I) -> dense to M x M x 512 -> BN, ReLU -> three
  [4x4 stride-2 deconv, BN, ReLU] to 256, 128, 64 channels -> 3x3 conv to the image, tanh. D: [3x3 conv 64,
  4x4 stride-2 conv 64], [3x3 128, 4x4/2 128], [3x3 256, 4x4/2 256], 3x3 conv 512, dense -> 1, LeakyReLU(0.1) after
  every conv, spectral norm on every layer. Init N(0, 0.02) (the authors' Chainer DCGAN-style models).
  Optimiser: the paper's Table 1 setting C (Adam lr 2e-4, beta1 0.5, beta2 0.999, n_dis 1: the DCGAN setting, one
  of the settings under which SN-GAN stayed stable in Fig. 1), batch 64.
- ``sngan-resnet``: the ResNet for CIFAR-10 (Table 4). G: z 128 -> dense 4 x 4 x 256 -> three up ResBlocks of 256
  channels (BN, ReLU, nearest 2x upsample, 3x3 conv, BN, ReLU, 3x3 conv; 1x1-conv shortcut on the upsampled input)
  -> BN, ReLU, 3x3 conv, tanh. D: an optimised first down ResBlock (3x3 conv, ReLU, 3x3 conv, 2x2 average pool;
  shortcut: pool then 1x1 conv), a down ResBlock, two plain ResBlocks, all 128 channels, ReLU, global *sum*
  pooling, dense -> 1; spectral norm everywhere. Init: Glorot uniform with gain sqrt(2) in the residual convs and
  gain 1 in shortcuts and the first/last layers (the authors' ``sngan_projection`` code). Optimiser: Adam lr 2e-4,
  betas (0, 0.9), n_dis 5, batch 64, learning rate linearly decayed to 0 over the run (``linear-decay``, as the
  authors' code decays Adam's alpha to 0 over its 50k iterations).

Sizes: both work for any square image whose size is a multiple of 8. The size is factored as ``M * 2**k`` with the
most up-sampling blocks k <= 3 that keep M >= 4: 32 px gives M = 4 and 3 blocks (the paper's CIFAR-10 layout),
48 px M = 6 (the paper's STL-10 layout), 8 px (digits) M = 4 with 1 block, 16 px 2 blocks, 64 px M = 8 with 3.
With k < 3 the standard CNN keeps the last k deconvolutions of G (from 64 * 2**k channels) and the first k
conv pairs of D (then a 3x3 conv to 64 * 2**k). The ResNet D always has 4 blocks and down-samples twice, as the
paper, unless that would leave less than a 4x4 map (8 px: once). Fewer blocks at small sizes are a deviation,
stated: the paper only trained 32 and 48 px.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo
from ganzoo.api import normal_init_

LATENT_DIM = 128


def image_plan(shape, max_blocks: int = 3) -> tuple[int, int, int]:
    """(channels, M, k) for (C, S, S) images with S a multiple of 8: S = M * 2**k, the largest k <= max_blocks
    keeping M >= 4."""
    if len(shape) != 3:
        raise ValueError(f"SNGAN's networks need (C, H, W) images, got samples of shape {tuple(shape)}")
    channels, h, w = (int(s) for s in shape)
    if h != w or h < 8 or h % 8:
        raise ValueError(f"SNGAN's networks need square images whose size is a multiple of 8 (8, 16, 24, 32, ...); "
                         f"got {h}x{w}")
    base, k = h, 0
    while k < max_blocks and base % 2 == 0 and base // 2 >= 4:
        base //= 2
        k += 1
    return channels, base, k


def _normal_init(module: nn.Module, std: float = 0.02) -> None:
    normal_init_(module, std)


# -- the standard CNN (Table 3) -------------------------------------------------------------------------------------
class StandardCNNGenerator(nn.Module):
    """z -> dense M x M x (64 * 2**k), BN, ReLU -> k x [4x4/2 deconv, BN, ReLU] -> 3x3 conv, tanh (k = 3 at 32 px)."""

    def __init__(self, shape, latent_dim=LATENT_DIM, width=64):
        super().__init__()
        channels, base, k = image_plan(shape)
        ch = width * 2 ** k
        self.base, self.ch = base, ch
        self.dense = nn.Linear(latent_dim, base * base * ch)
        self.bn0 = nn.BatchNorm2d(ch)
        layers = []
        for _ in range(k):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.BatchNorm2d(ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.Conv2d(ch, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _normal_init(self)

    def forward(self, z):
        h = self.dense(z.flatten(1)).view(z.shape[0], self.ch, self.base, self.base)
        return self.net(F.relu(self.bn0(h)))


class StandardCNNDiscriminator(nn.Module):
    """k x [3x3 conv, 4x4/2 conv] (64, 128, 256) -> 3x3 conv (64 * 2**k) -> dense; LeakyReLU 0.1, spectral norm."""

    def __init__(self, shape, width=64, slope=0.1):
        super().__init__()
        channels, base, k = image_plan(shape)
        layers, cin = [], channels
        for i in range(k):
            ch = width * 2 ** i
            layers += [spectral_norm(nn.Conv2d(cin, ch, 3, 1, 1)), nn.LeakyReLU(slope),
                       spectral_norm(nn.Conv2d(ch, ch, 4, 2, 1)), nn.LeakyReLU(slope)]
            cin = ch
        last = width * 2 ** k
        layers += [spectral_norm(nn.Conv2d(cin, last, 3, 1, 1)), nn.LeakyReLU(slope)]
        self.net = nn.Sequential(*layers)
        self.dense = spectral_norm(nn.Linear(base * base * last, 1))
        self.per_sample = True  # no batch statistics: real and fake may share one forward pass
        _normal_init(self)

    def forward(self, x):
        return self.dense(self.net(x).flatten(1)).squeeze(1)


# -- the ResNet for CIFAR-10 (Table 4) -----------------------------------------------------------------------------
def _glorot(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class UpBlock(nn.Module):
    """BN, ReLU, 2x nearest upsample, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: upsample, 1x1 conv."""

    def __init__(self, cin, cout):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.c1 = _glorot(nn.Conv2d(cin, cout, 3, 1, 1), math.sqrt(2))
        self.c2 = _glorot(nn.Conv2d(cout, cout, 3, 1, 1), math.sqrt(2))
        self.sc = _glorot(nn.Conv2d(cin, cout, 1), 1.0)

    def forward(self, x):
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.bn2(self.c1(h))))
        return h + self.sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(nn.Module):
    def __init__(self, shape, latent_dim=LATENT_DIM, width=256):
        super().__init__()
        channels, base, k = image_plan(shape)
        self.base, self.width = base, width
        self.dense = _glorot(nn.Linear(latent_dim, base * base * width), 1.0)
        self.blocks = nn.Sequential(*[UpBlock(width, width) for _ in range(k)])
        self.bn = nn.BatchNorm2d(width)
        self.out = _glorot(nn.Conv2d(width, channels, 3, 1, 1), 1.0)

    def forward(self, z):
        h = self.dense(z.flatten(1)).view(z.shape[0], self.width, self.base, self.base)
        return torch.tanh(self.out(F.relu(self.bn(self.blocks(h)))))


class DownBlock(nn.Module):
    """ReLU, 3x3 conv, ReLU, 3x3 conv, [2x2 avg pool]; shortcut: 1x1 conv then pool when it changes shape.
    ``first=True``: the optimised first block (no leading ReLU; shortcut pools first, then 1x1 conv)."""

    def __init__(self, cin, cout, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.c1 = spectral_norm(_glorot(nn.Conv2d(cin, cout, 3, 1, 1), math.sqrt(2)))
        self.c2 = spectral_norm(_glorot(nn.Conv2d(cout, cout, 3, 1, 1), math.sqrt(2)))
        self.learned_sc = first or down or cin != cout
        if self.learned_sc:
            self.sc = spectral_norm(_glorot(nn.Conv2d(cin, cout, 1), 1.0))

    def forward(self, x):
        h = self.c1(x if self.first else F.relu(x))
        h = self.c2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if not self.learned_sc:
            return h + x
        if self.first:
            return h + self.sc(F.avg_pool2d(x, 2) if self.down else x)
        s = self.sc(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class ResNetDiscriminator(nn.Module):
    """Optimised down block, down block, two plain blocks (128 ch), ReLU, global sum pool, dense; SN everywhere."""

    def __init__(self, shape, width=128, blocks=4):
        super().__init__()
        channels, base, k = image_plan(shape)
        h = base * 2 ** k
        downs = 0
        while downs < 2 and h % 2 == 0 and h // 2 >= 4:
            h //= 2
            downs += 1
        layers = [DownBlock(channels, width, down=downs >= 1, first=True)]
        layers += [DownBlock(width, width, down=i + 1 < downs) for i in range(blocks - 1)]
        self.blocks = nn.Sequential(*layers)
        self.dense = spectral_norm(_glorot(nn.Linear(width, 1), 1.0))
        self.per_sample = True

    def forward(self, x):
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.dense(h).squeeze(1)


# -- loss ------------------------------------------------------------------------------------------------------------
class HingeLoss(ganzoo.Loss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018, eq. 17): D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];
    G: -E[D(G(z))]."""

    def discriminator_loss(self, real_scores, fake_scores):
        return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


SNGAN = ganzoo.Recipe(
    generator={"image": "sngan-cnn", "vector": "mlp"},
    discriminator={"image": "sngan-cnn", "vector": "sngan-mlp"},
    loss="hinge",
    latent_dim=LATENT_DIM,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.5, 0.999),
    n_critic=1,
    batch_size=64,
    steps=4000,
    citation="Miyato et al. 2018, Spectral Normalization for GANs: hinge loss, spectral norm on every D layer, the "
             "standard CNN for 32x32 (Table 3; z 128, LeakyReLU 0.1), Adam(2e-4, betas (0.5, 0.999)), n_dis 1 "
             "(Table 1 setting C), batch 64.",
)

SNGAN_RESNET = ganzoo.Recipe(
    generator={"image": "sngan-resnet", "vector": "mlp"},
    discriminator={"image": "sngan-resnet", "vector": "sngan-mlp"},
    loss="hinge",
    latent_dim=LATENT_DIM,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.0, 0.9),
    n_critic=5,
    batch_size=64,
    steps=2000,
    schedules=("linear-decay",),
    citation="Miyato et al. 2018, Spectral Normalization for GANs: ResNet for CIFAR-10 (Table 4; G 3 up blocks of "
             "256, D 4 blocks of 128 with an optimised first block, SN), hinge loss, Adam(2e-4, betas (0, 0.9)), "
             "n_dis 5, batch 64, lr linearly decayed to 0 (the authors' code).",
)


class SNMLPDiscriminator(nn.Module):
    """The MLP discriminator with spectral norm on every linear layer (LeakyReLU 0.1): SNGAN on points (D,)."""

    def __init__(self, shape, hidden=(512, 256), slope=0.1):
        super().__init__()
        layers, width = [], math.prod(shape)
        for h in hidden:
            layers += [spectral_norm(nn.Linear(width, h)), nn.LeakyReLU(slope)]
            width = h
        layers.append(spectral_norm(nn.Linear(width, 1)))
        self.net = nn.Sequential(*layers)
        self.per_sample = True

    def forward(self, x):
        return self.net(x.flatten(1)).squeeze(1)


@ganzoo.hookimpl
def register_generators(register):
    register("sngan-cnn", StandardCNNGenerator, "SNGAN's standard CNN generator, BN (Miyato et al. 2018, Table 3)")
    register("sngan-resnet", ResNetGenerator, "SNGAN's CIFAR ResNet generator, 3 up blocks of 256 (Table 4)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("sngan-cnn", StandardCNNDiscriminator, "SNGAN's standard CNN discriminator, spectral norm (Table 3)")
    register("sngan-resnet", ResNetDiscriminator, "SNGAN's CIFAR ResNet discriminator, 4 blocks of 128, SN (Table 4)")
    register("sngan-mlp", SNMLPDiscriminator, "MLP discriminator with spectral norm on every layer (points)")


@ganzoo.hookimpl
def register_losses(register):
    register("hinge", HingeLoss, "hinge loss (Lim & Ye 2017; Miyato et al. 2018)")


@ganzoo.hookimpl
def register_models(register):
    register("sngan", SNGAN, "spectrally normalised GAN, standard CNN (Miyato et al. 2018)")
    register("sngan-resnet", SNGAN_RESNET, "spectrally normalised GAN, CIFAR ResNet (Miyato et al. 2018)")
