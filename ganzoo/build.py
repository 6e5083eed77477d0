"""Turns a recipe name (or a mix of component names) into a ready GAN."""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any, Optional

from torch import nn

from .components import GAN, Loss, Recipe, choose_component
from .errors import GanzooError
from .registry import Registry, get_registry

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


def _call_factory(kind: str, name: str, factory: Any, *args: Any, **options: Any) -> Any:
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


def build(
    model: Optional[str] = None,
    image_shape: tuple[int, ...] = (1, 8, 8),
    *,
    generator: Optional[str] = None,
    discriminator: Optional[str] = None,
    loss: Optional[str] = None,
    latent_dim: Optional[int] = None,
    registry: Optional[Registry] = None,
) -> GAN:
    """Build the networks and loss of a registered model (or a mix of components) for samples of `image_shape`.

    ``build(name, image_shape=(1, 8, 8)).generator(torch.randn(4, gan.latent_dim))`` has shape (4, 1, 8, 8).
    """
    registry = registry or get_registry()
    shape = tuple(int(s) for s in image_shape)
    name, recipe = resolve_recipe(model, generator=generator, discriminator=discriminator, loss=loss, registry=registry)
    if latent_dim is not None:
        recipe = replace(recipe, latent_dim=int(latent_dim))
    g_name = choose_component(recipe.generator, shape)
    d_name = choose_component(recipe.discriminator, shape)
    g_factory = registry.get("generator", g_name).obj
    d_factory = registry.get("discriminator", d_name).obj
    l_factory = registry.get("loss", recipe.loss).obj
    g = _call_factory("generator", g_name, g_factory, shape, recipe.latent_dim, **dict(recipe.generator_options))
    d = _call_factory("discriminator", d_name, d_factory, shape, **dict(recipe.discriminator_options))
    loss_obj = _call_factory("loss", recipe.loss, l_factory, **dict(recipe.loss_options))
    for kind, comp_name, obj, cls in (("generator", g_name, g, nn.Module), ("discriminator", d_name, d, nn.Module), ("loss", recipe.loss, loss_obj, Loss)):
        if not isinstance(obj, cls):
            raise GanzooError(f"{kind} {comp_name!r} returned a {type(obj).__name__}, not a {cls.__module__}.{cls.__name__}; fix its plugin")
    return GAN(
        name=name,
        generator=g,
        discriminator=d,
        loss=loss_obj,
        latent_dim=recipe.latent_dim,
        shape=shape,
        recipe=recipe,
        components={"generator": g_name, "discriminator": d_name, "loss": recipe.loss},
    )


def list_models(registry: Optional[Registry] = None) -> list[str]:
    """Names of every registered model recipe."""
    return (registry or get_registry()).names("model")
