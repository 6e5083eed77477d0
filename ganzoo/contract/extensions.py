"""Contract v2: the step context and the extension points a plugin adds to a training run.

Every extension sees a :class:`StepContext`: the step number, the phase ("D" or "G"), the real and fake batches and
their labels, float32 scores from the *current* discriminator, D's auxiliary output, and two trainer-owned helpers:
``ctx.D(x, labels)`` (the trainer's discriminator call: autocast, augmentation, conditioning) and
``ctx.input_grad(scores, x)`` (d(sum scores)/dx in float32, correct under autocast and a gradient scaler). Plugins
return loss terms; the trainer alone calls backward, scales, steps optimisers and reduces across processes.

- :class:`Regularizer` (``register_regularizers``): a term added to one phase's objective, every ``every`` steps
  (lazy regularisation, Karras et al. 2020: the term is multiplied by ``every`` so its expected gradient is unchanged).
- :class:`Augmentation` (``register_augmentations``): applied to every discriminator input in both phases,
  differentiably; may steer itself from the real scores (ADA) and keeps its state in checkpoints.
- :class:`Schedule` (``register_schedules``): per-step factors for the learning rate of each network, the EMA decay,
  Adam's betas and regulariser weights.
- :class:`Constraint` (``register_constraints``): applied to a network's weights after its optimiser step (clipping).
- optimisers (``register_optimizers``): ``factory(params, *, lr, betas, **options) -> torch.optim.Optimizer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn

PHASES = ("D", "G")


@dataclass
class StepContext:
    """What one phase of one step knows. Scores are float32 ``(N,)`` (``(N/m,)`` for a discriminator on packs).

    ``real``/``fake`` are the tensors given to D (before augmentation). In the D phase ``fake`` is detached from G;
    in the G phase it carries G's graph. ``real_scores`` is filled in the G phase only when the loss sets
    ``needs_real_scores_in_g_step`` (relativistic losses); those scores come from the current D, never a cache.
    ``z`` is the latent batch G was run on (InfoGAN reads its codes). ``ctx.rand(n, *shape)`` draws uniform numbers
    for n samples from the trainer's checkpointed generator, sliced from the global batch under torchrun (so
    N processes draw what one would). ``state`` is a per-run dict where plugins may
    keep tensors between steps (not checkpointed; keep durable state in a plugin's own ``state_dict``).

    For regularisers that need the generator itself (StyleGAN2's path length, BigGAN's orthogonal regularisation):
    ``generator`` is G's module (unwrapped: its own methods, e.g. a mapping network, are reachable; gradients of a
    pass through it reach G's optimiser like the main pass's), ``draw_z(n)`` draws n fresh latents from the
    trainer's checkpointed noise, and ``autocast()`` is the run's autocast context for such a pass.
    """

    step: int
    total_steps: int
    phase: str
    real: torch.Tensor
    fake: torch.Tensor
    fake_scores: torch.Tensor
    real_scores: Optional[torch.Tensor] = None
    real_labels: Optional[torch.Tensor] = None
    fake_labels: Optional[torch.Tensor] = None
    real_aux: Any = None
    fake_aux: Any = None
    z: Optional[torch.Tensor] = None
    num_classes: Optional[int] = None
    D: Callable[..., torch.Tensor] = field(default=None, repr=False)  # type: ignore[assignment]
    D_with_aux: Callable[..., tuple[torch.Tensor, Any]] = field(default=None, repr=False)  # type: ignore[assignment]
    input_grad: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = field(default=None, repr=False)  # type: ignore[assignment]
    rand: Callable[..., torch.Tensor] = field(default=None, repr=False)  # type: ignore[assignment]
    state: dict = field(default_factory=dict, repr=False)
    generator: Optional[nn.Module] = field(default=None, repr=False)
    draw_z: Callable[[int], torch.Tensor] = field(default=None, repr=False)  # type: ignore[assignment]
    autocast: Callable[[], Any] = field(default=None, repr=False)  # type: ignore[assignment]


class Regularizer:
    """A term added to the ``phase`` objective (``"D"`` or ``"G"``); the trainer logs it under the registered name.

    ``every`` (a recipe option, ``r1:every=16``) runs it lazily: on steps ``k * every`` only, with the term
    multiplied by ``every``. The engine keeps it beside the regulariser (``engine.regs``); it is not an attribute of
    the plugin's object, so one regulariser class serves any interval. ``needs_real_grad`` asks the trainer to make
    the real batch require gradients before the main discriminator pass, so ``ctx.input_grad(ctx.real_scores,
    ctx.real)`` is R1 without a second forward pass (on the steps the regulariser runs); ``needs_fake_grad`` does the
    same for ``ctx.fake`` (R2).

    ``separate`` (a recipe option, ``r1:separate=true``) gives the term its own backward and optimiser step after
    the player's main one (StyleGAN2's Dreg/Greg phases). That step makes D's passes of the same draw again (real
    and fake scores in D, the fakes' scores in G) unless the regulariser sets ``needs_scores = False`` (path length
    draws its own latents and never reads D).
    """

    phase: str = "D"
    needs_real_grad: bool = False
    needs_fake_grad: bool = False
    needs_scores: bool = True

    def __call__(self, ctx: StepContext) -> torch.Tensor:
        raise NotImplementedError


class Augmentation(nn.Module):
    """Differentiable transform of every discriminator input, real and fake, in both phases.

    Draw randomness from torch's global generator (the trainer checkpoints it) so resumed runs repeat exactly.
    ``feedback(real_scores, ctx)`` runs after each D phase (ADA steers ``p`` from it); keep state in buffers so it is
    checkpointed with ``state_dict``; ``stats()`` returns scalars to log (read only at log points).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def feedback(self, real_scores: torch.Tensor, ctx: StepContext) -> None:
        return None

    def stats(self) -> dict[str, torch.Tensor]:
        return {}


class Schedule:
    """Per-step factors; each default leaves the run unchanged. Several schedules multiply (lr, weights) or chain."""

    def lr_scale(self, network: str, step: int, total_steps: int) -> float:
        return 1.0

    def ema_decay(self, step: int, total_steps: int, decay: float) -> float:
        return decay

    def betas(self, network: str, step: int, total_steps: int, betas: tuple[float, float]) -> tuple[float, float]:
        return betas

    def regularizer_scale(self, name: str, step: int, total_steps: int) -> float:
        return 1.0


class Constraint:
    """Applied in place to ``phase``'s network right after its optimiser step
    (e.g. the weight clipping of Arjovsky et al. 2017)."""

    phase: str = "D"

    def __call__(self, module: nn.Module) -> None:
        raise NotImplementedError


def split_output(out: Any) -> tuple[torch.Tensor, Any]:
    """A discriminator returns scores, or ``(scores, aux)`` when it has an auxiliary head (ACGAN, InfoGAN's Q)."""
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(f"a discriminator returns scores or (scores, aux); "
                             f"got a {type(out).__name__} of {len(out)}")
        return out[0], out[1]
    return out, None
