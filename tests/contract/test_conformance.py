"""The conformance kit: built-in plugins pass it, and it catches the mistakes it is meant to catch."""

from __future__ import annotations

import pytest

from ganzoo.testing import check_discriminator, check_generator, check_loss, check_model


@pytest.mark.parametrize("name,shape", [("mlp", (1, 8, 8)), ("mlp", (2,)), ("dcgan", (1, 8, 8)), ("dcgan", (3, 32, 32))])
def test_builtin_generators_conform(name, shape):
    check_generator(name, shape=shape)


@pytest.mark.parametrize("name,shape,options", [("mlp", (1, 8, 8), {}), ("mlp", (2,), {}), ("dcgan", (1, 8, 8), {}),
                                                ("dcgan", (3, 16, 16), {"normalization": "none"})])
def test_builtin_discriminators_conform(name, shape, options):
    check_discriminator(name, shape=shape, **options)


@pytest.mark.parametrize("name", ["ns", "minimax", "wgan-gp"])
def test_builtin_losses_conform(name):
    check_loss(name)


@pytest.mark.parametrize("name", ["vanilla", "minimax", "dcgan", "wgan-gp"])
def test_builtin_models_conform(name):
    check_model(name, steps=2)


BAD_PLUGIN = '''
    import torch
    from torch import nn
    import ganzoo

    class Unbounded(nn.Module):
        def __init__(self, shape, latent_dim):
            super().__init__()
            self.shape = shape
            self.lin = nn.Linear(latent_dim, 64)

        def forward(self, z):
            return (self.lin(z) * 100).view(-1, *self.shape)

    class WrongShape(nn.Module):
        def __init__(self, shape):
            super().__init__()
            self.lin = nn.Linear(64, 3)

        def forward(self, x):
            return self.lin(x.flatten(1))

    class Backwards(ganzoo.Loss):
        def discriminator_loss(self, real, fake):
            return real.mean() - fake.mean()

        def generator_loss(self, fake):
            return fake.mean()

    @ganzoo.hookimpl
    def register_generators(register):
        register("unbounded", Unbounded)

    @ganzoo.hookimpl
    def register_discriminators(register):
        register("wrong-shape", WrongShape)

    @ganzoo.hookimpl
    def register_losses(register):
        register("backwards", Backwards)
'''


def test_kit_catches_broken_components(plugin_dist):
    plugin_dist("ganzoo-bad", "ganzoo_bad", BAD_PLUGIN)
    with pytest.raises(AssertionError, match=r"generator 'unbounded': images must be in \[-1, 1\]"):
        check_generator("unbounded")
    with pytest.raises(AssertionError, match=r"discriminator 'wrong-shape': .* expected \(4,\) or \(4, 1\)"):
        check_discriminator("wrong-shape")
    with pytest.raises(AssertionError, match="loss 'backwards': discriminator_loss must be lower"):
        check_loss("backwards")
