"""`ganzoo new-plugin NAME`: writes a plugin package that installs, registers a model and passes its own tests."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from ganzoo.errors import GanzooError

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{name}: a ganzoo plugin"
requires-python = ">=3.10"
dependencies = ["ganzoo"]

[project.optional-dependencies]
test = ["pytest"]

# ganzoo discovers the plugin through this entry-point group; nothing else is needed.
[project.entry-points.ganzoo]
{name_id} = "{module}"

[tool.setuptools]
packages = ["{module}"]
'''

MODULE = '''\
"""{name}: a ganzoo plugin. Replace the networks and the loss with yours; keep the hooks.

The hinge loss below (Lim & Ye 2017; Miyato et al. 2018) is a placeholder that trains well.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

import ganzoo


class Generator(nn.Module):
    """(N, latent_dim) noise -> (N, *shape) samples; images must be in [-1, 1]."""

    def __init__(self, shape, latent_dim, hidden=256):
        super().__init__()
        self.shape = tuple(shape)
        layers = [nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, math.prod(self.shape))]
        if len(self.shape) == 3:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    """(N, *shape) samples -> (N,) scores."""

    def __init__(self, shape, hidden=256):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


class HingeLoss(ganzoo.Loss):
    """D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];  G: -E[D(G(z))]."""

    def discriminator_loss(self, real_scores, fake_scores):
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


@ganzoo.hookimpl
def register_generators(register):
    register("{name}", Generator, "generator of the {name} plugin")


@ganzoo.hookimpl
def register_discriminators(register):
    register("{name}", Discriminator, "discriminator of the {name} plugin")


@ganzoo.hookimpl
def register_losses(register):
    register("{name}", HingeLoss, "hinge loss of the {name} plugin")


@ganzoo.hookimpl
def register_models(register):
    register(
        "{name}",
        ganzoo.Recipe(generator="{name}", discriminator="{name}", loss="{name}", latent_dim=64,
                      lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64, steps=2000),
        "the {name} GAN",
    )
'''

TESTS = '''\
"""Run with `pytest` after `pip install -e .`: ganzoo's conformance kit checks the contract."""

import ganzoo
from ganzoo.testing import check_discriminator, check_generator, check_loss, check_model


def test_registered_through_the_entry_point():
    entry = ganzoo.get_registry().get("model", "{name}")
    assert entry.distribution == "{dist}"


def test_components_conform():
    check_generator("{name}")
    check_generator("{name}", shape=(2,))
    check_discriminator("{name}")
    check_loss("{name}")


def test_model_trains():
    check_model("{name}")
'''

README = '''\
# {dist}

A [ganzoo](https://github.com/) plugin registering the `{name}` model.

```bash
pip install -e ".[test]"
pytest                 # the conformance kit checks every component
ganzoo run {name}      # train it
```
'''

NAME_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")


def write_plugin(name: str, directory: Path | None = None) -> Path:
    """Create `ganzoo-NAME/` (or `directory`) with pyproject.toml, the plugin module, tests and a README."""
    if not NAME_RE.match(name):
        raise GanzooError(f"plugin name {name!r} must be lower-case letters, digits and dashes, e.g. 'hinge-gan'")
    module = "ganzoo_" + name.replace("-", "_")
    name_id = name.replace("-", "_")
    if keyword.iskeyword(name_id):
        raise GanzooError(f"plugin name {name!r} is a Python keyword; pick another")
    dist = f"ganzoo-{name}"
    root = Path(directory) if directory else Path(dist)
    if root.exists() and any(root.iterdir()):
        raise GanzooError(f"{root} already exists and is not empty; choose another --dir")
    values = dict(name=name, dist=dist, module=module, name_id=name_id)
    files = {
        root / "pyproject.toml": PYPROJECT,
        root / module / "__init__.py": MODULE,
        root / "tests" / f"test_{name_id}.py": TESTS,
        root / "README.md": README,
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values))
    return root
