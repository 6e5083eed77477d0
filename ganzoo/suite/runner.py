"""A suite folder's life: check it against the suite, run what is not finished, say where each run stands.

    DIR/suite.json            the expanded suite as first run (every run's settings, protocol and id)
    DIR/runs/<name>/          each run's ganzoo run folder (config.json, checkpoint.pt, metrics.jsonl, samples)
    DIR/results/<name>.jsonl  each run's measurements, appended as they happen, then ``done`` or ``failed``
    DIR/floors.json           quality suites: the real-vs-real floor of each dataset
    DIR/table.md, table.json  the table (rewritten as runs finish; `ganzoo suite table DIR` remakes it)

Running a suite again on its folder skips finished runs, continues interrupted ones from their checkpoints and
reruns failed ones only with ``retry_failed``; a folder whose finished or started runs would change (other math
settings or another protocol for the same model, dataset and seed) is refused, naming the difference.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, get_registry
from ganzoo.suite.select import Selection
from ganzoo.suite.spec import Suite, SuiteRun, expand, read_suite_file
from ganzoo.suite.worker import read_results, status_of

SUITE_FILE, FLOORS_FILE = "suite.json", "floors.json"


def resolve_suite(name_or_file: str, registry: Optional[Registry] = None) -> Suite:
    """A registered suite by name, or a TOML file by path."""
    registry = registry or get_registry()
    models = registry.names("model")
    path = Path(name_or_file)
    if name_or_file not in registry.entries["suite"] and (path.suffix == ".toml" or path.exists()):
        return expand(read_suite_file(path), models=models, source=str(path))
    entry = registry.get("suite", name_or_file)
    data = entry.obj
    if isinstance(data, (str, Path)):
        data = read_suite_file(Path(data))
    if callable(data):
        data = data()
    return expand(dict(data), models=models, source=f"{entry.distribution or entry.plugin}:{entry.name}")


@dataclass(frozen=True)
class SuiteFolder:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def runs(self) -> Path:
        return self.path / "runs"

    @property
    def results(self) -> Path:
        return self.path / "results"

    def run_dir(self, run: SuiteRun) -> Path:
        return self.runs / run.name

    def results_file(self, run: SuiteRun) -> Path:
        return self.results / f"{run.name}.jsonl"

    def saved(self) -> Optional[dict[str, Any]]:
        try:
            return json.loads((self.path / SUITE_FILE).read_text())
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:
            raise GanzooError(f"{self.path / SUITE_FILE} is damaged; move the folder aside or restore the file") \
                from None

    def lines(self, run: SuiteRun) -> list[dict[str, Any]]:
        return read_results(self.results_file(run))

    def status(self, run: SuiteRun) -> str:
        return status_of(self.lines(run))


def _difference(old: dict[str, Any], new: SuiteRun) -> str:
    for part in ("settings", "evaluation"):
        a, b = old.get(part, {}), getattr(new, part)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return f"{'' if part == 'settings' else 'evaluate.'}{key} {a.get(key)!r} -> {b.get(key)!r}"
    return "its id"


def check_folder(folder: SuiteFolder, suite: Suite) -> None:
    """Refuse a folder made by another suite, or whose started runs this suite would change."""
    if folder.path.exists() and not folder.path.is_dir():
        raise GanzooError(f"--out {folder.path} is a file; pass a folder")
    saved = folder.saved()
    if saved is None:
        if folder.path.is_dir() and any(p.name not in ("runs", "results") and not p.name.startswith(".")
                                         for p in folder.path.iterdir()):
            raise GanzooError(f"{folder.path} is not empty and holds no suite; pass a new or empty --out folder")
        return
    if saved.get("name") != suite.name:
        raise GanzooError(f"{folder.path} holds suite {saved.get('name')!r}, not {suite.name!r}; pass another --out")
    before = {(r["model"], r["label"], r["dataset"], r["seed"]): r for r in saved.get("runs", [])}
    for run in suite.runs:
        old = before.get((run.model, run.label, run.dataset, run.seed))
        if old is None or old["id"] == run.run_id:
            continue
        if folder.status(SuiteRun.from_dict(old)) != "queued":
            raise GanzooError(
                f"the suite changed for a run already made in {folder.path}: {run.group} on {run.dataset} seed "
                f"{run.seed}: {_difference(old, run)}; use a new --out, or restore the suite")


def check_recipes(folder: SuiteFolder, suite: Suite, registry: Registry, *, rerun_changed: bool = False,
                  say: Callable[[str], None] = lambda _line: None) -> list[tuple[SuiteRun, str]]:
    """Refuse the finished and started runs whose model's recipe now resolves to other math than the spec their
    results header recorded; with `rerun_changed`, return them with the difference instead, for `discard` once
    every other check has passed."""
    from ganzoo.suite.recipes import SpecResolver, first_difference

    if suite.kind == "speed":
        return []
    resolve, discarded, unchecked = SpecResolver(registry), [], 0
    for run in suite.runs:
        lines = folder.lines(run)
        if status_of(lines) == "queued":
            continue
        saved = next((line.get("spec") for line in lines if "header" in line), None)
        if saved is None:
            unchecked += 1  # made before runs recorded their spec
            continue
        difference = first_difference(saved, resolve(run))
        if difference is None:
            continue
        if not rerun_changed:
            raise GanzooError(f"the recipe of {run.group} changed since its run in {folder.path} was made "
                              f"({run.dataset} seed {run.seed}): {difference}; pass --rerun-changed to make the "
                              f"changed runs again, or use a new --out")
        discarded.append((run, difference))
    if unchecked:
        say(f"{unchecked} earlier run(s) in {folder.path} recorded no spec; their recipes are not checked")
    return discarded


def discard(folder: SuiteFolder, changed: list[tuple[SuiteRun, str]], say: Callable[[str], None]) -> None:
    """Remove the results and run folders of runs to be made again (after every check passed)."""
    for run, difference in changed:
        folder.results_file(run).unlink(missing_ok=True)
        shutil.rmtree(folder.run_dir(run), ignore_errors=True)
        say(f"{run.group} on {run.dataset} seed {run.seed}: its recipe changed ({difference}); made again")


def write_suite_file(folder: SuiteFolder, suite: Suite) -> None:
    """suite.json: the union of the runs it held and this suite's (runs removed from the file stay described)."""
    saved = folder.saved() or {}
    runs = {r["id"]: r for r in saved.get("runs", [])}
    runs.update({r.run_id: r.describe() for r in suite.runs})
    data = {**suite.describe(), "runs": list(runs.values())}
    folder.path.mkdir(parents=True, exist_ok=True)
    tmp = folder.path / f".{SUITE_FILE}.tmp"
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, folder.path / SUITE_FILE)


