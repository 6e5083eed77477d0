"""Real plugin packages, installed with pip (no network, no build isolation) and used from a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]


def pip_install_target(package: Path, target: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(package)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def env_with(target: Path, tmp_path: Path) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]),
            "GANZOO_CACHE": str(tmp_path / "cache")}


def test_example_lsgan_package_installs_and_trains(tmp_path):
    target = tmp_path / "site"
    pip_install_target(ROOT / "examples" / "ganzoo-lsgan", target)
    env = env_with(target, tmp_path)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "ganzoo", "run", "lsgan-mlp", "--steps", "20", "--out", str(out),
                           "--quiet"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["components"]["loss"] == "least-squares-01"
    assert config["plugins"]["ganzoo-lsgan"] == "0.1.0"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "examples" / "ganzoo-lsgan" / "tests")], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 passed" in proc.stdout


def test_new_plugin_skeleton_installs_and_passes_its_own_tests(tmp_path, capsys):
    skeleton = tmp_path / "ganzoo-hinge-gan"
    assert main(["new-plugin", "hinge-gan", "--dir", str(skeleton)]) == 0
    assert "pip install" in capsys.readouterr().out
    target = tmp_path / "site"
    pip_install_target(skeleton, target)
    env = env_with(target, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(skeleton / "tests")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 passed" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "ganzoo", "run", "hinge-gan", "--steps", "5", "--quiet",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name,message", [("Bad_Name", "lower-case letters"), ("x", "lower-case letters")])
def test_new_plugin_rejects_bad_names(name, message, capsys, tmp_path):
    assert main(["new-plugin", name, "--dir", str(tmp_path / "p")]) == 2
    assert message in capsys.readouterr().err


def test_new_plugin_never_overwrites(tmp_path, capsys):
    target = tmp_path / "p"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    assert main(["new-plugin", "hinge", "--dir", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (target / "mine.txt").read_text() == "keep me"
