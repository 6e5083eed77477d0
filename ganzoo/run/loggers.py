"""Loggers: where a run's numbers and sample grids go (metrics.jsonl always; TensorBoard, MLflow, ... as plugins).

A logger only receives what the trainer already holds at its log, sample and eval points (Python floats and a
finished sample picture), so adding loggers never adds a device sync to the training loop. Plugins register
factories with the ``register_loggers`` hook: ``factory(run_dir: Path, start_step: int = 0, **options) -> Logger``;
``start_step`` is the checkpoint step on resume (anything a logger wrote after it will be written again).
"""

from __future__ import annotations

import inspect
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

import numpy as np
import torch

from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, get_registry

#: always on: resume and `ganzoo report` read metrics.jsonl
DEFAULT_LOGGER = "jsonl"


class Logger:
    """Base class of loggers. Override what you need; every method may be called any number of times."""

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Once at the start of a fresh run: what config.json holds (for MLflow params, W&B config)."""

    def log_scalars(self, step: int, values: Mapping[str, Optional[float]]) -> None:
        """Numbers at a log point: ``loss_d``, ``loss_g``, ``img_per_s``, learning rates, regularisers (None = n/a)."""

    def log_images(self, step: int, tag: str, image: torch.Tensor) -> None:
        """A picture (C, H, W) or (H, W): uint8 in 0..255 or float in [0, 1] (see `as_uint8`)."""

    def log_eval(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Quality metrics (``ganzoo eval``'s dict); by default the numeric ones as ``eval/NAME`` scalars."""
        self.log_scalars(step, {f"eval/{k}": v for k, v in metrics.items() if is_number(v) and k != "step"})

    def close(self) -> None:
        """Flush and release files or connections; called once at the end of the run, also after an error."""


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def as_uint8(image: torch.Tensor) -> torch.Tensor:
    """(C, H, W) uint8 from a (C, H, W) or (H, W) uint8 image or float image in [0, 1] (clamped)."""
    image = torch.as_tensor(image).detach().cpu()
    if image.ndim == 2:
        image = image.unsqueeze(0)
    if image.ndim != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(f"images are (C, H, W) with C in 1, 3, 4 or (H, W); got shape {tuple(image.shape)}")
    if image.dtype == torch.uint8:
        return image
    return (image.float().clamp(0, 1) * 255).round().to(torch.uint8)


def picture_tensor(picture) -> torch.Tensor:
    """A PIL picture (the trainer's sample grid or scatter plot) as a (C, H, W) uint8 tensor."""
    array = np.asarray(picture.convert("RGB") if picture.mode not in ("L", "RGB") else picture)
    return torch.from_numpy(array.copy()).permute(2, 0, 1) if array.ndim == 3 else torch.from_numpy(array.copy())[None]


class LoggerSet(Logger):
    """Several loggers as one: the trainer calls this; one logger's failure at close does not skip the others."""

    def __init__(self, loggers: Iterable[Logger]):
        self.loggers = list(loggers)

    def log_config(self, config):
        for logger in self.loggers:
            logger.log_config(config)

    def log_scalars(self, step, values):
        for logger in self.loggers:
            logger.log_scalars(step, dict(values))

    def log_images(self, step, tag, image):
        image = as_uint8(image)
        for logger in self.loggers:
            logger.log_images(step, tag, image)

    def log_eval(self, step, metrics):
        for logger in self.loggers:
            logger.log_eval(step, dict(metrics))

    def close(self):
        errors = []
        for logger in self.loggers:
            try:
                logger.close()
            except Exception as exc:  # close them all, then report
                errors.append(f"{type(logger).__name__}: {exc}")
        if errors:
            raise GanzooError(f"loggers failed to close: {'; '.join(errors)}")


def parse_names(spec: Union[None, str, Iterable[str]]) -> list[str]:
    """`--logger tensorboard,mlflow` -> ["jsonl", "tensorboard", "mlflow"]: jsonl first and always, no repeats."""
    names = spec.split(",") if isinstance(spec, str) else list(spec or [])
    out = [DEFAULT_LOGGER]
    for name in (n.strip() for n in names):
        if name and name not in out:
            out.append(name)
    return out


def build_loggers(spec: Union[None, str, Iterable[str]], run_dir: Union[str, Path], *, start_step: int = 0,
                  registry: Optional[Registry] = None) -> LoggerSet:
    """The loggers named by `--logger` (jsonl always included) for this run folder, as one LoggerSet."""
    registry = registry or get_registry()
    loggers = []
    for name in parse_names(spec):
        factory = registry.get("logger", name).obj
        loggers.append(make_logger(name, factory, Path(run_dir), start_step))
    return LoggerSet(loggers)


def make_logger(name: str, factory: Callable[..., Logger], run_dir: Path, start_step: int = 0) -> Logger:
    """Call a logger factory with the keywords it accepts (a minimal one takes only run_dir)."""
    try:
        params = inspect.signature(factory).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):
        params, takes_all = {}, True
    kwargs = {k: v for k, v in (("start_step", start_step),) if takes_all or k in params}
    logger = factory(run_dir, **kwargs)
    if not isinstance(logger, Logger):
        raise GanzooError(f"logger {name!r} returned a {type(logger).__name__}, not a ganzoo.Logger; fix its plugin")
    return logger


def check_logger(factory: Callable[..., Logger], run_dir: Optional[Union[str, Path]] = None) -> Logger:
    """Conformance check for a logger plugin: it takes every kind of value the trainer sends, leaves the caller's
    dicts and tensors untouched, and closes cleanly. Returns the closed logger so a test can inspect what it wrote."""
    tmp = None
    if run_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ganzoo-logger-")
        run_dir = tmp.name
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        logger = make_logger("under test", factory, run_dir)
        logger.log_config({"model": "check", "train": {"steps": 2, "seed": 0}})
        values = {"loss_d": 1.25, "loss_g": 0.5, "img_per_s": None, "lr_g": 2e-4, "reg/r1": 0.01, "time": 1.7e9}
        kept = dict(values)
        images = [torch.zeros(3, 16, 24, dtype=torch.uint8), torch.full((1, 8, 8), 0.5), torch.rand(8, 8)]
        copies = [i.clone() for i in images]
        for step in (1, 2):
            logger.log_scalars(step, values)
            for i, image in enumerate(images):
                logger.log_images(step, f"samples/{i}", image)
        logger.log_eval(2, {"step": 2, "fid": 12.5, "feature_extractor": "classifier", "modes_captured": 8})
        logger.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    if values != kept:
        raise AssertionError(f"the logger changed the values dict it was given: {kept} -> {values}")
    if any(not torch.equal(a, b) for a, b in zip(images, copies)):
        raise AssertionError("the logger changed an image tensor it was given")
    return logger
