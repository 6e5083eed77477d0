"""Run folders for the load/sample/export tests: a real (short) vanilla run, and a conditional run written by hand
from a fake plugin's class-conditional generator (the trainer gains conditioning with contract v2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

import ganzoo
from ganzoo.registry import reset_registry
from ganzoo.store.checkpoint import save_checkpoint

COND_PLUGIN = '''
    """A class-conditional test generator: class c shifts every pixel towards OFFSETS[c], so grid rows show classes."""
    import math
    import torch
    from torch import nn
    import ganzoo

    OFFSETS = (-1.5, 0.0, 1.5)


    class CondG(nn.Module):
        def __init__(self, shape, latent_dim, num_classes=3):
            super().__init__()
            self.shape = tuple(shape)
            self.embed = nn.Embedding(num_classes, latent_dim)
            self.net = nn.Sequential(nn.Linear(2 * latent_dim, 32), nn.ReLU(), nn.Linear(32, math.prod(shape)))
            self.register_buffer("offsets", torch.tensor(OFFSETS[:num_classes]))

        def forward(self, z, y):
            h = 0.2 * self.net(torch.cat([z, self.embed(y)], dim=1))
            return torch.tanh(h + self.offsets[y][:, None]).view(z.shape[0], *self.shape)


    class CondD(nn.Module):
        def __init__(self, shape, num_classes=3):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 1))

        def forward(self, x, y=None):
            return self.net(x).squeeze(1)


    @ganzoo.hookimpl
    def register_generators(register):
        register("cond-tiny", CondG, "class-conditional test generator")


    @ganzoo.hookimpl
    def register_discriminators(register):
        register("cond-tiny", CondD, "test discriminator")


    @ganzoo.hookimpl
    def register_models(register):
        register("cond-tiny", ganzoo.Recipe(generator="cond-tiny", discriminator="cond-tiny", loss="ns",
                                            latent_dim=8, steps=5, batch_size=8))
'''

COND_SHAPE = (1, 4, 4)
COND_CLASSES = 3


def train_vanilla(out: Path, dataset: str = "digits") -> Path:
    """A finished `ganzoo run vanilla` (3 steps, EMA on) in `out`."""
    reset_registry()
    ganzoo.train(model="vanilla", dataset=dataset, steps=3, batch_size=16, out=str(out), precision="fp32",
                 device="cpu", log_every=1)
    reset_registry()
    return Path(out)


def write_conditional_run(out: Path, ema: bool = True) -> Path:
    """A run folder (config.json + checkpoint.pt) of the fake plugin's conditional model; needs the plugin loaded.

    EMA weights differ from the raw generator's so tests can tell which was loaded.
    """
    torch.manual_seed(0)
    gan = ganzoo.build("cond-tiny", COND_SHAPE, **({"num_classes": COND_CLASSES} if _build_takes_classes() else {}))
    raw = {k: v.clone() for k, v in gan.generator.state_dict().items()}
    ema_state = {k: (v + 0.05 if v.is_floating_point() else v.clone()) for k, v in raw.items()}
    out = Path(out)
    out.mkdir(parents=True)
    config = {"train": {"model": "cond-tiny", "generator": None, "discriminator": None, "loss": None,
                        "latent_dim": 8, "seed": 0},
              "model": "cond-tiny", "components": dict(gan.components),
              "hyperparameters": {"latent_dim": 8},
              "dataset": {"name": "fake", "shape": list(COND_SHAPE), "size": 10, "num_classes": COND_CLASSES}}
    (out / "config.json").write_text(json.dumps(config))
    save_checkpoint({"step": 5, "generator": raw, "discriminator": gan.discriminator.state_dict(),
                     "ema": ema_state if ema else None}, out / "checkpoint.pt")
    return out


def _build_takes_classes() -> bool:
    import inspect

    return "num_classes" in inspect.signature(ganzoo.build).parameters


# A fresh interpreter that cannot import ganzoo: what "loadable without ganzoo" means.
NO_GANZOO = '''
import sys, importlib.abc
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ganzoo" or name.startswith(("ganzoo.", "ganzoo_plugins")):
            raise ImportError("ganzoo must not be needed here")
sys.meta_path.insert(0, _Block())
'''


def run_without_ganzoo(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `script` in a new Python process where importing ganzoo fails; raises with its stderr on failure."""
    code = NO_GANZOO + textwrap.dedent(script) + '\nassert not any(m.startswith("ganzoo") for m in sys.modules)\n'
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"fresh process failed:\n{proc.stderr[-3000:]}")
    return proc
