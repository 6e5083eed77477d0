"""One suite run in one process: train it (or continue it from its checkpoint), measure it at its evaluation points,
append each measurement to its results file as it happens.

Crash safety: every evaluation point is a checkpoint, and a measurement is made from the checkpoint just written
(ganzoo.suite.protocol), then appended as one line. A run killed at any moment is continued from its last checkpoint:
measurement lines after that checkpoint are dropped and made again, and a checkpoint whose measurement was lost is
measured first, so the finished results equal an uninterrupted run's. This module imports torch only inside
`run_job`, so a worker process can arrange to die with its parent before anything heavy is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Optional

#: the result file's line kinds (one JSON object per line)
HEADER, DONE, FAILED = "header", "done", "failed"


def die_with_parent(parent: int) -> None:
    """Linux: this process gets SIGKILL when its parent dies (a killed `ganzoo suite run` leaves no orphan training
    and holding a run folder's lock); if the parent is already gone, exit now."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: orphans finish their current run, then exit
        pass
    if os.getppid() != parent:
        os._exit(3)


def read_results(path: Path) -> list[dict[str, Any]]:
    """The lines of a results file; a line cut off by a kill (the last one) is dropped."""
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def status_of(lines: list[dict[str, Any]]) -> str:
    """done, failed, started (some lines, no end) or queued (nothing yet)."""
    if any(DONE in r for r in lines):
        return "done"
    if any(FAILED in r for r in lines):
        return "failed"
    return "started" if lines else "queued"


class Results:
    """The append-only results file of one run (one writer: the run's worker)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def rewrite(self, lines: list[dict[str, Any]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in lines), encoding="utf-8")
        os.replace(tmp, self.path)

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())


def is_eval_point(step: int, every: int, total: int) -> bool:
    return step == total or (every > 0 and step % every == 0)


def run_job(job: dict[str, Any]) -> str:
    """Train and measure one run; returns its final status. `job`: run (SuiteRun.describe()), kind, run_dir,
    results, threads, command."""
    import torch

    torch.set_num_threads(int(job.get("threads") or 1))
    results = Results(Path(job["results"]))
    run = job["run"]
    try:
        if job["kind"] == "speed":
            _bench(job, results)
        else:
            _train_and_measure(job, results)
        return "done"
    except BaseException as exc:  # a failing run is a row that says so, never a lost suite
        if isinstance(exc, KeyboardInterrupt):
            raise
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        results.append({FAILED: f"{type(exc).__name__}: {text}", "traceback": traceback.format_exc(),
                        "model": run["model"], "seed": run["seed"]})
        return "failed"


def _bench(job: dict[str, Any], results: Results) -> None:
    from ganzoo.tools.bench import BenchOptions, bench

    run, ev = job["run"], job["run"]["evaluation"]
    settings = run["settings"]
    results.rewrite([{HEADER: run, "commands": job.get("commands", [])}])
    start = time.perf_counter()
    options = BenchOptions(model=run["model"], shape=tuple(ev["shape"]), batch_size=int(ev["batch_size"]),
                           steps=int(ev["steps"]), warmup=int(ev["warmup"]), rounds=int(ev["rounds"]),
                           precisions=ev["precisions"] or ([settings["precision"]] if settings.get("precision")
                                                           not in (None, "auto") else None),
                           compile=ev["compile"], device=settings.get("device", "cpu"), seed=int(run["seed"]),
                           memory=ev["memory"])
    report = bench(options)
    results.append({DONE: True, "bench": report, "wall_seconds": round(time.perf_counter() - start, 2)})


def _open(run_dir: Path, config):
    """The trainer of this run: continued from its checkpoint when it has one, else new (a folder without a
    checkpoint holds nothing worth keeping and is started over)."""
    from ganzoo.errors import CheckpointError
    from ganzoo.run.session import continue_run
    from ganzoo.run.trainer import Trainer
    from ganzoo.store.folder import RunFolder

    folder = RunFolder(run_dir)
    if folder.has_checkpoint():
        try:
            return continue_run(run_dir, finished_ok=True)
        except CheckpointError:
            if folder.previous_checkpoint.is_file():
                return continue_run(run_dir, finished_ok=True, from_previous=True)
            raise
    if run_dir.exists():
        shutil.rmtree(run_dir)
    return Trainer(config, progress=False)


def _train_and_measure(job: dict[str, Any], results: Results) -> None:
    from ganzoo.suite import protocol
    from ganzoo.suite.recipes import fingerprint

    run = job["run"]
    ev = run["evaluation"]
    run_dir = Path(job["run_dir"])
    every = int(ev["every"])
    probe = _suite_config(run, run_dir, every)
    trainer = _open(run_dir, probe)
    try:
        total, at = trainer.config.steps, trainer.start_step
        before = read_results(results.path)
        kept = [r for r in before if "step" in r and r["step"] <= at]
        results.rewrite([{HEADER: run, "commands": job.get("commands", []), "spec": fingerprint(trainer.spec),
                          "parts": parts_so_far(before, at, trainer)}, *kept])
        dataset = trainer.dataset
        extractor = protocol.extractor_for(dataset, ev["feature_extractor"]) if job["kind"] == "quality" else None
        real = protocol.reference_images(dataset, ev) if job["kind"] == "quality" else None
        clock = {"offset": kept[-1]["train_seconds"] if kept else 0.0, "eval": 0.0, "start": time.perf_counter()}

        def measure(step: int) -> None:
            t0 = time.perf_counter()
            if job["kind"] == "quality":
                metrics = protocol.measure_quality(run_dir, dataset, extractor, ev, int(run["seed"]), real=real)
            else:
                metrics = protocol.measure_modes(run_dir, dataset, ev, int(run["seed"]))
            seconds = time.perf_counter() - t0
            clock["eval"] += seconds
            trained = clock["offset"] + (t0 - clock["start"]) - (clock["eval"] - seconds)
            results.append({"step": step, "train_seconds": round(trained, 3), "eval_seconds": round(seconds, 3),
                            "metrics": metrics})

        if at > 0 and is_eval_point(at, every, total) and not any(r["step"] == at for r in kept):
            measure(at)  # killed after this checkpoint was written, before its measurement was

        def on_event(event: dict) -> None:
            if event["event"] == "checkpoint" and is_eval_point(event["step"], every, total):
                measure(event["step"])

        if at < total:
            trainer.events.subscribe(on_event)
            trainer.fit()
        measured = [r for r in read_results(results.path) if "step" in r]
        results.append({DONE: True, "step": total, "train_seconds": measured[-1]["train_seconds"],
                        "eval_seconds": round(sum(r.get("eval_seconds", 0) for r in measured), 3)})
    finally:
        trainer.close()


def parts_so_far(before: list[dict[str, Any]], at: int, trainer) -> list[dict[str, Any]]:
    """How the run's steps were trained, one entry per part that continued from a checkpoint: the step it started
    at, the resolved precision (a suite's "auto" is bf16 where the machine has bf16 units, fp32 elsewhere), the
    device and the machine in words. Parts whose steps were thrown away (killed before a later checkpoint) drop, and
    a run reopened at its last step adds none."""
    from ganzoo.engine.precision import device_label

    header = next((r for r in before if HEADER in r), {})
    kept = [p for p in header.get("parts", []) if p.get("from_step", 0) < at]
    if at >= trainer.config.steps:  # reopened only to measure or to write its end: this part trains nothing
        return kept
    return [*kept, {"from_step": at, "precision": trainer.precision.name, "device": str(trainer.device),
                    "machine": device_label(trainer.device)}]


def _suite_config(run: dict[str, Any], run_dir: Path, every: int):
    """The run's TrainConfig: checkpoints at every evaluation point (or every 500 steps when it only measures at the
    end), one sample grid at the end, logs at the checkpoints."""
    from ganzoo.spec.config import TrainConfig

    settings = dict(run["settings"])
    base = TrainConfig.from_settings(settings)
    points = every or 500
    return TrainConfig.from_settings({**settings, "out": str(run_dir), "checkpoint_every": points,
                                      "log_every": min(base.log_every, points), "sample_every": 10 ** 9})


def main(job_file: Optional[str] = None) -> int:
    """``python -m ganzoo.suite.worker JOB.json``: a run in a fresh interpreter (for executors that start commands)."""
    job = json.loads(Path(job_file or sys.argv[1]).read_text())
    return 0 if run_job(job) == "done" else 1


def process_main(job: dict[str, Any], parent: int) -> None:
    """multiprocessing target of the local executor: die with the parent, one thread, run the job."""
    die_with_parent(parent)
    os.environ["OMP_NUM_THREADS"] = str(job.get("threads") or 1)
    status = run_job(job)
    sys.exit(0 if status == "done" else 1)


if __name__ == "__main__":
    raise SystemExit(main())
