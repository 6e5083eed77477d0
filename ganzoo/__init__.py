"""ganzoo: a plugin-based GAN zoo with one shared trainer and honest benchmarks.

Public API (see docs/api.md):

- ``hookimpl``: marker for plugin hook implementations (see docs/plugins.md)
- ``Loss``, ``Recipe``, ``Dataset``, ``DatasetRequest``, ``GAN``: the plugin contract's value types
- ``StepContext``, ``Regularizer``, ``Augmentation``, ``Schedule``, ``Constraint``: contract v2 extension points
- ``RunSpec``: the frozen, resolved description of a run (config.json's "spec"); ``AdversarialUpdate``: one step
- ``build(model, image_shape)``, ``list_models()``, ``train(...)``, ``resume(run_dir)``, ``TrainConfig``
- ``get_registry()``: everything the loaded plugins registered
"""

import sys

from ganzoo import compat as _compat
from ganzoo.version import __version__  # noqa: F401

_compat.install(sys.modules[__name__])  # the v0.1 module paths, until ganzoo 0.3

from ganzoo.contract.extensions import Augmentation, Constraint, Regularizer, Schedule, StepContext  # noqa: E402
from ganzoo.contract.hookspecs import hookimpl  # noqa: E402
from ganzoo.contract.types import GAN, Dataset, DatasetRequest, Loss, Recipe  # noqa: E402
from ganzoo.data import load_dataset  # noqa: E402
from ganzoo.engine.assemble import build, list_models  # noqa: E402
from ganzoo.engine.update import AdversarialUpdate  # noqa: E402
from ganzoo.errors import GanzooError  # noqa: E402
from ganzoo.registry import get_registry, reset_registry  # noqa: E402
from ganzoo.run.loggers import Logger  # noqa: E402
from ganzoo.spec.config import TrainConfig  # noqa: E402
from ganzoo.spec.runspec import Component, RunSpec  # noqa: E402
from ganzoo.use.load import load  # noqa: E402  (the function; the module stays importable as `from ganzoo.use.load import ...`)

__all__ = [
    "GAN", "Dataset", "DatasetRequest", "GanzooError", "Loss", "Recipe", "TrainConfig", "TrainResult", "Trainer",
    "build", "get_registry", "hookimpl", "list_models", "load_dataset", "reset_registry", "resume", "train",
]
__all__ += ["Logger", "load", "continue_run"]
#: the run loop is imported on first use (``ganzoo.train``, ``from ganzoo import Trainer``), so ``import ganzoo``
#: for building, loading or sampling never pulls in the trainer
_LAZY = {"train": "run.session", "resume": "run.session", "continue_run": "run.session", "Trainer": "run.trainer",
         "TrainResult": "run.trainer"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ += ["AdversarialUpdate", "Augmentation", "Component", "Constraint", "Regularizer", "RunSpec", "Schedule",
            "StepContext"]
