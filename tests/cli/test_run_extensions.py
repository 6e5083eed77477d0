"""What a plugin author can reach from the CLI and the Python API: any registered constraint on any model, every
extension kind through ganzoo.train, and one-line errors for values and mixes that cannot work."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import one_line_error

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.errors import GanzooError
from ganzoo.store.checkpoint import load_checkpoint

FAST = ["--steps", "2", "--batch-size", "16", "--precision", "fp32", "--device", "cpu"]


def test_a_registered_constraint_applies_to_a_model_that_has_none(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "dcgan", "--constraint", "clip:bound=0.003", "--out", str(out), *FAST]) == 0
    assert "constraints clip(bound=0.003)" in capsys.readouterr().out  # the summary names what ran
    spec = json.loads((out / "config.json").read_text())["spec"]
    assert spec["constraints"] == [{"name": "clip", "options": {"bound": 0.003}}]
    state = load_checkpoint(out / "checkpoint.pt")
    d_max = max(t.abs().max().item() for k, t in state["discriminator"].items() if t.is_floating_point()
                and not k.endswith(("running_mean", "running_var")))
    g_max = max(t.abs().max().item() for t in state["generator"].values() if t.is_floating_point())
    assert d_max <= 0.003 + 1e-9 and g_max > 0.003, "the clip constraint bounds D only"


def test_train_takes_every_extension_kind(tmp_path):
    result = ganzoo.train(model="vanilla", steps=2, batch_size=16, precision="fp32", device="cpu",
                          out=str(tmp_path / "r"), regularizers=["r1:gamma=1,every=2"], schedules=["linear-decay"],
                          augment="diffaugment:policy=translation", constraints=["clip:bound=0.5"])
    spec = result.config["spec"]
    assert [r["name"] for r in spec["regularizers"]][-1] == "r1"
    assert spec["schedules"][0]["name"] == "linear-decay" and spec["augment"]["name"] == "diffaugment"
    assert spec["constraints"] == [{"name": "clip", "options": {"bound": 0.5}}]


@pytest.mark.parametrize("settings,phrase", [
    ({"constraint": ["clip"]}, "unknown training setting 'constraint'; did you mean constraints"),
    ({"constraints": "clip"}, "--constraint takes NAME[:key=value,...] strings"),
    ({"regularizers": [3]}, "--regularizer takes NAME[:key=value,...] strings"),
    ({"constraints": ["no-such-constraint"]}, "no-such-constraint"),
])
def test_bad_extension_values_are_one_line_ganzoo_errors(settings, phrase, tmp_path):
    with pytest.raises(GanzooError, match=phrase.replace("[", r"\[").replace(".", r"\.")):
        ganzoo.train(model="dcgan", steps=1, device="cpu", out=str(tmp_path / "r"), **settings)


def test_a_mix_of_conditional_and_unconditional_networks_is_a_one_line_error(tmp_path, capsys):
    code = main(["run", "--generator", "dcgan", "--discriminator", "cgan-pd", "--loss", "hinge", "--quiet",
                 "--out", str(tmp_path / "a"), *FAST])
    assert code == 2
    one_line_error(capsys, "discriminator 'cgan-pd' is class-conditional", "not a conditional model")
    code = main(["run", "cgan-pd", "--generator", "dcgan", "--quiet", "--out", str(tmp_path / "b"), *FAST])
    assert code == 2
    one_line_error(capsys, "generator 'dcgan' takes no labels", "class-conditional")
    code = main(["run", "--generator", "acgan", "--discriminator", "dcgan", "--loss", "ns", "--quiet",
                 "--out", str(tmp_path / "c"), *FAST])
    assert code == 2
    one_line_error(capsys, "generator 'acgan' is class-conditional")
    assert not any((tmp_path / name).exists() for name in "abc"), "refused before any file is written"


def test_the_conformance_kit_checks_conditional_components_with_their_classes():
    from ganzoo.testing import check_discriminator, check_generator

    g = check_generator("acgan", (1, 8, 8), num_classes=3)
    check_discriminator("cgan-pd", (1, 8, 8), num_classes=3)
    assert g(torch.randn(2, 16), torch.tensor([0, 2])).shape == (2, 1, 8, 8)
