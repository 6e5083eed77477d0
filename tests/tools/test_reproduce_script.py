"""benchmarks/reproduce.py: a run continued with --resume equals one trained straight through, so the 400k-step
PacGAN table can be built in pieces (sessions, machines) without changing its numbers; the table stands beside the
published rows (PacGAN, VEEGAN, GDPP), and wgan-gp's 2-D variant is GDPP's protocol."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import ganzoo

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reproduce():
    spec = importlib.util.spec_from_file_location("reproduce_script", ROOT / "benchmarks" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _job(out: Path, steps: int, resume: bool = False) -> dict:
    return dict(model="vanilla", dataset="ring8", seed=0, steps=steps, eval_every=10, precision="fp32",
                resume=resume, path=str(out / "runs" / "ring8-vanilla-seed0.jsonl"))


def _evals(out: Path) -> list[dict]:
    lines = (out / "runs" / "ring8-vanilla-seed0.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


def test_resumed_run_equals_straight_run(reproduce, tmp_path):
    threads = torch.get_num_threads()
    try:
        reproduce.run_one(_job(tmp_path / "straight", 30))
        reproduce.run_one({**_job(tmp_path / "pieces", 20), "command": "first piece"})
        assert [e["step"] for e in _evals(tmp_path / "pieces")] == [10, 20]
        reproduce.run_one({**_job(tmp_path / "pieces", 30, resume=True), "command": "second piece"})
    finally:
        torch.set_num_threads(threads)
    straight, pieces = _evals(tmp_path / "straight"), _evals(tmp_path / "pieces")
    assert [e["step"] for e in pieces] == [10, 20, 30]  # the first piece's evaluations kept, none repeated
    for a, b in zip(straight, pieces):
        assert a["raw"] == b["raw"] and a["ema"] == b["ema"]
    header = json.loads((tmp_path / "pieces" / "runs" / "ring8-vanilla-seed0.jsonl").read_text().splitlines()[0])
    assert header["header"]["steps"] == 30 and header["header"]["commands"] == ["first piece", "second piece"]
    g1 = ganzoo.load(tmp_path / "straight" / "runs" / "ring8-vanilla-seed0").generator.state_dict()
    g2 = ganzoo.load(tmp_path / "pieces" / "runs" / "ring8-vanilla-seed0").generator.state_dict()
    assert g1.keys() == g2.keys() and all(torch.equal(g1[k], g2[k]) for k in g1)
    assert (tmp_path / "pieces" / "runs" / "ring8-vanilla-seed0.png").stat().st_size > 0
    summary = reproduce.summarize(tmp_path / "pieces", "cmd")
    assert summary["rows"][0]["seeds_complete"] == 1 and summary["rows"][0]["steps"] == 30
    table = (tmp_path / "pieces" / "pacgan2d.md").read_text()
    assert "Commands that made the runs: `first piece`, `second piece`" in table and "Summarised by: `cmd`" in table


def test_without_resume_a_run_starts_over(reproduce, tmp_path):
    threads = torch.get_num_threads()
    try:
        reproduce.run_one(_job(tmp_path, 20))
        reproduce.run_one(_job(tmp_path, 10))
    finally:
        torch.set_num_threads(threads)
    assert [e["step"] for e in _evals(tmp_path)] == [10]


def _run(reproduce, job):
    threads = torch.get_num_threads()
    try:
        return reproduce.run_one(job)
    finally:
        torch.set_num_threads(threads)


def test_resume_follows_the_new_eval_every_and_updates_config_json(reproduce, tmp_path):
    _run(reproduce, _job(tmp_path, 20))
    job = {**_job(tmp_path, 30, resume=True), "eval_every": 5}
    _run(reproduce, job)
    assert [e["step"] for e in _evals(tmp_path)] == [10, 20, 25, 30]
    saved = json.loads((tmp_path / "runs" / "ring8-vanilla-seed0" / "config.json").read_text())
    assert saved["train"]["steps"] == 30 and saved["spec"]["steps"] == 30 and saved["train"]["log_every"] == 5


def test_resume_of_a_finished_run_keeps_its_evaluations(reproduce, tmp_path):
    _run(reproduce, _job(tmp_path, 20))
    before = _evals(tmp_path)
    (tmp_path / "runs" / "ring8-vanilla-seed0.png").unlink()
    _run(reproduce, _job(tmp_path, 20, resume=True))
    assert _evals(tmp_path) == before
    assert (tmp_path / "runs" / "ring8-vanilla-seed0.png").exists()


def test_resume_refuses_fewer_steps_and_evaluations_without_a_checkpoint(reproduce, tmp_path):
    _run(reproduce, _job(tmp_path, 20))
    before = (tmp_path / "runs" / "ring8-vanilla-seed0.jsonl").read_text()
    with pytest.raises(SystemExit, match="already at step 20.*--steps 10"):
        _run(reproduce, _job(tmp_path, 10, resume=True))
    assert (tmp_path / "runs" / "ring8-vanilla-seed0.jsonl").read_text() == before
    # the folder's lock was released: the run continues
    _run(reproduce, _job(tmp_path, 30, resume=True))
    assert [e["step"] for e in _evals(tmp_path)] == [10, 20, 30]
    # a results file from before checkpoints were kept: --resume would lose it, so it is refused
    import shutil

    shutil.rmtree(tmp_path / "runs" / "ring8-vanilla-seed0")
    with pytest.raises(SystemExit, match="no checkpoint"):
        _run(reproduce, _job(tmp_path, 40, resume=True))
    assert [e["step"] for e in _evals(tmp_path)] == [10, 20, 30]


def test_table_puts_each_papers_rows_beside_the_model_and_lists_the_others(reproduce, tmp_path):
    """A wgan-gp row stands beside GDPP Table 1's WGAN-GP row; vanilla beside PacGAN's and VEEGAN's GAN rows; the
    rows with no ganzoo model (ALI, Unrolled GAN, VEEGAN, GDPP-GAN) are listed for context."""
    runs = tmp_path / "runs"
    runs.mkdir()
    for model, hq in (("wgan-gp", 0.5), ("vanilla", 0.9)):
        for seed in (0, 1):
            header = {"model": model, "dataset": "ring8", "seed": seed, "steps": 10, "precision": "fp32", "spec": {}}
            final = {"modes_captured": 8, "modes_total": 8, "high_quality_fraction": hq + 0.1 * seed, "reverse_kl": 0.0}
            records = [{"header": header}, {"step": 10, "seconds": 1.0, "raw": final, "ema": final}]
            (runs / f"ring8-{model}-seed{seed}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = reproduce.summarize(tmp_path, "python benchmarks/reproduce.py --summarize-only")
    table = (tmp_path / "pacgan2d.md").read_text()
    rows = {r["model"]: r for r in summary["rows"]}
    assert rows["wgan-gp"]["raw_high_quality_fraction"][0] == pytest.approx(0.55)  # mean of the two seeds
    assert rows["wgan-gp"]["raw_high_quality_fraction"][1] == pytest.approx(0.05)  # standard error: sd / sqrt(2)
    wgan_line = next(line for line in table.splitlines() if "| wgan-gp |" in line)
    assert "55.0 ± 5.0" in wgan_line and "GDPP T1 WGAN-GP: 6.8 / 59.6 (25k)" in wgan_line
    vanilla_line = next(line for line in table.splitlines() if "| vanilla |" in line)
    assert "PacGAN T1 GAN: 6.3 / 98.2 / 0.45 (400k)" in vanilla_line and "VEEGAN T1 GAN: 1 / 99.3" in vanilla_line
    for context in ("| VEEGAN T1 | Unrolled GAN | 7.6 / 35.6 | 23.6 / 16.0 |", "| GDPP T1 | GDPP-GAN |"):
        assert context in table


def test_wgan_gp_2d_variant_is_gdpps_protocol_and_its_images_are_unchanged():
    gan = ganzoo.build("wgan-gp", (2,))
    r = gan.recipe
    assert (gan.latent_dim, r.batch_size, r.steps, r.lr_g, r.lr_d, tuple(r.betas), r.n_critic) == \
        (256, 512, 25_000, 1e-3, 1e-4, (0.5, 0.999), 5)
    linears = [m for m in gan.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [128, 128, 2]
    assert sum(isinstance(m, torch.nn.Tanh) for m in gan.discriminator.modules()) == 2
    for m in linears:  # orthogonal with gain 1.4: every singular value is 1.4; zero biases
        assert torch.allclose(torch.linalg.svdvals(m.weight), torch.full((min(m.weight.shape),), 1.4), atol=1e-4)
        assert not m.bias.any()
    image = ganzoo.build("wgan-gp", (1, 8, 8)).recipe
    assert (image.batch_size, image.lr_g, tuple(image.betas)) == (64, 1e-4, (0.0, 0.9))


def test_mlp_options_are_checked_with_one_line():
    from ganzoo.registry import call_factory

    factory = ganzoo.get_registry().get("generator", "mlp").obj
    with pytest.raises(ganzoo.GanzooError, match="cannot be built.*activation must be one of relu, leaky_relu, tanh"):
        call_factory("generator", "mlp", factory, (2,), 2, activation="swish")
    with pytest.raises(ganzoo.GanzooError, match="init must be one of default, orthogonal"):
        call_factory("generator", "mlp", factory, (2,), 2, init="xavier")
