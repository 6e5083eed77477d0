"""One test per hook: a plugin implementing only that hook gets its component used by the trainer or the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.registry import get_registry


def plugin(**hooks):
    return type("Plugin", (), {k: staticmethod(ganzoo.hookimpl(v)) for k, v in hooks.items()})()


class Doubler(nn.Module):
    def __init__(self, shape, latent_dim):
        super().__init__()
        self.shape = shape
        self.lin = nn.Linear(latent_dim, math.prod(shape))

    def forward(self, z):
        return torch.tanh(self.lin(z)).view(-1, *self.shape)


def test_hook_register_generators(tmp_path):
    def register_generators(register):
        register("doubler", Doubler, "a one-layer generator")

    get_registry().add_plugin(plugin(register_generators=register_generators), name="g")
    result = ganzoo.train(model="vanilla", generator="doubler", steps=2, out=str(tmp_path), device="cpu")
    assert isinstance(result.gan.generator, Doubler)
    assert get_registry().get("generator", "doubler").description == "a one-layer generator"


def test_hook_register_discriminators(tmp_path):
    class Linear(nn.Module):
        """A linear critic."""

        def __init__(self, shape):
            super().__init__()
            self.lin = nn.Linear(math.prod(shape), 1)

        def forward(self, x):
            return self.lin(x.flatten(1))

    def register_discriminators(register):
        register("linear", Linear)

    get_registry().add_plugin(plugin(register_discriminators=register_discriminators), name="d")
    assert get_registry().get("discriminator", "linear").description == "A linear critic."
    result = ganzoo.train(model="vanilla", discriminator="linear", steps=2, out=str(tmp_path), device="cpu")
    assert isinstance(result.gan.discriminator, Linear)


def test_hook_register_losses(tmp_path):
    calls = []

    class Counting(ganzoo.Loss):
        def discriminator_loss(self, real, fake):
            calls.append(("d", real.dtype, real.shape))
            return torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean()

        def generator_loss(self, fake):
            calls.append(("g", fake.dtype, fake.shape))
            return torch.nn.functional.softplus(-fake).mean()

    def register_losses(register):
        register("counting", Counting)

    get_registry().add_plugin(plugin(register_losses=register_losses), name="l")
    ganzoo.train(model="vanilla", loss="counting", steps=3, batch_size=8, out=str(tmp_path), device="cpu",
                 precision="bf16")
    assert [c[0] for c in calls] == ["d", "g"] * 3
    assert all(dtype == torch.float32 and shape == (8,) for _, dtype, shape in calls), "losses see float32 (N,) scores"


def test_hook_register_models(tmp_path):
    def register_models(register):
        register("fast-vanilla", ganzoo.Recipe(generator="mlp", discriminator="mlp", loss="ns", latent_dim=7,
                                               lr_g=1e-3, lr_d=5e-4, steps=4, batch_size=16))

    get_registry().add_plugin(plugin(register_models=register_models), name="m")
    result = ganzoo.train(model="fast-vanilla", out=str(tmp_path), device="cpu")
    config = json.loads((tmp_path / "config.json").read_text())
    assert result.step == 4 and config["spec"]["latent_dim"] == 7 and "hyperparameters" not in config
    assert (result.hyperparameters["lr_g"], result.hyperparameters["lr_d"]) == (1e-3, 5e-4)


def test_hook_register_datasets(tmp_path):
    seen = []

    def load_stripes(request):
        seen.append(request)
        data = torch.linspace(-1, 1, 8).repeat(40, 1, 8, 1)
        return ganzoo.Dataset("stripes", data)

    def register_datasets(register):
        register("stripes", load_stripes, "vertical stripes")

    get_registry().add_plugin(plugin(register_datasets=register_datasets), name="ds")
    result = ganzoo.train(model="dcgan", dataset="stripes:wide", steps=2, batch_size=8, out=str(tmp_path),
                          device="cpu")
    assert seen[0].argument == "wide" and seen[0].name == "stripes"
    described = result.config["dataset"]
    assert {k: described[k] for k in ("name", "shape", "size")} == {"name": "stripes", "shape": [1, 8, 8], "size": 40}
    assert described["mode"] == "memory"  # 40 small images always fit


def test_dataset_loader_returning_out_of_range_images_is_refused():
    def register_datasets(register):
        register("bright", lambda request: ganzoo.Dataset("bright", torch.full((4, 1, 8, 8), 255.0)))

    get_registry().add_plugin(plugin(register_datasets=register_datasets), name="bad-ds")
    with pytest.raises(ganzoo.GanzooError, match=r"outside \[-1, 1\]"):
        ganzoo.load_dataset("bright")


def test_hook_register_feature_extractors(tmp_path):
    from ganzoo.metrics import FeatureExtractor

    class MeanPixel(FeatureExtractor):
        def __init__(self):
            super().__init__()
            self.num_features, self.name, self.description = 2, "mean-pixel", "mean and std of the pixels"
            self.scale = nn.Parameter(torch.ones(()), requires_grad=False)

        def features(self, x):
            flat = x.flatten(1)
            return torch.stack([flat.mean(1), flat.std(1)], dim=1) * self.scale

        def logits(self, x):
            return self.features(x)

    made = []

    def factory(dataset, *, device, weights=None):
        made.append((dataset.name, weights))
        return MeanPixel().to(device)

    def register_feature_extractors(register):
        register("mean-pixel", factory)

    get_registry().add_plugin(plugin(register_feature_extractors=register_feature_extractors), name="fx")
    result = ganzoo.train(model="vanilla", steps=2, out=str(tmp_path), device="cpu", eval_every=2, eval_samples=64,
                          feature_extractor="mean-pixel")
    assert made == [("digits", None)]
    assert result.eval["feature_extractor"] == "mean-pixel" and result.eval["num_samples"] == 64
    assert math.isfinite(result.eval["fid"])
