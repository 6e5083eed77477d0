"""Built-in schedules: per-step learning-rate factors and EMA decays, pure functions of the step (so resume is exact).

Steps are 1-based as the trainer passes them; ``t = step - 1`` is the number of updates done before this one.

- ``linear-decay``: the learning rate falls linearly to zero over the run, as the SNGAN/projection authors' code
  (Chainer ``LinearShift`` of Adam's alpha from its value to 0 between ``iteration_decay_start`` and the last
  iteration; Miyato et al. 2018, Miyato & Koyama 2018). Factor ``1`` while ``t < s``, then ``1 - (t - s) / (T - s)``
  with ``s = floor(start * T)``: the first update uses the full rate, the last ``1 / (T - s)`` of it (never a wasted
  zero-rate step). ``networks`` = ``"both"``, ``"G"`` or ``"D"``.
- ``ema-warmup``: the generator EMA's decay ramped up so early averages are not dominated by the random initial
  weights. ``mode="tf"`` (default): ``decay_t = min(decay, (1 + t) / (10 + t))``, the ``num_updates`` rule of
  TensorFlow's ``tf.train.ExponentialMovingAverage``. ``mode="rampup"``: StyleGAN2-ADA's EMA ramp-up (Karras et al.
  2020, ``ema_rampup=0.05``): the EMA half-life, ``h = ln 0.5 / ln decay`` steps, is capped at ``rampup * t`` steps,
  ``decay_t = 0.5 ** (1 / min(h, rampup * t))`` (0 at the first update: the average starts as a copy).
"""

from __future__ import annotations

import math

import ganzoo

_NETWORKS = {"both": ("G", "D"), "G": ("G",), "D": ("D",)}


class LinearDecay(ganzoo.Schedule):
    """Learning rate linearly to 0 over the run, starting after a fraction ``start`` of it."""

    def __init__(self, start: float = 0.0, networks: str = "both"):
        if isinstance(start, bool) or not isinstance(start, (int, float)) or not 0.0 <= start < 1.0:
            raise ValueError(f"linear-decay start must be a fraction of the run in [0, 1), got {start!r}")
        if networks not in _NETWORKS:
            raise ValueError(f"linear-decay networks must be 'both', 'G' or 'D', got {networks!r}")
        self.start = float(start)
        self.networks = _NETWORKS[networks]

    def lr_scale(self, network: str, step: int, total_steps: int) -> float:
        if network not in self.networks:
            return 1.0
        total = max(int(total_steps), 1)
        s = math.floor(self.start * total)
        t = min(max(int(step) - 1, 0), total - 1)
        if t < s:
            return 1.0
        return 1.0 - (t - s) / (total - s)


class EMAWarmup(ganzoo.Schedule):
    """EMA decay ramped from 0 up to the recipe's decay (TensorFlow's num_updates rule, or StyleGAN2-ADA's ramp-up)."""

    def __init__(self, mode: str = "tf", rampup: float = 0.05):
        if mode not in ("tf", "rampup"):
            raise ValueError(f"ema-warmup mode must be 'tf' or 'rampup', got {mode!r}")
        if isinstance(rampup, bool) or not isinstance(rampup, (int, float)) or not rampup > 0:
            raise ValueError(f"ema-warmup rampup must be a positive number, got {rampup!r}")
        self.mode = mode
        self.rampup = float(rampup)

    def ema_decay(self, step: int, total_steps: int, decay: float) -> float:
        t = max(int(step) - 1, 0)
        if decay <= 0:
            return decay
        if self.mode == "tf":
            return min(decay, (1 + t) / (10 + t))
        half_life = math.log(0.5) / math.log(decay)  # in steps
        ramped = min(half_life, self.rampup * t)
        return 0.0 if ramped <= 0 else 0.5 ** (1.0 / ramped)


@ganzoo.hookimpl
def register_schedules(register):
    register("linear-decay", LinearDecay, "learning rate linearly to 0 over the run (SNGAN authors' code)")
    register("ema-warmup", EMAWarmup, "EMA decay min(decay, (1+t)/(10+t)) (TensorFlow), or StyleGAN2-ADA ramp-up")
