"""ganzoo.use.load: a trained run as a GAN in eval mode, with the right weights, and nothing of training."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from use_runs import COND_CLASSES, COND_PLUGIN, train_vanilla, write_conditional_run

import ganzoo
from ganzoo.errors import CheckpointError, GanzooError
from ganzoo.store.checkpoint import load_checkpoint
from ganzoo.use.sampling import generate, sample

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vanilla_run(tmp_path_factory):
    return train_vanilla(tmp_path_factory.mktemp("load") / "run")


def test_load_gives_the_ema_generator_in_eval_mode(vanilla_run):
    gan = ganzoo.load(vanilla_run)
    state = load_checkpoint(vanilla_run / "checkpoint.pt")
    assert state["ema"] is not None
    for k, v in gan.generator.state_dict().items():
        assert torch.equal(v, state["ema"][k]), k
    assert not gan.generator.training and not gan.discriminator.training
    assert gan.loaded_from == {"run_dir": str(vanilla_run), "step": 3, "weights": "ema"}
    assert gan.latent_dim == 64 and gan.shape == (1, 8, 8)
    # the raw generator differs from its EMA after 3 steps, and ema=False loads it
    raw = ganzoo.load(vanilla_run, ema=False)
    assert raw.loaded_from["weights"] == "generator"
    assert all(torch.equal(v, state["generator"][k]) for k, v in raw.generator.state_dict().items())
    assert not all(torch.equal(v, state["ema"][k]) for k, v in raw.generator.state_dict().items())


def test_loaded_samples_match_a_direct_forward_pass(vanilla_run):
    gan = ganzoo.load(vanilla_run)
    z = torch.randn(5, gan.latent_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        direct = gan.generator(z)
    assert torch.equal(generate(gan, z), direct)
    x = sample(gan, 16, seed=7)
    assert x.shape == (16, 1, 8, 8) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert torch.equal(x, sample(gan, 16, seed=7)) and not torch.equal(x, sample(gan, 16, seed=8))


def test_load_module_does_not_import_the_trainer_or_data():
    tree = ast.parse((ROOT / "ganzoo" / "use" / "load.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    banned = ("ganzoo.run", "ganzoo.data", "ganzoo.engine.distributed", "ganzoo.engine.ema")
    assert not {m for m in imported if m and m.startswith(banned)}


def test_conditional_run_loads_with_its_classes(plugin_dist, tmp_path):
    plugin_dist("ganzoo-cond", "ganzoo_cond", COND_PLUGIN)
    run = write_conditional_run(tmp_path / "cond")
    gan = ganzoo.load(run)
    assert gan.num_classes == COND_CLASSES and gan.loaded_from["weights"] == "ema"
    y = torch.tensor([0, 1, 2, 2])
    x = sample(gan, labels=y, seed=1)
    assert x.shape == (4, 1, 4, 4)
    # the test generator pushes class 0 down and class 2 up
    assert float(x[0].mean()) < float(x[1].mean()) < float(x[2].mean())


def test_load_errors_name_the_problem(tmp_path, vanilla_run):
    with pytest.raises(CheckpointError, match="does not exist"):
        ganzoo.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a ganzoo run folder"):
        ganzoo.load(tmp_path / "empty")
    nockpt = tmp_path / "nockpt"
    nockpt.mkdir()
    (nockpt / "config.json").write_text((vanilla_run / "config.json").read_text())
    with pytest.raises(CheckpointError, match="no checkpoint.pt"):
        ganzoo.load(nockpt)
    with pytest.raises(GanzooError, match="device"):
        ganzoo.load(vanilla_run, device="tpu:7")


def test_checkpoint_that_does_not_fit_the_config_is_refused(tmp_path, vanilla_run):
    run = tmp_path / "mismatch"
    run.mkdir()
    config = json.loads((vanilla_run / "config.json").read_text())
    config["spec"]["latent_dim"] = 32
    (run / "config.json").write_text(json.dumps(config))
    (run / "checkpoint.pt").write_bytes((vanilla_run / "checkpoint.pt").read_bytes())
    with pytest.raises(CheckpointError, match="does not fit"):
        ganzoo.load(run)


def test_gan_sample_and_ganzoo_sampling_follow_one_seed_rule(vanilla_run):
    gan = ganzoo.load(vanilla_run)
    assert torch.equal(gan.sample(12, seed=4), sample(gan, 12, seed=4)), "same seed, same samples, either API"
    z = torch.randn(12, gan.latent_dim, generator=torch.Generator().manual_seed(4))  # drawn on the CPU
    with torch.no_grad():
        assert torch.equal(gan.sample(12, seed=4), gan.generator(z))


def test_a_v01_folder_without_a_spec_still_loads(tmp_path, vanilla_run):
    run = tmp_path / "old"
    run.mkdir()
    config = json.loads((vanilla_run / "config.json").read_text())
    spec = config.pop("spec")  # what 0.1 wrote instead: the numbers in "train" and "hyperparameters"
    config["train"]["latent_dim"] = spec["latent_dim"]
    config["hyperparameters"] = {"latent_dim": spec["latent_dim"]}
    (run / "config.json").write_text(json.dumps(config))
    (run / "checkpoint.pt").write_bytes((vanilla_run / "checkpoint.pt").read_bytes())
    old, new = ganzoo.load(run), ganzoo.load(vanilla_run)
    assert torch.equal(old.sample(4, seed=1), new.sample(4, seed=1))


def test_import_ganzoo_and_evaluate_do_not_import_the_trainer():
    import subprocess
    import sys

    code = ("import sys, ganzoo, ganzoo.use.evaluate, ganzoo.use.load, ganzoo.use.sampling; "
            "assert 'ganzoo.run.trainer' not in sys.modules, 'eager'; from ganzoo import train, Trainer, TrainResult; "
            "assert ganzoo.resume is sys.modules['ganzoo.run.session'].resume; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    tree = ast.parse((ROOT / "ganzoo" / "use" / "evaluate.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(m and m.startswith("ganzoo.run") for m in imported), "evaluate <-> trainer import circle"
