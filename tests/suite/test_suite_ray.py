"""`--executor ray` on a local Ray started by the test: the local executor's results, and a killed Ray worker reported
as a failed run while the rest of the suite completes. Skipped, with the reason, where Ray is absent or cannot start."""

import os
import signal
from pathlib import Path

import pytest
from suite_runs import TINY, measurements, write_suite

from ganzoo.suite.runner import SuiteFolder, resolve_suite, run_suite, suite_status

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ganzoo[ray]')")


@pytest.fixture
def local_ray(shared_cache):
    """A local Ray instance whose workers inherit this test's cache and one thread."""
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # no shared memory, no ports: say why and skip
        pytest.skip(f"Ray cannot start here: {type(exc).__name__}: {exc}")
    yield
    ray.shutdown()


def test_the_ray_executor_gives_the_local_executors_results(tiny_reference, local_ray, tmp_path):
    file, _, expected = tiny_reference
    run_suite(resolve_suite(str(file)), tmp_path / "out", executor="ray", workers=2)
    assert measurements(tmp_path / "out") == expected


def _pids_of_task(name: str) -> list[int]:
    """Ray titles a worker process `ray::NAME` while it runs the task named NAME."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if name in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def test_a_killed_ray_worker_is_a_failed_run_and_the_suite_completes(local_ray, tmp_path):
    file = write_suite(tmp_path / "s.toml", TINY.replace("steps = 30", "steps = 80"))
    suite = resolve_suite(str(file))
    folder = SuiteFolder(tmp_path / "out")
    victim = suite.runs[0]
    killed = []

    def tick(running):
        if killed or not any(folder.runs.glob(f"*{victim.run_id}/checkpoint.pt")):
            return
        for pid in _pids_of_task(f"ganzoo-{victim.run_id}"):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    run_suite(suite, folder.path, executor="ray", workers=2, tick=tick)
    if not killed:
        pytest.skip("the victim's Ray worker could not be found by its process title on this platform")
    rows = {r["id"]: r for r in suite_status(folder)}
    assert rows[victim.run_id]["status"] == "failed" and "Ray task failed" in rows[victim.run_id]["failed"]
    assert all(r["status"] == "done" for rid, r in rows.items() if rid != victim.run_id)
