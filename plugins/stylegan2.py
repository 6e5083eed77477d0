"""StyleGAN2: Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020, "Analyzing and Improving the Image Quality of
StyleGAN" (CVPR); StyleGAN2-ADA: Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training Generative
Adversarial Networks with Limited Data" (NeurIPS).

What makes it StyleGAN2 (each piece below follows the paper and NVlabs/stylegan2-ada-pytorch's networks.py and
loss.py):

- **Mapping network**: z normalised to unit second moment, 8 fully connected layers (LeakyReLU 0.2) to w, with the
  learning-rate multiplier 0.01: weights are stored as N(0, 1/0.01^2) and multiplied by 0.01/sqrt(fan_in) at run
  time, so Adam's steps move the effective weights 100x less than in other layers
  (``--generator-option mapping_lr_mul=M`` sets another multiplier). A running mean of w (beta 0.995) is kept for
  the truncation trick.
- **Equalised learning rate** in every layer: weights N(0, 1) scaled by 1/sqrt(fan_in) at run time (Karras et al.
  2018); LeakyReLU outputs are multiplied by sqrt(2); biases start at 0 (style affines at 1).
- **Synthesis network**: a learned constant input at the base resolution; per resolution a 3x3 modulated
  convolution that up-samples, then a 3x3 modulated convolution; **weight demodulation** (each output channel's
  modulated weights scaled to unit L2 norm, so unit-variance inputs give unit-variance outputs); per-pixel
  **noise inputs** with learned per-layer strength (starting at 0); a **skip** generator: each resolution's
  1x1 toRGB (modulated, not demodulated) is added to the up-sampled image so far.
  Up-sampling: zero insertion and the [1, 3, 3, 1] FIR filter (x4 gain), then the 3x3 convolution (the reference
  does a stride-2 transposed convolution, then the filter: the same linear map up to the order of two
  convolutions at the borders).
- **Style mixing** (probability 0.9): during training, the ws from a second latent replace those from a crossover
  layer on, for the whole batch (the reference draws one crossover per batch).
- **Residual discriminator**: 1x1 fromRGB at the top resolution, then per resolution [3x3 conv, 3x3 conv that
  down-samples (the FIR filter, then stride 2)] plus a 1x1 down-sampling skip, summed and scaled by sqrt(1/2);
  at the base resolution the **minibatch standard deviation** (groups of 4, 1 channel), a 3x3 conv, a dense
  layer and the output.
- **Loss**: non-saturating logistic (``ns``); **lazy R1** on reals, gamma/2 E||grad D(x)||^2, every 16 steps with
  the term x16; **lazy path-length regularisation** of G every 4 steps (x4): for a fresh half batch,
  ``a = ||J_w^T y||_2`` with y ~ N(0, I)/sqrt(H W), penalty ``w_pl E[(a - mu)^2]``, mu the running mean of a
  (decay 0.01), weight 2. The path-length mean is checkpointed.
- **Optimiser**: Adam lr 0.002, betas (0, 0.99), eps 1e-8, with the paper's correction for lazy regularisation:
  with interval k, lr x k/(k+1) and betas ** (k/(k+1)) (G: k = 4, D: k = 16). Batch 64.
- **Generator EMA**: half-life 10k images (G_smoothing_kimg 10: decay 0.5 ** (64/10000) per step at batch 64)
  with StyleGAN2-ADA's ramp-up 0.05 (``ema-warmup:mode=rampup``).

Widths: the paper's networks have 512 channels at every resolution up to 32 (``channel_base`` 16384 for the
CIFAR-10 config, 32768 for config F, ``channel_max`` 512) and z, w of 512. The recipe's default trains on a CPU:
``channel_max`` 64 (``--generator-option channel_max=512 --discriminator-option channel_max=512`` for the paper's
width); z, w and the 8-layer mapping are the paper's. R1's gamma depends on the resolution: config F uses 10 at
1024 px; StyleGAN2-ADA's "auto" rule is 0.0002 * res^2 / batch (0.0032 at 32 px, batch 64); the recipe takes
gamma 0.01, the CIFAR-10 config's value.

StyleGAN2-ADA's official ``cifar`` configuration (32x32, its CIFAR-10 FID 2.92 unconditional): batch 64, lr 0.0025,
gamma 0.01, EMA 500 kimg with ramp-up 0.05, a 2-layer mapping network, minibatch-std groups of 32, *no* path-length
regularisation, *no* style mixing and the original (non-residual) discriminator; ADA target 0.6. Set them with
``--regularizer`` / ``--generator-option mapping_layers=2,mixing_prob=0`` / ``--discriminator-option mbstd_group=32``.

``stylegan2-ada`` adds ADA (Karras et al. 2020): the ``ada`` augmentation with target 0.6 (p checkpointed) on every
discriminator input; the augmentations the built-in ``ada`` supports are listed in plugins/augment.py.

The lazy terms run as the official loop's separate phases (``"separate": True``): on steps 16, 32, ... D takes a
second optimiser step on R1 x 16 alone (a fresh D pass on the same reals, Dreg), and on steps 4, 8, ... G one on the
path-length term x 4 alone (Greg), each after the player's main step (Dmain, Gmain), as training_loop.py does.

``stylegan2-ada-cond`` is the class-conditional model of the paper's CIFAR-10 results (``--cond=1``): G's mapping
takes the one-hot class through a dense embedding, normalised and concatenated with z; D's last layer outputs a
cmap vector whose dot product with the class's mapped embedding (an 8-layer mapping of the class alone) / sqrt(dim)
is the score.

Not included: fp16 layers with conv_clamp (ganzoo's autocast covers mixed precision).
"""

