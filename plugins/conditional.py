"""Class-conditional GANs: cGAN with a projection discriminator, and AC-GAN.

``cgan-pd``: Miyato & Koyama 2018, "cGANs with Projection Discriminator" (ICLR). The 32x32 setting of the paper
(the SNGAN ResNets of Miyato et al. 2018 made conditional, as in the authors' chainer code for CIFAR-10):

- G: z (128) -> linear to ch x 4 x 4 -> k residual up-blocks [CBN -> ReLU -> nearest 2x -> conv3x3 -> CBN -> ReLU ->
  conv3x3, shortcut nearest 2x -> conv1x1] -> BN -> ReLU -> conv3x3 -> tanh, where CBN is *conditional batch norm*:
  batch norm without its own affine, then a per-class gain (initialised to 1) and bias (initialised to 0). ch 256.
- D: an optimised first block [conv3x3 -> ReLU -> conv3x3 -> avg-pool, shortcut avg-pool -> conv1x1], residual
  blocks [ReLU -> conv3x3 -> ReLU -> conv3x3 (-> avg-pool)] (4 blocks in all, two of them downsampling on 32x32),
  ReLU, global sum pooling phi(x), and the score ``psi(phi(x)) + <embed(y), phi(x)>`` (linear + projection term).
  Spectral norm on every layer of D, the class embedding included. ch 128.
- hinge loss (the ``hinge`` loss registered by the sngan plugin), Adam(2e-4, betas (0, 0.9)), n_dis 5, batch 64,
  Glorot-uniform init (gain sqrt(2) in residual branches). The recipe halves both widths (G 128, D 64) so that
  ``ganzoo run cgan-pd`` trains on a CPU (measured ~0.55 s/step at batch 64 in bf16 vs ~2.1 s at full width);
  pass ``width`` in the options for the paper's.

``acgan``: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs" (ICML). The
CIFAR-10 networks of the paper's appendix: G takes z (100) concatenated with the one-hot class (110 in all) ->
linear 384 x 4 x 4 -> transposed convs 5x5 stride 2 (192, 96, BN + ReLU) -> channels, tanh; D: six 3x3 convs
(16, 32, 64, 128, 256, 512; strides 2, 1, 2, 1, 2, 1; LeakyReLU 0.2; dropout 0.5; batch norm from the second) ->
a linear source score and a linear class head (D returns ``(scores, class_logits)``). Loss: the non-saturating
source loss plus the class cross-entropy on real labels (D step) and on fake labels (both steps). Adam(2e-4,
betas (0.5, 0.999)), init N(0, 0.02), batch 100 in the paper (64 here).

Both adapt to any square size ``base * 2**k`` (base 4..7): G doubles the resolution k times, and AC-GAN's D
halves it k times (the paper's strides on 32x32), so its last feature map is G's base size (up to k = 6, 256 px).
With the strides fixed, 8x8 digits reached 1x1 maps and D never separated real from fake (FID 1834 over 3 seeds);
with them matched, FID 26 ± 9 over 3 seeds at the default 2,000 steps (benchmarks/results/quality-digits.md).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo
from ganzoo.api import normal_init_, resolution_plan
from ganzoo.errors import GanzooError


def _plan(shape) -> tuple[int, int, int]:
    """(channels, base, k) for a (C, S, S) image: S = base * 2**k, 4 <= base < 8, k >= 1."""
    return resolution_plan(shape, "this conditional model", min_size=8, min_halvings=1)


def _labels(y, what: str) -> torch.Tensor:
    if y is None:
        raise GanzooError(f"this {what} is class-conditional: call it with labels")
    return y.long()


# -- cGAN with projection discriminator --------------------------------------------------------------------------------
def _glorot(module: nn.Module, gain: float = 1.0) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine, then the class's gain and bias: ``gain[y] * bn(x) + bias[y]``."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x, y):
        h = self.bn(x)
        return h * self.gain(y).to(h.dtype)[:, :, None, None] + self.bias(y).to(h.dtype)[:, :, None, None]


class GenBlock(nn.Module):
    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes)
        self.conv1 = _glorot(nn.Conv2d(cin, cout, 3, padding=1), math.sqrt(2))
        self.bn2 = ConditionalBatchNorm2d(cout, num_classes)
        self.conv2 = _glorot(nn.Conv2d(cout, cout, 3, padding=1), math.sqrt(2))
        self.shortcut = _glorot(nn.Conv2d(cin, cout, 1))

    def forward(self, x, y):
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ProjectionGenerator(nn.Module):
    """ResNet generator with conditional batch norm (Miyato & Koyama 2018, 32x32: ch 256, z 128)."""

    conditional = True  # needs labels: ganzoo refuses it in an unconditional run, before training

    def __init__(self, shape, latent_dim: int, num_classes: int = 10, width: int = 256):
        super().__init__()
        channels, base, k = _plan(shape)
        self.width, self.base, self.num_classes = width, base, num_classes
        self.linear = _glorot(nn.Linear(latent_dim, width * base * base))
        self.blocks = nn.ModuleList([GenBlock(width, width, num_classes) for _ in range(k)])
        self.bn = nn.BatchNorm2d(width)
        self.out = _glorot(nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, z, y=None):
        y = _labels(y, "generator")
        h = self.linear(z).view(z.shape[0], self.width, self.base, self.base)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class DisBlock(nn.Module):
    """SN residual block; ``first`` is the optimised input block (no ReLU before its first conv)."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = spectral_norm(_glorot(nn.Conv2d(cin, cout, 3, padding=1), math.sqrt(2)))
        self.conv2 = spectral_norm(_glorot(nn.Conv2d(cout, cout, 3, padding=1), math.sqrt(2)))
        self.learnable_sc = cin != cout or down
        if self.learnable_sc:
            self.shortcut = spectral_norm(_glorot(nn.Conv2d(cin, cout, 1)))

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        sc = x
        if self.learnable_sc:
            if self.first:
                sc = self.shortcut(F.avg_pool2d(x, 2))
            else:
                sc = self.shortcut(x)
                sc = F.avg_pool2d(sc, 2) if self.down else sc
        return h + sc


