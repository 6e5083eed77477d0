"""The plugin's own tests: ganzoo's conformance kit does the heavy lifting."""

import torch

import ganzoo
from ganzoo.testing import check_discriminator, check_generator, check_loss, check_model


def test_components_conform():
    check_generator("lsgan-mlp")
    check_generator("lsgan-mlp", shape=(2,))
    check_discriminator("lsgan-mlp")
    check_loss("least-squares-01")


def test_model_trains_on_the_shared_trainer():
    check_model("lsgan-mlp")


def test_least_squares_values():
    loss = ganzoo.get_registry().get("loss", "least-squares-01").obj()
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    assert loss.discriminator_loss(real, fake).item() == 0.5 * 0.5 + 0.5 * 2.0
    assert loss.generator_loss(fake).item() == 0.5 * 1.0
