"""The frozen, fully resolved description of a model's training: what config.json stores and resume rebuilds from.

A recipe (from a plugin) plus the user's overrides are resolved once into a :class:`RunSpec`; after that nothing
reads the recipe again. Resuming uses the saved spec, so upgrading a plugin never changes a resumed run's
hyper-parameters, and a hand edit of a learning rate in config.json is applied (documented in docs/usage.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

from ganzoo.errors import GanzooError

UPDATES = ("alternating", "simultaneous")
GENERATOR_NOISE = ("reuse", "fresh")
NETWORKS = ("G", "D")


@dataclass(frozen=True)
class Component:
    """A registered name and the options its factory is called with."""

    name: str
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": _plain(self.options)}

    @classmethod
    def from_dict(cls, data: Any, what: str) -> Component:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str) \
                or not isinstance(data.get("options", {}), Mapping):
            raise GanzooError(f"config.json: {what} must be an object with a \"name\" and \"options\"; got {data!r}")
        return cls(data["name"], dict(data.get("options", {})))

    def label(self) -> str:
        if not self.options:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in self.options.items())


@dataclass(frozen=True)
class RunSpec:
    """Every hyper-parameter of a model's training, resolved. ``shape`` is one sample's shape."""

    model: str
    shape: tuple
    generator: Component
    discriminator: Component
    loss: Component
    latent_dim: int
    optimizer_g: Component  # options hold lr and betas
    optimizer_d: Component
    n_critic: int = 1
    batch_size: int = 64
    steps: int = 2000
    ema_decay: float = 0.0
    num_classes: Optional[int] = None
    regularizers: tuple = ()
    augment: Optional[Component] = None
    schedules: tuple = ()
    constraints: tuple = ()
    update: str = "alternating"
    generator_noise: str = "reuse"
    citation: str = ""

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    @property
    def lr_g(self) -> float:
        return float(self.optimizer_g.options["lr"])

    @property
    def lr_d(self) -> float:
        return float(self.optimizer_d.options["lr"])

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The numbers a run summary shows, derived from the spec (config.json stores them once, in "spec")."""
        return {"lr_g": self.lr_g, "lr_d": self.lr_d, "betas_g": self.optimizer_g.options.get("betas"),
                "betas_d": self.optimizer_d.options.get("betas"), "n_critic": self.n_critic,
                "batch_size": self.batch_size, "latent_dim": self.latent_dim, "ema_decay": self.ema_decay}

    def optimizer(self, network: str) -> Component:
        return self.optimizer_g if network == "G" else self.optimizer_d

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for key, value in asdict(self).items():
            value = getattr(self, key)
            if isinstance(value, Component):
                out[key] = value.to_dict()
            elif isinstance(value, tuple) and value and isinstance(value[0], Component):
                out[key] = [c.to_dict() for c in value]
            elif isinstance(value, tuple):
                out[key] = list(value)
            else:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> RunSpec:
        """Rebuild from config.json's "spec", checking every field's type (a hand edit gets a one-line error)."""
        if not isinstance(data, Mapping):
            raise GanzooError("config.json: \"spec\" must be an object; restore the file from the run's backup")
        try:
            spec = cls(
                model=_typed(data, "model", str),
                shape=tuple(_int_list(data, "shape")),
                generator=Component.from_dict(data.get("generator"), "spec.generator"),
                discriminator=Component.from_dict(data.get("discriminator"), "spec.discriminator"),
                loss=Component.from_dict(data.get("loss"), "spec.loss"),
                latent_dim=_typed(data, "latent_dim", int),
                optimizer_g=Component.from_dict(data.get("optimizer_g"), "spec.optimizer_g"),
                optimizer_d=Component.from_dict(data.get("optimizer_d"), "spec.optimizer_d"),
                n_critic=_typed(data, "n_critic", int),
                batch_size=_typed(data, "batch_size", int),
                steps=_typed(data, "steps", int),
                ema_decay=float(_typed(data, "ema_decay", (int, float))),
                num_classes=_typed(data, "num_classes", int, optional=True),
                regularizers=tuple(Component.from_dict(c, "spec.regularizers[]") for c in _list(data, "regularizers")),
                augment=(Component.from_dict(data["augment"], "spec.augment") if data.get("augment") else None),
                schedules=tuple(Component.from_dict(c, "spec.schedules[]") for c in _list(data, "schedules")),
                constraints=tuple(Component.from_dict(c, "spec.constraints[]") for c in _list(data, "constraints")),
                update=_typed(data, "update", str),
                generator_noise=_typed(data, "generator_noise", str),
                citation=str(data.get("citation", "")),
            )
        except KeyError as exc:
            raise GanzooError(f"config.json: spec.{exc.args[0]} is missing; restore the file") from None
        return spec.validate()

    def validate(self) -> RunSpec:
        """Values a plugin recipe, the CLI or a hand-edited config.json may get wrong, each with a one-line error."""
        for name in ("latent_dim", "n_critic", "batch_size", "steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise GanzooError(f"{name} must be a positive integer, got {value!r} (model {self.model!r})")
        if not 0.0 <= self.ema_decay < 1.0:
            raise GanzooError(f"ema_decay must be in [0, 1), got {self.ema_decay!r} (model {self.model!r})")
        if self.update not in UPDATES:
            raise GanzooError(f"update must be one of {', '.join(UPDATES)}, got {self.update!r} (model {self.model!r})")
        if self.generator_noise not in GENERATOR_NOISE:
            raise GanzooError(f"generator_noise must be one of {', '.join(GENERATOR_NOISE)}, got "
                              f"{self.generator_noise!r} (model {self.model!r})")
        if self.update == "simultaneous" and self.n_critic != 1:
            raise GanzooError(f"a simultaneous update takes both gradients on one batch: n_critic must be 1, got "
                              f"{self.n_critic} (model {self.model!r})")
        if self.num_classes is not None and (not isinstance(self.num_classes, int) or self.num_classes < 2):
            raise GanzooError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        for net in NETWORKS:
            options = self.optimizer(net).options
            lr = options.get("lr")
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
                raise GanzooError(f"the {net} learning rate must be a positive number, got {lr!r}")
            betas = options.get("betas")
            if betas is not None and not valid_betas(betas):
                raise GanzooError(f"the {net} optimiser's betas must be two numbers in [0, 1), got {betas!r}")
        return self

    def with_(self, **changes: Any) -> RunSpec:
        return replace(self, **changes).validate()


def valid_betas(value: Any) -> bool:
    """Two numbers in [0, 1) (Adam's beta1, beta2): the one check of the spec, TrainConfig and `--betas`."""
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in value))


