"""Where a suite's runs execute: local worker processes (default), a Ray cluster, or Slurm (through submitit).

Both run `ganzoo.suite.worker.run_job` on each job and learn how it went from the run's results file (the worker
appends its measurements, a ``done`` line or a ``failed`` line with the reason); a worker that dies without one
(killed, out of memory, a lost node) is recorded as failed by the executor. One run's failure never stops the others.

- ``local``: one fresh interpreter (``spawn``) per run, at most `workers` at once, each with one thread: on a small
  CPU two 1-thread processes train faster than one 2-thread process (measured, shared/README.md). Workers die with
  the parent (``PR_SET_PDEATHSIG``), so a killed ``ganzoo suite run`` leaves no orphan holding a run folder.
- ``ray``: one Ray task per run with its CPU (and GPU) request, on ``ray.init(address)``; ``pip install
  'ganzoo[ray]'``. Results files live under the suite folder, which the cluster's nodes must share (a local cluster,
  or a shared file system).
- ``slurm``: one Slurm job per run (an array, at most `workers` at once) submitted with submitit, each asking for its
  threads as CPUs (and `gpus`), on `partition` with a `time_limit` in minutes; ``pip install 'ganzoo[slurm]'``. The
  suite folder must be on a file system the nodes share; submitit's own logs go to ``DIR/.submitit/``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ganzoo.errors import GanzooError
from ganzoo.suite.worker import FAILED, Results, process_main, read_results, status_of

EXECUTORS = ("local", "ray", "slurm")
#: submitit's cluster for --executor slurm; tests set "local" (submitit's LocalExecutor) where no Slurm is installed
SUBMITIT_CLUSTER = "slurm"
Tick = Callable[[dict[str, str]], None]


def _died(code: Optional[int]) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        return f"the worker was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"the worker exited with status {code} without a result"


def _record_death(job: dict[str, Any], reason: str) -> None:
    results = Results(Path(job["results"]))
    if status_of(read_results(results.path)) not in ("done", "failed"):
        results.append({FAILED: reason, "model": job["run"]["model"], "seed": job["run"]["seed"]})


def run_local(jobs: list[dict[str, Any]], workers: int, tick: Optional[Tick] = None, poll: float = 0.5) -> None:
    """Run every job, at most `workers` at once; `tick({run_id: status})` is called while they run."""
    context = multiprocessing.get_context("spawn")
    pending = list(jobs)
    running: dict[str, tuple[Any, dict]] = {}
    parent = os.getpid()
    try:
        while pending or running:
            while pending and len(running) < max(1, workers):
                job = pending.pop(0)
                process = context.Process(target=process_main, args=(job, parent), name=job["run"]["id"])
                process.start()
                running[job["run"]["id"]] = (process, job)
            for rid, (process, job) in list(running.items()):
                if not process.is_alive():
                    process.join()
                    if process.exitcode != 0:
                        _record_death(job, _died(process.exitcode))
                    del running[rid]
            if tick is not None:
                tick({rid: "running" for rid in running})
            if running:
                time.sleep(poll)
    finally:
        for process, _ in running.values():  # an interrupted suite stops its workers (their checkpoints stay)
            if process.is_alive():
                process.terminate()
        for process, _ in running.values():
            process.join(timeout=30)


def _ray_job(job: dict[str, Any]) -> str:
    """A Ray task: one thread, then the same work as a local worker."""
    os.environ["OMP_NUM_THREADS"] = str(job.get("threads") or 1)
    from ganzoo.suite.worker import run_job

    return run_job(job)


def run_ray(jobs: list[dict[str, Any]], workers: int, tick: Optional[Tick] = None, address: Optional[str] = None,
            gpus: float = 0.0, retries: int = 0) -> None:
    """Every job as a Ray task (``num_cpus`` = its threads, ``num_gpus`` = `gpus`); a task whose worker dies is
    recorded as failed with Ray's reason. `address`: None starts a local Ray, ``auto`` joins the running cluster."""
    try:
        import ray
    except ImportError:
        raise GanzooError("--executor ray needs Ray; pip install 'ganzoo[ray]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     **({} if address else {"num_cpus": max(1, workers)}))
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise GanzooError(f"cannot start or reach Ray at {address or 'a new local instance'} ({exc}); start a "
                              f"cluster with `ray start --head` and pass --address auto") from None
    task = ray.remote(_ray_job)
    refs = {}
    for job in jobs:
        ref = task.options(num_cpus=int(job.get("threads") or 1), num_gpus=gpus, max_retries=retries,
                           name=f"ganzoo-{job['run']['id']}").remote(job)
        refs[ref] = job
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
        for ref in done:
            job = refs.pop(ref)
            try:
                ray.get(ref)
            except Exception as exc:  # the worker process or node died (a Python error is in the results file)
                _record_death(job, f"the Ray task failed: {type(exc).__name__}: "
                                   f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}")
        if tick is not None:
            tick({refs[r]["run"]["id"]: "running" for r in refs})


def _slurm_job(job: dict[str, Any]) -> str:
    """A Slurm job: one thread per requested CPU, then the same work as a local worker."""
    os.environ["OMP_NUM_THREADS"] = str(job.get("threads") or 1)
    from ganzoo.suite.worker import run_job

    return run_job(job)


def check_slurm():
    """submitit, and (for a real cluster) Slurm's sbatch: said in one line before a suite folder is touched."""
    import shutil

    try:
        import submitit
    except ImportError:
        raise GanzooError("--executor slurm needs submitit; pip install 'ganzoo[slurm]'") from None
    if SUBMITIT_CLUSTER == "slurm" and shutil.which("sbatch") is None:
        raise GanzooError("--executor slurm needs Slurm's sbatch on this machine's PATH and none was found; run on a "
                          "Slurm login node, or use --executor local or ray")
    return submitit


def run_slurm(jobs: list[dict[str, Any]], workers: int, folder: Path, tick: Optional[Tick] = None,
              partition: Optional[str] = None, time_limit: int = 240, gpus: float = 0.0, poll: float = 2.0) -> None:
    """Every job as one task of a Slurm job array (at most `workers` running at once); a job that dies (cancelled,
    timed out, a lost node, out of memory) is recorded as failed with submitit's reason."""
    submitit = check_slurm()
    executor = submitit.AutoExecutor(folder=Path(folder) / ".submitit", cluster=SUBMITIT_CLUSTER)
    threads = max(int(job.get("threads") or 1) for job in jobs) if jobs else 1
    options: dict[str, Any] = {"timeout_min": int(time_limit), "cpus_per_task": threads, "name": "ganzoo-suite"}
    if SUBMITIT_CLUSTER == "slurm":
        options.update(slurm_array_parallelism=max(1, workers), **({"slurm_partition": partition} if partition
                                                                    else {}))
        if gpus:
            options["gpus_per_node"] = int(gpus) if float(gpus).is_integer() else 1
    executor.update_parameters(**options)
    submitted = executor.map_array(_slurm_job, jobs)
    pending = dict(zip(submitted, jobs))
    try:
        while pending:
            for handle in [h for h in pending if h.done()]:
                job = pending.pop(handle)
                try:
                    handle.result()
                except Exception as exc:  # the job died, or submitit could not run it (a Python error is in results)
                    _record_death(job, f"the Slurm job {handle.job_id} failed: {type(exc).__name__}: "
                                       f"{str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else ''}")
            if tick is not None:
                tick({job["run"]["id"]: "running" for job in pending.values()})
            if pending:
                time.sleep(poll)
    finally:  # an interrupted suite cancels its jobs (their checkpoints stay), as the local executor stops workers
        for handle in pending:
            try:
                handle.cancel(check=False)
            except Exception:
                pass
