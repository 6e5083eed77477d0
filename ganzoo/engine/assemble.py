"""Assembly: a RunSpec into ready objects (networks, loss, extensions, optimisers) and the engine that steps them.

`build_engine` is THE assembly path: the trainer, benchmarks, the conformance kit, profiling and tests all call it,
so channels-last, class probabilities and seeds are derived in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ganzoo.contract.extensions import PHASES, Augmentation, Constraint, Regularizer, Schedule
from ganzoo.contract.types import GAN, Loss, Recipe
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, call_factory, get_registry
from ganzoo.spec.resolve import resolve_recipe, spec_from_recipe
from ganzoo.spec.runspec import RunSpec


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


@dataclass
class Extensions:
    """The instantiated extension components of a run, in recipe order."""

    regularizers: list  # (name, Regularizer)
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
        reg = call_factory("regularizer", comp.name, registry.get("regularizer", comp.name).obj, **options)
        _check(reg, Regularizer, "regularizer", comp.name)
        if getattr(reg, "phase", None) not in PHASES:
            raise GanzooError(f"regularizer {comp.name!r} has phase {reg.phase!r}; use 'D' or 'G'; fix its plugin")
        reg.every = every
        regs.append((comp.name, reg))
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
        raise GanzooError(f"{kind} {name!r} returned a {type(obj).__name__}, not a ganzoo.{cls.__name__}; fix its plugin")


def make_optimizer(spec: RunSpec, network: str, params: Any, registry: Optional[Registry] = None) -> torch.optim.Optimizer:
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