class ProjectionDiscriminator(nn.Module):
    """SN ResNet discriminator whose score is ``psi(phi(x)) + <embed(y), phi(x)>`` (Miyato & Koyama 2018, eq. 3)."""

    per_sample = True  # spectral norm, no batch norm: each score depends on its own sample only

    conditional = True  # needs labels: ganzoo refuses it in an unconditional run, before training

    def __init__(self, shape, num_classes: int = 10, width: int = 128, blocks: int = 4):
        super().__init__()
        channels, _, k = _plan(shape)
        downs = max(1, k - 1)  # 32x32: two downsampling blocks, then plain blocks at 8x8 (the paper's CIFAR D)
        layers = [DisBlock(channels, width, down=True, first=True)]
        layers += [DisBlock(width, width, down=i < downs - 1) for i in range(max(blocks, downs) - 1)]
        self.blocks = nn.Sequential(*layers)
        self.num_classes = num_classes
        self.linear = spectral_norm(_glorot(nn.Linear(width, 1)))
        self.embed = spectral_norm(nn.Embedding(num_classes, width))
        nn.init.xavier_uniform_(self.embed.parametrizations.weight.original)

    def features(self, x):
        """phi(x): ReLU then global sum pooling of the last block."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def projection(self, phi, y):
        """<embed(y), phi(x)> per sample."""
        return (self.embed(y).to(phi.dtype) * phi).sum(1)

    def forward(self, x, y=None):
        y = _labels(y, "discriminator")
        phi = self.features(x)
        return self.linear(phi).squeeze(1) + self.projection(phi, y)


# -- AC-GAN ------------------------------------------------------------------------------------------------------------
def _normal_init(module: nn.Module) -> None:
    """N(0, 0.02) weights, zero biases; batch norm N(1, 0.02) scale (the paper's isotropic Gaussian init)."""
    normal_init_(module, 0.02, norm_weight_mean=1.0)


class ACGANGenerator(nn.Module):
    """z concatenated with the one-hot class -> linear 384 x b x b -> 5x5 stride-2 transposed convs -> tanh."""

    conditional = True  # needs labels: ganzoo refuses it in an unconditional run, before training

    def __init__(self, shape, latent_dim: int, num_classes: int = 10, width: int = 384):
        super().__init__()
        channels, base, k = _plan(shape)
        self.num_classes, self.width, self.base = num_classes, width, base
        self.linear = nn.Linear(latent_dim + num_classes, width * base * base)
        layers: list[nn.Module] = []
        ch = width
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 5, 2, padding=2, output_padding=1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 5, 2, padding=2, output_padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _normal_init(self)

    def forward(self, z, y=None):
        y = _labels(y, "generator")
        h = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)
        h = F.relu(self.linear(h)).view(z.shape[0], self.width, self.base, self.base)
        return self.net(h)


