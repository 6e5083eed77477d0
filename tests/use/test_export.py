"""`ganzoo export`: each format loads in a fresh process that cannot import ganzoo and matches the generator."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from use_runs import COND_CLASSES, COND_PLUGIN, run_without_ganzoo, train_vanilla, write_conditional_run

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.use.export import export

HAVE_SAFETENSORS = importlib.util.find_spec("safetensors") is not None
HAVE_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript"))
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
TOL = 1e-4  # max abs difference, fp32


@pytest.fixture(scope="module")
def vanilla_run(tmp_path_factory):
    return train_vanilla(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture
def cond_run(plugin_dist, tmp_path):
    plugin_dist("ganzoo-cond", "ganzoo_cond", COND_PLUGIN)
    return write_conditional_run(tmp_path / "cond")


def _inputs(d, gan, n=7):
    """Latents (and labels) saved for the loading script, and the in-process generator's output on them."""
    z = torch.randn(n, gan.latent_dim, generator=torch.Generator().manual_seed(11))
    y = torch.arange(n) % gan.num_classes if getattr(gan, "num_classes", None) else None
    np.save(d / "z.npy", z.numpy())
    if y is not None:
        np.save(d / "y.npy", y.numpy())
    with torch.no_grad():
        expected = gan.generator(z) if y is None else gan.generator(z, y)
    return expected.numpy()


# Each script loads one export with its own library only (never ganzoo) and saves its output on the saved latents.
SAFETENSORS = """
import json, numpy as np, torch
from torch import nn
from safetensors import safe_open
from safetensors.torch import load_file
info = json.load(open("g.safetensors.json"))
net = nn.Sequential(*[eval(layer["module"], vars(nn)) for layer in info["layers"]])  # the vanilla MLP
assert json.loads(safe_open("g.safetensors", "pt").metadata()["ganzoo"]) == info
net.load_state_dict({k.removeprefix("net."): v for k, v in load_file("g.safetensors").items()})
z = torch.from_numpy(np.load("z.npy"))
with torch.no_grad():
    np.save("out.npy", net.eval()(z).view(len(z), *info["output"]["shape"][1:]).numpy())
"""
TORCHSCRIPT = """
import json, os, numpy as np, torch
extra = {"ganzoo.json": ""}
G = torch.jit.load("g.pt", _extra_files=extra)
info = json.loads(extra["ganzoo.json"])
args = [torch.from_numpy(np.load(f)) for f in ("z.npy", "y.npy") if os.path.exists(f)]
assert info["call"] == ("G(z, labels)" if len(args) == 2 else "G(z)")
with torch.no_grad():
    np.save("out.npy", G(*args).numpy())
"""
ONNX = """
import os, numpy as np, onnxruntime as ort
session = ort.InferenceSession("g.onnx", providers=["CPUExecutionProvider"])
feed = {name: np.load(f) for name, f in (("z", "z.npy"), ("labels", "y.npy")) if os.path.exists(f)}
assert [i.name for i in session.get_inputs()] == list(feed)
np.save("out.npy", session.run(["samples"], feed)[0])
"""
SCRIPTS = {"safetensors": ("g.safetensors", SAFETENSORS), "torchscript": ("g.pt", TORCHSCRIPT),
           "onnx": ("g.onnx", ONNX)}


def _export_and_expect(run, fmt, d):
    d.mkdir(parents=True)
    assert main(["export", str(run), "--format", fmt, "--out", str(d / SCRIPTS[fmt][0])]) == 0
    return _inputs(d, ganzoo.load(run))


def _check_in_process(d, fmt, expected, monkeypatch):
    monkeypatch.chdir(d)
    exec(compile(SCRIPTS[fmt][1], f"load-{fmt}", "exec"), {"__name__": "loader"})
    got = np.load(d / "out.npy")
    assert got.shape == expected.shape and np.abs(got - expected).max() < TOL


needs_safetensors = pytest.mark.skipif(not HAVE_SAFETENSORS,
                                       reason="safetensors not installed (pip install 'ganzoo[safetensors]')")
needs_onnx = pytest.mark.skipif(not (HAVE_ONNX and HAVE_ORT),
                                reason="onnx, onnxscript or onnxruntime not installed (pip install 'ganzoo[onnx]')")


@needs_safetensors
def test_safetensors_rebuilds_in_plain_torch(vanilla_run, tmp_path, monkeypatch):
    expected = _export_and_expect(vanilla_run, "safetensors", tmp_path / "st")
    info = json.loads((tmp_path / "st" / "g.safetensors.json").read_text())
    assert info["latent_dim"] == 64 and info["output"]["shape"] == ["N", 1, 8, 8] and info["num_classes"] is None
    assert info["loaded_from"]["weights"] == "ema" and info["model"] == "vanilla"
    _check_in_process(tmp_path / "st", "safetensors", expected, monkeypatch)


