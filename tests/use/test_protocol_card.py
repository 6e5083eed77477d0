"""Every quality number ganzoo prints or writes carries its protocol card: which extractor weights, which real images
and how many, how many generated from which weights and seed, KID/IS settings, which ganzoo."""

from __future__ import annotations

import json

import pytest
import torch

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.metrics.evaluate import resolve_extractor
from ganzoo.tools.report import load_inputs, run_rows

ARGS = ["--steps", "6", "--batch-size", "16", "--device", "cpu", "--precision", "fp32", "--seed", "4",
        "--log-every", "3", "--quiet"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("card") / "run"
    assert main(["run", "vanilla", *ARGS, "--ema", "0.9", "--eval-every", "6", "--eval-samples", "300",
                 "--out", str(out)]) == 0
    return out


def test_eval_json_and_the_printed_table_carry_the_card(digits_run, capsys):
    assert main(["eval", str(digits_run), "--samples", "400"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((digits_run / "eval.json").read_text())
    card = result["protocol"]
    extractor = resolve_extractor("classifier", ganzoo.load_dataset("digits"), torch.device("cpu"))
    assert card["generated"] == 400 == result["num_samples"]
    assert card["reference"] == "digits: all 1,797 images" and result["num_real"] == 1797
    assert card["generator"] == "EMA weights at step 6"
    assert card["latents"] == "the generator's latent draw from a CPU generator seeded 1000007"  # 1,000,003 + seed 4
    assert f"weights sha256 {extractor.weights_sha256[:12]}" in card["extractor"]
    assert card["kid"] == f"50 subsets of {result['kid_subset_size']}" and card["is"] == "10 splits"
    assert card["ganzoo"].startswith(ganzoo.__version__)
    flat = " ".join(printed.split())
    assert "protocol: generated 400; reference digits: all 1,797 images" in flat
    assert extractor.weights_sha256[:12] in flat


def test_the_trainers_own_evaluations_and_reports_carry_it(digits_run, tmp_path):
    records = [json.loads(line) for line in (digits_run / "metrics.jsonl").read_text().splitlines()]
    (evaluation,) = [r["eval"] for r in records if "eval" in r]
    assert evaluation["protocol"]["generated"] == 300
    assert evaluation["protocol"]["generator"] == "EMA weights at step 6"
    _, _, runs = load_inputs([digits_run])
    header, rows = run_rows(runs)
    assert header[-1] == "protocol" and "reference digits: all 1,797 images" in rows[0][-1]


def test_mode_metrics_carry_their_mixture(tmp_path, capsys):
    out = tmp_path / "ring"
    assert main(["run", "vanilla", "--dataset", "ring8", *ARGS, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--samples", "500", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)["protocol"]
    assert card["reference"] == "ring8's mixture: modes at its 8 centres, std 0.01" and card["generated"] == 500
    assert card["generator"] == "raw weights at step 6"