def prepare(folder: SuiteFolder, suite: Suite) -> None:
    """Work done once, before the workers start: quality suites build (or train and cache) each dataset's feature
    extractor, so workers read it instead of racing to train it, and measure the real-vs-real floor."""
    if suite.kind != "quality":
        return
    import torch

    from ganzoo.data import load_dataset
    from ganzoo.suite import protocol

    torch.set_num_threads(1)
    path = folder.path / FLOORS_FILE
    floors = json.loads(path.read_text()) if path.exists() else {}
    for dataset_name in dict.fromkeys(r.dataset for r in suite.runs):
        first = next(r for r in suite.runs if r.dataset == dataset_name)
        config = first.config(folder.path)
        dataset = load_dataset(dataset_name, data_dir=config.data_dir, image_size=config.image_size, seed=0)
        extractor = protocol.extractor_for(dataset, suite.evaluation["feature_extractor"])
        check_extractor(folder, suite, dataset_name, getattr(extractor, "description", extractor.name),
                        floors.get(dataset_name))
        real = None  # the reference images, drawn once for both floors
        if dataset_name not in floors and suite.evaluation.get("floor"):
            real = protocol.reference_images(dataset, suite.evaluation)
            floors[dataset_name] = {**protocol.real_floor(dataset, extractor, suite.evaluation, real),
                                    "extractor": getattr(extractor, "description", extractor.name)}
        if dataset_name in floors and "train_vs_reference" not in floors[dataset_name]:
            floors[dataset_name]["train_vs_reference"] = protocol.train_vs_reference_floor(dataset, extractor,
                                                                                           suite.evaluation, real)
    if floors:
        folder.path.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(floors, indent=1) + "\n")


