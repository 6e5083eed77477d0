"""The `ganzoo` command: the run folder it writes, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from ganzoo.cli.commands import main


def test_run_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "vanilla", "--steps", "40", "--sample-every", "20", "--log-every", "10", "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "ganzoo run vanilla" in captured.out and "img/s" in captured.out, "a summary table is printed"
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["model"] == "vanilla" and config["spec"]["steps"] == 40
    assert config["spec"]["batch_size"] == 64 and config["spec"]["optimizer_g"]["options"]["lr"] == 2e-4
    # each value once: the numbers the spec resolves are not repeated in "train", and nothing derived is stored
    assert not {"steps", "batch_size", "lr", "lr_g", "lr_d", "latent_dim"} & set(config["train"])
    assert "hyperparameters" not in config
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


def test_run_options_are_generated_from_every_train_config_field():
    from dataclasses import fields

    from ganzoo.cli.commands import RUN_KEYS, build_parser
    from ganzoo.spec.config import TrainConfig, flag_of

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    by_dest = {a.dest: a for a in run._actions}
    assert set(RUN_KEYS) == {f.name for f in fields(TrainConfig)}
    for f in fields(TrainConfig):
        action = by_dest[f.name]
        assert action.help == f.metadata["help"] and action.default is None, f.name
        if f.name != "model":
            assert flag_of(f) in action.option_strings
        if f.metadata.get("choices"):
            assert list(action.choices) == list(f.metadata["choices"])
    assert by_dest["ema_decay"].option_strings == ["--ema"] and by_dest["model"].option_strings == []
    assert {"--resume", "--from-previous", "--restart", "--quiet"} <= {s for a in run._actions for s in a.option_strings}


def test_new_settings_reach_the_run_and_its_summary(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(24):
        Image.fromarray(torch.randint(0, 256, (8, 8, 3), dtype=torch.uint8).numpy()).save(images / f"{i}.png")
    assert main(["prepare", str(images), "--image-size", "8", "--out", str(tmp_path / "cache"), "--quiet"]) == 0
    out = tmp_path / "run"
    assert main(["run", "dcgan", "--dataset", str(tmp_path / "cache"), "--steps", "2", "--batch-size", "16",
                 "--data-mode", "stream", "--mirror",
                 "--logger", "jsonl", "--regularizer", "r1:gamma=1", "--regularizer", "r2:gamma=1",
                 "--lr-g", "0.001", "--device", "cpu", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    train = config["train"]
    assert (train["data_mode"], train["mirror"], train["logger"]) == ("stream", True, "jsonl")
    assert train["regularizers"] == ["r1:gamma=1", "r2:gamma=1"] and config["spec"]["optimizer_g"]["options"]["lr"] == 0.001
    assert config["dataset"]["mode"] == "stream" and config["dataset"]["mirror"] is True
    printed = capsys.readouterr().out
    assert "uint8, stream from" in printed and "x-flips" in printed
    assert main(["run", "vanilla", "--data-mode", "disk", "--out", str(tmp_path / "x")]) == 2
    assert "invalid choice: 'disk'" in capsys.readouterr().err
