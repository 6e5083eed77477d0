"""R3GAN: Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline"
(NeurIPS 2024; reference code: github.com/brownvc/R3GAN).

What makes it R3GAN, all here:

- **RpGAN loss** (relativistic pairing, Jolicoeur-Martineau 2019): D minimises ``softplus(-(D(x_real) - D(x_fake)))``,
  G minimises ``softplus(-(D(x_fake) - D(x_real)))``, pairing the i-th real with the i-th fake. The loss sets
  ``needs_real_scores_in_g_step``, so the generator step scores the reals with the *current* D.
- **R1 + R2**: zero-centred gradient penalties on real and on fake samples, ``gamma/2 * E||grad_x D(x)||^2`` each
  (the built-in ``r1`` and ``r2`` regularisers), computed on the same D pass as the loss, as the reference does.
- **The modernised ResNet** (the paper's "config E"): no normalisation anywhere; residual blocks that are inverted
  bottlenecks ``1x1 conv (C -> 2C) -> bias + LeakyReLU(0.2) -> 3x3 grouped conv (16 channels per group) -> bias +
  LeakyReLU -> 1x1 conv (2C -> C)``; fix-up style initialisation (MSR init scaled by ``L^(-1/4)`` for L blocks, the
  last layer of every residual branch initialised to zero, so each block starts as the identity); bilinear
  resampling (the [1, 2, 1] low-pass filter, i.e. a [1, 3, 3, 1] kernel, with stride 2) with 1x1 convolutions where
  the width changes; G starts from a learned 4x4 basis modulated by a linear map of z and ends with a linear 1x1
  convolution (no tanh); D ends with a depthwise 4x4 convolution and a linear map to the score.
- **Schedules** (the ``r3gan`` schedule): cosine decay of every hyper-parameter from a start to a final value over a
  horizon, held afterwards (``cosine_decay_with_warmup`` of the reference training loop): lr 2e-4 -> 5e-5, Adam
  betas (0, beta2) with beta2 0.9 -> 0.99, gamma x1 -> x0.1 (CIFAR-10: 0.05 -> 0.005), and the EMA half-life
  0 -> 25% of the horizon (CIFAR-10: 0 -> 5M images over a 20M-image horizon). The horizon is the run's length
  unless ``horizon`` (in steps) is given.

CPU-scale recipe (``ganzoo run r3gan``): width 64 per stage, 8 groups (16 channels per group, as the paper), 2 blocks
per stage, expansion 2, z dim 64, batch 64, gamma 0.05 for R1 and R2 (the paper's CIFAR-10 value), every step.
Lazy regularisation (R3GAN issue #9: R1+R2 every step costs several times a plain step) is one option away:
``regularizers=({"name": "r1", "gamma": 0.05, "every": 16}, ...)`` multiplies the term by 16 on every 16th step.

Full-size CIFAR-10 configuration (the reference ``--preset=CIFAR10``), for GPU users::

    ganzoo run r3gan --dataset cifar10 --batch-size 512 ...   with, in a recipe of your own:
    generator_options = discriminator_options = {"width": 768, "cardinality": 96, "blocks": 2, "expansion": 2}
    latent_dim = 64; regularizers r1 and r2 with gamma 0.05; schedules ({"name": "r3gan", "horizon": 39063},)
    (20M images / batch 512 = 39,063 steps; the final EMA half-life is then 9,766 steps = 5M images)

The reference also trains CIFAR-10 class-conditionally (``--cond=1``: a linear class embedding of width 64
concatenated to z in G, a projection of D's 768-d output on a class embedding in D): both networks here accept
``num_classes`` and do exactly that when a conditional recipe builds them. Differences from the reference, stated:
no augmentation pipeline by default (the reference ramps ADA-style p 0 -> 0.55 on CIFAR-10; pass ``--augment``),
the G step reuses the D step's real batch (the reference draws a second one), and precision is the trainer's
autocast rather than per-stage fp16 casts.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.api import resolution_plan
from ganzoo.errors import GanzooError

LRELU_GAIN = math.sqrt(2 / (1 + 0.2 ** 2))  # He gain of LeakyReLU(0.2)


def msr_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """N(0, gain^2 / fan_in) weights (fan_in counts a group's input channels times the kernel), zero biases."""
    w = layer.weight
    fan_in = w.shape[1] * w[0][0].numel()
    with torch.no_grad():
        w.normal_(0.0, gain / math.sqrt(fan_in))
        if getattr(layer, "bias", None) is not None:
            layer.bias.zero_()
    return layer


def conv(cin: int, cout: int, kernel: int, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    return msr_init(nn.Conv2d(cin, cout, kernel, padding=(kernel - 1) // 2, groups=groups, bias=False), gain)


class BiasedLReLU(nn.Module):
    """A per-channel bias then LeakyReLU(0.2): the only biases in the network (convolutions have none)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, 1, 1), 0.2)


class ResidualBlock(nn.Module):
    """Inverted bottleneck with a grouped 3x3 convolution and no normalisation; starts as the identity."""

    def __init__(self, channels: int, cardinality: int, expansion: int, total_blocks: int, kernel: int = 3):
        super().__init__()
        wide = channels * expansion
        if wide % cardinality:
            raise ValueError(f"expanded width {wide} is not divisible by cardinality {cardinality}")
        # Fix-up style: variance scaled by L^(-1/(2m-2)) for L blocks of m = 3 linear layers; last layer zero.
        gain = LRELU_GAIN * total_blocks ** (-1 / (2 * 3 - 2))
        self.conv1 = conv(channels, wide, 1, gain=gain)
        self.act1 = BiasedLReLU(wide)
        self.conv2 = conv(wide, wide, kernel, groups=cardinality, gain=gain)
        self.act2 = BiasedLReLU(wide)
        self.conv3 = conv(wide, channels, 1, gain=0.0)

    def forward(self, x):
        return x + self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))


def lowpass_kernel(taps: Sequence[float] = (1, 2, 1)) -> torch.Tensor:
    """The reference's interpolative resampling kernel: taps convolved with [1, 1], outer product, normalised."""
    k = torch.tensor(taps, dtype=torch.float64)
    k = torch.nn.functional.conv1d(k.view(1, 1, -1), torch.ones(1, 1, 2, dtype=torch.float64), padding=1).view(-1)
    k2 = torch.outer(k, k)
    return (k2 / k2.sum()).float()


class Resample(nn.Module):
    """Bilinear 2x up- or downsampling, per channel (a fixed [1, 3, 3, 1]^2 / 64 kernel, stride 2)."""

    def __init__(self, channels: int, up: bool):
        super().__init__()
        self.up, self.channels = up, channels
        kernel = lowpass_kernel() * (4.0 if up else 1.0)
        self.register_buffer("kernel", kernel.expand(channels, 1, *kernel.shape).clone(), persistent=False)
        self.pad = (kernel.shape[0] - 2) // 2

    def forward(self, x):
        k = self.kernel.to(x.dtype)
        if self.up:
            return F.conv_transpose2d(x, k, stride=2, padding=self.pad, groups=self.channels)
        return F.conv2d(x, k, stride=2, padding=self.pad, groups=self.channels)


def _plan(shape) -> tuple[int, int, int]:
    """(channels, base, stages) for (C, S, S) images: S = base * 2**(stages-1) with 4 <= base < 8."""
    c, base, k = resolution_plan(shape, "R3GAN", min_size=4)
    return c, base, k + 1


def _per_stage(value, stages: int, what: str) -> list[int]:
    values = [int(value)] * stages if isinstance(value, (int, float)) else [int(v) for v in value]
    if len(values) != stages:
        raise ValueError(f"{what} needs {stages} values for this image size, got {len(values)}")
    return values


def _cardinality(widths, expansion, cardinality, stages):
    if cardinality is None:  # the paper's 16 channels per group (CIFAR-10: 768 * 2 / 96)
        return [max(1, w * expansion // 16) for w in widths]
    return _per_stage(cardinality, stages, "cardinality")


class R3GANGenerator(nn.Module):
    """The modernised generator: 4x4 basis, stages of [upsample, blocks], a linear 1x1 output convolution."""

    def __init__(self, shape, latent_dim: int, width: Union[int, Sequence[int]] = 64,
                 cardinality: Union[None, int, Sequence[int]] = None, blocks: Union[int, Sequence[int]] = 2,
                 expansion: int = 2, num_classes: Optional[int] = None, class_embedding: Optional[int] = None):
        super().__init__()
        channels, base, stages = _plan(shape)
        widths = _per_stage(width, stages, "width")
        cards = _cardinality(widths, expansion, cardinality, stages)
        nblocks = _per_stage(blocks, stages, "blocks")
        total = sum(nblocks)
        self.num_classes = num_classes
        embed = 0
        if num_classes is not None:
            embed = int(class_embedding or latent_dim)  # the reference: the noise dimension
            self.embed = msr_init(nn.Linear(num_classes, embed, bias=False))
        self.base = base
        self.basis = nn.Parameter(torch.randn(widths[0], base, base))
        self.project = msr_init(nn.Linear(latent_dim + embed, widths[0], bias=False))
        self.stages = nn.ModuleList()
        for i in range(stages):
            layers: list[nn.Module] = []
            if i > 0:
                if widths[i - 1] != widths[i]:
                    layers.append(conv(widths[i - 1], widths[i], 1))
                layers.append(Resample(widths[i], up=True))
            layers += [ResidualBlock(widths[i], cards[i], expansion, total) for _ in range(nblocks[i])]
            self.stages.append(nn.Sequential(*layers))
        self.output = conv(widths[-1], channels, 1)

    def forward(self, z, y=None):
        if self.num_classes is not None:
            if y is None:
                raise GanzooError("this R3GAN generator is class-conditional: call it as G(z, labels)")
            z = torch.cat([z, self.embed(F.one_hot(y.long(), self.num_classes).to(z.dtype))], dim=1)
        x = self.basis.unsqueeze(0) * self.project(z).view(z.shape[0], -1, 1, 1)
        for stage in self.stages:
            x = stage(x)
        return self.output(x)


class R3GANDiscriminator(nn.Module):
    """The modernised discriminator: 1x1 input convolution, stages of [blocks, downsample], a 4x4 depthwise basis."""

    per_sample = True  # no normalisation: each score depends on its own sample only

    def __init__(self, shape, width: Union[int, Sequence[int]] = 64,
                 cardinality: Union[None, int, Sequence[int]] = None, blocks: Union[int, Sequence[int]] = 2,
                 expansion: int = 2, num_classes: Optional[int] = None, class_embedding: Optional[int] = None):
        super().__init__()
        channels, base, stages = _plan(shape)
        widths = list(reversed(_per_stage(width, stages, "width")))  # the generator's widths, mirrored
        cards = list(reversed(_cardinality(list(reversed(widths)), expansion, cardinality, stages)))
        nblocks = list(reversed(_per_stage(blocks, stages, "blocks")))
        total = sum(nblocks)
        self.num_classes = num_classes
        self.input = conv(channels, widths[0], 1)
        self.stages = nn.ModuleList()
        for i in range(stages):
            layers: list[nn.Module] = [ResidualBlock(widths[i], cards[i], expansion, total) for _ in range(nblocks[i])]
            if i < stages - 1:
                layers.append(Resample(widths[i], up=False))
                if widths[i] != widths[i + 1]:
                    layers.append(conv(widths[i], widths[i + 1], 1))
            self.stages.append(nn.Sequential(*layers))
        last = widths[-1]
        out = 1
        if num_classes is not None:
            out = int(class_embedding or last)  # the reference: D's last width
            self.embed = msr_init(nn.Linear(num_classes, out, bias=False), gain=1 / math.sqrt(out))
        self.basis = msr_init(nn.Conv2d(last, last, base, groups=last, bias=False))
        self.head = msr_init(nn.Linear(last, out, bias=False))

    def forward(self, x, y=None):
        h = self.input(x)
        for stage in self.stages:
            h = stage(h)
        h = self.head(self.basis(h).flatten(1))
        if self.num_classes is not None:
            if y is None:
                raise GanzooError("this R3GAN discriminator is class-conditional: call it as D(x, labels)")
            h = (h * self.embed(F.one_hot(y.long(), self.num_classes).to(h.dtype))).sum(1, keepdim=True)
        return h.view(h.shape[0])


class RpGANLoss(ganzoo.Loss):
    """Relativistic pairing GAN loss (Jolicoeur-Martineau 2019; R3GAN eq. 2): softplus of the negated paired
    difference, D: ``softplus(-(D(real) - D(fake)))``, G: ``softplus(-(D(fake) - D(real)))``, averaged."""

    needs_real_scores_in_g_step = True

    def discriminator_loss(self, real_scores, fake_scores, ctx=None):
        return F.softplus(-(real_scores - fake_scores)).mean()

    def generator_loss(self, fake_scores, ctx=None):
        real_scores = getattr(ctx, "real_scores", None)
        if real_scores is None:
            raise GanzooError("the rpgan loss pairs fakes with reals: its generator loss needs the step context with "
                              "real scores (the trainer passes it; call generator_loss(fake_scores, ctx))")
        return F.softplus(-(fake_scores - real_scores.detach())).mean()


def cosine_ramp(t: float, start: float, end: float) -> float:
    """The reference's cosine_decay_with_warmup without warm-up: start at t=0, end at t>=1 (held after)."""
    t = min(max(t, 0.0), 1.0)
    decay = 0.5 * (1 + math.cos(math.pi * t))
    return start + (1 - decay) * (end - start)


class R3GANSchedule(ganzoo.Schedule):
    """R3GAN's cosine schedules over a horizon (default: the run): lr x1 -> ``lr_final``, beta2 ``beta2`` pair,
    R1/R2 gamma x1 -> ``gamma_final``, EMA half-life 0 -> ``ema_half_life`` x horizon (steps)."""

    def __init__(self, horizon: Optional[int] = None, lr_final: float = 0.25, beta2: Sequence[float] = (0.9, 0.99),
                 gamma_final: float = 0.1, ema_half_life: float = 0.25, regularizers: Sequence[str] = ("r1", "r2")):
        if horizon is not None and int(horizon) < 1:
            raise GanzooError(f"r3gan schedule: horizon must be a positive number of steps, got {horizon!r}")
        if len(tuple(beta2)) != 2 or not all(0.0 <= float(b) < 1.0 for b in beta2):
            raise GanzooError(f"r3gan schedule: beta2 must be a (start, end) pair in [0, 1), got {beta2!r}")
        self.horizon = int(horizon) if horizon is not None else None
        self.lr_final, self.gamma_final = float(lr_final), float(gamma_final)
        self.beta2 = (float(beta2[0]), float(beta2[1]))
        self.ema_half_life = float(ema_half_life)
        self.regularizers = tuple(regularizers)

    def _h(self, total: int) -> int:
        return self.horizon or max(int(total), 1)

    def progress(self, step: int, total: int) -> float:
        """Share of the horizon done before this (1-based) step: the reference reads its schedules at cur_nimg."""
        return (step - 1) / self._h(total)

    def lr_scale(self, network, step, total_steps):
        return cosine_ramp(self.progress(step, total_steps), 1.0, self.lr_final)

    def betas(self, network, step, total_steps, betas):
        return (betas[0], cosine_ramp(self.progress(step, total_steps), *self.beta2))

    def regularizer_scale(self, name, step, total_steps):
        if name not in self.regularizers:
            return 1.0
        return cosine_ramp(self.progress(step, total_steps), 1.0, self.gamma_final)

    def half_life(self, step: int, total: int) -> float:
        """EMA half-life in steps (the reference's ema_nimg / batch size)."""
        return cosine_ramp(self.progress(step, total), 0.0, self.ema_half_life * self._h(total))

    def ema_decay(self, step, total_steps, decay):
        half = self.half_life(step, total_steps)
        return 0.5 ** (1.0 / half) if half > 1e-8 else 0.0


RECIPE = ganzoo.Recipe(
    generator="r3gan",
    discriminator="r3gan",
    loss="rpgan",
    latent_dim=64,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.0, 0.9),
    n_critic=1,
    batch_size=64,
    steps=2000,
    ema_decay=0.999,  # turns the EMA on; the r3gan schedule sets its decay every step (half-life ramp)
    generator_options={"width": 64, "blocks": 2, "expansion": 2},
    discriminator_options={"width": 64, "blocks": 2, "expansion": 2},
    regularizers=({"name": "r1", "gamma": 0.05}, {"name": "r2", "gamma": 0.05}),
    schedules=("r3gan",),
    generator_noise="fresh",
    citation=("Huang et al. 2024, R3GAN (The GAN is dead; long live the GAN!): RpGAN loss + R1 + R2 (gamma 0.05, "
              "CIFAR-10), modernised ResNet (grouped convs, inverted bottlenecks, no normalisation, fix-up init, "
              "bilinear resampling) at width 64 for CPU (paper: 768), Adam betas (0, 0.9->0.99), cosine lr "
              "2e-4->5e-5, gamma x0.1 and EMA half-life ramps."),
)


@ganzoo.hookimpl
def register_generators(register):
    register("r3gan", R3GANGenerator, "R3GAN's modernised ResNet generator (Huang et al. 2024)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("r3gan", R3GANDiscriminator,
             "R3GAN's modernised ResNet discriminator, no normalisation (Huang et al. 2024)")


@ganzoo.hookimpl
def register_losses(register):
    register("rpgan", RpGANLoss, "relativistic pairing GAN loss (Jolicoeur-Martineau 2019; R3GAN)")


@ganzoo.hookimpl
def register_schedules(register):
    register("r3gan", R3GANSchedule,
             "R3GAN's cosine lr / beta2 / gamma decay and EMA half-life ramp (Huang et al. 2024)")


@ganzoo.hookimpl
def register_models(register):
    register("r3gan", RECIPE, "RpGAN + R1 + R2 with the modernised ResNet (Huang et al. 2024)")
