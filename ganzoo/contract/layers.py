"""Network helpers that several built-in plugins need and a third-party plugin may reuse (through ganzoo.api).

Pure functions of shapes and modules: how a square image size splits into a base resolution and a number of
2x up/down-sampling stages, and the N(0, 0.02) initialisation of Radford et al. 2015.
"""

from __future__ import annotations

from typing import Optional

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
