"""`ganzoo bench`: interleaved rounds, both references, per-round ratios and their spread, memory, FLOPs, MFU."""

from __future__ import annotations

import json
import statistics
import sys

import pytest
import torch

import ganzoo.tools.bench as bench_module
from ganzoo.cli.commands import main
from ganzoo.engine.precision import autograd_input_grad, backward_input_grad, bf16_supported
from ganzoo.registry import get_registry
from ganzoo.tools.bench import (
    EAGER,
    TUNED,
    BenchOptions,
    LoopReference,
    bench,
    decimals_for,
    format_spread,
    make_trainer_step,
    measure_memory,
    measure_peak_flops,
    spread,
)

CPU = torch.device("cpu")
PRECISIONS = ["fp32", "bf16"] if bf16_supported(CPU) else ["fp32"]
FIELDS = {"img_per_s", "img_per_s_rounds", "step_ms", "step_ms_rounds", "step_ms_spread", "flops_per_step", "mfu",
          "speedup_vs_eager", "speedup_vs_eager_spread", "speedup_vs_tuned_eager", "speedup_vs_tuned_eager_spread",
          "peak_mem_mb", "peak_mem_kind", "precision", "compile", "setting", "kind"}


_PEAKS = {}


def _peaks():
    """Smaller-matrix peaks, measured once (the default 2048^2 products take seconds on a shared machine); best of
    20 so a busy moment on a shared machine does not understate the peak and push MFU over 1."""
    if not _PEAKS:
        _PEAKS.update({p: measure_peak_flops(CPU, p, size=512, reps=20) for p in PRECISIONS})
    return dict(_PEAKS)


def _tiny(model="dcgan", **kw):
    return BenchOptions(**{"model": model, "shape": (1, 8, 8), "batch_size": 16, "steps": 2, "warmup": 1,
                           "rounds": 2, "precisions": PRECISIONS, "compile": [False], "memory": False, **kw})


def test_settings_alternate_in_rounds_and_each_ratio_is_taken_within_its_round(monkeypatch):
    calls = []
    real_time_steps = bench_module._time_steps

    def recording(step, device, steps):
        calls.append(step)
        return real_time_steps(step, device, steps)

    monkeypatch.setattr(bench_module, "_time_steps", recording)
    report = bench(_tiny("vanilla", rounds=3), peaks=_peaks())
    rows = report["results"]
    assert [r["setting"] for r in rows] == [EAGER, TUNED, *PRECISIONS]
    n = len(rows)
    timed = calls[n:]  # after one warm-up call per setting: A B C A B C A B C
    assert len(timed) == 3 * n and timed == timed[:n] * 3 and len({id(s) for s in timed[:n]}) == n
    eager, tuned = rows[0], rows[1]
    for r in rows:
        assert FIELDS <= set(r)
        assert len(r["step_ms_rounds"]) == 3
        per_round = [e / m for e, m in zip(eager["step_ms_rounds"], r["step_ms_rounds"])]
        assert r["speedup_vs_eager_rounds"] == pytest.approx(per_round)
        assert r["speedup_vs_eager"] == pytest.approx(statistics.median(per_round))
        vs_tuned = [t / m for t, m in zip(tuned["step_ms_rounds"], r["step_ms_rounds"])]
        assert r["speedup_vs_tuned_eager"] == pytest.approx(statistics.median(vs_tuned))
        s = r["speedup_vs_eager_spread"]
        assert s["min"] <= s["q1"] <= s["median"] <= s["q3"] <= s["max"]
        assert r["img_per_s"] == pytest.approx(16 / (r["step_ms"] / 1e3))
        assert 0 < r["mfu"] < 1.0 and r["flops_per_step"] > 0
    assert eager["speedup_vs_eager_rounds"] == [1.0] * 3 and tuned["speedup_vs_tuned_eager_rounds"] == [1.0] * 3
    # the trainer skips D's weight gradients in the generator step: fewer FLOPs than the canonical loop
    assert rows[2]["flops_per_step"] < eager["flops_per_step"]
    assert set(report["peak_flops"]) >= set(PRECISIONS) and report["rounds"] == 3 and report["n_critic"] == 1


