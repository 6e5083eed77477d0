"""The plugin contract: every hook ganzoo calls. Each takes a `register` callback and returns nothing.

A plugin module implements any subset of these with the `ganzoo.hookimpl` marker and is listed in its
distribution's `ganzoo` entry-point group. See docs/plugins.md for the full contract.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")


@hookspec
def register_generators(register):
    """Register generator factories: ``register(name, factory, description="")``.

    ``factory(shape, latent_dim, **options) -> torch.nn.Module`` maps ``(N, latent_dim)`` noise to ``(N, *shape)``
    samples; images (3-D shapes) in [-1, 1].
    """


@hookspec
def register_discriminators(register):
    """Register discriminator factories: ``register(name, factory, description="")``.

    ``factory(shape, **options) -> torch.nn.Module`` maps ``(N, *shape)`` samples to ``(N,)`` or ``(N, 1)`` scores.
    """


@hookspec
def register_losses(register):
    """Register loss factories: ``register(name, factory, description="")``; ``factory(**options) -> ganzoo.Loss``."""


@hookspec
def register_models(register):
    """Register named recipes: ``register(name, recipe, description="")`` with a ``ganzoo.Recipe``."""


@hookspec
def register_datasets(register):
    """Register dataset loaders: ``register(name, loader, description="")``.

    ``loader(request: ganzoo.DatasetRequest) -> ganzoo.Dataset``. A name used as ``name:ARG`` on the command line
    passes ``ARG`` as ``request.argument`` (``folder:PATH``).
    """


@hookspec
def register_feature_extractors(register):
    """Register feature extractors for image metrics: ``register(name, factory, description="")``.

    ``factory(dataset: ganzoo.Dataset, *, device, weights=None) -> ganzoo.metrics.FeatureExtractor``; raise
    ``ganzoo.metrics.ExtractorUnavailable`` with the reason when it cannot be built here (missing weights).
    """


@hookspec
def register_loggers(register):
    """Register logger factories: ``register(name, factory, description="")``.

    ``factory(run_dir: Path, start_step: int = 0, **options) -> ganzoo.Logger``; chosen with ``--logger NAME[,NAME]``
    (``jsonl`` is always on). Loggers get what the trainer already read at its log, sample and eval points.
    """
