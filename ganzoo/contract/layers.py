"""Network helpers that several built-in plugins need and a third-party plugin may reuse (through ganzoo.api).

Pure functions of shapes and modules: how a square image size splits into a base resolution and a number of
2x up/down-sampling stages, the N(0, 0.02) initialisation of Radford et al. 2015, and the self-attention block of
SAGAN (Zhang et al. 2019) that SAGAN and BigGAN share.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def halvings(size: int, floor: int = 4) -> tuple[int, int]:
    """(base, k) with size = base * 2**k and the most halvings that keep base >= floor (16 -> (4, 2), 28 -> (7, 2))."""
    base, k = int(size), 0
    while base % 2 == 0 and base // 2 >= floor:
        base //= 2
        k += 1
    return base, k


def resolution_plan(shape: tuple[int, ...], what: str, *, min_size: int = 8, max_size: Optional[int] = None,
                    multiple: int = 1, min_halvings: int = 0) -> tuple[int, int, int]:
    """(channels, base, k) for square (C, S, S) images, S = base * 2**k (see `halvings`); a ValueError naming
    `what` and the rule when the shape does not fit."""
    if len(shape) != 3:
        raise ValueError(f"{what} needs (C, H, W) images, got samples of shape {tuple(shape)}")
    channels, h, w = (int(s) for s in shape)
    rule = f"at least {min_size}x{min_size}" if max_size is None else f"of size {min_size}..{max_size}"
    if multiple > 1:
        rule += f", a multiple of {multiple}"
    if h != w or h < min_size or (max_size is not None and h > max_size) or h % multiple:
        raise ValueError(f"{what} needs square images {rule}; got {h}x{w}")
    base, k = halvings(h)
    if k < min_halvings:
        raise ValueError(f"{what}: image size {h} is not base * 2**k with base 4..7 and k >= {min_halvings}")
    return channels, base, k


def normal_init_(module: nn.Module, std: float = 0.02, *, norm_weight_mean: Optional[float] = None) -> nn.Module:
    """Convolution and linear weights ~ N(0, std) with zero biases (Radford et al. 2015); with `norm_weight_mean`,
    batch/group/layer-norm scales ~ N(mean, std) and zero shifts too. Returns the module."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif norm_weight_mean is not None and isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)) \
                and m.weight is not None:
            nn.init.normal_(m.weight, norm_weight_mean, std)
            nn.init.zeros_(m.bias)
    return module


class SelfAttention2d(nn.Module):
    """Self-attention over the positions of a feature map (Zhang et al. 2019, SAGAN, section 3), in the layout of
    BigGAN-PyTorch's ``layers.Attention``: 1x1 convs f (query) and g (key) to C/8 channels, h (value) to C/2, a
    softmax over the key positions, a 1x1 conv v from C/2 back to C, and ``gamma * o + x`` with the learnable scalar
    gamma initialised to 0 (the block starts as the identity). ``pool=True`` max-pools keys and values 2x2, as the
    reference code (4x fewer key positions), on maps whose height and width are both even (others are not pooled).
    ``wrap`` is applied to each conv (e.g. ``torch.nn.utils.parametrizations.spectral_norm``); no conv has a bias.
    Needs ``channels >= 8``."""

    def __init__(self, channels: int, *, wrap=None, pool: bool = True):
        super().__init__()
        if channels < 8:
            raise ValueError(f"self-attention needs at least 8 channels (queries and keys have C/8), got {channels}")
        wrap = wrap if wrap is not None else (lambda m: m)
        self.channels, self.pool = int(channels), bool(pool)
        self.theta = wrap(nn.Conv2d(channels, channels // 8, 1, bias=False))  # f: queries
        self.phi = wrap(nn.Conv2d(channels, channels // 8, 1, bias=False))    # g: keys
        self.g = wrap(nn.Conv2d(channels, channels // 2, 1, bias=False))      # h: values
        self.o = wrap(nn.Conv2d(channels // 2, channels, 1, bias=False))      # v: back to C channels
        self.gamma = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map beta: (N, H*W query positions, key positions), rows summing to 1."""
        query = self.theta(x).flatten(2)
        key = self.phi(x)
        if self._pooled(x):
            key = F.max_pool2d(key, 2)
        return torch.softmax(torch.bmm(query.transpose(1, 2), key.flatten(2)), dim=-1)

    def _pooled(self, x: torch.Tensor) -> bool:
        return self.pool and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        beta = self.attention(x)
        value = self.g(x)
        if self._pooled(x):
            value = F.max_pool2d(value, 2)
        out = torch.bmm(value.flatten(2), beta.transpose(1, 2).to(value.dtype))
        return self.gamma * self.o(out.reshape(n, self.channels // 2, h, w)) + x