def test_a_setting_that_fails_mid_run_is_listed_and_the_others_are_still_reported(monkeypatch):
    real = bench_module.make_trainer_step

    def flaky(model, shape, precision, **kw):
        step, modules, flop_fn = real(model, shape, precision, **kw)
        calls = [0]

        def failing_step():
            calls[0] += 1
            if calls[0] == 4:
                raise RuntimeError("CUDA graphs: output overwritten\nsecond line")
            step()

        return (failing_step if precision == PRECISIONS[-1] else step), modules, flop_fn

    monkeypatch.setattr(bench_module, "make_trainer_step", flaky)
    report = bench(_tiny("vanilla", rounds=3), peaks=_peaks())
    assert [r["setting"] for r in report["results"]] == [EAGER, TUNED, *PRECISIONS[:-1]]
    assert report["failed"] == [{"setting": PRECISIONS[-1], "error": "RuntimeError: CUDA graphs: output overwritten"}]


def test_spread_matches_statistics_and_figures_are_quoted_at_the_precision_the_spread_supports():
    values = [1.1, 1.4, 1.2, 1.9, 1.3]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    assert spread(values) == {"median": q2, "min": 1.1, "max": 1.9, "q1": q1, "q3": q3}
    assert spread([2.0]) == {"median": 2.0, "min": 2.0, "max": 2.0, "q1": 2.0, "q3": 2.0}
    assert format_spread(2.43, 2.21, 2.62) == "2.4x (2.2-2.6)"
    assert format_spread(1.2345, 1.2312, 1.2381) == "1.234x (1.231-1.238)"
    assert format_spread(1234.0, 1180.0, 1320.0, unit=" img/s") == "1234 img/s (1180-1320)"
    assert format_spread(1.0, 1.0, 1.0) == "1.00x"
    assert decimals_for(0.05) == 2 and decimals_for(7) == 0 and decimals_for(0.0) == 3


def test_references_start_from_the_trainers_weights_and_differ_only_in_the_users_lines():
    data = torch.rand(64, 3, 8, 8) * 2 - 1
    _, modules, _ = make_trainer_step("dcgan", (3, 8, 8), "fp32", batch_size=8, data=data)
    registry = get_registry()
    eager = LoopReference("dcgan", (3, 8, 8), data, 8, CPU, 0, registry, tuned=False)
    tuned = LoopReference("dcgan", (3, 8, 8), data, 8, CPU, 0, registry, tuned=True)
    for ref in (eager, tuned):
        for a, b in zip(ref.G.state_dict().values(), modules["generator"].state_dict().values()):
            assert torch.equal(a, b)
    assert (eager.precision, eager.channels_last) == ("fp32", False)
    assert tuned.precision == ("bf16" if bf16_supported(CPU) else "fp32") and tuned.channels_last
    assert tuned.opt_d.defaults.get("fused") or tuned.opt_d.defaults.get("foreach")
    mlp = LoopReference("vanilla", (3, 8, 8), data, 8, CPU, 0, registry, tuned=True)
    assert not mlp.channels_last, "channels-last only for convolutional models"


def test_tuned_reference_reads_no_value_back_per_step_and_the_eager_one_does(monkeypatch):
    data = torch.rand(64, 1, 8, 8) * 2 - 1
    registry = get_registry()
    counts = {}
    real_item = torch.Tensor.item
    for tuned in (False, True):
        ref = LoopReference("dcgan", (1, 8, 8), data, 8, CPU, 0, registry, tuned=tuned)
        n = [0]

        def item(self, _n=n):
            if sys._getframe(1).f_code.co_filename == bench_module.__file__:  # the loop's own reads, not Adam's
                _n[0] += 1
            return real_item(self)

        monkeypatch.setattr(torch.Tensor, "item", item)
        ref.step()
        monkeypatch.setattr(torch.Tensor, "item", real_item)
        counts[tuned] = n[0]
    assert counts == {False: 5, True: 0}


