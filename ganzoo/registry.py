"""Discovers plugins from the `ganzoo` entry-point group and records what each registered.

Plugins are loaded once, on first use (never at import time). Each plugin's hooks are called on their own, so
one that fails to import, raises in a hook, or registers a taken name is reported and the rest keep working.
`GANZOO_PLUGINS` selects plugins for reproducible runs: unset loads all; empty loads none; a comma-separated
list loads only the entry points or distributions it names.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pluggy

from ganzoo.contract import hookspecs
from ganzoo.errors import GanzooError, UnknownNameError, describe_memory_error

ENTRY_POINT_GROUP = "ganzoo"
ENV_VAR = "GANZOO_PLUGINS"

#: registry kind -> the hook that fills it
KINDS = {
    "generator": "register_generators",
    "discriminator": "register_discriminators",
    "loss": "register_losses",
    "model": "register_models",
    "dataset": "register_datasets",
    "feature_extractor": "register_feature_extractors",
    "regularizer": "register_regularizers",
    "augmentation": "register_augmentations",
    "schedule": "register_schedules",
    "constraint": "register_constraints",
    "optimizer": "register_optimizers",
    "logger": "register_loggers",
    "suite": "register_suites",
}


#: registry kind -> its plural, as used on the command line (`ganzoo list losses`)
PLURALS = {"generator": "generators", "discriminator": "discriminators", "loss": "losses", "model": "models",
           "dataset": "datasets", "feature_extractor": "feature-extractors", "regularizer": "regularizers",
           "augmentation": "augmentations", "schedule": "schedules", "constraint": "constraints",
           "optimizer": "optimizers", "logger": "loggers", "suite": "suites"}


@dataclass(frozen=True)
class Entry:
    """One registered component, with the plugin and distribution that provided it."""

    kind: str
    name: str
    obj: Any
    description: str
    plugin: str
    distribution: Optional[str]
    version: Optional[str]


@dataclass
class PluginInfo:
    """One entry point of the `ganzoo` group: where it came from, what it registered, what went wrong."""

    name: str
    module: str
    distribution: Optional[str]
    version: Optional[str]
    registered: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text and text.strip() else ""


class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    def __init__(self) -> None:
        self.plugin_manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.plugin_manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        #: GANZOO_PLUGINS names that matched no entry point or distribution, and every name that was installed
        self.unmatched: list[str] = []
        self.installed: list[str] = []

    # -- loading -------------------------------------------------------------------------------------------------
    def load_entry_points(self, selection: Optional[set[str]] = None) -> None:
        """Import every selected entry point of the group and register it with pluggy."""
        def dist_name_of(ep) -> Optional[str]:
            dist = getattr(ep, "dist", None)
            return dist.metadata["Name"] if dist is not None else None

        eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        self.installed = sorted({ep.name for ep in eps})
        known = set(self.installed) | {n for n in map(dist_name_of, eps) if n}
        self.unmatched = sorted(selection - known) if selection is not None else []
        # Deterministic order: by distribution, then entry-point name. On a name clash the first keeps the name.
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                         key=lambda e: (dist_name_of(e) or "", e.name)):
            dist = getattr(ep, "dist", None)
            dist_name = dist_name_of(ep)
            if selection is not None and ep.name not in selection and dist_name not in selection:
                continue
            if ep.name in self.plugins:
                self.plugins[ep.name].errors.append(
                    f"entry point name {ep.name!r} is also used by {ep.value!r} from {dist_name}; ignored that one"
                )
                continue
            info = PluginInfo(ep.name, ep.value, dist_name, dist.version if dist is not None else None)
            self.plugins[ep.name] = info
            try:
                module = ep.load()
                self.plugin_manager.register(module, name=ep.name)
            except Exception as exc:  # a broken plugin must not break the others
                info.errors.append(f"failed to load: {type(exc).__name__}: {exc}")
                info.traceback = traceback.format_exc()

    def _drop_plugins_with_unknown_hooks(self) -> None:
        """A misspelled hook name would silently do nothing: report it and unregister that plugin."""
        while True:
            try:
                self.plugin_manager.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                plugin_name = self.plugin_manager.get_name(exc.plugin)
                info = self.plugins.setdefault(plugin_name, PluginInfo(plugin_name, "?", None, None))
                info.errors.append(f"{exc}; known hooks: {', '.join(KINDS.values())}")
                self.plugin_manager.unregister(exc.plugin)

    def add_plugin(self, plugin: Any, name: str, distribution: Optional[str] = None) -> PluginInfo:
        """Register a module or object with hook implementations directly (notebooks, tests) and collect it."""
        info = PluginInfo(name, getattr(plugin, "__name__", type(plugin).__name__), distribution, None)
        if name in self.plugins:
            raise ValueError(f"a plugin named {name!r} is already loaded")
        self.plugins[name] = info
        self.plugin_manager.register(plugin, name=name)
        self._drop_plugins_with_unknown_hooks()
        self._collect_plugin(name)
        return info

    def collect(self) -> None:
        """Call the register hooks of every loaded plugin, one plugin at a time, in entry-point order."""
        self._drop_plugins_with_unknown_hooks()
        for name in list(self.plugins):
            self._collect_plugin(name)

    def _collect_plugin(self, plugin_name: str) -> None:
        info = self.plugins[plugin_name]
        for kind, hook_name in KINDS.items():
            for impl in getattr(self.plugin_manager.hook, hook_name).get_hookimpls():
                if impl.plugin_name != plugin_name:
                    continue
                register = self._register_callback(kind, info)
                kwargs = {"register": register} if "register" in impl.argnames else {}
                try:
                    impl.function(**kwargs)
                except Exception as exc:  # one plugin's bug must not hide the others' models
                    info.errors.append(f"{hook_name} raised {type(exc).__name__}: {exc}")

    def _register_callback(self, kind: str, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, obj: Any, description: str = "") -> None:
            if not isinstance(name, str) or not name or ":" in name or name.strip() != name:
                info.errors.append(f"registered a {kind} with an invalid name {name!r}; ignored")
                return
            taken = self.entries[kind].get(name)
            if taken is not None:
                info.errors.append(
                    f"registers {kind} {name!r}, already registered by plugin {taken.plugin!r} "
                    f"({taken.distribution}); kept the first, ignored this one"
                )
                return
            doc = description or _first_line(getattr(obj, "__doc__", "") or "")
            if kind == "model" and not description:
                doc = _first_line(getattr(obj, "citation", "")) or doc
            self.entries[kind][name] = Entry(kind, name, obj, doc, info.name, info.distribution, info.version)
            info.registered.append((kind, name))

        return register

    # -- lookup --------------------------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            raise UnknownNameError(kind, name, self.entries[kind]) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def problems(self) -> list[str]:
        """One line per plugin problem, naming the plugin and its distribution."""
        return [
            f"plugin {info.name!r} ({info.distribution or 'no distribution'}): {err}"
            for info in self.plugins.values()
            for err in info.errors
        ]

    def selection_problem(self) -> Optional[str]:
        """One line naming the GANZOO_PLUGINS entries that match no installed plugin (with close matches), or None:
        a typo there otherwise surfaces later as some unrelated missing model or dataset."""
        if not self.unmatched:
            return None
        import difflib

        hints = sorted({m for name in self.unmatched for m in difflib.get_close_matches(name, self.installed)})
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        return (f"{ENV_VAR} names {', '.join(map(repr, self.unmatched))}, which match no installed plugin{hint} "
                f"(installed: {', '.join(self.installed) or 'none'}); fix {ENV_VAR} or unset it to load all")

    def distributions(self) -> dict[str, Optional[str]]:
        """Distribution -> version of every plugin that contributed something (for config.json)."""
        return {
            (info.distribution or info.name): info.version for info in self.plugins.values() if info.registered
        }


def plugin_selection() -> Optional[set[str]]:
    """Read GANZOO_PLUGINS now (not at import), so tests and users can change it."""
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


_lock = threading.Lock()
_registry: Optional[Registry] = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    with _lock:
        if _registry is None:
            registry = Registry()
            registry.load_entry_points(plugin_selection())
            registry.collect()
            _registry = registry
        return _registry


def reset_registry() -> None:
    """Forget the loaded plugins; the next `get_registry()` discovers them again."""
    global _registry
    with _lock:
        _registry = None


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
    except (ValueError, TypeError, RuntimeError) as exc:
        if describe_memory_error(exc) is not None or isinstance(exc, (NotImplementedError, RecursionError)) or (
                "CUDA" in str(exc)):
            raise  # a size that does not fit (the CLI says so, with the fix), a plugin bug, a device problem
        given = ", ".join(f"{k}={v!r}" for k, v in options.items())
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f"--{kind}-option or config.json's spec" if kind in ("generator", "discriminator", "loss") else (
            "the recipe or config.json's spec")
        raise GanzooError(f"{kind} {name!r} cannot be built" + (f" with {given}" if given else "")
                          + f" ({first}); fix those options ({where})") from exc
