"""`ganzoo suite list|show|run|status|table`: benchmark suites from the command line (ganzoo.suite does the work)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from ganzoo.errors import GanzooError as UsageError
from ganzoo.registry import get_registry


def _need(args, what: str) -> str:
    if not args.target:
        raise UsageError(f"`ganzoo suite {args.action}` needs {what}")
    return args.target


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_suite(args, console: Console, err: Console) -> int:
    from ganzoo.cli.commands import refuse_bad_selection

    refuse_bad_selection()
    return {"list": _list, "show": _show, "run": _run, "status": _status, "table": _table}[args.action](
        args, console, err)


def _list(args, console: Console, err: Console) -> int:
    registry = get_registry()
    entries = [registry.get("suite", n) for n in registry.names("suite")]
    if args.json:
        console.print_json(json.dumps([{"name": e.name, "description": e.description, "plugin": e.plugin}
                                       for e in entries]))
        return 0
    table = Table(title="suites", title_justify="left")
    for column in ("name", "description", "plugin"):
        table.add_column(column)
    for e in entries:
        table.add_row(escape(e.name), escape(e.description), escape(e.distribution or e.plugin))
    console.print(table)
    return 0


def _show(args, console: Console, err: Console) -> int:
    from ganzoo.suite.cost import estimate
    from ganzoo.suite.runner import resolve_suite
    from ganzoo.suite.select import Selection

    whole = resolve_suite(_need(args, "a suite name or TOML file"))
    only = Selection.parse(args.only)
    suite = only.apply(whole)
    workers = args.workers or _cores()
    cost = None
    if args.timed_steps:
        cost = estimate(suite, workers, args.timed_steps,
                        say=lambda line: None if args.json else err.print(escape(line), highlight=False))
    if args.json:
        console.print_json(json.dumps({"suite": suite.describe(), "estimate": cost}, default=str))
        return 0
    table = Table(title=f"suite {escape(suite.name)}: {len(suite.runs)} runs ({escape(suite.kind)})"
                  + (f", {escape(only.describe())} of its {len(whole.runs)}" if only else ""),
                  title_justify="left")
    for column in ("run", "dataset", "seed", "id", "settings", *(("estimated",) if cost else ())):
        table.add_column(column)
    for run in suite.runs:
        settings = ", ".join(f"{k}={v}" for k, v in run.settings.items() if k not in ("model", "dataset", "seed"))
        table.add_row(escape(run.group), escape(run.dataset), str(run.seed), run.run_id, escape(settings),
                      *((_estimated(cost, run.run_id),) if cost else ()))
    console.print(table)
    if cost:
        console.print(f"estimated wall time {_duration(cost['wall_seconds'])} on {cost['workers']} worker(s) "
                      f"({_duration(cost['core_seconds'])} of core time; worker start-up "
                      f"{cost['startup_seconds']:.1f} s)", highlight=False, markup=False)
    return 0


def _estimated(cost: dict[str, Any], run_id: str) -> str:
    if run_id in cost["seconds"]:
        return _duration(cost["seconds"][run_id])
    return f"cannot run: {escape(cost['problems'].get(run_id, '?'))}"


def _cores() -> int:
    import os

    return max(1, os.cpu_count() or 1)


def _status_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("run", "dataset", "seed", "status", "step", "last measured", "reason"):
        table.add_column(column)
    for r in rows:
        step = "-" if r["step"] is None else f"{r['step']}" + (f"/{r['total']}" if r.get("total") else "")
        measured = "-" if r["measured"] is None else f"{r['metric'] or ''} at {r['measured']}"
        table.add_row(escape(r["group"]), escape(r["dataset"]), str(r["seed"]), r["status"], step,
                      escape(measured), escape(r["failed"] or ""))
    return table


def eta_seconds(rows: list[dict[str, Any]], workers: int) -> Optional[float]:
    """Seconds left: each started run's remaining steps at its measured rate, each queued run at the mean time of
    the finished ones (or of the started ones' projections), over the workers."""
    left, per_run = 0.0, []
    for r in rows:
        if r["status"] == "done" and r.get("seconds"):
            per_run.append(float(r["seconds"]))
    for r in rows:
        if r["status"] == "started" and r.get("steps_per_second") and r.get("total"):
            remaining = (r["total"] - (r["step"] or 0)) / r["steps_per_second"]
            left += remaining
            if not per_run:
                per_run.append(r["total"] / r["steps_per_second"])
    queued = sum(1 for r in rows if r["status"] == "queued")
    if queued and not per_run:
        return None
    left += queued * (sum(per_run) / len(per_run) if per_run else 0.0)
    return left / max(1, workers)


def _counts(rows: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return ", ".join(f"{counts[k]} {k}" for k in ("done", "started", "queued", "failed") if counts.get(k))


def _run(args, console: Console, err: Console) -> int:
    from ganzoo.suite.runner import SuiteFolder, resolve_suite, run_suite, suite_status
    from ganzoo.suite.select import Selection

    suite = resolve_suite(_need(args, "a suite name or TOML file"))
    if not args.out:
        raise UsageError("`ganzoo suite run` needs --out DIR (the suite folder; an existing one is continued)")
    only = Selection.parse(args.only)
    selected = {r.run_id for r in only.apply(suite).runs}  # a selection naming nothing is refused before a start
    folder = SuiteFolder(Path(args.out))
    command = f"ganzoo suite run {args.target} --out {args.out}" + (
        f" --executor {args.executor}" if args.executor != "local" else "") + (f" {only.describe()}" if only else "")
    said = []
    started = time.perf_counter()
    finished: set[str] = set()

    def progress_lines(_running: dict) -> None:
        try:
            rows = suite_status(folder)
        except Exception:  # the folder is being written: skip this tick
            return
        for r in rows:
            if r["status"] in ("done", "failed") and r["id"] not in finished:
                finished.add(r["id"])
                if r["id"] in before:
                    continue
                err.print(f"{escape(r['group'])} on {escape(r['dataset'])} seed {r['seed']}: {r['status']}"
                          + (f" ({escape(r['failed'])})" if r["failed"] else ""), highlight=False)

    before: set[str] = set()
    live = None
    if not args.quiet and err.is_terminal:
        live = Live(console=err, refresh_per_second=2, transient=False)

    def tick(running: dict) -> None:
        if live is None:
            return progress_lines(running)
        try:
            rows = suite_status(folder)
        except Exception:
            return
        rows = [r for r in rows if r["id"] in selected]  # the live view and its ETA are this part's
        elapsed = time.perf_counter() - started
        eta = eta_seconds(rows, args.workers or _cores())
        live.update(_status_table([r for r in rows if r["status"] in ("started",) or r["id"] in running],
                                  f"{escape(suite.name)}: {_counts(rows)}; {_duration(elapsed)} elapsed"
                                  + (f", about {_duration(eta)} left" if eta is not None else "")))

    try:
        before.update(r["id"] for r in suite_status(folder) if r["status"] in ("done", "failed"))
        finished.update(before)
    except Exception:
        pass
    if live is not None:
        live.start()
    try:
        run_suite(suite, folder.path, executor=args.executor, workers=args.workers, retry_failed=args.retry_failed,
                  rerun_changed=args.rerun_changed,
                  address=args.address, gpus=args.gpus, partition=args.partition, time_limit=args.time_limit,
                  command=command, say=said.append, tick=tick, only=only,
                  notice=lambda line: err.print(escape(line), highlight=False))
    finally:
        if live is not None:
            live.stop()
    for line in said:
        console.print(line, markup=False, highlight=False)
    if not said:
        progress_lines({})
        rows = suite_status(folder)
        console.print(f"{suite.name}: {_counts(rows)} in {_duration(time.perf_counter() - started)}; table in "
                      f"{folder.path / 'table.md'}", markup=False, highlight=False)
    return 0


def _status(args, console: Console, err: Console) -> int:
    from ganzoo.suite.runner import SuiteFolder, suite_status

    folder = SuiteFolder(Path(_need(args, "a suite folder (suite run --out)")))
    rows = suite_status(folder)
    if args.json:
        console.print_json(json.dumps(rows))
        return 0
    console.print(_status_table(rows, f"{escape(str(folder.path))}: {_counts(rows)}"))
    return 0


def _table(args, console: Console, err: Console) -> int:
    from ganzoo.suite.runner import SuiteFolder
    from ganzoo.suite.table import markdown, write_table

    folder = SuiteFolder(Path(_need(args, "a suite folder (suite run --out)")))
    if folder.saved() is None:
        raise UsageError(f"{folder.path} holds no suite; run `ganzoo suite run NAME --out {folder.path}` first")
    summary = write_table(folder)
    if args.json:
        console.print_json(json.dumps(summary, default=str))
        return 0
    console.print(markdown(summary), markup=False, highlight=False)
    return 0