class _SquareCritic(torch.nn.Module):
    """D(x) = sum(x^2): grad_x D = 2x, so gamma/2 E||grad||^2 = 2 gamma E||x||^2 by hand."""

    def forward(self, x):
        return (x ** 2).flatten(1).sum(1)


def test_reference_penalties_equal_their_formula_through_both_gradient_paths_and_lazy_terms_are_scaled():
    data = torch.rand(64, 1, 8, 8) * 2 - 1
    ref = LoopReference("r3gan", (1, 8, 8), data, 8, CPU, 0, get_registry(), tuned=False)
    (r1, _, _), (r2, _, _) = ref.regs["D"]  # (regulariser, every, separate)
    assert (r1.gamma, r2.gamma) == (0.05, 0.05), "the recipe's gamma, not a default"
    ref.D = _SquareCritic()
    x = (torch.rand(8, 1, 8, 8) * 2 - 1).requires_grad_(True)
    expected = 2 * 0.05 * x.detach().flatten(1).pow(2).sum(1).mean()
    for grad_fn in (autograd_input_grad, backward_input_grad):
        ref.input_grad_fn = grad_fn  # the FLOP counter's path must compute the same term
        scores, _ = ref.critic(x, None)
        ctx = ref.context("D", x, x, scores, scores, None, None, None, None, None)
        assert torch.allclose(ref.regularize([(r1, 1)], ctx), expected)
    ref.input_grad_fn = autograd_input_grad
    scores, _ = ref.critic(x, None)
    ctx = ref.context("D", x, x, scores, scores, None, None, None, None, None)
    assert torch.allclose(ref.regularize([(r1, 4)], ctx), 4 * expected), "a lazy term is multiplied by its interval"
    ref.regs["D"] = [(r1, 4, False)]
    due = []
    for step in range(1, 9):
        ref.steps = step
        due.append(bool(ref.due("D")))
    assert due == [False, False, False, True] * 2
    assert torch.allclose(ref.regularize([(r2, 1)], ctx), expected), "R2: the same formula on the fake batch"
    gp_ref = LoopReference("wgan-gp", (1, 8, 8), data, 8, CPU, 0, get_registry(), tuned=False)
    gp_ref.D = _SquareCritic()
    (gp, _, _), = gp_ref.regs["D"]
    ctx = gp_ref.context("D", x, x, scores, scores, None, None, None, None, None)  # real = fake: x_hat = x
    norm = 2 * x.detach().flatten(1).norm(dim=1)
    assert torch.allclose(gp_ref.regularize([(gp, 1)], ctx), 10 * ((norm - 1) ** 2).mean()), "WGAN-GP, lambda 10"


@pytest.mark.parametrize("model", ["wgan-gp", "gan-r1", "infogan"])
def test_reference_loops_count_the_recipes_regularisers(model):
    data = torch.rand(64, 1, 8, 8) * 2 - 1
    ref = LoopReference(model, (1, 8, 8), data, 8, CPU, 0, get_registry(), tuned=False)
    ref.n_critic = 1
    with_regs = ref.count_flops()
    ref.regs = {"D": [], "G": []}
    assert with_regs > ref.count_flops(), "the regularisers' work is timed and counted (FLOP counts are exact)"
    assert not ref.notes


def test_reference_wgan_loop_clips_the_critic_after_its_step():
    data = torch.rand(64, 1, 8, 8) * 2 - 1
    wgan = LoopReference("wgan", (1, 8, 8), data, 8, CPU, 0, get_registry(), tuned=False)
    wgan.step()
    assert max(p.abs().max().item() for p in wgan.D.parameters()) <= 0.01
    assert max(p.abs().max().item() for p in wgan.G.parameters()) > 0.01, "only D is clipped"