class ACGANDiscriminator(nn.Module):
    """Six 3x3 convs (16..512) with LeakyReLU, dropout 0.5, batch norm; a source score and a class head."""

    def __init__(self, shape, num_classes: int = 10, widths=(16, 32, 64, 128, 256, 512), dropout: float = 0.5,
                 downsample: Optional[int] = None):
        super().__init__()
        if len(shape) != 3:
            raise ValueError(f"the AC-GAN discriminator needs (C, H, W) images, got samples of shape {tuple(shape)}")
        channels, h, w = shape
        # The paper's D halves 32x32 three times (strides 2,1,2,1,2,1), to the 4x4 map G starts from; on other sizes
        # it halves as often as G doubles (k), so its last map is G's base size too (strided layers 0, 2, 4, 1, ...).
        k = _plan(shape)[2] if downsample is None else int(downsample)
        strided = set([0, 2, 4, 1, 3, 5][:k])
        layers: list[nn.Module] = []
        cin = channels
        for i, cout in enumerate(widths):
            stride = 2 if i in strided else 1
            layers.append(nn.Conv2d(cin, cout, 3, stride, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers += [nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]
            cin = cout
            if stride == 2:
                h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        self.body = nn.Sequential(*layers)
        self.source = nn.Linear(cin * h * w, 1)
        self.classes = nn.Linear(cin * h * w, num_classes)
        _normal_init(self)

    def forward(self, x, y=None):  # y unused: AC-GAN's D sees no labels, it predicts them
        h = self.body(x).flatten(1)
        return self.source(h).squeeze(1), self.classes(h)


class ACGANLoss(ganzoo.Loss):
    """Non-saturating source loss + class cross-entropy (Odena et al. 2017, eqs. 2-3).

    D: ``softplus(-D(real)) + softplus(D(fake))`` + ``class_weight`` * (CE(real logits, real labels) + CE(fake logits,
    fake labels)); G: ``softplus(-D(fake))`` + ``class_weight`` * CE(fake logits, fake labels). Class logits come
    from D's auxiliary output (``ctx.real_aux``, ``ctx.fake_aux``); the step's labels from ``ctx``.
    """

    def __init__(self, class_weight: float = 1.0):
        self.class_weight = float(class_weight)

    @staticmethod
    def _ce(logits, labels, what: str):
        if logits is None or labels is None:
            raise GanzooError(f"the acgan loss needs D's class logits and the {what} labels: use a conditional recipe "
                              "whose discriminator returns (scores, class_logits)")
        return F.cross_entropy(logits.float(), labels.long())

    def discriminator_loss(self, real_scores, fake_scores, ctx=None):
        source = F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
        if ctx is None:
            return source
        classes = self._ce(ctx.real_aux, ctx.real_labels, "real") + self._ce(ctx.fake_aux, ctx.fake_labels, "fake")
        return source + self.class_weight * classes

    def generator_loss(self, fake_scores, ctx=None):
        source = F.softplus(-fake_scores).mean()
        if ctx is None:
            return source
        return source + self.class_weight * self._ce(ctx.fake_aux, ctx.fake_labels, "fake")


CGAN_PD = ganzoo.Recipe(
    generator="cgan-pd",
    discriminator="cgan-pd",
    loss="hinge",
    latent_dim=128,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.0, 0.9),
    n_critic=5,
    batch_size=64,
    steps=2000,
    # Half the paper's widths (G 256, D 128) so the default run trains on a CPU (~4x cheaper per step).
    generator_options={"width": 128},
    discriminator_options={"width": 64},
    conditional=True,
    generator_noise="fresh",
    citation=("Miyato & Koyama 2018, cGANs with Projection Discriminator: conditional batch norm in a ResNet G "
              "(paper ch 256; 128 here for CPU), SN ResNet D (paper ch 128; 64 here) with the projection term "
              "<embed(y), phi(x)>, hinge loss, Adam(2e-4, betas (0, 0.9)), n_dis 5, batch 64 (the 32x32 setting)."),
)

ACGAN = ganzoo.Recipe(
    generator="acgan",
    discriminator="acgan",
    loss="acgan",
    latent_dim=100,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.5, 0.999),
    n_critic=1,
    batch_size=64,
    steps=2000,
    conditional=True,
    citation=("Odena et al. 2017, AC-GAN: G on z + one-hot class, D with a source score and an auxiliary class "
              "head (six 3x3 convs, dropout 0.5), NS loss + class cross-entropy on real and fake labels, "
              "Adam(2e-4, betas (0.5, 0.999)), N(0, 0.02) init."),
)


@ganzoo.hookimpl
def register_generators(register):
    register("cgan-pd", ProjectionGenerator, "ResNet generator with conditional batch norm (Miyato & Koyama 2018)")
    register("acgan", ACGANGenerator, "AC-GAN generator: z + one-hot class, transposed convs (Odena et al. 2017)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("cgan-pd", ProjectionDiscriminator, "SN ResNet projection discriminator (Miyato & Koyama 2018)")
    register("acgan", ACGANDiscriminator, "AC-GAN discriminator with an auxiliary classifier head (Odena et al. 2017)")


@ganzoo.hookimpl
def register_losses(register):
    register("acgan", ACGANLoss, "non-saturating loss + auxiliary class cross-entropy (Odena et al. 2017)")


@ganzoo.hookimpl
def register_models(register):
    register("cgan-pd", CGAN_PD, "class-conditional GAN with a projection discriminator (Miyato & Koyama 2018)")
    register("acgan", ACGAN, "auxiliary classifier GAN (Odena et al. 2017)")
