"""Helpers of the suite tests: a tiny suite file, the CLI in a subprocess, a folder's measurements."""

import os
import subprocess
import sys
from pathlib import Path

TINY = """
name = "tiny"
kind = "quality"
seeds = 2
[defaults]
dataset = "digits"
device = "cpu"
precision = "fp32"
steps = 30
batch_size = 32
[[runs]]
models = ["vanilla"]
[evaluate]
samples = 100
every = 10
"""



def write_suite(path: Path, text: str = TINY) -> Path:
    path.write_text(text)
    return path


def run_cli(*args, cache: Path, timeout: float = 600):
    env = {**os.environ, "GANZOO_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", "from ganzoo.cli import main; raise SystemExit(main())", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def measurements(out: Path) -> dict[str, list]:
    """Every run's measurements (step and metrics, not timings) by run folder name."""
    from ganzoo.suite.worker import read_results

    found = {}
    for path in sorted((out / "results").glob("*.jsonl")):
        lines = read_results(path)
        found[path.stem] = [(x["step"], x["metrics"]) for x in lines if "metrics" in x]
        assert any("done" in x for x in lines), (path, lines[-1:])
    return found