def test_torchscript_matches_unconditional_and_conditional(vanilla_run, cond_run, tmp_path, monkeypatch):
    for name, run in (("vanilla", vanilla_run), ("conditional", cond_run)):
        expected = _export_and_expect(run, "torchscript", tmp_path / name)  # 7 samples; traced with 2
        _check_in_process(tmp_path / name, "torchscript", expected, monkeypatch)


@needs_onnx  # the torch.export-based ONNX exporter takes ~2-4 s here: worth it, it is the issue's own check
def test_onnx_runs_in_onnxruntime(cond_run, tmp_path, monkeypatch):
    expected = _export_and_expect(cond_run, "onnx", tmp_path / "onnx")
    assert expected.shape == (7, 1, 4, 4)
    info = json.loads((tmp_path / "onnx" / "g.onnx.json").read_text())
    assert info["num_classes"] == COND_CLASSES and [i["name"] for i in info["inputs"]] == ["z", "labels"]
    _check_in_process(tmp_path / "onnx", "onnx", expected, monkeypatch)


@needs_safetensors
@needs_onnx
def test_every_export_loads_in_a_fresh_process_without_ganzoo(vanilla_run, cond_run, tmp_path):
    """The same loading scripts, in one new interpreter where `import ganzoo` fails."""
    cases = [(vanilla_run, "safetensors"), (vanilla_run, "torchscript"), (vanilla_run, "onnx"),
             (cond_run, "torchscript"), (cond_run, "onnx")]
    expected, script = {}, ["import os, runpy"]
    for i, (run, fmt) in enumerate(cases):
        d = tmp_path / f"{i}-{fmt}"
        expected[d] = _export_and_expect(run, fmt, d)
        (d / "load.py").write_text(SCRIPTS[fmt][1])
        script.append(f"os.chdir({str(d)!r}); runpy.run_path('load.py', run_name='loader')")
    run_without_ganzoo("\n".join(script), cwd=tmp_path)
    for d, want in expected.items():
        got = np.load(d / "out.npy")
        assert got.shape == want.shape and np.abs(got - want).max() < TOL, d.name


def test_export_keeps_the_generator_usable_and_refuses_bad_requests(vanilla_run, tmp_path, capsys):
    gan = ganzoo.load(vanilla_run)
    before = {k: v.clone() for k, v in gan.generator.state_dict().items()}
    export(gan, tmp_path / "g.pt", "torchscript")
    assert all(torch.equal(v, before[k]) for k, v in gan.generator.state_dict().items())
    assert not gan.generator.training
    assert main(["export", str(vanilla_run), "--format", "torchscript", "--out", str(tmp_path)]) == 2
    assert "must be a file name" in capsys.readouterr().err
    assert main(["export", str(vanilla_run), "--format", "pickle", "--out", str(tmp_path / "g.pkl")]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["torchscript", "safetensors"])
def test_a_full_disk_mid_export_leaves_the_older_export_and_no_temp_file(vanilla_run, tmp_path, monkeypatch, capsys,
                                                                         fmt):
    """The export is serialised in memory and written by Python, so a full disk is an OSError (torch.jit.save
    writing to the file itself aborted the process, exit 134) and the CLI says it in one line."""
    from ganzoo.store import checkpoint as checkpoint_module

    if fmt == "safetensors" and not HAVE_SAFETENSORS:
        pytest.skip("needs safetensors")
    out = tmp_path / "exports" / "generator.bin"
    out.parent.mkdir()
    out.write_bytes(b"an older, complete export")
    real = checkpoint_module.write_fully

    def full_disk(fd, data):
        real(fd, bytes(data)[: len(data) // 2])  # half of it reaches the disk, then it is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "write_fully", full_disk)
    assert main(["export", str(vanilla_run), "--format", fmt, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no space left" in err and str(out) in err, err
    assert out.read_bytes() == b"an older, complete export"
    assert sorted(p.name for p in out.parent.iterdir()) == ["generator.bin"]


def test_an_export_that_cannot_fit_is_refused_before_writing_naming_the_sizes(vanilla_run, tmp_path, monkeypatch,
                                                                               capsys):
    import shutil

    from ganzoo.store import checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module.shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(10 ** 9, 10 ** 9 - 1000, 1000))
    out = tmp_path / "generator.pt"
    assert main(["export", str(vanilla_run), "--format", "torchscript", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"no space for {out}: it needs" in err and "1.00 KB free" in err
    assert list(tmp_path.iterdir()) == []
