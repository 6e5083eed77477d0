"""Built-in weight constraints, applied by the trainer to one network right after each of its optimiser steps.

``clip``: WGAN's weight clipping (Arjovsky et al. 2017, Algorithm 1, line 7: ``w <- clip(w, -c, c)`` right after the
critic's RMSProp update, c = 0.01). Every parameter of the network is clipped, batch-norm scales and shifts
included, as in the authors' code (``for p in netD.parameters(): p.data.clamp_(-0.01, 0.01)``; that code clamps
before each critic update, which differs from Algorithm 1 only in the first step). Buffers (batch-norm running
statistics) are not parameters and are left alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import ganzoo
from ganzoo.api import PHASES


class Clip(ganzoo.Constraint):
    """Clamp every parameter of the network to [-bound, bound] in place (a projection: applying it twice is a no-op)."""

    def __init__(self, bound: float = 0.01, phase: str = "D"):
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound) or bound <= 0:
            raise ValueError(f"clip bound must be a positive number, got {bound!r}")
        if phase not in PHASES:
            raise ValueError(f"clip phase must be 'D' or 'G', got {phase!r}")
        self.bound = float(bound)
        self.phase = phase

    @torch.no_grad()
    def __call__(self, module: nn.Module) -> None:
        params = [p for p in module.parameters()]
        if params:
            torch._foreach_clamp_min_(params, -self.bound)
            torch._foreach_clamp_max_(params, self.bound)


@ganzoo.hookimpl
def register_constraints(register):
    register("clip", Clip, "weight clipping to [-c, c] after each step, c 0.01 (Arjovsky et al. 2017, WGAN)")
