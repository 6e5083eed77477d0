"""A suite as data: a TOML file (or a plugin's registered one) expanded once into a frozen list of runs.

    name = "digits-quality"
    description = "every model on digits, 3 seeds"
    kind = "quality"                 # quality (image metrics) | modes (2-D mixtures) | speed (ganzoo bench)
    seeds = 3                        # or a list, e.g. [0, 1, 2]

    [defaults]                       # TrainConfig settings of every run (any `ganzoo run` option)
    dataset = "digits"
    device = "cpu"

    [[runs]]                         # one or more groups: models x datasets x the settings grid x seeds
    models = "*"                     # "*" = every registered model, or a list
    datasets = ["digits"]            # default: defaults.dataset
    settings = { lr = [1e-4, 2e-4] } # lists expand (a cartesian product); scalars apply to every run

    [evaluate]                       # the protocol (quality/modes): when and how every run is measured
    samples = 2000
    every = 0                        # 0: once, at the last step; K: every K steps (a convergence curve)
    feature_extractor = "classifier"

    [table]                          # what the table shows beside the measured rows
    published = [...]

Each run has a stable id: a hash of the settings that make its math (model, data, seed, steps, optimiser, precision,
device, ...) and of its evaluation protocol. Settings that only say when to log or where to write are left out.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

from ganzoo.errors import GanzooError
from ganzoo.spec.config import TrainConfig

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

KINDS = ("quality", "modes", "speed")
#: TrainConfig fields that never change a run's math (when to log, checkpoint or sample; where files go)
NOT_MATH = ("out", "log_every", "sample_every", "checkpoint_every", "logger", "eval_every", "eval_samples",
            "feature_extractor", "inception_weights", "data_dir")
#: settings a suite may not set (the suite owns them)
OWNED = ("out", "eval_every", "eval_samples", "checkpoint_every")
#: the evaluation protocol's keys and defaults per kind (quality = benchmarks/quality.py's, modes = PacGAN's)
EVALUATE = {
    "quality": {"samples": 2000, "every": 0, "feature_extractor": "classifier", "noise_seed": 1_000_003,
                "kid_seed": 0, "floor": True, "floor_seed": 0, "reference": None, "max_real": None},
    "modes": {"samples": 2500, "every": 0, "noise_seed": 1_000_003},
    "speed": {"rounds": 5, "steps": 5, "warmup": 5, "batch_size": 64, "shape": [3, 32, 32], "compile": "off",
              "memory": "off", "precisions": None},
}
TOP_KEYS = ("name", "description", "kind", "seeds", "defaults", "runs", "evaluate", "table")
GROUP_KEYS = ("models", "datasets", "settings", "label")


@dataclass(frozen=True)
class SuiteRun:
    """One run of a suite: its TrainConfig settings, its evaluation protocol and its stable id."""

    model: str
    dataset: str
    seed: int
    label: str
    settings: dict = field(hash=False)
    evaluation: dict = field(hash=False)
    run_id: str = ""

    @property
    def group(self) -> str:
        """The table row this run is a seed of: the model and its settings label."""
        return self.model + (f" [{self.label}]" if self.label else "")

    @property
    def name(self) -> str:
        """Its folder's name: readable, and unique by the id."""
        return f"{self.model}-{self.dataset}-seed{self.seed}-{self.run_id}"

    def config(self, out: Union[str, Path], **when: Any) -> TrainConfig:
        return TrainConfig.from_settings({**self.settings, "out": str(out), **when})

    def describe(self) -> dict[str, Any]:
        return {"id": self.run_id, "model": self.model, "dataset": self.dataset, "seed": self.seed,
                "label": self.label, "settings": self.settings, "evaluation": self.evaluation}

    @classmethod
    def from_dict(cls, r: dict[str, Any]) -> SuiteRun:
        """A run as suite.json describes it (`describe`'s output)."""
        return cls(r["model"], r["dataset"], r["seed"], r["label"], r["settings"], r["evaluation"], r["id"])


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    kind: str
    runs: tuple[SuiteRun, ...]
    evaluation: dict = field(hash=False)
    table: dict = field(hash=False)
    source: str = ""

    def groups(self) -> list[str]:
        return list(dict.fromkeys(r.group for r in self.runs))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "kind": self.kind, "source": self.source,
                "evaluation": self.evaluation, "table": self.table, "runs": [r.describe() for r in self.runs]}


