"""A suite run's math as resolved: the RunSpec its plugin's recipe gave, kept in its results header.

A run's id hashes the suite's settings (ganzoo.suite.spec.run_id), not what the model's recipe resolves them to: a
plugin upgrade that changes a default learning rate, a network width or a regulariser leaves the id unchanged while
the run it would make differs. So each run records the resolved spec it trained under (``spec`` in its results
header), and `suite run` resolves every finished or started run's spec again before it runs anything: a run whose
spec changed is refused with one line naming the first difference, or made again with ``rerun_changed``.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ganzoo.registry import Registry

#: spec fields that describe a run without changing its math
NOT_MATH = ("citation",)


def fingerprint(spec: Any) -> dict[str, Any]:
    """The parts of a RunSpec (or its ``to_dict()``) that make a run's math, as plain JSON values."""
    data = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
    return json.loads(json.dumps({k: v for k, v in data.items() if k not in NOT_MATH}, default=str))


def first_difference(old: Any, new: Any, path: str = "") -> Optional[str]:
    """``key old -> new`` for the first place two JSON values differ (keys in sorted order), None when equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            where = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                return f"{where} {old.get(key, '(none)')!r} -> {new.get(key, '(none)')!r}"
            found = first_difference(old[key], new[key], where)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if old == new else f"{path or 'spec'} {old!r} -> {new!r}"


class SpecResolver:
    """Resolves suite runs' specs as a new run would, loading each dataset once."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._datasets: dict[tuple, Any] = {}

    def __call__(self, run: Any) -> dict[str, Any]:
        from ganzoo.data import load_dataset
        from ganzoo.run.trainer import resolve_spec

        config = run.config("unused")
        key = (config.dataset, config.data_dir, config.image_size)
        if key not in self._datasets:
            self._datasets[key] = load_dataset(config.dataset, data_dir=config.data_dir, image_size=config.image_size,
                                               seed=0, registry=self.registry)
        return fingerprint(resolve_spec(config, self._datasets[key], self.registry))