def _trainer_flops(model: str, data: torch.Tensor, **spec_overrides) -> int:
    from ganzoo.engine.assemble import build_update

    update = build_update(model, (1, 8, 8), batch_size=8, **spec_overrides)
    update.input_grad_fn = backward_input_grad  # what bench's FLOP counter injects
    return bench_module.count_flops(lambda: update.step(1, 10, lambda: (data[:8], None)))


@pytest.mark.parametrize("model", ["dcgan", "gan-r1", "r3gan", "wgan-gp", "infogan"])
def test_trainer_step_does_its_regularisers_and_no_more_work_than_the_reference_loop(model):
    """Same math, no extra FLOPs: R1/R2 take their input gradients over separate real and fake passes (a joint pass
    would run the penalty's double backward over both halves); and the regularisers are done, not skipped."""
    data = torch.rand(64, 1, 8, 8) * 2 - 1
    ref = LoopReference(model, (1, 8, 8), data, 8, CPU, 0, get_registry(), tuned=False)
    flops = _trainer_flops(model, data)
    assert flops <= ref.count_flops()
    if ref.regs["D"] or ref.regs["G"]:
        assert flops > _trainer_flops(model, data, drop_recipe_regularizers=True)


@pytest.mark.skipif(not bf16_supported(CPU), reason="this CPU has no bf16 matrix units (AVX512-BF16/AMX)")
def test_bf16_peak_is_measured_in_bf16():
    fp32 = measure_peak_flops(CPU, "fp32", size=1024, reps=3)
    bf16 = measure_peak_flops(CPU, "bf16", size=1024, reps=3)
    assert fp32 > 1e8 and bf16 > 1.3 * fp32, "a bf16 product on bf16 units beats fp32; equal would mean fp32 was timed"


def test_peak_flops_matches_a_direct_timing_of_the_product():
    import time

    a, b = torch.randn(512, 512), torch.randn(512, 512)
    a @ b
    best = min(_timed(lambda: a @ b, time) for _ in range(20))  # best of 20: robust to a busy moment
    measured = measure_peak_flops(CPU, "fp32", size=512, reps=20)
    assert 0.2 < measured / (2 * 512**3 / best) < 5  # same operation, same order of magnitude on a shared machine


def _timed(fn, time):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


_RSS_CHILD = """
import json, torch
import ganzoo.tools.bench as b
before = b.reset_rss_peak()
if before is None:
    print(json.dumps(None))
else:
    x = torch.ones(40_000_000)  # 160 MB
    x.add_(1)
    del x
    grown = b.status_mb("VmHWM") - before
    now = b.reset_rss_peak()
    print(json.dumps([grown, b.status_mb("VmHWM") - now]))
"""


def test_rss_peak_resets_so_each_setting_reports_only_its_own_peak():
    # In a fresh process, as measure_memory runs each setting: a long-lived process (this pytest run) may hold freed
    # pages that a new tensor reuses without raising the peak.
    import subprocess

    out = subprocess.run([sys.executable, "-c", _RSS_CHILD], capture_output=True, text=True, timeout=120, check=True)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    if measured is None:
        pytest.skip("this OS cannot reset a process's peak RSS (/proc/self/clear_refs)")
    grown, after_reset = measured
    assert grown > 120, measured
    assert after_reset < 20, "after a reset the old peak no longer counts"


