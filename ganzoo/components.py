"""The value types of the plugin contract: losses, recipes, datasets and a built GAN."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn


class Loss:
    """Base class for GAN losses. Losses own the math; the trainer owns devices, precision and scaling.

    The trainer passes float32 scores of shape ``(N,)`` (already upcast from autocast outputs), so formulas stay
    numerically safe under mixed precision. A loss that sets ``gradient_penalty_weight > 0`` asks the trainer for
    the interpolation gradient penalty of Gulrajani et al. 2017, ``weight * E[(||grad D(x_hat)|| - target)^2]``,
    which the trainer computes correctly under autocast and gradient scaling.
    """

    gradient_penalty_weight: float = 0.0
    gradient_penalty_target: float = 1.0

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


ComponentChoice = Union[str, Mapping[str, str]]


@dataclass(frozen=True)
class Recipe:
    """A named model: which components to combine and the hyper-parameters its paper used.

    ``generator`` and ``discriminator`` are a registered name, or a mapping from data kind (``"image"`` for
    ``(C, H, W)`` data, ``"vector"`` for ``(D,)`` data) to a name, so one recipe can serve images and 2-D points.
    """

    generator: ComponentChoice
    discriminator: ComponentChoice
    loss: str
    latent_dim: int = 100
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    batch_size: int = 64
    steps: int = 2000
    ema_decay: Optional[float] = None
    generator_options: Mapping[str, Any] = field(default_factory=dict)
    discriminator_options: Mapping[str, Any] = field(default_factory=dict)
    loss_options: Mapping[str, Any] = field(default_factory=dict)
    citation: str = ""


def data_kind(shape: tuple[int, ...]) -> str:
    """'image' for (C, H, W) samples, 'vector' for (D,) samples."""
    if len(shape) == 3:
        return "image"
    if len(shape) == 1:
        return "vector"
    raise ValueError(f"unsupported sample shape {tuple(shape)}: expected (C, H, W) or (D,)")


def choose_component(choice: ComponentChoice, shape: tuple[int, ...]) -> str:
    if isinstance(choice, str):
        return choice
    kind = data_kind(shape)
    if kind not in choice:
        from .errors import GanzooError

        raise GanzooError(
            f"this recipe has no component for {kind} data of shape {tuple(shape)}; "
            f"pick one with --generator/--discriminator"
        )
    return choice[kind]


@dataclass
class DatasetRequest:
    """What a dataset loader is asked for."""

    name: str
    argument: Optional[str] = None  # the ARG of `name:ARG`
    data_dir: Optional[Path] = None  # where files are, or are downloaded to
    image_size: Optional[int] = None  # resize images to this square size when set
    download: bool = True
    seed: int = 0


@dataclass
class Dataset:
    """A dataset: its samples as one tensor (in memory, or memory-mapped from a prepared cache).

    ``data`` is ``(N, C, H, W)`` uint8 images in 0..255 (4x less memory than floats; samplers convert each batch to
    float32 in [-1, 1] on the device), float32 images already in [-1, 1], or ``(N, D)`` float32 points in their own
    units. ``labels`` is int64 ``(N,)`` or None. ``centers`` and ``std`` describe Gaussian mixtures (for
    mode-coverage metrics). ``info`` says where the data came from (a prepared cache's path and content hash,
    files skipped as unreadable).
    """

    name: str
    data: torch.Tensor
    labels: Optional[torch.Tensor] = None
    centers: Optional[torch.Tensor] = None
    std: Optional[float] = None
    description: str = ""
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    def float_data(self, index: Any = None) -> torch.Tensor:
        """The samples (all, or ``data[index]``) as float32: uint8 images mapped to [-1, 1], the rest as stored."""
        from .data import to_float

        return to_float(self.data if index is None else self.data[index])

    @property
    def kind(self) -> str:
        return data_kind(self.shape)


@dataclass
class GAN:
    """A built model: two networks, a loss and the recipe they came from."""

    name: str
    generator: nn.Module
    discriminator: nn.Module
    loss: Loss
    latent_dim: int
    shape: tuple[int, ...]
    recipe: Recipe
    components: dict[str, str]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return self.shape

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Draw n samples from the generator in eval mode, without gradients."""
        p = next(self.generator.parameters())
        return generate(self.generator, torch.randn(n, self.latent_dim, generator=generator, device=p.device))


def generate(net: nn.Module, z: torch.Tensor, context: Any = None) -> torch.Tensor:
    """net(z) in eval mode without gradients (inside `context`, e.g. autocast), as float32; restores the mode."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), (context or contextlib.nullcontext()):
            return net(z).float()
    finally:
        net.train(was_training)
