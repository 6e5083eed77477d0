"""The adversarial update equals the papers' algorithms written out directly, on the same modules and random draws.

vanilla and dcgan follow PyTorch's example loop (one D step on real and fake, then a G step on the same fakes);
wgan-gp follows Gulrajani et al. 2017, Algorithm 1 (n_critic critic steps with the interpolation penalty, then a
generator step on *fresh* noise); the PacGAN 2-D protocol takes both players' gradients at the same parameters on
the same batch and applies them together. Same seed, fp32: same losses and weights.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo.run.trainer import Trainer


def _trainer(model, tmp_path, dataset="digits", **kw):
    return Trainer(ganzoo.TrainConfig(model=model, dataset=dataset, steps=10, batch_size=kw.pop("batch_size", 16),
                                      precision="fp32", device="cpu", out=str(tmp_path / model), **kw), progress=False)


def _adam(params, spec, net):
    comp = spec.optimizer(net)
    return torch.optim.Adam(params, lr=comp.options["lr"], betas=tuple(comp.options["betas"]), foreach=False)


def _replica(trainer):
    """Copies of the networks, the data position and the noise generator, before any step."""
    sampler = copy.deepcopy(trainer.sampler.state_dict())
    noise = torch.Generator().set_state(trainer.update.noise.get_state())
    return copy.deepcopy(trainer.gan.generator), copy.deepcopy(trainer.gan.discriminator), sampler, noise


def _batches(trainer, sampler_state):
    replay = copy.deepcopy(trainer.sampler)
    replay.load_state_dict(sampler_state)
    return lambda: replay.next()[0]


@pytest.mark.parametrize("model,dataset", [("vanilla", "digits"), ("dcgan", "digits"), ("minimax", "digits")])
def test_alternating_update_is_the_canonical_loop(model, dataset, tmp_path):
    trainer = _trainer(model, tmp_path, dataset)
    G, D, sampler_state, noise = _replica(trainer)
    next_real = _batches(trainer, sampler_state)
    spec = trainer.spec
    opt_g, opt_d = _adam(G.parameters(), spec, "G"), _adam(D.parameters(), spec, "D")
    direct = []
    for _ in range(4):
        real = next_real()
        fake = G(torch.randn(real.shape[0], spec.latent_dim, generator=noise))
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        scores = D(fake)
        loss_g = -F.softplus(scores).mean() if model == "minimax" else F.softplus(-scores).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        direct.append((loss_d.item(), loss_g.item()))
    for step in range(1, 5):
        trainer.update.step(step, 10, trainer.sampler.next)
        m = trainer.update.read_metrics()
        assert (m["loss_d"], m["loss_g"]) == pytest.approx(direct[step - 1], rel=1e-5, abs=1e-6)
    for a, b in zip(G.parameters(), trainer.gan.generator.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_wgan_gp_is_algorithm_1(tmp_path):
    trainer = _trainer("wgan-gp", tmp_path, "digits", image_size=16)
    G, D, sampler_state, noise = _replica(trainer)
    next_real = _batches(trainer, sampler_state)
    spec = trainer.spec
    assert spec.n_critic == 5 and spec.generator_noise == "fresh"
    opt_g, opt_d = _adam(G.parameters(), spec, "G"), _adam(D.parameters(), spec, "D")
    direct = []
    for _ in range(2):
        for _ in range(5):
            real = next_real()
            n = real.shape[0]
            fake = G(torch.randn(n, spec.latent_dim, generator=noise)).detach()
            alpha = torch.rand(n, 1, 1, 1, generator=noise)
            x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            gp = 10 * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            loss_d = D(fake).mean() - D(real).mean()
            opt_d.zero_grad()
            (loss_d + gp).backward()
            opt_d.step()
        fake = G(torch.randn(n, spec.latent_dim, generator=noise))  # fresh noise for the generator step
        loss_g = -D(fake).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        direct.append((loss_d.item(), gp.item(), loss_g.item()))
    for step in (1, 2):
        trainer.update.step(step, 10, trainer.sampler.next)
        m = trainer.update.read_metrics()
        # the trainer logs the mean over the step's 5 critic updates; compare the generator loss exactly and the
        # final weights below (which depend on every critic update)
        assert m["loss_g"] == pytest.approx(direct[step - 1][2], rel=1e-4, abs=1e-5)
    for a, b in zip(D.parameters(), trainer.gan.discriminator.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(G.parameters(), trainer.gan.generator.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_simultaneous_update_takes_both_gradients_at_the_same_parameters(tmp_path):
    """PacGAN's 2-D protocol (ALI's algorithm): one forward pass, D's and G's gradients at the same weights.

    The gradients are compared at every step, then the replica takes the trainer's weights and Adam state: comparing
    weights after Adam would amplify float noise, since Adam turns a near-zero gradient into a step of about lr
    whatever its size (two of 160,000 weights once differed by 1.8e-6 that way)."""
    trainer = _trainer("pacgan", tmp_path, "ring8", batch_size=400)
    spec = trainer.spec
    assert spec.update == "simultaneous" and spec.batch_size == 400
    G, D, sampler_state, noise = _replica(trainer)
    next_real = _batches(trainer, sampler_state)
    opt_g, opt_d = _adam(G.parameters(), spec, "G"), _adam(D.parameters(), spec, "D")
    for step in range(1, 4):
        real = next_real()
        fake = G(torch.randn(real.shape[0], spec.latent_dim, generator=noise))
        real_s, fake_s = D(real), D(fake)
        loss_d = F.softplus(-real_s).mean() + F.softplus(fake_s).mean()
        loss_g = F.softplus(-fake_s).mean()
        g_d = torch.autograd.grad(loss_d, list(D.parameters()), retain_graph=True)
        g_g = torch.autograd.grad(loss_g, list(G.parameters()))
        trainer.update.step(step, 10, trainer.sampler)
        m = trainer.update.read_metrics()
        assert (m["loss_d"], m["loss_g"]) == pytest.approx((loss_d.item(), loss_g.item()), rel=1e-5, abs=1e-6)
        for mine, net in ((g_d, trainer.gan.discriminator), (g_g, trainer.gan.generator)):
            for g, p in zip(mine, net.parameters()):
                torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-7)
        with torch.no_grad():  # continue from the trainer's state, so each step is compared at equal weights
            for a, b in ((D, trainer.gan.discriminator), (G, trainer.gan.generator)):
                for pa, pb in zip(a.parameters(), b.parameters()):
                    pa.copy_(pb)
                a.load_state_dict(b.state_dict())
        opt_d.load_state_dict(trainer.update.opt_d.state_dict())
        opt_g.load_state_dict(trainer.update.opt_g.state_dict())