@pytest.mark.slow
def test_memory_per_setting_grows_with_the_batch_in_fresh_processes():
    base = {"model": "dcgan", "shape": [3, 32, 32], "seed": 0, "device": "cpu", "threads": 1, "steps": 3,
            "channels_last": "auto", "precision": "fp32", "compile": False}
    specs = [{**base, "batch_size": b, "kind": k} for b in (8, 128) for k in (EAGER, "trainer")]
    results, info = measure_memory(specs, CPU)
    small, large = [r["peak_mem_mb"] for r in results[:2]], [r["peak_mem_mb"] for r in results[2:]]
    assert all(m is not None and m > 0 for m in small + large), results
    assert all(big > s + 20 for s, big in zip(small, large)), (small, large)
    assert "fresh process" in info["kind"]


def test_bench_cli_json_carries_both_speedups_with_spreads(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "vanilla", "--dataset-shape", "1,8,8", "--batch-size", "16", "--steps", "2", "--warmup",
                 "1", "--rounds", "2", "--precision", "fp32", "--compile", "off", "--memory", "off", "--peak-size", "256", "--json",
                 "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["setting"] for r in printed["results"]] == [EAGER, TUNED, "fp32"]
    row = json.loads(out.read_text())["results"][2]
    assert len(row["speedup_vs_eager_rounds"]) == 2 and "min" in row["speedup_vs_tuned_eager_spread"]


def test_bench_all_lists_models_that_do_not_build_as_skipped(tmp_path, capsys):
    out = tmp_path / "zoo.json"
    assert main(["bench", "--all", "--dataset-shape", "1,6,6", "--batch-size", "8", "--steps", "1", "--warmup", "0",
                 "--rounds", "1", "--precision", "fp32", "--compile", "off", "--memory", "off", "--peak-size", "256", "--out",
                 str(out)]) == 0
    zoo = json.loads(out.read_text())
    benched = {b["model"] for b in zoo["benches"]}
    skipped = {s["model"]: s["reason"] for s in zoo["skipped"]}
    assert benched | set(skipped) == set(get_registry().names("model"))
    assert "vanilla" in benched and "dcgan" in skipped and "8..128" in skipped["dcgan"]
    assert "skipped dcgan" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["bench", "vanilla", "--dataset-shape", "3,x,32"], "--dataset-shape must be"),
    (["bench", "vanilla", "--precision", "fp64"], "--precision takes"),
    (["bench", "vanila"], "unknown model 'vanila'"),
    (["bench"], "name one model to bench, or pass --all"),
    (["bench", "dcgan", "--all"], "name one model to bench, or pass --all"),
    (["bench", "vanilla", "--precision", "fp16", "--device", "cpu"], "not supported on cpu"),
    (["report", "/nonexistent/bench.json"], "does not exist"),
])
def test_bench_and_report_bad_input(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_report_refuses_a_json_that_is_not_a_bench(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}')
    assert main(["report", str(path)]) == 2
    assert "not a ganzoo bench result" in capsys.readouterr().err


def test_zoo_skips_a_model_whose_step_fails_and_keeps_the_others(monkeypatch):
    """`ganzoo bench --all`: one model that cannot step (e.g. packs of 3 in a batch of 64) is a skipped row with its
    reason, not an internal error that loses the whole zoo."""
    monkeypatch.setattr(bench_module, "buildable_models", lambda shape, registry=None: (["good", "bad"], []))

    def fake_bench(options, registry=None, progress=None, peaks=None):
        if options.model == "bad":
            raise ValueError("a batch of 64 samples cannot be split into packs of 3")
        return {"model": options.model, "results": []}

    monkeypatch.setattr(bench_module, "bench", fake_bench)
    zoo = bench_module.bench_zoo(BenchOptions(model="", shape=(1, 8, 8)), registry=get_registry())
    assert [b["model"] for b in zoo["benches"]] == ["good"]
    reason = "failed: a batch of 64 samples cannot be split into packs of 3"
    assert zoo["skipped"] == [{"model": "bad", "reason": reason}]


def test_zoo_mfu_uses_the_largest_peak_measured_over_the_run(monkeypatch):
    """A peak measured in a slow moment would push MFU over 1: the zoo measures again after every model and computes
    every model's MFU against the largest."""
    measured = iter([100.0, 300.0, 200.0, 150.0])  # before the first model, then after each of the three
    monkeypatch.setattr(bench_module, "measure_peak_flops", lambda device, p, size=None: next(measured))
    monkeypatch.setattr(bench_module, "buildable_models", lambda shape, registry=None: (["a", "b", "c"], []))

    def fake_bench(options, registry=None, progress=None, peaks=None):
        if not peaks:
            peaks["fp32"] = bench_module.measure_peak_flops(CPU, "fp32")
        return {"model": options.model, "results": [{"precision": "fp32", "achieved_flops": 60.0}]}

    monkeypatch.setattr(bench_module, "bench", fake_bench)
    zoo = bench_module.bench_zoo(BenchOptions(model="", shape=(1, 8, 8)), registry=get_registry())
    assert zoo["peak_flops"] == {"fp32": 300.0}
    assert [r["mfu"] for b in zoo["benches"] for r in b["results"]] == [0.2, 0.2, 0.2]


def test_bench_measures_its_peaks_before_and_after_the_rounds_and_keeps_the_larger(monkeypatch):
    calls = []

    measured = len(set(PRECISIONS) | {"fp32"})  # the peaks a bench measures (fp32 always)

    def fake_peak(device, precision, size=None):
        calls.append(precision)
        return 1e6 if len(calls) <= measured else 1e15  # a slow first measurement, a true one after the rounds

    monkeypatch.setattr(bench_module, "measure_peak_flops", fake_peak)
    report = bench(_tiny("vanilla", rounds=1))
    assert len(calls) == 2 * measured and set(report["peak_flops"].values()) == {1e15}
    assert all(0 < r["mfu"] < 1e-3 for r in report["results"])
    assert "larger of two measurements" in report["peak_flops_measures"]


def test_zoo_includes_conditional_models_with_synthetic_labels():
    """`ganzoo bench --all` builds class-conditional recipes with 10 synthetic classes, as `ganzoo bench MODEL` does."""
    models, skipped = bench_module.buildable_models((1, 8, 8), get_registry())
    assert {"acgan", "cgan-pd"} <= set(models) and skipped == []


def test_bench_shows_what_the_lazy_regularisers_cost_and_averages_flops_over_their_interval():
    options = BenchOptions(model="stylegan2", shape=(1, 8, 8), batch_size=8, steps=8, warmup=1, rounds=2,
                           precisions=["fp32"], compile="off", memory="off", peak_size=256)
    report = bench(options, registry=get_registry())
    assert report["lazy_regularizers"]["every"] == {"r1": 16, "pl": 4}
    assert report["flops_averaged_over_steps"] == 16
    row = report["results"][2]
    lazy = row["lazy"]
    timed = range(3, 3 + 16)  # one untimed first step and one warm-up step, then 2 rounds of 8
    assert lazy["due"]["pl"]["steps"] == sum(k % 4 == 0 for k in timed) == 4
    assert lazy["due"]["r1"]["steps"] == sum(k % 16 == 0 for k in timed) == 1
    assert lazy["plain_steps"] == sum(k % 4 != 0 for k in timed)
    assert lazy["due"]["pl"]["x_plain"] > 1  # a path-length step does a second generator pass with double backward
    # the interval's mean FLOPs lie between a plain step's and a step with both terms
    step, _, flop_fn = make_trainer_step("stylegan2", (1, 8, 8), "fp32", batch_size=8, registry=get_registry())
    single = [flop_fn() for _ in range(16)]
    assert min(single) < row["flops_per_step"] < max(single)
    # style mixing is drawn per batch (a second mapping pass, ~7% of a step), so counts depend on the RNG's position:
    # the bench's 16 steps and these 16 agree on average, not exactly; one plain step (942M of 1039M) is 9% off
    assert row["flops_per_step"] == pytest.approx(sum(single) / 16, rel=0.04)
