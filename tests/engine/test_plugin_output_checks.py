"""A plugin network whose outputs break the contract is refused at the first step with one line naming it."""

from __future__ import annotations

import pytest
import torch

from ganzoo.engine.assemble import build_engine
from ganzoo.errors import GanzooError
from ganzoo.spec.resolve import resolve_recipe, spec_from_recipe


def engine(model="dcgan"):
    name, recipe = resolve_recipe(model)
    return build_engine(spec_from_recipe(name, recipe, (1, 8, 8), batch_size=8), precision="fp32", seed=0)


def batches():
    while True:
        yield torch.rand(8, 1, 8, 8) * 2 - 1, None


def test_a_generator_of_the_wrong_shape_is_named():
    update = engine()
    update.gan.generator.forward = lambda z: torch.zeros(z.shape[0], 1, 4, 4)
    source = batches()
    with pytest.raises(GanzooError, match=r"generator 'dcgan' returned \(8, 1, 4, 4\) for 8 latents; .*\(8, 1, 8, 8\)"):
        update.step(1, 2, lambda: next(source))


def test_a_discriminator_returning_two_scores_per_sample_is_named():
    update = engine()
    inner = update.gan.discriminator.forward
    update.gan.discriminator.forward = lambda x: torch.stack([inner(x), inner(x)], 1)  # (N, 2)
    source = batches()
    with pytest.raises(GanzooError, match=r"discriminator 'dcgan' returned scores of shape \(8, 2\) for 8 samples"):
        update.step(1, 2, lambda: next(source))


def test_networks_that_keep_the_contract_pass():
    update = engine()
    source = batches()
    update.step(1, 3, lambda: next(source))
    packed = engine("pacgan")  # one score per pack of 4: allowed
    source = batches()
    packed.step(1, 2, lambda: next(source))
