"""The live view's arithmetic: time left from measured step rates and finished runs' times."""

import pytest

from ganzoo.cli.suite import eta_seconds


def row(status, step=None, total=None, rate=None, seconds=None):
    return {"status": status, "step": step, "total": total, "steps_per_second": rate, "seconds": seconds}


def test_eta_is_started_runs_remaining_steps_plus_queued_runs_at_the_finished_mean_over_workers():
    rows = [row("done", seconds=100.0), row("done", seconds=140.0),
            row("started", step=200, total=1000, rate=10.0),   # 80 s left
            row("queued"), row("queued")]                       # 2 x 120 s
    assert eta_seconds(rows, workers=2) == pytest.approx((80 + 240) / 2)


def test_eta_uses_a_started_runs_projection_before_any_run_finished():
    rows = [row("started", step=100, total=400, rate=4.0), row("queued")]  # 75 s left; a run takes 100 s
    assert eta_seconds(rows, workers=1) == pytest.approx(75 + 100)


def test_no_eta_without_any_measured_rate():
    assert eta_seconds([row("queued"), row("started", step=0, total=10)], workers=2) is None