_WEIGHTS_HASH = re.compile(r"weights sha256 ([0-9a-f]{12})")


def check_extractor(folder: SuiteFolder, suite: Suite, dataset: str, description: str,
                    floor: Optional[dict[str, Any]]) -> None:
    """Refuse to add runs measured in another feature space: the extractor's weights (their hash, which every
    result names) must be those the folder's floor and measured runs used. A classifier trained on another
    machine has other weights, and FIDs on its features do not compare with the folder's."""
    found = _WEIGHTS_HASH.search(description)
    if found is None:
        return
    mine = found.group(1)
    earlier = [("the floor", (floor or {}).get("extractor") or (floor or {}).get("feature_extractor_info") or "")]
    for run in suite.runs:
        if run.dataset == dataset:
            earlier += [(f"{run.group} seed {run.seed}", line["metrics"].get("feature_extractor_info") or "")
                        for line in folder.lines(run) if "metrics" in line]
    for what, text in earlier:
        theirs = _WEIGHTS_HASH.search(text)
        if theirs and theirs.group(1) != mine:
            raise GanzooError(
                f"{folder.path}'s {dataset} results ({what}) were measured on feature extractor weights "
                f"{theirs.group(1)}, and the extractor here has {mine}; their numbers would not compare: use a new "
                f"--out, or put the weights file they used where the extractor finds it")


