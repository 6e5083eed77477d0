"""The v0.1 module paths, kept for one release: ``import ganzoo.trainer`` still works, warns, and gives the module
that now lives at ``ganzoo.run.trainer`` (the same module object, so attributes and monkeypatches agree).

Removal: ganzoo 0.3. Every moved path is listed here and nowhere else; import from ganzoo, ganzoo.api (the declared
plugin API) or the new paths instead.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

REMOVAL = "0.3"

#: old module -> the module it moved to (docs/architecture.md shows the layers)
MOVED = {
    "ganzoo.components": "ganzoo.contract.types",
    "ganzoo.extensions": "ganzoo.contract.extensions",
    "ganzoo.hookspecs": "ganzoo.contract.hookspecs",
    "ganzoo.config": "ganzoo.spec.config",
    "ganzoo.training": "ganzoo.engine",
    "ganzoo.training.spec": "ganzoo.spec.runspec",
    "ganzoo.training.update": "ganzoo.engine.update",
    "ganzoo.build": "ganzoo.engine.assemble",
    "ganzoo.precision": "ganzoo.engine.precision",
    "ganzoo.distributed": "ganzoo.engine.distributed",
    "ganzoo.ema": "ganzoo.engine.ema",
    "ganzoo.prepare": "ganzoo.data.prepared",
    "ganzoo.sampler": "ganzoo.data.samplers",
    "ganzoo.download": "ganzoo.data.download",
    "ganzoo.runfolder": "ganzoo.store.folder",
    "ganzoo.lock": "ganzoo.store.lock",
    "ganzoo.checkpoint": "ganzoo.store.checkpoint",
    "ganzoo.images": "ganzoo.store.images",
    "ganzoo.loggers": "ganzoo.run.loggers",
    "ganzoo.progress": "ganzoo.run.progress",
    "ganzoo.trainer": "ganzoo.run.trainer",
    "ganzoo.load": "ganzoo.use.load",
    "ganzoo.sampling": "ganzoo.use.sampling",
    "ganzoo.export": "ganzoo.use.export",
    "ganzoo.evaluate": "ganzoo.use.evaluate",
    "ganzoo.bench": "ganzoo.tools.bench",
    "ganzoo.report": "ganzoo.tools.report",
    "ganzoo.svgplot": "ganzoo.tools.svgplot",
    "ganzoo.scaffold": "ganzoo.tools.scaffold",
}


#: names an old module had that now live elsewhere: old module -> {name: (new module, new name)}
MOVED_NAMES = {
    "ganzoo.trainer": {name: ("ganzoo.run.session", name)
                       for name in ("train", "resume", "continue_run", "CONTINUATION_OVERRIDES")}
                      | {"make_run_sampler": ("ganzoo.data", "make_sampler")},
    "ganzoo.training.update": {"build_update": ("ganzoo.engine.assemble", "build_update"),
                               "has_conv": ("ganzoo.engine.assemble", "has_conv"),
                               "accepts_ctx": ("ganzoo.contract.types", "_accepts_ctx")},
    "ganzoo.build": {name: ("ganzoo.spec.resolve", name)
                     for name in ("resolve_recipe", "spec_from_recipe", "CUSTOM_RECIPE_DEFAULTS")}
                    | {"call_factory": ("ganzoo.registry", "call_factory"),
                       "_call_factory": ("ganzoo.registry", "call_factory"),
                       "parse_component": ("ganzoo.spec.runspec", "parse_component"),
                       "choose_component": ("ganzoo.contract.types", "choose_component"),
                       "data_kind": ("ganzoo.contract.types", "data_kind")},
    "ganzoo.evaluate": {name: ("ganzoo.metrics.evaluate", name)
                        for name in ("DEFAULT_EXTRACTORS", "CPU_DEFAULT_EXTRACTORS", "MIN_IMAGE_SAMPLES",
                                     "MIN_REAL_IMAGES")}
                       | {"EVAL_SEED_OFFSET": ("ganzoo.spec.seeds", "EVAL_SEED_OFFSET")},
}


def _forwarder(module, names: dict):
    """A module-level ``__getattr__`` that serves the names an old path had and the new module does not."""
    def __getattr__(name: str):
        if name in names:
            home, attr = names[name]
            return getattr(importlib.import_module(home), attr)
        raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
    return __getattr__


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str, names: dict):
        self.target, self.names = target, names

    def create_module(self, spec):
        return None  # a placeholder; exec_module puts the real module in its place

    def exec_module(self, module):
        # importlib returns whatever sys.modules holds under the name after exec_module: the moved module itself
        target = importlib.import_module(self.target)
        if self.names and "__getattr__" not in vars(target):
            target.__getattr__ = _forwarder(target, self.names)
        sys.modules[module.__name__] = target


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Resolves a v0.1 path to its new module, with a DeprecationWarning naming the new path."""

    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        # stacklevel 2: warnings skips importlib's own frames, so this names the line that imported the old path
        warnings.warn(f"{fullname} moved to {new}; the old path goes in ganzoo {REMOVAL}", DeprecationWarning,
                      stacklevel=2)
        return importlib.util.spec_from_loader(fullname, _Alias(new, MOVED_NAMES.get(fullname, {})))


class _Package(types.ModuleType):
    """ganzoo's own module type: importing the old module ``ganzoo.build`` (or ``ganzoo.evaluate``) would
    otherwise replace the public function ``ganzoo.build`` by the module (importlib sets the attribute)."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and f"{self.__name__}.{name}" in MOVED and name in self.__dict__:
            return
        super().__setattr__(name, value)


def install(package: types.ModuleType) -> None:
    package.__class__ = _Package
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        # first: after the path finder, `ganzoo.training.update` would be found again as ganzoo/engine/update.py
        # (ganzoo.training is ganzoo.engine) and run a second time as another module
        sys.meta_path.insert(0, MovedModuleFinder())