def run_id(settings: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """10 hex digits of SHA-256 over the math settings (canonical JSON) and the evaluation protocol."""
    math = {k: v for k, v in sorted(settings.items()) if k not in NOT_MATH}
    text = json.dumps({"settings": math, "evaluation": evaluation}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _problem(where: str, message: str) -> GanzooError:
    return GanzooError(f"suite {where}: {message}")


def _check_table(value: Any, allowed: tuple[str, ...], where: str, what: str) -> None:
    """`value` is a TOML table whose keys are all in `allowed` (else a one-line error naming the stray key)."""
    if not isinstance(value, dict):
        raise _problem(where, f"{what} is a TOML table")
    for key in value:
        if key not in allowed:
            raise _problem(where, f"unknown key {key!r}; {what} has {', '.join(allowed)}")


def _seeds(value: Any, where: str) -> list[int]:
    if isinstance(value, bool) or value is None:
        raise _problem(where, "seeds must be a count (e.g. 3) or a list of integers (e.g. [0, 1, 2])")
    if isinstance(value, int):
        if value < 1:
            raise _problem(where, f"seeds = {value}: give at least 1")
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                 for s in value):
        if len(set(value)) != len(value):
            raise _problem(where, f"seeds {value} repeat a seed")
        return list(value)
    raise _problem(where, f"seeds = {value!r}: a count (e.g. 3) or a list of non-negative integers")


#: TrainConfig settings whose one value is a list (a grid over them is a list of lists)
LIST_VALUED = frozenset(f.name for f in fields(TrainConfig) if f.metadata.get("kind") in ("list", "betas"))


def _check_settings(settings: dict[str, Any], where: str) -> None:
    known = {f.name for f in fields(TrainConfig)}
    for key in settings:
        if key not in known:
            close = [k for k in known if k.startswith(key[:3])]
            raise _problem(where, f"unknown setting {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                           + "; settings are `ganzoo run`'s options with underscores, e.g. batch_size")
        if key in OWNED:
            raise _problem(where, f"{key!r} is set by the suite itself (evaluate.every, evaluate.samples and the "
                                  f"output folder); remove it")


def _grid(settings: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """{lr: [1e-4, 2e-4], steps: 100} -> [("lr=0.0001", {lr: 1e-4, steps: 100}), ("lr=0.0002", {...})]. A setting
    whose value is itself a list (betas, regularizers, ...) varies only when given a list of such lists:
    ``betas = [0.5, 0.9]`` is one value, ``betas = [[0.5, 0.9], [0.0, 0.99]]`` two."""
    varying = {k: v for k, v in settings.items() if isinstance(v, list)
               and (k not in LIST_VALUED or (v and all(isinstance(x, list) for x in v)))}
    fixed = {k: v for k, v in settings.items() if k not in varying}
    if not varying:
        return [("", dict(fixed))]
    out = []
    for values in itertools.product(*varying.values()):
        chosen = dict(zip(varying, values))
        out.append((",".join(f"{k}={v}" for k, v in chosen.items()), {**fixed, **chosen}))
    return out


def expand(data: dict[str, Any], *, models: Optional[list[str]] = None, source: str = "") -> Suite:
    """A parsed suite file into its frozen Suite; `models` is the registered model list (for ``models = "*"``)."""
    where = repr((data.get("name") if isinstance(data, dict) else None) or source or "?")
    _check_table(data, TOP_KEYS, where, "a suite")
    name = data.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\: "):
        raise _problem(where, "needs a `name` (letters, digits, - and _)")
    kind = data.get("kind", "quality")
    if kind not in KINDS:
        raise _problem(where, f"kind = {kind!r}; choose {', '.join(KINDS)}")
    seeds = _seeds(data.get("seeds", 1), where) if kind != "speed" else [0]
    defaults = dict(data.get("defaults") or {})
    _check_settings(defaults, where)
    evaluation = dict(EVALUATE[kind])
    for key, value in (data.get("evaluate") or {}).items():
        if key not in evaluation:
            raise _problem(where, f"evaluate.{key} is not a {kind} suite's; it has {', '.join(evaluation)}")
        evaluation[key] = value
    if kind != "speed" and (not isinstance(evaluation["every"], int) or evaluation["every"] < 0):
        raise _problem(where, f"evaluate.every = {evaluation['every']!r}: 0 (at the end) or a step interval")
    if kind != "speed" and (not isinstance(evaluation["samples"], int) or evaluation["samples"] < 20):
        raise _problem(where, f"evaluate.samples = {evaluation['samples']!r}: at least 20")
    groups = data.get("runs")
    if not isinstance(groups, list) or not groups:
        raise _problem(where, "needs at least one [[runs]] group naming models")
    runs: list[SuiteRun] = []
    for i, group in enumerate(groups):
        gwhere = f"{where} [[runs]] #{i + 1}"
        _check_table(group, GROUP_KEYS, gwhere, "a [[runs]] group")
        chosen = group.get("models")
        if chosen == "*":
            chosen = list(models or [])
        if isinstance(chosen, str):
            chosen = [chosen]
        if not isinstance(chosen, list) or not chosen or not all(isinstance(m, str) for m in chosen):
            raise _problem(gwhere, 'models = "*" or a list of registered model names')
        unknown = [m for m in chosen if models is not None and m not in models]
        if unknown:
            raise _problem(gwhere, f"unknown model {unknown[0]!r}; registered: {', '.join(models or [])}")
        datasets = group.get("datasets") or [defaults.get("dataset", "digits")]
        datasets = [datasets] if isinstance(datasets, str) else datasets
        settings = dict(group.get("settings") or {})
        _check_settings(settings, gwhere)
        for label, grid in _grid(settings):
            label = ",".join(x for x in (str(group.get("label", "")), label) if x)
            for model, dataset, seed in itertools.product(chosen, datasets, seeds):
                full = {**defaults, **grid, "model": model, "dataset": dataset, "seed": seed}
                TrainConfig.from_settings({k: v for k, v in full.items()})  # bad values fail now, with one line
                runs.append(SuiteRun(model, dataset, seed, label, full, evaluation, run_id(full, evaluation)))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        dup = next(r for r in runs if ids.count(r.run_id) > 1)
        raise _problem(where, f"two runs are the same run ({dup.group} on {dup.dataset}, seed {dup.seed}); remove "
                              f"the repeated group or model")
    table = dict(data.get("table") or {})
    return Suite(name, str(data.get("description", "")), kind, tuple(runs), evaluation, table, source)


def read_suite_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanzooError(f"no suite file {path}; give a registered suite name (`ganzoo suite list`) or a TOML "
                          f"file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GanzooError(f"suite file {path} is not valid TOML ({exc}); fix it") from None