def _typed(data: Mapping, key: str, kind: Any, optional: bool = False) -> Any:
    value = data[key] if not optional else data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise GanzooError(f"config.json: spec.{key} must be {names}, got {value!r}; restore the file")
    return value


def _int_list(data: Mapping, key: str) -> list[int]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise GanzooError(f"config.json: spec.{key} must be a list of positive integers, got {value!r}")
    return value


def _list(data: Mapping, key: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise GanzooError(f"config.json: spec.{key} must be a list, got {value!r}")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def parse_component(text: Any, what: str) -> Optional[Component]:
    """``NAME``, ``NAME:key=value,...`` (CLI), a mapping with "name" (recipes), or None/"none" for nothing."""
    if text is None:
        return None
    if isinstance(text, Component):
        return text
    if isinstance(text, Mapping):
        if not isinstance(text.get("name"), str):
            raise GanzooError(f"a {what} entry needs a \"name\": got {dict(text)!r}")
        return Component(text["name"], {k: v for k, v in text.items() if k != "name"})
    if not isinstance(text, str) or not text.strip():
        raise GanzooError(f"a {what} must be NAME or NAME:key=value,...; got {text!r}")
    name, _, rest = text.strip().partition(":")
    if name == "none":
        return None
    options: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GanzooError(f"{what} option {item!r} in {text!r} must be key=value, e.g. {name}:every=16")
        options[key.strip().replace("-", "_")] = _parse_value(value.strip())
    return Component(name, options)


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
