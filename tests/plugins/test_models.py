"""The built-in networks: shapes, ranges and the sizes they build for."""

from __future__ import annotations

import pytest
import torch

import ganzoo
from ganzoo.errors import GanzooError


@pytest.mark.parametrize("model", ["vanilla", "minimax", "dcgan", "wgan-gp"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (2,)])
def test_models_map_noise_to_samples_and_samples_to_scores(model, shape):
    torch.manual_seed(0)
    gan = ganzoo.build(model, image_shape=shape)
    z = torch.randn(5, gan.latent_dim)
    x = gan.generator(z)
    assert x.shape == (5, *shape)
    if len(shape) == 3:
        assert x.min() >= -1 and x.max() <= 1, "images are in [-1, 1]"
    scores = gan.discriminator(x)
    assert scores.reshape(-1).shape == (5,)
    assert gan.latent_dim == gan.recipe.latent_dim


DCGAN_SIZES = list(range(8, 129, 4))


@pytest.mark.parametrize("size", DCGAN_SIZES)
def test_dcgan_builds_for_every_size_from_8_to_128_multiple_of_4(size):
    gan = ganzoo.build("dcgan", image_shape=(3, size, size))
    with torch.no_grad():
        x = gan.generator(torch.randn(2, gan.latent_dim))
        assert x.shape == (2, 3, size, size)
        assert gan.discriminator(x).shape == (2,)


@pytest.mark.parametrize("bad", [(3, 30, 30), (3, 132, 132), (3, 32, 16), (3, 4, 4)])
def test_dcgan_refuses_sizes_it_cannot_build_with_a_clear_error(bad):
    with pytest.raises(GanzooError, match="square images of size 8..128"):
        ganzoo.build("dcgan", image_shape=bad)


def test_dcgan_follows_the_paper_initialisation():
    torch.manual_seed(0)
    gan = ganzoo.build("dcgan", image_shape=(3, 64, 64))
    convs = [m for m in gan.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    weights = torch.cat([c.weight.flatten() for c in convs])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.001
    norms = [m for m in gan.discriminator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 3, "64x64: batch norm after every conv but the first and the last"


def test_wgan_gp_critic_has_no_batch_norm_and_paper_hyperparameters():
    gan = ganzoo.build("wgan-gp", image_shape=(3, 32, 32))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in gan.discriminator.modules())
    r = gan.recipe
    assert (r.lr_g, r.lr_d, tuple(r.betas), r.n_critic) == (1e-4, 1e-4, (0.0, 0.9), 5)


def test_recipes_cite_their_papers():
    registry = ganzoo.get_registry()
    assert "Goodfellow" in registry.get("model", "vanilla").obj.citation
    assert "Radford" in registry.get("model", "dcgan").obj.citation
    assert "Gulrajani" in registry.get("model", "wgan-gp").obj.citation
