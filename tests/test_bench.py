"""`ganzoo bench` and `ganzoo report`: what they measure and write (shapes of the data, not timings)."""

from __future__ import annotations

import json

import pytest
import torch

import ganzoo
from ganzoo.bench import BenchOptions, bench, count_flops, measure_peak_flops
from ganzoo.cli import main
from ganzoo.config import TrainConfig
from ganzoo.trainer import Trainer

FIELDS = {"img_per_s", "step_ms", "step_ms_p10", "step_ms_p90", "flops_per_step", "mfu", "speedup_vs_eager",
          "precision", "compile", "setting"}


def test_bench_reports_every_setting_against_the_eager_reference():
    report = bench(BenchOptions(model="dcgan", shape=(1, 8, 8), batch_size=16, steps=3, warmup=1,
                                precisions=["fp32", "bf16"], compile=[False]))
    settings = [r["setting"] for r in report["results"]]
    assert settings == ["eager-fp32-reference", "fp32", "bf16"]
    for r in report["results"]:
        assert FIELDS <= set(r)
        assert r["step_ms_p10"] <= r["step_ms"] <= r["step_ms_p90"]
        assert r["img_per_s"] == pytest.approx(16 / (r["step_ms"] / 1e3))
        assert 0 < r["mfu"] < 1.5 and r["flops_per_step"] > 0
    ref, fp32 = report["results"][0], report["results"][1]
    assert fp32["speedup_vs_eager"] == pytest.approx(ref["step_ms"] / fp32["step_ms"])
    # the trainer skips D's weight gradients in the generator step: fewer FLOPs than the canonical loop
    assert fp32["flops_per_step"] < ref["flops_per_step"]
    assert set(report["peak_flops"]) == {"fp32", "bf16"} and report["n_critic"] == 1


def test_flop_count_includes_the_gradient_penalty():
    data = ganzoo.Dataset("s", torch.rand(64, 1, 8, 8) * 2 - 1)
    counts = {}
    for loss in ("wgan-gp", "ns"):
        t = Trainer(TrainConfig(model="wgan-gp", loss=loss, steps=1, batch_size=16, n_critic=1, precision="fp32",
                                out="/nonexistent"), dataset=data, progress=False)
        t._penalty_grad_via_backward = True
        counts[loss] = count_flops(t.train_step)
    assert counts["wgan-gp"] > 1.2 * counts["ns"], "the penalty's double backward is counted"


def test_penalty_via_backward_equals_autograd_grad():
    data = ganzoo.Dataset("s", torch.rand(64, 1, 8, 8) * 2 - 1)
    t = Trainer(TrainConfig(model="wgan-gp", steps=1, precision="fp32", out="/nonexistent"), dataset=data,
                progress=False)
    real, fake = data.data[:16], torch.rand(16, 1, 8, 8) * 2 - 1
    state = t.noise.get_state()
    a = t.gradient_penalty(real, fake)
    t.noise.set_state(state)
    t._penalty_grad_via_backward = True
    b = t.gradient_penalty(real, fake)
    assert torch.allclose(a, b)


def test_peak_flops_is_positive_and_bf16_is_measured_separately():
    assert measure_peak_flops(torch.device("cpu"), "fp32", size=256, reps=2) > 1e8


def test_bench_cli_json_and_report(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "vanilla", "--dataset-shape", "1,8,8", "--batch-size", "16", "--steps", "2", "--warmup",
                 "1", "--precision", "fp32", "--compile", "off", "--json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["model"] == "vanilla" and len(printed["results"]) == 2
    assert json.loads(out.read_text())["results"][1]["setting"] == "fp32"
    run = tmp_path / "run"
    assert main(["run", "vanilla", "--steps", "4", "--eval-every", "4", "--eval-samples", "200", "--out", str(run),
                 "--quiet"]) == 0
    capsys.readouterr()
    md = tmp_path / "report" / "report.md"
    assert main(["report", str(out), str(run), "--out", str(md)]) == 0
    text = md.read_text()
    assert "speedup vs eager" in text and "eager-fp32-reference" in text
    assert "| run | model | dataset |" in text and "| vanilla |" in text and "classifier" in text
    page = md.with_suffix(".html").read_text()
    assert "<table>" in page and "data:image/png;base64," in page


@pytest.mark.parametrize("argv,message", [
    (["bench", "vanilla", "--dataset-shape", "3,x,32"], "--dataset-shape must be"),
    (["bench", "vanilla", "--precision", "fp64"], "--precision takes"),
    (["bench", "vanila"], "unknown model 'vanila'"),
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
