"""The value types of the plugin contract: losses, recipes, datasets and a built GAN."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from torch import nn


class Loss:
    """Base class for GAN losses. Losses own the math; the trainer owns devices, precision and scaling.

    The trainer passes float32 scores of shape ``(N,)`` (already upcast from autocast outputs), so formulas stay
    numerically safe under mixed precision. Both methods may take a third argument, ``ctx``
    (a :class:`ganzoo.StepContext`) with the batches, labels, D's auxiliary output and the step; two-argument losses
    keep working unchanged. A loss that sets ``needs_real_scores_in_g_step`` gets ``ctx.real_scores`` from the
    current discriminator in the generator step (relativistic losses: RpGAN, RaGAN).

    Penalties are regularisers (``Recipe.regularizers``), computed by the trainer. ``gradient_penalty_weight`` is
    kept for v0.1 plugins: a loss that sets it > 0 gets the built-in ``gp`` regulariser with that weight.
    """

    gradient_penalty_weight: float = 0.0
    gradient_penalty_target: float = 1.0
    needs_real_scores_in_g_step: bool = False

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        raise NotImplementedError


ComponentChoice = Union[str, Mapping[str, str]]


#: A component reference in a recipe: a registered name, or a mapping with "name" and that component's options
#: (``{"name": "r1", "gamma": 10.0, "every": 16}``).
ComponentRef = Union[str, Mapping[str, Any]]


def _accepts_ctx(fn: Callable, n_scores: int) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) for p in params):
        return True
    return any(p.name == "ctx" for p in params) or len(params) > n_scores


def loss_calls(loss: Loss) -> tuple[Callable, Callable]:
    """A loss's two methods in the one calling convention the engine uses: ``d(real, fake, ctx)`` and
    ``g(fake, ctx)``. A loss written for v0.1, whose methods take no ``ctx``, is called without it (that
    convention is kept until ganzoo 0.3; add a ``ctx=None`` parameter to a plugin's loss to move on)."""
    d, g = loss.discriminator_loss, loss.generator_loss
    d_call = d if _accepts_ctx(d, 2) else (lambda real, fake, ctx: d(real, fake))
    g_call = g if _accepts_ctx(g, 1) else (lambda fake, ctx: g(fake))
    return d_call, g_call


@dataclass(frozen=True)
class Recipe:
    """A named model: which components to combine and the hyper-parameters its paper used.

    ``generator`` and ``discriminator`` are a registered name, or a mapping from data kind (``"image"`` for
    ``(C, H, W)`` data, ``"vector"`` for ``(D,)`` data) to a name, so one recipe can serve images and 2-D points.
    Options may likewise be keyed by data kind: ``{"image": {...}, "vector": {...}}``.

    Per-network settings take a value for both networks or a mapping ``{"G": ..., "D": ...}``: ``optimizer`` (a
    registered optimiser: adam, rmsprop, sgd, ...), ``betas``, ``optimizer_options``. ``update`` is
    ``"alternating"`` (n_critic D steps, then G) or ``"simultaneous"`` (both gradients at the same parameters on the
    same batch, applied together: the ALI/PacGAN reference code). ``generator_noise`` is ``"reuse"`` (the G step
    scores the last critic step's fakes, as PyTorch's example of Radford et al. 2015) or ``"fresh"`` (new noise,
    Gulrajani et al. 2017, Algorithm 1).
    ``conditional`` models get ``num_classes`` in their factories' options and are called ``G(z, y)`` / ``D(x, y)``.
    ``variants`` maps a data kind to field overrides, so one model follows its paper's protocol on 2-D points
    (``{"vector": {"lr_g": 1e-4, "update": "simultaneous", ...}}``) and its image defaults elsewhere.
    """

    generator: ComponentChoice
    discriminator: ComponentChoice
    loss: str
    latent_dim: int = 100
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: Union[tuple[float, float], Mapping[str, tuple[float, float]]] = (0.5, 0.999)
    n_critic: int = 1
    batch_size: int = 64
    steps: int = 2000
    ema_decay: Optional[float] = None
    generator_options: Mapping[str, Any] = field(default_factory=dict)
    discriminator_options: Mapping[str, Any] = field(default_factory=dict)
    loss_options: Mapping[str, Any] = field(default_factory=dict)
    citation: str = ""
    optimizer: Union[str, Mapping[str, str]] = "adam"
    optimizer_options: Mapping[str, Any] = field(default_factory=dict)
    regularizers: tuple[ComponentRef, ...] = ()
    augment: Optional[ComponentRef] = None
    schedules: tuple[ComponentRef, ...] = ()
    constraints: tuple[ComponentRef, ...] = ()
    conditional: bool = False
    update: str = "alternating"
    generator_noise: str = "reuse"
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_kind(self, kind: str) -> Recipe:
        """This recipe with its ``variants[kind]`` overrides applied (e.g. the paper's 2-D protocol for "vector")."""
        changes = dict(self.variants.get(kind, {}))
        if not changes:
            return self
        from dataclasses import replace

        return replace(self, variants={}, **changes)


def takes_labels(module: nn.Module, *, required: bool = False) -> bool:
    """Whether a network's ``forward`` takes class labels as its second argument (``G(z, y)``, ``D(x, y)``); with
    `required`, whether it cannot be called without them. A network may say so itself with a ``conditional``
    class attribute (True: it needs labels; False: it never takes them), which wins over its signature."""
    declared = getattr(module, "conditional", None)
    if isinstance(declared, bool):
        return declared
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return not required
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return not required
    positional = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                  inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        return False
    return positional[1].default is inspect.Parameter.empty if required else True


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
        from ganzoo.errors import GanzooError

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
        return to_float(self.data if index is None else self.data[index])

    @property
    def kind(self) -> str:
        return data_kind(self.shape)


@dataclass
class GAN:
    """A built model: two networks, a loss and the recipe they came from.

    A conditional GAN has ``num_classes`` set: its generator is called ``G(z, y)`` and its discriminator ``D(x, y)``.
    ``class_probs`` is the training data's label distribution (fake labels are drawn from it; uniform if unknown).
    """

    name: str
    generator: nn.Module
    discriminator: nn.Module
    loss: Loss
    latent_dim: int
    shape: tuple[int, ...]
    recipe: Recipe
    components: dict[str, str]
    num_classes: Optional[int] = None
    class_probs: Optional[torch.Tensor] = None

    @property
    def image_shape(self) -> tuple[int, ...]:
        return self.shape

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def sample(self, n: int, labels: Any = None, seed: Optional[int] = None,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n samples from the generator in eval mode, without gradients, as float32.

        ``labels`` (conditional models): one class for all, or a sequence of n; drawn from ``class_probs`` when
        omitted. ``seed`` makes the draw repeatable without touching torch's global random state.

        One rule with ``ganzoo.use.sampling`` (``ganzoo sample --seed``): latents and labels are drawn on the CPU from a
        generator seeded with ``seed`` (or on the device of a ``generator`` you pass), then moved to the model's
        device, so a seed gives the same samples on any device.
        """
        p = next(self.generator.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        where = generator.device if generator is not None else torch.device("cpu")
        z = draw_latent(self.generator, n, self.latent_dim, generator, where).to(device)
        y = self.labels_for(n, labels, generator, where).to(device) if self.conditional else None
        return generate(self.generator, z, y=y)

    def labels_for(self, n: int, labels: Any, generator: Optional[torch.Generator], device: Any) -> torch.Tensor:
        """Class labels for n samples: the given ones (checked against num_classes) or drawn from class_probs."""
        from ganzoo.errors import GanzooError

        if labels is None:
            return draw_labels(n, self.num_classes, self.class_probs, generator, device)
        y = torch.as_tensor(labels, dtype=torch.long, device=device).reshape(-1)
        if y.numel() == 1:
            y = y.expand(n).clone()
        if y.numel() != n:
            raise GanzooError(f"got {y.numel()} labels for {n} samples; give one label or exactly {n}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise GanzooError(f"labels must be in 0..{self.num_classes - 1} for this model, got {y.tolist()[:8]}")
        return y


def draw_latent(net: nn.Module, n: int, latent_dim: int, generator: Optional[torch.Generator],
                device: Any) -> torch.Tensor:
    """Latent codes for n samples: the generator's own ``sample_latent(n, generator, device)`` if it has one (InfoGAN's
    categorical and continuous codes), else standard normal noise."""
    own = getattr(net, "sample_latent", None)
    if own is not None:
        return own(n, generator=generator, device=device)
    return torch.randn(n, latent_dim, generator=generator, device=device)


def draw_labels(n: int, num_classes: int, probs: Optional[torch.Tensor], generator: Optional[torch.Generator],
                device: Any) -> torch.Tensor:
    """n class labels drawn from ``probs`` (the data's label distribution), uniform when it is None."""
    if probs is None:
        return torch.randint(num_classes, (n,), generator=generator, device=device)
    return torch.multinomial(probs.to(device), n, replacement=True, generator=generator)


def generate(net: nn.Module, z: torch.Tensor, context: Any = None, y: Optional[torch.Tensor] = None) -> torch.Tensor:
    """net(z) (or net(z, y)) in eval mode without gradients (inside `context`, e.g. autocast), as float32;
    restores the mode."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), (context or contextlib.nullcontext()):
            return (net(z) if y is None else net(z, y)).float()
    finally:
        net.train(was_training)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (0..255) -> float32 in [-1, 1], as x / 127.5 - 1 (memory format kept); floats unchanged."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(127.5).sub_(1.0)
    return x
