"""`--executor slurm` through submitit. No Slurm runs here, so submitit's local executor stands in for the cluster
(the same submission, pickling, job array and result collection; only sbatch differs): the local executor's results,
a killed job reported as a failed run while the rest completes, and a one-line refusal where sbatch is absent."""

import os
import signal
import time
from pathlib import Path

import pytest
from suite_runs import TINY, measurements, run_cli, write_suite

from ganzoo.suite import executors
from ganzoo.suite.runner import SuiteFolder, resolve_suite, run_suite, suite_status

pytest.importorskip("submitit", reason="submitit is not installed (pip install 'ganzoo[slurm]')")


@pytest.fixture
def submitit_local(shared_cache, monkeypatch):
    monkeypatch.setattr(executors, "SUBMITIT_CLUSTER", "local")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_the_slurm_executor_gives_the_local_executors_results(tiny_reference, submitit_local, tmp_path):
    file, _, expected = tiny_reference
    run_suite(resolve_suite(str(file)), tmp_path / "out", executor="slurm", workers=2, time_limit=10)
    assert measurements(tmp_path / "out") == expected
    assert any((tmp_path / "out" / ".submitit").iterdir()), "submitit's logs stay in the suite folder"


def _job_pids(folder: Path) -> list[int]:
    """The processes running submitit's local jobs: `python -u -m submitit.core._submit FOLDER` (each under a
    `submitit.local._local` controller)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "submitit.core._submit" in cmdline and str(folder) in cmdline:
                pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the job's process through /proc")
def test_a_killed_slurm_job_is_a_failed_row_and_the_others_finish(submitit_local, tmp_path):
    text = TINY.replace("steps = 30", "steps = 200").replace("every = 10", "every = 200")
    suite = resolve_suite(str(write_suite(tmp_path / "s.toml", text)))
    out = tmp_path / "out"
    import threading

    killed = []

    def kill_one():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            started = [p for p in (out / "runs").glob("*/checkpoint.pt")] if (out / "runs").exists() else []
            pids = _job_pids(out / ".submitit")
            if started and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.1)

    # submitit's local executor starts every task of the array at once: one of them is killed mid-run
    threading.Thread(target=kill_one, daemon=True).start()
    run_suite(suite, out, executor="slurm", workers=1, time_limit=10)
    rows = suite_status(SuiteFolder(out))
    assert killed, "no job was killed"
    statuses = sorted(r["status"] for r in rows)
    assert statuses == ["done", "failed"], rows
    failed = next(r for r in rows if r["status"] == "failed")
    assert "Slurm job" in failed["failed"]


def test_no_sbatch_is_a_one_line_refusal_before_anything_is_written(shared_cache, tmp_path):
    if __import__("shutil").which("sbatch"):
        pytest.skip("Slurm is installed here")
    file = write_suite(tmp_path / "s.toml")
    result = run_cli("suite", "run", file, "--out", tmp_path / "out", "--executor", "slurm", cache=shared_cache)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "needs Slurm's sbatch" in result.stderr and not (tmp_path / "out").exists()
