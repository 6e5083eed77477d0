"""The `ganzoo` command: the run folder it writes, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from ganzoo.cli import main


def test_run_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "vanilla", "--steps", "40", "--sample-every", "20", "--log-every", "10", "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "ganzoo run vanilla" in captured.out and "img/s" in captured.out, "a summary table is printed"
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["model"] == "vanilla" and config["train"]["steps"] == 40
    assert config["train"]["batch_size"] == 64 and config["hyperparameters"]["lr_g"] == 2e-4
    assert config["components"] == {"generator": "mlp", "discriminator": "mlp", "loss": "ns"}
    assert config["plugins"]["ganzoo"] == "0.1.0" and config["precision"] in ("bf16", "fp32")
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert all({"loss_d", "loss_g", "img_per_s"} <= set(r) for r in records)
    grids = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert grids == ["step_0000020.png", "step_0000040.png"]
    assert Image.open(out / "samples" / grids[0]).width >= 256
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert {"generator", "discriminator", "opt_g", "opt_d", "scaler_g", "scaler_d", "step", "rng", "sampler"} <= set(state)
    assert state["step"] == 40


def test_mixed_components_from_the_command_line(tmp_path):
    out = tmp_path / "mix"
    assert main(["run", "--generator", "dcgan", "--discriminator", "dcgan", "--loss", "wgan-gp", "--steps", "3",
                 "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["components"] == {"generator": "dcgan", "discriminator": "dcgan", "loss": "wgan-gp"}


def test_two_d_dataset_run_draws_a_scatter_plot(tmp_path):
    out = tmp_path / "ring"
    assert main(["run", "vanilla", "--dataset", "ring8", "--steps", "4", "--out", str(out), "--quiet"]) == 0
    picture = Image.open(next((out / "samples").glob("*.png")))
    assert picture.size == (512, 512) and picture.mode == "RGB"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["run", "vanila"], "unknown model 'vanila'; did you mean 'vanilla'"),
        (["run", "vanilla", "--dataset", "digitz"], "unknown dataset 'digitz'; did you mean 'digits'"),
        (["run", "vanilla", "--loss", "nss"], "unknown loss 'nss'"),
        (["run", "vanilla", "--steps", "0"], "--steps must be positive"),
        (["run", "vanilla", "--steps", "ten"], "--steps must be a number"),
        (["run", "vanilla", "--lr", "-1"], "--lr must be positive"),
        (["run", "vanilla", "--batch-size", "1.5"], "--batch-size must be a number"),
        (["run", "vanilla", "--precision", "fp8"], "invalid choice: 'fp8'"),
        (["run", "vanilla", "--device", "cuda"], "no CUDA GPU is available"),
        (["run", "vanilla", "--device", "tpu"], "unknown device 'tpu'"),
        (["run", "vanilla", "--precision", "fp16", "--device", "cpu"], "fp16 needs a CUDA device"),
        (["run"], "no model named"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, message, capsys, tmp_path):
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(argv + (["--out", str(tmp_path / "r")] if argv[0] == "run" and len(argv) > 1 else []))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_python_dash_m_and_console_script_work(tmp_path):
    env = {**os.environ, "GANZOO_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "ganzoo", "run", "vanila"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "did you mean 'vanilla'" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "ganzoo", "run", "vanilla", "--steps", "5", "--quiet",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "checkpoint.pt").exists()


def test_list_filters_by_kind(capsys):
    assert main(["list", "losses"]) == 0
    out = capsys.readouterr().out
    assert "wgan-gp" in out and "minimax" in out and "digits" not in out