from __future__ import annotations

import contextlib
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.api import resolution_plan

LATENT_DIM = 512
SQRT2 = math.sqrt(2.0)
LRELU = 0.2


# -- shared layers ------------------------------------------------------------------------------------------------

def fir_filter(device=None) -> torch.Tensor:
    """The [1, 3, 3, 1] separable low-pass filter, outer product, normalised to sum 1."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device)
    f = f[:, None] * f[None, :]
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, *, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0),
              gain: float = 1.0) -> torch.Tensor:
    """Up-sample by zero insertion, pad, filter with `f` (x gain), down-sample by keeping every `down`-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = (f * gain).to(x.dtype)[None, None].expand(c, 1, *f.shape)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x up-sampling with the FIR filter (gain 4 keeps the mean): H -> 2H."""
    return upfirdn2d(x, f, up=2, pad=(2, 1), gain=4.0)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualizedLinear(nn.Module):
    """Dense layer with the equalised learning rate: w ~ N(0, 1/lr_mul^2), used as w * lr_mul / sqrt(fan_in)."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias is not None else None
        x = F.linear(x, w.to(x.dtype), None if b is None else b.to(x.dtype))
        return F.leaky_relu(x, LRELU) * SQRT2 if self.activation else x


class EqualizedConv2d(nn.Module):
    """Convolution with the equalised learning rate; ``down=2`` filters with the FIR filter, then strides by 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 activation: bool = True, down: int = 1):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.activation, self.down, self.k = activation, down, kernel_size
        self.register_buffer("fir", fir_filter(), persistent=False)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = None if self.bias is None else self.bias.to(x.dtype)
        if self.down > 1:  # filter, then a strided convolution (the reference's conv2d_resample)
            p = (self.fir.shape[0] - self.down + self.k - 1) // 2
            x = upfirdn2d(x, self.fir, pad=(p, p))
            x = F.conv2d(x, w, b, stride=self.down)
        else:
            x = F.conv2d(x, w, b, padding=self.k // 2)
        if self.activation:
            x = F.leaky_relu(x, LRELU) * SQRT2
        return x * gain if gain != 1.0 else x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *,
                     demodulate: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Per-sample modulated convolution (StyleGAN2, eq. 1-3): w'_ijk = s_i w_ijk, then w'' = w' / sqrt(sum w'^2 + eps)
    per output channel when demodulating. Computed as the reference does in training (its non-fused path): scale
    the input channels by s, convolve with the shared weight, scale the output channels by the demodulation
    coefficients; the same linear map as convolving each sample with its own w'', without a grouped convolution."""
    out_ch, in_ch, kh, kw = weight.shape
    x = x * styles.to(x.dtype)[:, :, None, None]
    x = F.conv2d(x, weight.to(x.dtype), padding=kh // 2)
    if demodulate:
        # sum_ik (s_i w_oik)^2 = sum_i s_i^2 sum_k w_oik^2: one product instead of an (n, out, in, kh, kw) tensor
        d = (styles.float().square() @ weight.float().square().sum(dim=[2, 3]).t() + eps).rsqrt()
        x = x * d.to(x.dtype)[:, :, None, None]
    return x


# -- generator --------------------------------------------------------------------------------------------------

class MappingNetwork(nn.Module):
    """z (and a class) -> w: normalise z, `layers` dense layers with lr multiplier 0.01; tracks the mean w (for
    truncation). Conditional (`c_dim` classes): the one-hot class goes through a dense embedding to `w_dim`, is
    normalised like z and concatenated with it (StyleGAN2-ADA's networks.py); `z_dim` 0 maps the class alone (the
    discriminator's projection)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int = 8, lr_mul: float = 0.01, w_avg_beta: float = 0.995,
                 c_dim: int = 0):
        super().__init__()
        self.c_dim = int(c_dim)
        self.embed = EqualizedLinear(self.c_dim, w_dim) if self.c_dim else None
        dims = [z_dim + (w_dim if self.c_dim else 0)] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualizedLinear(a, b, lr_mul=lr_mul, activation=True)
                                   for a, b in zip(dims[:-1], dims[1:])])
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Optional[torch.Tensor], c: Optional[torch.Tensor] = None, *,
                update_avg: bool = True) -> torch.Tensor:
        parts = [] if z is None or z.shape[1] == 0 else [normalize_2nd_moment(z)]
        if self.embed is not None:
            if c is None:
                raise ganzoo.GanzooError("this StyleGAN2 network is class-conditional: call it with labels")
            onehot = F.one_hot(c.long(), self.c_dim).to(self.embed.weight.dtype)
            parts.append(normalize_2nd_moment(self.embed(onehot)))
        w = self.net(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])
        if self.training and update_avg:
            with torch.no_grad():
                self.w_avg.copy_(torch.lerp(w.detach().float().mean(0), self.w_avg, self.w_avg_beta))
        return w


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally up-sampling first), noise input, bias, LeakyReLU x sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, *, up: bool = False):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.weight_gain = 1.0 / math.sqrt(in_channels * 9)
        self.up, self.resolution = up, resolution
        self.register_buffer("fir", fir_filter(), persistent=False)
        # eval mode uses one fixed noise image per layer (the reference's noise_mode="const"), so a seed gives the
        # same samples every time; training draws fresh noise
        self.register_buffer("noise_const", torch.randn(resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if self.up:
            x = upsample2d(x, self.fir)
        x = modulated_conv2d(x, self.weight * self.weight_gain, styles)
        if self.training:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const.to(x.dtype)[None, None]
        x = x + noise * self.noise_strength.to(x.dtype) + self.bias.to(x.dtype)[None, :, None, None]
        return F.leaky_relu(x, LRELU) * SQRT2


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to the image channels, without demodulation or activation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return x + self.bias.to(x.dtype)[None, :, None, None]


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // resolution, channel_max)


class StyleGAN2Generator(nn.Module):
    """Mapping network + skip synthesis network; ``forward(z)`` mixes styles in training mode (``mixing_prob``)."""

    def __init__(self, shape, latent_dim: int = LATENT_DIM, w_dim: int = LATENT_DIM, mapping_layers: int = 8,
                 channel_base: int = 16384, channel_max: int = 64, mixing_prob: float = 0.9,
                 num_classes: Optional[int] = None, mapping_lr_mul: float = 0.01):
        super().__init__()
        channels, base, k = resolution_plan(shape, "StyleGAN2's generator", min_size=4)
        self.z_dim, self.w_dim, self.mixing_prob = int(latent_dim), int(w_dim), float(mixing_prob)
        self.conditional = num_classes is not None  # G(z, y) with labels (a conditional recipe passes num_classes)
        if not float(mapping_lr_mul) > 0:
            raise ValueError(f"stylegan2 mapping_lr_mul must be > 0 (the paper's is 0.01), got {mapping_lr_mul!r}")
        self.mapping = MappingNetwork(self.z_dim, self.w_dim, mapping_layers, lr_mul=float(mapping_lr_mul),
                                      c_dim=num_classes or 0)
        res = [base * 2 ** i for i in range(k + 1)]
        ch = [channels_at(r, channel_base, channel_max) for r in res]
        self.const = nn.Parameter(torch.randn(ch[0], base, base))
        self.convs = nn.ModuleList()  # (conv0 up, conv1) per resolution; only conv1 at the base
        self.torgbs = nn.ModuleList()
        self.layer_ws: list[tuple[int, ...]] = []  # which ws index each block's convs and toRGB read
        index = 0
        for i, r in enumerate(res):
            block = nn.ModuleList()
            if i > 0:
                block.append(SynthesisLayer(ch[i - 1], ch[i], self.w_dim, r, up=True))
            block.append(SynthesisLayer(ch[0] if i == 0 else ch[i], ch[i], self.w_dim, r))
            self.convs.append(block)
            self.torgbs.append(ToRGB(ch[i], channels, self.w_dim))
            self.layer_ws.append(tuple(range(index, index + len(block))) + (index + len(block),))
            index += len(block)
        self.num_ws = index + 1
        self.register_buffer("fir", fir_filter(), persistent=False)

    def ws(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, *, truncation: float = 1.0,
           mix: Optional[bool] = None) -> torch.Tensor:
        """(n, num_ws, w_dim): w (of z and class `c` when conditional) broadcast to every layer, style-mixed in
        training mode, truncated towards the mean w by ``truncation`` psi (1: none)."""
        w = self.mapping(z, c)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if (self.training if mix is None else mix) and self.mixing_prob > 0:
            ws = self.style_mix(ws, z, c)
        if truncation != 1.0:
            ws = torch.lerp(self.mapping.w_avg.to(ws.dtype), ws, truncation)
        return ws

    def style_mix(self, ws: torch.Tensor, z: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:
        """With probability mixing_prob, ws from a fresh latent (same class) replace those from a crossover layer in
        1..num_ws-1 on (one crossover for the batch; torch's global generator, which the trainer checkpoints)."""
        cutoff = int(torch.randint(1, self.num_ws, ()))
        if float(torch.rand(())) >= self.mixing_prob:
            return ws
        other = self.mapping(torch.randn_like(z), c, update_avg=False)
        ws = ws.clone()
        ws[:, cutoff:] = other[:, None].to(ws.dtype)
        return ws

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        x = self.const[None].expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
        img = None
        for block, torgb, idx in zip(self.convs, self.torgbs, self.layer_ws):
            for layer, i in zip(block, idx):
                x = layer(x, ws[:, i])
            y = torgb(x, ws[:, idx[-1]])
            img = y if img is None else upsample2d(img, self.fir).to(y.dtype) + y
        return img

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None, truncation: float = 1.0) -> torch.Tensor:
        return self.synthesis(self.ws(z, y, truncation=truncation))


# -- discriminator ----------------------------------------------------------------------------------------------

class MinibatchStd(nn.Module):
    """Appends the mean standard deviation over groups of `group` samples (Karras et al. 2018) as extra channels."""

    def __init__(self, group: int = 4, channels: int = 1):
        super().__init__()
        self.group, self.channels = group, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n)
        while n % g:  # the largest group size that divides the batch (the reference asserts divisibility)
            g -= 1
        f = self.channels
        y = x.float().reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual block: (3x3 conv, 3x3 down conv) + 1x1 down skip, each x sqrt(1/2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, down=2)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = math.sqrt(0.5)
        return self.skip(x, gain=gain) + self.conv1(self.conv0(x), gain=gain)


