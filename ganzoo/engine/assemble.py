"""Assembly: a RunSpec into ready objects (networks, loss, extensions, optimisers) and the engine that steps them.

`build_engine` is THE assembly path: the trainer, benchmarks, the conformance kit, profiling and tests all call it,
so channels-last, class probabilities and seeds are derived in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Union

import torch
from torch import nn

from ganzoo.contract.extensions import PHASES, Augmentation, Constraint, Regularizer, Schedule
from ganzoo.contract.types import GAN, Loss, Recipe, takes_labels
from ganzoo.engine.precision import Precision, resolve_precision
from ganzoo.engine.update import AdversarialUpdate
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, call_factory, get_registry
from ganzoo.spec.resolve import resolve_recipe, spec_from_recipe
from ganzoo.spec.runspec import RunSpec
from ganzoo.spec.seeds import Seeds


def build_gan(spec: RunSpec, registry: Optional[Registry] = None,
              class_probs: Optional[torch.Tensor] = None) -> GAN:
    """The networks and loss a RunSpec describes (conditional factories get ``num_classes``)."""
    registry = registry or get_registry()
    extra = {"num_classes": spec.num_classes} if spec.conditional else {}
    g = call_factory("generator", spec.generator.name, registry.get("generator", spec.generator.name).obj,
                     spec.shape, spec.latent_dim, **extra, **spec.generator.options)
    d = call_factory("discriminator", spec.discriminator.name,
                     registry.get("discriminator", spec.discriminator.name).obj, spec.shape, **extra,
                     **spec.discriminator.options)
    loss_obj = call_factory("loss", spec.loss.name, registry.get("loss", spec.loss.name).obj, **spec.loss.options)
    for kind, comp_name, obj, cls in (("generator", spec.generator.name, g, nn.Module),
                                      ("discriminator", spec.discriminator.name, d, nn.Module),
                                      ("loss", spec.loss.name, loss_obj, Loss)):
        if not isinstance(obj, cls):
            raise GanzooError(f"{kind} {comp_name!r} returned a {type(obj).__name__}, not a {cls.__module__}."
                              f"{cls.__name__}; fix its plugin")
    recipe_like = recipe_view(spec)
    return GAN(
        name=spec.model,
        generator=g,
        discriminator=d,
        loss=loss_obj,
        latent_dim=spec.latent_dim,
        shape=tuple(spec.shape),
        recipe=recipe_like,
        components={"generator": spec.generator.name, "discriminator": spec.discriminator.name,
                    "loss": spec.loss.name},
        num_classes=spec.num_classes,
        class_probs=class_probs,
    )


def _check_conditioning(spec: RunSpec, g: nn.Module, d: nn.Module) -> None:
    """A class-conditional network in an unconditional run (or the reverse) cannot train: say so before step 1.
    (Building or loading such a mix for inspection, ``ganzoo.build``/``ganzoo.load``, stays allowed.)"""
    for kind, name, net in (("generator", spec.generator.name, g), ("discriminator", spec.discriminator.name, d)):
        if not spec.conditional and takes_labels(net, required=True):
            raise GanzooError(f"{kind} {name!r} is class-conditional (its forward takes labels) but {spec.model!r} is "
                              f"not a conditional model; use a conditional model (see `ganzoo list models`) "
                              f"or an unconditional {kind}")
        if spec.conditional and kind == "generator" and not takes_labels(net):
            raise GanzooError(f"{kind} {name!r} takes no labels but {spec.model!r} is class-conditional; use a "
                              f"conditional {kind} (see `ganzoo list {kind}s`) or an unconditional model")


def recipe_view(spec: RunSpec) -> Recipe:
    """The resolved values as a Recipe, for code that reads ``gan.recipe`` (betas: one pair when G and D share it)."""
    betas_g = tuple(spec.optimizer_g.options.get("betas") or (0.9, 0.999))
    betas_d = tuple(spec.optimizer_d.options.get("betas") or (0.9, 0.999))
    return Recipe(
        generator=spec.generator.name, discriminator=spec.discriminator.name, loss=spec.loss.name,
        latent_dim=spec.latent_dim, lr_g=spec.lr_g, lr_d=spec.lr_d,
        betas=betas_g if betas_g == betas_d else {"G": betas_g, "D": betas_d},
        n_critic=spec.n_critic, batch_size=spec.batch_size, steps=spec.steps, ema_decay=spec.ema_decay or None,
        generator_options=dict(spec.generator.options), discriminator_options=dict(spec.discriminator.options),
        loss_options=dict(spec.loss.options), citation=spec.citation,
        optimizer={"G": spec.optimizer_g.name, "D": spec.optimizer_d.name},
        regularizers=tuple(r.to_dict() for r in spec.regularizers),
        augment=spec.augment.to_dict() if spec.augment is not None else None,
        schedules=tuple(s.to_dict() for s in spec.schedules),
        constraints=tuple(c.to_dict() for c in spec.constraints),
        conditional=spec.conditional, update=spec.update, generator_noise=spec.generator_noise,
    )


class RegEntry(NamedTuple):
    """A regulariser as the engine runs it. `every` k runs it lazily, on steps k, 2k, ... with its term x k; `separate`
    gives it its own backward and optimiser step after the player's main one (StyleGAN2's Dreg/Greg phases) instead
    of adding it to the main objective."""

    name: str
    reg: Any
    every: int = 1
    separate: bool = False


@dataclass
class Extensions:
    """The instantiated extension components of a run, in recipe order."""

    regularizers: list  # RegEntry
    augment: Optional[Augmentation]
    schedules: list
    constraints: list


def build_extensions(spec: RunSpec, registry: Optional[Registry] = None) -> Extensions:
    registry = registry or get_registry()
    regs = []
    for comp in spec.regularizers:
        options = dict(comp.options)
        every = options.pop("every", 1)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise GanzooError(f"regularizer {comp.name!r}: every must be a positive integer, got {every!r}")
        separate = options.pop("separate", False)
        if not isinstance(separate, bool):
            raise GanzooError(f"regularizer {comp.name!r}: separate must be true or false, got {separate!r}")
        reg = call_factory("regularizer", comp.name, registry.get("regularizer", comp.name).obj, **options)
        _check(reg, Regularizer, "regularizer", comp.name)
        if getattr(reg, "phase", None) not in PHASES:
            raise GanzooError(f"regularizer {comp.name!r} has phase {reg.phase!r}; use 'D' or 'G'; fix its plugin")
        regs.append(RegEntry(comp.name, reg, every, separate))
    augment = None
    if spec.augment is not None:
        augment = call_factory("augmentation", spec.augment.name, registry.get("augmentation", spec.augment.name).obj,
                               tuple(spec.shape), **spec.augment.options)
        _check(augment, Augmentation, "augmentation", spec.augment.name)
    schedules = []
    for comp in spec.schedules:
        sched = call_factory("schedule", comp.name, registry.get("schedule", comp.name).obj, **comp.options)
        _check(sched, Schedule, "schedule", comp.name)
        schedules.append((comp.name, sched))
    constraints = []
    for comp in spec.constraints:
        con = call_factory("constraint", comp.name, registry.get("constraint", comp.name).obj, **comp.options)
        _check(con, Constraint, "constraint", comp.name)
        if getattr(con, "phase", None) not in PHASES:
            raise GanzooError(f"constraint {comp.name!r} has phase {con.phase!r}; use 'D' or 'G'; fix its plugin")
        constraints.append((comp.name, con))
    return Extensions(regs, augment, schedules, constraints)


def _check(obj: Any, cls: type, kind: str, name: str) -> None:
    if not isinstance(obj, cls):
        raise GanzooError(f"{kind} {name!r} returned a {type(obj).__name__}, "
                          f"not a ganzoo.{cls.__name__}; fix its plugin")


def make_optimizer(spec: RunSpec, network: str, params: Any,
                   registry: Optional[Registry] = None) -> torch.optim.Optimizer:
    """The optimiser the spec names for `network` ("G" or "D"), with its lr, betas and options."""
    registry = registry or get_registry()
    comp = spec.optimizer(network)
    options = dict(comp.options)
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    opt = call_factory("optimizer", comp.name, registry.get("optimizer", comp.name).obj, list(params), **options)
    if not isinstance(opt, torch.optim.Optimizer):
        raise GanzooError(f"optimizer {comp.name!r} returned a {type(opt).__name__}, not a torch.optim.Optimizer")
    return opt


def has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d)) for m in module.modules())


def use_channels_last(setting: str, shape: tuple[int, ...], gan: GAN) -> bool:
    """``--channels-last``: on, off, or auto (on for image models with convolutions)."""
    if setting not in ("auto", "on", "off"):
        raise GanzooError(f"--channels-last must be auto, on or off, got {setting!r}")
    if len(shape) != 3:
        return False
    return setting == "on" or (setting == "auto" and (has_conv(gan.generator) or has_conv(gan.discriminator)))


def build_engine(spec: RunSpec, *, registry: Optional[Registry] = None, device: Any = "cpu",
                 precision: Union[str, Precision] = "fp32", seed: int = 0, channels_last: str = "auto",
                 class_probs: Optional[torch.Tensor] = None, compile: bool = False, dist: Any = None,
                 on_nan: str = "stop", sync_bn: bool = False) -> AdversarialUpdate:
    """THE assembly path: a RunSpec into the engine that steps it (networks initialised from `seed`, on `device`
    in `precision`, optimisers, EMA, extensions). Conditional runs draw fake labels from `class_probs` (the data's
    label distribution; uniform when not given). The trainer, benchmarks, profiling, the conformance kit and the
    tests all build through here, so a new spec field is threaded once."""
    registry = registry or get_registry()
    device = torch.device(device)
    if not isinstance(precision, Precision):
        precision = Precision(device, resolve_precision(precision, device))
    seeds = Seeds(seed)
    if spec.conditional and class_probs is None:
        class_probs = torch.full((spec.num_classes,), 1.0 / spec.num_classes)
    torch.manual_seed(seeds.init)
    gan = build_gan(spec, registry, class_probs=class_probs if spec.conditional else None)
    _check_conditioning(spec, gan.generator, gan.discriminator)
    extensions = build_extensions(spec, registry)
    cl = use_channels_last(channels_last, tuple(spec.shape), gan)
    memory_format = torch.channels_last if cl else torch.contiguous_format
    gan.generator.to(device, memory_format=memory_format).train()
    gan.discriminator.to(device, memory_format=memory_format).train()
    if gan.class_probs is not None:
        gan.class_probs = gan.class_probs.to(device)
    if extensions.augment is not None:
        extensions.augment = extensions.augment.to(device)
    optimizers = {"G": make_optimizer(spec, "G", gan.generator.parameters(), registry),
                  "D": make_optimizer(spec, "D", gan.discriminator.parameters(), registry)}
    return AdversarialUpdate(spec, gan, extensions, optimizers, device=device, precision=precision,
                             noise_seed=seeds.noise, channels_last=cl, on_nan=on_nan, dist=dist, compile=compile,
                             sync_bn=sync_bn)


def build_update(model: str, shape: tuple[int, ...], *, precision: str = "fp32", device: Any = "cpu",
                 batch_size: Optional[int] = None, seed: int = 0, channels_last: str = "auto", compile: bool = False,
                 num_classes: Optional[int] = None, registry: Optional[Registry] = None,
                 **spec_overrides: Any) -> AdversarialUpdate:
    """A registered model's engine for samples of `shape`, with no run folder, sampler or logging (benchmarks,
    profiling, tests): ``engine.step(i, total, next_batch)`` with ``next_batch() -> (x, labels or None)``."""
    registry = registry or get_registry()
    name, recipe = resolve_recipe(model, registry=registry)
    spec = spec_from_recipe(name, recipe, shape, num_classes=num_classes, registry=registry, batch_size=batch_size,
                            **spec_overrides)
    return build_engine(spec, registry=registry, device=device, precision=precision, seed=seed,
                        channels_last=channels_last, compile=compile)


def build(
    model: Optional[str] = None,
    image_shape: tuple[int, ...] = (1, 8, 8),
    *,
    generator: Optional[str] = None,
    discriminator: Optional[str] = None,
    loss: Optional[str] = None,
    latent_dim: Optional[int] = None,
    num_classes: Optional[int] = None,
    registry: Optional[Registry] = None,
) -> GAN:
    """Build the networks and loss of a registered model (or a mix of components) for samples of `image_shape`.

    ``build(name, image_shape=(1, 8, 8)).generator(torch.randn(4, gan.latent_dim))`` has shape (4, 1, 8, 8).
    Conditional models need ``num_classes``.
    """
    registry = registry or get_registry()
    name, recipe = resolve_recipe(model, generator=generator, discriminator=discriminator, loss=loss, registry=registry)
    spec = spec_from_recipe(name, recipe, image_shape, num_classes=num_classes, registry=registry,
                            latent_dim=latent_dim)
    return build_gan(spec, registry)


def list_models(registry: Optional[Registry] = None) -> list[str]:
    """Names of every registered model recipe."""
    return (registry or get_registry()).names("model")
