"""Describing a run: a recipe (or a mix of components) plus overrides resolved into the frozen RunSpec.

The one place defaults apply; nothing here builds a network (that is ganzoo.engine.assemble).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Optional

from ganzoo.contract.extensions import PHASES
from ganzoo.contract.types import Recipe, choose_component, data_kind
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, call_factory, get_registry
from ganzoo.spec.runspec import Component, RunSpec, parse_component

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
        missing = [n for n, v in (("--generator", generator), ("--discriminator", discriminator), ("--loss", loss))
                   if v is None]
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


def with_component_options(recipe: Recipe, shape: tuple[int, ...], registry: Optional[Registry] = None,
                           **given: Optional[list]) -> Recipe:
    """The recipe with ``key=value[,...]`` strings (``--generator-option channel_max=512``) set over its
    generator_options / discriminator_options / loss_options for data of `shape`. A key the component's factory
    does not take is a one-line error naming the ones it does (a recipe's own options may be optional tuning that a
    factory ignores; a user's typo must not be)."""
    registry = registry or get_registry()
    kinds = {"generator_options": "generator", "discriminator_options": "discriminator", "loss_options": "loss"}
    changes = {}
    for field_name, items in given.items():
        if not items:
            continue
        flag = f"--{field_name[:-1].replace('_', '-')}"
        parsed: dict[str, Any] = {}
        for item in items:
            parsed.update(parse_component(f"options:{item}", flag).options)
        kind = kinds[field_name]
        name = getattr(recipe, kind) if kind == "loss" else choose_component(getattr(recipe, kind), shape)
        accepted = _accepted_options(registry.get(kind, name).obj)
        unknown = sorted(set(parsed) - accepted) if accepted is not None else []
        if unknown:
            raise GanzooError(f"{flag} {', '.join(unknown)}: the {kind} {name!r} takes "
                              f"{', '.join(sorted(accepted)) or 'no options'}")
        changes[field_name] = {**_for_kind(getattr(recipe, field_name), data_kind(shape)), **parsed}
    return replace(recipe, **changes) if changes else recipe


def _accepted_options(factory: Any) -> Optional[set]:
    """The keyword options a factory takes (None: any, it has **kwargs or no readable signature)."""
    import inspect

    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in named and p.name not in ("self", "shape", "num_classes")}


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
    betas: Optional[Sequence[float]] = None,
    ema_decay: Optional[float] = None,
    extra_regularizers: tuple = (),
    drop_recipe_regularizers: bool = False,
    augment: Any = None,
    extra_schedules: tuple = (),
    extra_constraints: tuple = (),
) -> RunSpec:
    """Resolve a recipe plus overrides into the frozen RunSpec (the one place defaults are applied). ``betas`` replaces
    both networks' recipe betas; an optimiser without betas (RMSprop, SGD) refuses it in one line."""
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
        recipe_betas = _per_network(recipe.betas, net)
        if betas is not None and recipe_betas is None:
            raise GanzooError(f"--betas sets Adam's betas, but model {name!r}'s {net} optimiser "
                              f"({_per_network(recipe.optimizer, net) or 'adam'}) takes none; drop --betas")
        options.update(lr=float(lr))
        chosen = recipe_betas if betas is None else betas
        if chosen is not None:
            options["betas"] = [float(b) for b in chosen]
        optimizers[net] = Component(str(_per_network(recipe.optimizer, net) or "adam"), options)
    regularizers = [] if drop_recipe_regularizers else [parse_component(r, "regularizer") for r in recipe.regularizers]
    regularizers += [parse_component(r, "regularizer") for r in extra_regularizers]
    loss = Component(recipe.loss, _for_kind(recipe.loss_options, kind))
    legacy = _legacy_penalty(loss, registry)
    if legacy is not None and not any(r.name == "gp" for r in regularizers):
        regularizers.append(legacy)
    aug = (parse_component(augment, "augmentation") if augment is not None
           else parse_component(recipe.augment, "augmentation"))
    schedules = [parse_component(s, "schedule") for s in (*recipe.schedules, *extra_schedules)]
    constraints = [parse_component(c, "constraint") for c in (*recipe.constraints, *extra_constraints)]
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