class StyleGAN2Discriminator(nn.Module):
    """fromRGB -> residual blocks down to the base resolution -> minibatch std, 3x3 conv, dense, dense -> 1."""

    def __init__(self, shape, channel_base: int = 16384, channel_max: int = 64, mbstd_group: int = 4,
                 mbstd_channels: int = 1, num_classes: Optional[int] = None, mapping_layers: int = 8):
        super().__init__()
        channels, base, k = resolution_plan(shape, "StyleGAN2's discriminator", min_size=4)
        res = [base * 2 ** i for i in range(k, -1, -1)]
        ch = [channels_at(r, channel_base, channel_max) for r in res]
        self.from_rgb = EqualizedConv2d(channels, ch[0], 1)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(ch[i], ch[i + 1]) for i in range(k)])
        self.mbstd = MinibatchStd(mbstd_group, mbstd_channels)
        self.conv = EqualizedConv2d(ch[-1] + mbstd_channels, ch[-1], 3)
        self.fc = EqualizedLinear(ch[-1] * base * base, ch[-1], activation=True)
        # conditional: the output is a cmap_dim vector projected on the class's mapped embedding (StyleGAN2-ADA's
        # epilogue, cmap_dim = the channels at the base resolution, the mapping with its default 8 layers)
        self.conditional = num_classes is not None
        self.cmap_dim = ch[-1] if self.conditional else 0
        self.out = EqualizedLinear(ch[-1], self.cmap_dim or 1)
        self.mapping = (MappingNetwork(0, self.cmap_dim, mapping_layers, w_avg_beta=0.0, c_dim=num_classes)
                        if self.conditional else None)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.blocks(self.from_rgb(x))
        x = self.conv(self.mbstd(x))
        out = self.out(self.fc(x.flatten(1)))
        if self.mapping is None:
            return out.flatten()
        if y is None:
            raise ganzoo.GanzooError("this StyleGAN2 discriminator is class-conditional: call it with labels")
        cmap = self.mapping(None, y, update_avg=False)
        return (out * cmap.to(out.dtype)).sum(dim=1) / math.sqrt(self.cmap_dim)


