"""Shared fixtures: a fresh plugin registry per test, and fake third-party plugin distributions on sys.path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ganzoo.registry import reset_registry


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch, tmp_path):
    """Every test discovers plugins anew and never writes into the user's cache."""
    monkeypatch.delenv("GANZOO_PLUGINS", raising=False)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    reset_registry()
    yield
    reset_registry()


def one_line_error(capsys, *phrases):
    """The CLI's promise for bad input: one line on stderr naming the problem, no traceback."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "internal error" not in err, err
    for phrase in phrases:
        assert phrase in err, err
    return err


def make_plugin_dist(root: Path, dist_name: str, module_name: str, source: str, entry_name: str | None = None,
                     version: str = "0.1.0") -> Path:
    """Write a real installed-distribution layout: module + *.dist-info with METADATA and entry_points.txt."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module_name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{entry_name or module_name} = {module_name}\n")
    return root


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """Install a fake plugin distribution on a temporary sys.path entry; returns a factory."""
    created = []

    def factory(dist_name: str, module_name: str, source: str, **kwargs) -> Path:
        root = make_plugin_dist(tmp_path / f"site-{len(created)}", dist_name, module_name, source, **kwargs)
        monkeypatch.syspath_prepend(str(root))
        created.append(module_name)
        reset_registry()
        return root

    yield factory
    for name in created:
        sys.modules.pop(name, None)


LSGAN_PLUGIN = '''
    """A third-party plugin: the least-squares GAN of Mao et al. 2017, with its own tiny networks."""
    import math
    import torch
    from torch import nn
    import ganzoo


    class TinyG(nn.Module):
        def __init__(self, shape, latent_dim):
            super().__init__()
            self.shape = tuple(shape)
            self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, math.prod(shape)), nn.Tanh())

        def forward(self, z):
            return self.net(z).view(-1, *self.shape)


    class TinyD(nn.Module):
        def __init__(self, shape):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))

        def forward(self, x):
            return self.net(x)


    class LeastSquares(ganzoo.Loss):
        def discriminator_loss(self, real, fake):
            return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()

        def generator_loss(self, fake):
            return 0.5 * ((fake - 1) ** 2).mean()


    @ganzoo.hookimpl
    def register_generators(register):
        register("tiny", TinyG, "a tiny MLP generator")


    @ganzoo.hookimpl
    def register_discriminators(register):
        register("tiny", TinyD, "a tiny MLP discriminator")


    @ganzoo.hookimpl
    def register_losses(register):
        register("least-squares-tiny", LeastSquares, "least-squares GAN loss")


    @ganzoo.hookimpl
    def register_models(register):
        register("tinyls", ganzoo.Recipe(generator="tiny", discriminator="tiny", loss="least-squares-tiny",
                                         latent_dim=16, steps=20, batch_size=32))
'''
