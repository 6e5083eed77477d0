"""What a suite will cost before it runs: a few timed steps per distinct model setting (at least a second of them,
after a warm-up), one timed measurement per dataset, the start-up of a worker, then the runs scheduled longest-first
over the workers (as the executor does).

Timings are made here with one thread, as each worker trains; workers sharing a small machine's memory bandwidth run
a little slower than one alone, so the estimate is a lower bound on a busy machine.
"""

from __future__ import annotations

import heapq
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from ganzoo.errors import GanzooError
from ganzoo.suite.spec import NOT_MATH, Suite, SuiteRun
from ganzoo.suite.worker import is_eval_point


def _speed_key(run: SuiteRun) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in run.settings.items() if k not in NOT_MATH and k != "seed"))


def startup_seconds() -> float:
    """A fresh worker interpreter importing torch and ganzoo (the local executor starts one per run)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, ganzoo.run.session, ganzoo.suite.protocol"], check=False,
                   capture_output=True, timeout=300)
    return time.perf_counter() - t0


#: Seconds of warm-up and of timing per setting at least. Five steps after one warm-up step were too few for a
#: 2-D MLP's ~15 ms step: `suite show pacgan-2d` on an idle machine predicted 17 min for its GAN on ring8 (its first
#: setting) and 12 min for the same networks on grid25, and the run took about 12. A slow model still gets its
#: `timed_steps`.
WARMUP_SECONDS = 0.5
TIMED_SECONDS = 1.0


def time_setting(run: SuiteRun, timed_steps: int, warmup_seconds: float = WARMUP_SECONDS,
                 timed_seconds: float = TIMED_SECONDS) -> dict[str, Any]:
    """Seconds to build this run's trainer and per training step: the mean of at least `timed_steps` steps and
    `timed_seconds` of them, after one step and at least `warmup_seconds` of warm-up. The mean, not the median: a
    lazy regulariser's step (R1 every 16 steps, path length every 4) costs 1.5-2.2x a plain one and is part of the
    run's time."""
    import torch

    from ganzoo.run.trainer import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="ganzoo-cost-") as tmp:
            t0 = time.perf_counter()
            trainer = Trainer(run.config(Path(tmp) / "run"), progress=False)
            build = time.perf_counter() - t0
            total = trainer.config.steps
            step = 1  # past a short run's last step the index wraps to 1: no schedule sees a step past the end
            try:
                t0 = time.perf_counter()
                while step == 1 or time.perf_counter() - t0 < warmup_seconds:
                    trainer.step((step - 1) % total + 1)
                    step += 1
                times: list[float] = []
                while len(times) < timed_steps or sum(times) < timed_seconds:
                    t = time.perf_counter()
                    trainer.step((step - 1) % total + 1)
                    times.append(time.perf_counter() - t)
                    step += 1
            finally:
                trainer.close()
        return {"build": build, "step": statistics.fmean(times), "timed": len(times), "timed_seconds": sum(times),
                "warmup": step - 1 - len(times),
                "steps_total": total, "trainer": trainer}
    finally:
        torch.set_num_threads(threads)


def time_measurement(suite: Suite, trainer: Any) -> float:
    """One evaluation of this suite's protocol on an untrained generator of the run's shape."""
    import torch

    from ganzoo.metrics import image_metrics
    from ganzoo.metrics.modes import mode_metrics
    from ganzoo.suite import protocol

    ev = suite.evaluation
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if suite.kind == "quality":
            extractor = protocol.extractor_for(trainer.dataset, ev["feature_extractor"])
            t0 = time.perf_counter()  # the extractor is built once per worker (its training is cached): not timed
            fake = trainer.sample(int(ev["samples"]), generator=torch.Generator().manual_seed(0))
            image_metrics(protocol.reference_images(trainer.dataset, ev), fake, extractor, seed=0)
            protocol.predict(extractor, fake)
            return (time.perf_counter() - t0) + 2 * 0.2  # + loading the checkpoint, twice for modes
        t0 = time.perf_counter()
        fake = trainer.sample(int(ev["samples"]), generator=torch.Generator().manual_seed(0))
        mode_metrics(fake, trainer.dataset.centers, trainer.dataset.std)
        return 2 * (time.perf_counter() - t0) + 0.4
    finally:
        torch.set_num_threads(threads)


def estimate(suite: Suite, workers: int, timed_steps: int = 5, runs: list[SuiteRun] | None = None,
             say: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Per-run seconds and the suite's wall time on `workers` workers (of `runs`, default every run)."""
    runs = list(suite.runs if runs is None else runs)
    start = startup_seconds()
    per_setting: dict[tuple, dict[str, float]] = {}
    per_dataset: dict[str, float] = {}
    seconds: dict[str, float] = {}
    failed: dict[tuple, str] = {}
    problems: dict[str, str] = {}
    for run in runs:
        key = _speed_key(run)
        if key in failed:
            problems[run.run_id] = failed[key]
            continue
        if key not in per_setting:
            say(f"timing {run.group} on {run.dataset}")
            try:
                timing = time_setting(run, max(1, timed_steps))
            except GanzooError as exc:  # a run that cannot be built is said, and the others still estimated
                failed[key] = problems[run.run_id] = str(exc).splitlines()[0]
                continue
            if run.dataset not in per_dataset and suite.kind != "speed":
                per_dataset[run.dataset] = time_measurement(suite, timing["trainer"])
            timing.pop("trainer")
            per_setting[key] = timing
        t = per_setting[key]
        total = int(t["steps_total"])
        if suite.kind == "speed":
            ev = suite.evaluation
            settings = 2 + len(ev.get("precisions") or ["fp32", "bf16"])  # the two references and each precision
            seconds[run.run_id] = start + t["build"] * settings + t["step"] * settings * int(ev["rounds"]) * (
                int(ev["steps"]) + int(ev["warmup"]))
            continue
        every = int(suite.evaluation["every"])
        evals = sum(1 for s in range(1, total + 1) if is_eval_point(s, every, total)) if every else 1
        seconds[run.run_id] = start + t["build"] + t["step"] * total + evals * per_dataset[run.dataset]
    workers = 1 if suite.kind == "speed" else max(1, workers)
    finish = [0.0] * workers
    heapq.heapify(finish)
    for s in sorted(seconds.values(), reverse=True):  # longest first, each to the worker that frees up first
        heapq.heappush(finish, heapq.heappop(finish) + s)
    return {"seconds": seconds, "problems": problems, "wall_seconds": max(finish) if seconds else 0.0,
            "core_seconds": sum(seconds.values()), "workers": workers, "startup_seconds": start,
            "step_seconds": {" ".join(f"{k}={v}" for k, v in key if k in ("model", "dataset")): t["step"]
                             for key, t in per_setting.items()}}
