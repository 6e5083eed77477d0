"""Turns a recipe (or a mix of components) into a resolved RunSpec, and a RunSpec into ready objects."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Optional

import torch
from torch import nn

from .components import GAN, Loss, Recipe, choose_component, data_kind
from .errors import GanzooError
from .extensions import PHASES, Augmentation, Constraint, Regularizer, Schedule
from .registry import Registry, get_registry
from .training.spec import Component, RunSpec, parse_component

#: Hyper-parameters used when no recipe is named (``ganzoo run --generator ... --discriminator ... --loss ...``):
#: those of Radford et al. 2015.
CUSTOM_RECIPE_DEFAULTS = dict(latent_dim=100, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1)


def resolve_recipe(
    model: Optional[str],
    *,
    generator: Optional[str] = None,
    discriminator: Optional[str] = None,
    loss: Optional[str] = None,
    registry: Optional[Registry] = None,
) -> tuple[str, Recipe]:
    """The recipe for `model`, with any component overridden; without a model all three components are needed."""
    registry = registry or get_registry()
    if model is not None:
        recipe = registry.get("model", model).obj
        if not isinstance(recipe, Recipe):
            raise GanzooError(f"model {model!r} is registered with a {type(recipe).__name__}, not a ganzoo.Recipe")
    else:
        missing = [n for n, v in (("--generator", generator), ("--discriminator", discriminator), ("--loss", loss)) if v is None]
        if missing:
            raise GanzooError(f"no model named; name one (see `ganzoo list models`) or give {', '.join(missing)}")
        recipe = Recipe(generator=generator, discriminator=discriminator, loss=loss, **CUSTOM_RECIPE_DEFAULTS)
    changes: dict[str, Any] = {}
    if generator is not None and generator != recipe.generator:
        changes.update(generator=generator, generator_options={})
    if discriminator is not None and discriminator != recipe.discriminator:
        changes.update(discriminator=discriminator, discriminator_options={})
    if loss is not None and loss != recipe.loss:
        changes.update(loss=loss, loss_options={})
    name = model or "custom"
    if changes and model is not None:
        name = f"{model}+custom"
    return name, replace(recipe, **changes)


def _for_kind(options: Any, kind: str) -> dict:
    """Options, or options keyed by data kind ({"image": {...}, "vector": {...}})."""
    options = dict(options or {})
    if options and set(options) <= {"image", "vector"} and all(isinstance(v, Mapping) for v in options.values()):
        return dict(options.get(kind, {}))
    return options


def _per_network(value: Any, network: str) -> Any:
    if isinstance(value, Mapping) and set(value) <= set(PHASES):
        return value.get(network)
    return value


def spec_from_recipe(
    name: str,
    recipe: Recipe,
    shape: tuple[int, ...],
    *,
    num_classes: Optional[int] = None,
    registry: Optional[Registry] = None,
    latent_dim: Optional[int] = None,
    steps: Optional[int] = None,
    batch_size: Optional[int] = None,
    n_critic: Optional[int] = None,
    lr_g: Optional[float] = None,
    lr_d: Optional[float] = None,
    ema_decay: Optional[float] = None,
    extra_regularizers: tuple = (),
    drop_recipe_regularizers: bool = False,
    augment: Any = None,
    extra_schedules: tuple = (),
) -> RunSpec:
    """Resolve a recipe plus overrides into the frozen RunSpec (the one place defaults are applied)."""
    registry = registry or get_registry()
    shape = tuple(int(s) for s in shape)
    kind = data_kind(shape)
    recipe = recipe.for_kind(kind)
    if recipe.conditional and num_classes is None:
        raise GanzooError(f"model {name!r} is class-conditional but the dataset has no labels; train it on a labelled "
                          f"dataset (digits, mnist, fashion-mnist, cifar10, or a folder with class sub-folders)")
    optimizers = {}
    for net, lr in (("G", lr_g or recipe.lr_g), ("D", lr_d or recipe.lr_d)):
        options = dict(_per_network(recipe.optimizer_options, net) or {})
        betas = _per_network(recipe.betas, net)
        options.update(lr=float(lr))
        if betas is not None:
            options["betas"] = [float(b) for b in betas]
        optimizers[net] = Component(str(_per_network(recipe.optimizer, net) or "adam"), options)
    regularizers = [] if drop_recipe_regularizers else [parse_component(r, "regularizer") for r in recipe.regularizers]
    regularizers += [parse_component(r, "regularizer") for r in extra_regularizers]
    loss = Component(recipe.loss, _for_kind(recipe.loss_options, kind))
    legacy = _legacy_penalty(loss, registry)
    if legacy is not None and not any(r.name == "gp" for r in regularizers):
        regularizers.append(legacy)
    aug = parse_component(augment, "augmentation") if augment is not None else parse_component(recipe.augment, "augmentation")
    schedules = [parse_component(s, "schedule") for s in (*recipe.schedules, *extra_schedules)]
    constraints = [parse_component(c, "constraint") for c in recipe.constraints]
    spec = RunSpec(
        model=name,
        shape=shape,
        generator=Component(choose_component(recipe.generator, shape), _for_kind(recipe.generator_options, kind)),
        discriminator=Component(choose_component(recipe.discriminator, shape),
                                _for_kind(recipe.discriminator_options, kind)),
        loss=loss,
        latent_dim=int(latent_dim or recipe.latent_dim),
        optimizer_g=optimizers["G"],
        optimizer_d=optimizers["D"],
        n_critic=int(n_critic or recipe.n_critic),
        batch_size=int(batch_size or recipe.batch_size),
        steps=int(steps or recipe.steps),
        ema_decay=float(recipe.ema_decay or 0.0) if ema_decay is None else float(ema_decay),
        num_classes=int(num_classes) if recipe.conditional else None,
        regularizers=tuple(r for r in regularizers if r is not None),
        augment=aug,
        schedules=tuple(s for s in schedules if s is not None),
        constraints=tuple(c for c in constraints if c is not None),
        update=recipe.update,
        generator_noise=recipe.generator_noise,
        citation=recipe.citation,
    )
    spec.validate()
    for comp_kind, comps in (("regularizer", spec.regularizers), ("schedule", spec.schedules),
                             ("constraint", spec.constraints), ("augmentation", [spec.augment] if spec.augment else []),
                             ("optimizer", [spec.optimizer_g, spec.optimizer_d])):
        for comp in comps:
            registry.get(comp_kind, comp.name)  # an unknown name fails now, with close-match suggestions
    return spec


def _legacy_penalty(loss: Component, registry: Registry) -> Optional[Component]:
    """A v0.1 loss asking for the interpolation penalty through ``gradient_penalty_weight`` gets the gp regulariser."""
    try:
        obj = call_factory("loss", loss.name, registry.get("loss", loss.name).obj, **loss.options)
    except GanzooError:
        raise
    weight = float(getattr(obj, "gradient_penalty_weight", 0.0) or 0.0)
    if weight <= 0:
        return None
    return Component("gp", {"weight": weight, "target": float(getattr(obj, "gradient_penalty_target", 1.0))})


def call_factory(kind: str, name: str, factory: Any, *args: Any, **options: Any) -> Any:
    """Call a plugin factory, passing only the options it accepts (so recipes may carry optional tuning)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    try:
        return factory(*args, **options)
    except GanzooError:
        raise
    except (ValueError, TypeError) as exc:
        raise GanzooError(f"{kind} {name!r} cannot be built for these settings: {exc}") from exc


_call_factory = call_factory  # v0.1 name


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
