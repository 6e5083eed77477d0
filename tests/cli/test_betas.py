"""`--betas B1,B2`: Adam's betas of both networks over the recipe's, kept across a resume, refused in one line
where they cannot apply."""

from __future__ import annotations

import json

import pytest
import torch

from ganzoo.cli.commands import main
from ganzoo.errors import GanzooError
from ganzoo.spec.config import TrainConfig


def _betas_in_checkpoint(run):
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    return [tuple(state[opt]["param_groups"][0]["betas"]) for opt in ("opt_g", "opt_d")]


def test_betas_reach_both_optimisers_and_survive_a_resume(tmp_path):
    run = tmp_path / "run"
    assert main(["run", "dcgan", "--betas", "0.5,0.9", "--steps", "1", "--batch-size", "8", "--precision", "fp32",
                 "--out", str(run), "--quiet"]) == 0
    spec = json.loads((run / "config.json").read_text())["spec"]
    assert spec["optimizer_g"]["options"]["betas"] == [0.5, 0.9] == spec["optimizer_d"]["options"]["betas"]
    assert spec["optimizer_g"]["options"]["lr"] == 2e-4, "the recipe's lr stays"
    assert "betas" not in json.loads((run / "config.json").read_text())["train"], "stored once, in the spec"
    assert _betas_in_checkpoint(run) == [(0.5, 0.9), (0.5, 0.9)]
    assert main(["run", "--resume", str(run), "--steps", "2", "--quiet"]) == 0
    assert _betas_in_checkpoint(run) == [(0.5, 0.9), (0.5, 0.9)]


def test_without_betas_the_recipe_s_stay(tmp_path):
    run = tmp_path / "run"
    assert main(["run", "dcgan", "--steps", "1", "--batch-size", "8", "--out", str(run), "--quiet"]) == 0
    assert _betas_in_checkpoint(run) == [(0.5, 0.999), (0.5, 0.999)]


@pytest.mark.parametrize("text", ["0.5", "0.5,1.0", "0.5,-0.1", "a,b", "0.5,0.9,0.99"])
def test_bad_betas_are_one_line(tmp_path, capsys, text):
    assert main(["run", "dcgan", "--betas", text, "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--betas takes two numbers in [0, 1)" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_betas_on_an_optimiser_without_them_is_refused(tmp_path, capsys):
    assert main(["run", "wgan", "--betas", "0.5,0.9", "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "takes none; drop --betas" in err and "rmsprop" in err and "Traceback" not in err


def test_python_api_validates_betas():
    assert TrainConfig(betas=[0.0, 0.99]).validate().betas == [0.0, 0.99]
    with pytest.raises(GanzooError, match=r"--betas takes two numbers in \[0, 1\)"):
        TrainConfig(betas=[0.5, 2]).validate()
