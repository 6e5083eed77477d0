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
def register_regularizers(register):
    """Register regulariser factories: ``register(name, factory, description="")``.

    ``factory(**options) -> ganzoo.Regularizer``; the option ``every`` (lazy regularisation) is handled by the
    trainer and never reaches the factory. The regulariser returns its weighted term from ``__call__(ctx)``.
    """


@hookspec
def register_augmentations(register):
    """Register augmentation factories: ``register(name, factory, description="")``.

    ``factory(shape, **options) -> ganzoo.Augmentation`` (an ``nn.Module`` applied to every D input).
    """


@hookspec
def register_schedules(register):
    """Register schedule factories: ``register(name, factory, description="")``;
    ``factory(**options) -> ganzoo.Schedule``."""


@hookspec
def register_constraints(register):
    """Register weight-constraint factories: ``register(name, factory, description="")``.

    ``factory(**options) -> ganzoo.Constraint``, applied to its phase's network after each optimiser step.
    """


@hookspec
def register_optimizers(register):
    """Register optimiser factories: ``register(name, factory, description="")``.

    ``factory(params, *, lr, betas=None, **options) -> torch.optim.Optimizer``; recipes pick one per network.
    """


@hookspec
def register_loggers(register):
    """Register logger factories: ``register(name, factory, description="")``.

    ``factory(run_dir: Path, start_step: int = 0, **options) -> ganzoo.Logger``; chosen with ``--logger NAME[,NAME]``
    (``jsonl`` is always on). Loggers get what the trainer already read at its log, sample and eval points.
    """


@hookspec
def register_suites(register):
    """Register benchmark suites: ``register(name, suite, description="")``.

    ``suite`` is a path to a suite TOML file, or the parsed dict of one (see ganzoo.suite.spec and docs/suites.md);
    ``ganzoo suite run NAME --out DIR`` runs it, ``ganzoo suite list`` shows it.
    """
