"""LeCam regularisation: Tseng, Jiang, Zhang, Yang & Yang 2021, "Regularizing Generative Adversarial Networks under
Limited Data" (CVPR).

D's scores are anchored to the moving averages of its own past scores on the *other* side:
``R_LC = E_x[(D(x) - alpha_F)^2] + E_z[(D(G(z)) - alpha_R)^2]`` (the paper's eq. 3), where alpha_R and alpha_F are
exponential moving averages (decay 0.99) of D's mean real and fake scores; the term is added to D's loss with
weight lambda. The authors' code (google/lecam-gan, ``lecam_reg``) squares only the part beyond the anchor,
``mean(relu(D(x) - alpha_F)^2) + mean(relu(alpha_R - D(G(z)))^2)``, which is this regulariser's default
(``one_sided=True``); ``one_sided=False`` is the paper's equation. As in the code, the anchors follow the current
means exactly (decay 0) for the first ``start`` steps and the term is added only after them, the anchors are updated
with this step's scores before the term is computed, and they are checkpointed (resume is exact).

Defaults are the code's BigGAN CIFAR-10 settings (``scripts/lc-biggan-cifar10.sh``: ``--LC 0.3``, ``--ema_start
1000``, decay 0.99). A regulariser for any model: ``--regularizer lecam:weight=0.3``.

The ``lecam`` model is the paper's main CIFAR-10 setting, BigGAN + LeCam: ganzoo's ``biggan`` recipe (see
plugins/biggan.py for how it follows BigGAN-PyTorch's CIFAR script) with ``lecam`` at weight 0.3; the script's
``--mirror_augment`` is ganzoo's ``--mirror``, left to the user as for every model.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

import ganzoo
from ganzoo_plugins.biggan import BIGGAN


class LeCam(ganzoo.Regularizer):
    """weight * (E[sq(D(x) - alpha_F)] + E[sq(alpha_R - D(G(z)))]), sq = relu(.)^2 (one-sided) or (.)^2."""

    phase = "D"

    def __init__(self, weight: float = 0.3, decay: float = 0.99, start: int = 1000, one_sided: bool = True):
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"lecam decay must be in [0, 1), got {decay!r}")
        if int(start) < 0:
            raise ValueError(f"lecam start must be a step count >= 0, got {start!r}")
        self.weight, self.decay, self.start = float(weight), float(decay), int(start)
        self.one_sided = bool(one_sided)
        self.ema_real: Optional[torch.Tensor] = None
        self.ema_fake: Optional[torch.Tensor] = None

    def update(self, step: int, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> None:
        """Move the anchors towards this step's mean scores (straight to them during the first `start` steps)."""
        real, fake = real_scores.detach().float().mean(), fake_scores.detach().float().mean()
        decay = self.decay if step >= self.start and self.ema_real is not None else 0.0
        if self.ema_real is None or decay == 0.0:
            self.ema_real, self.ema_fake = real, fake
        else:
            self.ema_real = torch.lerp(real, self.ema_real.to(real.device), decay)
            self.ema_fake = torch.lerp(fake, self.ema_fake.to(fake.device), decay)

    def penalty(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        above = real_scores - self.ema_fake.to(real_scores.device)
        below = self.ema_real.to(fake_scores.device) - fake_scores
        if self.one_sided:
            above, below = F.relu(above), F.relu(below)
        return above.pow(2).mean() + below.pow(2).mean()

    def __call__(self, ctx):
        self.update(ctx.step, ctx.real_scores, ctx.fake_scores)
        if ctx.step <= self.start:
            return ctx.real_scores.sum() * 0.0  # not yet: a zero term keeps the logged value and the graph simple
        return self.weight * self.penalty(ctx.real_scores, ctx.fake_scores)

    def state_dict(self) -> dict:
        return {"ema_real": self.ema_real, "ema_fake": self.ema_fake}

    def load_state_dict(self, state: dict) -> None:
        self.ema_real, self.ema_fake = state["ema_real"], state["ema_fake"]


@ganzoo.hookimpl
def register_regularizers(register):
    register("lecam", LeCam, "LeCam: D's scores anchored to EMAs of its past scores (Tseng et al. 2021)")


LECAM_BIGGAN = ganzoo.Recipe(**{
    **{f: getattr(BIGGAN, f) for f in BIGGAN.__dataclass_fields__},
    "regularizers": (*BIGGAN.regularizers, {"name": "lecam", "weight": 0.3, "decay": 0.99, "start": 1000}),
    "citation": "Tseng et al. 2021, Regularizing GANs under Limited Data (CVPR): BigGAN + LeCam regularisation "
                "(lambda 0.3, EMA anchors decay 0.99, from step 1000; the authors' lc-biggan-cifar10.sh).",
})


@ganzoo.hookimpl
def register_models(register):
    register("lecam", LECAM_BIGGAN, "BigGAN + LeCam regularisation (Tseng et al. 2021)")
