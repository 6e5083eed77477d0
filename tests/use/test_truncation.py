"""The truncation trick in `ganzoo sample` / `interpolate`: towards the mean w for style-based generators, a
truncated normal z for the others, each checked against a direct computation."""

from __future__ import annotations

import math

import pytest
import torch

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.engine.assemble import build
from ganzoo.errors import GanzooError
from ganzoo.use.sampling import draw, generate, interpolate, sample

TINY = dict(generator_options=["channel_max=8,w_dim=16,mapping_layers=2"], discriminator_options=["channel_max=8"],
            latent_dim=16)


@pytest.fixture(scope="module")
def stylegan2_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sg") / "run"
    ganzoo.train(model="stylegan2", dataset="digits", steps=3, batch_size=8, out=str(out), progress=False, **TINY)
    return out


def test_style_truncation_moves_every_w_towards_the_mean(stylegan2_run):
    gan = ganzoo.load(stylegan2_run)
    G = gan.generator.eval()
    z = torch.randn(4, 16)
    w_avg = G.mapping.w_avg
    assert w_avg.abs().sum() > 0  # the running mean was tracked during training
    ws, half = G.ws(z), G.ws(z, truncation=0.5)
    torch.testing.assert_close(half, w_avg + 0.5 * (ws - w_avg))
    at_mean = sample(gan, 3, seed=1, truncation=0.0)
    torch.testing.assert_close(at_mean[0], at_mean[1])  # psi 0: every sample is the mean image
    torch.testing.assert_close(sample(gan, 3, seed=1, truncation=1.0), sample(gan, 3, seed=1))
    walk, _ = interpolate(gan, steps=3, rows=2, seed=0, truncation=0.0)
    torch.testing.assert_close(walk[0, 0], walk[1, 2])


def test_normal_latents_are_truncated_to_the_threshold():
    gan = build("dcgan", (1, 8, 8))
    z, _ = draw(gan, 4000, seed=3, truncation=0.5)
    assert z.abs().max() <= 0.5 and z.shape == (4000, gan.latent_dim)
    again, _ = draw(gan, 4000, seed=3, truncation=0.5)
    assert torch.equal(z, again)  # the same seed gives the same latents
    # the share inside |z| < 0.25 is that of N(0, 1) conditioned on |z| <= 0.5
    phi = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))
    expect = (phi(0.25) - phi(-0.25)) / (phi(0.5) - phi(-0.5))
    assert (z.abs() < 0.25).float().mean().item() == pytest.approx(expect, abs=0.01)
    x = generate(gan, z[:8])
    assert x.shape == (8, 1, 8, 8)


def test_bad_truncation_values_are_one_line_errors(stylegan2_run, tmp_path, capsys):
    assert main(["sample", str(stylegan2_run), "--truncation", "1.5", "--out", str(tmp_path / "a.png")]) == 2
    assert "psi in [0, 1]" in capsys.readouterr().err
    assert main(["sample", str(stylegan2_run), "--truncation", "0.7", "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").is_file()
    with pytest.raises(GanzooError, match="positive threshold"):
        draw(build("dcgan", (1, 8, 8)), 4, truncation=0.0)
    with pytest.raises(GanzooError, match="structured latents"):
        draw(build("infogan", (1, 8, 8)), 4, truncation=0.5)