# -- path-length regularisation ---------------------------------------------------------------------------------

class PathLength(ganzoo.Regularizer):
    """weight * E[(||J_w^T y|| - mu)^2], y ~ N(0, I)/sqrt(H W), mu <- lerp(mu, E||J_w^T y||, decay) (StyleGAN2 eq. 4).

    Computed on ``batch // batch_shrink`` fresh latents through the generator's ``ws``/``synthesis`` (style mixing
    as in training); mu is checkpointed. Needs a generator with those two methods (``stylegan2``)."""

    phase = "G"
    needs_scores = False  # its own step (separate) needs no D pass: it draws its latents and never reads D

    def __init__(self, weight: float = 2.0, decay: float = 0.01, batch_shrink: int = 2):
        if int(batch_shrink) < 1:
            raise ValueError(f"pl batch_shrink must be >= 1, got {batch_shrink!r}")
        self.weight, self.decay, self.batch_shrink = float(weight), float(decay), int(batch_shrink)
        self.pl_mean = torch.zeros(())

    @staticmethod
    def projected(G: nn.Module, z: torch.Tensor, autocast=None,
                  c: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(ws, sum(G(ws) * y) per sample) for y ~ N(0, I)/sqrt(H W): the gradient of the second w.r.t. the first
        is J_w^T y. A conditional G maps z with the classes `c`."""
        if not (hasattr(G, "ws") and hasattr(G, "synthesis")):
            raise ganzoo.GanzooError("the pl regulariser needs a style-based generator (ws/synthesis methods), e.g. "
                                     "stylegan2's; drop --regularizer pl for this model")
        with (autocast() if autocast is not None else contextlib.nullcontext()):
            ws = G.ws(z, c)
            img = G.synthesis(ws)
        y = torch.randn(img.shape, device=img.device) / math.sqrt(img.shape[2] * img.shape[3])
        return ws, (img.float() * y).flatten(1).sum(1)

    def __call__(self, ctx):
        n = max(1, ctx.fake.shape[0] // self.batch_shrink)
        c = ctx.fake_labels[:n] if getattr(ctx.generator, "conditional", False) else None  # the phase's classes
        ws, out = self.projected(ctx.generator, ctx.draw_z(n), ctx.autocast, c)
        grad = ctx.input_grad(out, ws)
        lengths = grad.square().sum(2).mean(1).sqrt()
        mean = torch.lerp(self.pl_mean.to(lengths.device), lengths.mean(), self.decay)
        self.pl_mean = mean.detach()
        return self.weight * (lengths - mean).square().mean()

    def state_dict(self) -> dict:
        return {"pl_mean": self.pl_mean}

    def load_state_dict(self, state: dict) -> None:
        self.pl_mean = state["pl_mean"]


# -- recipes ------------------------------------------------------------------------------------------------------

def _lazy(k: int) -> float:
    """The paper's optimiser correction for a regulariser run every k steps: c = k / (k + 1)."""
    return k / (k + 1)


G_REG, D_REG = 4, 16
STYLEGAN2 = ganzoo.Recipe(
    generator="stylegan2",
    discriminator="stylegan2",
    loss="ns",
    latent_dim=LATENT_DIM,
    lr_g=0.002 * _lazy(G_REG),
    lr_d=0.002 * _lazy(D_REG),
    betas={"G": (0.0, 0.99 ** _lazy(G_REG)), "D": (0.0, 0.99 ** _lazy(D_REG))},
    optimizer_options={"eps": 1e-8},
    batch_size=64,
    steps=2000,
    ema_decay=0.5 ** (64 / 10_000),
    schedules=({"name": "ema-warmup", "mode": "rampup", "rampup": 0.05},),
    regularizers=({"name": "r1", "gamma": 0.01, "every": D_REG, "separate": True},
                  {"name": "pl", "weight": 2.0, "decay": 0.01, "every": G_REG, "separate": True}),
    citation="Karras et al. 2020, StyleGAN2: mapping net (lr x0.01), modulation/demodulation, noise inputs, skip G, "
             "residual D, minibatch std, equalised lr, style mixing 0.9, NS loss, lazy R1 (every 16) and path "
             "length (every 4), Adam(0.002, (0, 0.99)) with lazy correction, EMA 10 kimg with ramp-up.",
)

STYLEGAN2_ADA = ganzoo.Recipe(
    **{**{f: getattr(STYLEGAN2, f) for f in STYLEGAN2.__dataclass_fields__},
       "augment": {"name": "ada", "target": 0.6},
       "citation": "Karras et al. 2020, StyleGAN2-ADA: StyleGAN2 + adaptive discriminator augmentation (p steered "
                   "by sign D(real) to target 0.6, checkpointed)."},
)


STYLEGAN2_ADA_COND = ganzoo.Recipe(
    **{**{f: getattr(STYLEGAN2_ADA, f) for f in STYLEGAN2_ADA.__dataclass_fields__},
       "conditional": True,
       "citation": "Karras et al. 2020, StyleGAN2-ADA, class-conditional as its CIFAR-10 model (--cond=1): the one-hot "
                   "class embedded, normalised and concatenated with z in G's mapping; D's output projected on the "
                   "class's 8-layer mapped embedding (cmap, / sqrt(cmap_dim)); path length at the phase's classes."},
)


@ganzoo.hookimpl
def register_generators(register):
    register("stylegan2", StyleGAN2Generator, "mapping + modulated/demodulated skip synthesis (Karras et al. 2020)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("stylegan2", StyleGAN2Discriminator, "residual discriminator with minibatch std (Karras et al. 2020)")


@ganzoo.hookimpl
def register_regularizers(register):
    register("pl", PathLength, "path-length regularisation of a style-based G (Karras et al. 2020)")


@ganzoo.hookimpl
def register_models(register):
    register("stylegan2", STYLEGAN2, "StyleGAN2 (Karras et al. 2020)")
    register("stylegan2-ada", STYLEGAN2_ADA, "StyleGAN2 with adaptive discriminator augmentation (Karras et al. 2020)")
    register("stylegan2-ada-cond", STYLEGAN2_ADA_COND,
             "class-conditional StyleGAN2-ADA, as its CIFAR-10 model (Karras et al. 2020)")
