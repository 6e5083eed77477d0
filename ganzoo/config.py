"""Everything that defines a training run, validated up front so a bad value fails before any work is done."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

from .errors import GanzooError
from .precision import PRECISIONS


@dataclass
class TrainConfig:
    """A run's settings. ``None`` means "the recipe's default"; the resolved values land in config.json."""

    model: Optional[str] = None
    generator: Optional[str] = None
    discriminator: Optional[str] = None
    loss: Optional[str] = None
    dataset: str = "digits"
    data_dir: Optional[str] = None
    image_size: Optional[int] = None
    steps: Optional[int] = None
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    n_critic: Optional[int] = None
    latent_dim: Optional[int] = None
    ema_decay: Optional[float] = None
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    channels_last: str = "auto"
    compile: bool = False
    sync_bn: bool = False
    out: Optional[str] = None
    sample_every: Optional[int] = None
    log_every: int = 50
    checkpoint_every: Optional[int] = None
    on_nan: str = "stop"
    eval_every: Optional[int] = None
    eval_samples: Optional[int] = None
    feature_extractor: Optional[str] = None
    inception_weights: Optional[str] = None

    def validate(self) -> "TrainConfig":
        positive_ints = ("image_size", "steps", "batch_size", "n_critic", "latent_dim", "sample_every", "log_every",
                         "checkpoint_every", "eval_every", "eval_samples")
        for name in positive_ints:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise GanzooError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.lr is not None and (not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or self.lr <= 0):
            raise GanzooError(f"--lr must be a positive number, got {self.lr!r}")
        if self.ema_decay is not None and not (0.0 <= self.ema_decay < 1.0):
            raise GanzooError(f"--ema must be in [0, 1) (0 turns it off), got {self.ema_decay!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**63:
            raise GanzooError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if self.precision not in ("auto", *PRECISIONS):
            raise GanzooError(f"unknown precision {self.precision!r}; use one of auto, {', '.join(PRECISIONS)}")
        if self.channels_last not in ("auto", "on", "off"):
            raise GanzooError(f"--channels-last must be auto, on or off, got {self.channels_last!r}")
        if self.on_nan not in ("stop", "skip"):
            raise GanzooError(f"--on-nan must be stop or skip, got {self.on_nan!r}")
        if self.image_size is not None and self.image_size > 1024:
            raise GanzooError(f"--image-size {self.image_size} is too large; use at most 1024")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