def jobs_for(folder: SuiteFolder, suite: Suite, *, retry_failed: bool = False, command: str = "",
             threads: int = 1) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The jobs still to run (longest expected first is the caller's choice) and a count of every status."""
    counts = {"done": 0, "failed": 0, "started": 0, "queued": 0}
    jobs = []
    for run in suite.runs:
        lines = folder.lines(run)
        status = status_of(lines)
        counts[status] += 1
        if status == "done" or (status == "failed" and not retry_failed):
            continue
        commands = next((r.get("commands", []) for r in lines if "header" in r), [])
        if status == "failed":  # retried: its failure line goes, its measurements before it stay
            kept = [r for r in lines if "failed" not in r]
            from ganzoo.suite.worker import Results

            Results(folder.results_file(run)).rewrite(kept)
        jobs.append({"run": run.describe(), "kind": suite.kind, "run_dir": str(folder.run_dir(run)),
                     "results": str(folder.results_file(run)), "threads": threads,
                     "commands": commands + ([command] if command and command not in commands else [])})
    return jobs, counts


def run_suite(suite: Suite, out: Path, *, executor: str = "local", workers: Optional[int] = None,
              retry_failed: bool = False, rerun_changed: bool = False, address: Optional[str] = None,
              gpus: float = 0.0, partition: Optional[str] = None, time_limit: int = 240, command: str = "",
              say: Callable[[str], None] = lambda _line: None,
              notice: Optional[Callable[[str], None]] = None, tick: Optional[Callable] = None,
              only: Optional[Selection] = None) -> dict[str, int]:
    """Run every unfinished run of `suite` in `out` (of those `only` selects: a part of a long suite), then write
    its table. Returns the status counts of the selected runs before. `say` gets the outcome when there is nothing
    to do; `notice` (default `say`) what the recipe check did. suite.json always describes the whole suite, so
    `suite status` shows the parts still to run."""
    from ganzoo.suite.executors import EXECUTORS, check_slurm, run_local, run_ray, run_slurm
    from ganzoo.suite.table import write_table

    if executor not in EXECUTORS:
        raise GanzooError(f"--executor {executor!r}; choose {', '.join(EXECUTORS)}")
    if executor == "slurm":
        check_slurm()
    folder = SuiteFolder(Path(out))
    only = only or Selection()
    part = only.apply(suite)
    check_folder(folder, suite)
    changed = check_recipes(folder, part, get_registry(), rerun_changed=rerun_changed, say=notice or say)
    if changed:
        prepare(folder, part)  # its extractor check may still refuse the folder: before anything is discarded
        discard(folder, changed, notice or say)
    jobs, counts = jobs_for(folder, part, retry_failed=retry_failed, command=command)
    if not jobs:
        say(f"nothing to do: all {len(part.runs)} runs of {suite.name}" + (f" that {only.describe()} selects"
                                                                           if only else "")
            + f" in {folder.path} are finished"
            + (f" ({counts['failed']} failed; --retry-failed runs them again)" if counts["failed"] else ""))
        write_table(folder)
        return counts
    if not changed:
        prepare(folder, part)  # may refuse the folder (another feature space): before anything is written
    write_suite_file(folder, suite)
    folder.runs.mkdir(exist_ok=True)
    folder.results.mkdir(exist_ok=True)
    workers = 1 if suite.kind == "speed" else (workers or max(1, os.cpu_count() or 1))
    started = time.perf_counter()
    if executor == "ray":
        run_ray(jobs, workers, tick=tick, address=address, gpus=gpus)
    elif executor == "slurm":
        run_slurm(jobs, workers, folder.path, tick=tick, partition=partition, time_limit=time_limit, gpus=gpus)
    else:
        run_local(jobs, workers, tick=tick)
    write_table(folder, wall_seconds=time.perf_counter() - started)
    return counts


def suite_status(folder: SuiteFolder) -> list[dict[str, Any]]:
    """Every run of the folder's suite: its group, dataset, seed, status, last measured step and reason of failure."""
    saved = folder.saved()
    if saved is None:
        raise GanzooError(f"{folder.path} holds no suite (no {SUITE_FILE}); run `ganzoo suite run NAME --out "
                          f"{folder.path}` first")
    rows = []
    for r in saved["runs"]:
        run = SuiteRun.from_dict(r)
        lines = folder.lines(run)
        measured = [x["step"] for x in lines if "step" in x and "metrics" in x]
        failed = next((x["failed"] for x in lines if "failed" in x), None)
        last = next((x for x in reversed(lines) if "metrics" in x), None)
        done = next((x for x in lines if "done" in x), None)
        step, rate = _progress(folder.run_dir(run))
        rows.append({"group": run.group, "dataset": run.dataset, "seed": run.seed, "id": run.run_id,
                     "status": status_of(lines), "step": step, "total": _total_steps(folder.run_dir(run)),
                     "steps_per_second": rate, "measured": measured[-1] if measured else None,
                     "metric": _headline(last["metrics"]) if last else None,
                     "seconds": (done or {}).get("train_seconds"), "failed": failed})
    return rows


def _headline(metrics: dict[str, Any]) -> Optional[str]:
    """The one number a live view shows: FID (quality) or the raw high-quality share (modes)."""
    if "fid" in metrics:
        return f"FID {metrics['fid']:.4g}"
    raw = metrics.get("raw") or {}
    if "high_quality_fraction" in raw:
        return f"HQ {100 * raw['high_quality_fraction']:.1f}%, {raw.get('modes_captured')} modes"
    return None


def _total_steps(run_dir: Path) -> Optional[int]:
    try:
        return int(json.loads((run_dir / "config.json").read_text())["spec"]["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _progress(run_dir: Path) -> tuple[Optional[int], Optional[float]]:
    """The last logged step of a run folder and its recent steps per second (from the tail of metrics.jsonl)."""
    path = run_dir / "metrics.jsonl"
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None, None
    points = []
    for line in tail:
        try:
            record = json.loads(line)
            if "time" in record:
                points.append((int(record["step"]), float(record["time"])))
        except (ValueError, KeyError, TypeError):
            continue
    if not points:
        return None, None
    (s0, t0), (s1, t1) = points[max(0, len(points) - 5)], points[-1]
    return s1, ((s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None)
