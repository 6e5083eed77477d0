"""The README's quickstart, for real: `ganzoo run vanilla` with no argument, under 2 minutes, readable digits.

Slow (about 40 s of training plus evaluation): run with `pytest -m slow`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ganzoo.cli.commands import main


@pytest.mark.slow
def test_default_vanilla_run_is_fast_and_draws_recognizable_digits(tmp_path, capsys):
    env = {**os.environ, "GANZOO_CACHE": str(tmp_path / "cache")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ganzoo", "run", "vanilla"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert seconds < 120, f"the quickstart run took {seconds:.0f} s"
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "samples" / "step_0010000.png").exists()
    # "recognizable": the digits classifier (held-out accuracy reported) sees many confident, varied classes
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["is_mean"] > 5.0, result   # 10 classes: 1 = one class or noise, ~9.5 for real digits
    assert result["precision"] > 0.5, result
