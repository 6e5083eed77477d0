"""WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (NeurIPS).

Wasserstein critic loss with a gradient penalty on random interpolates between real and fake samples (lambda = 10),
five critic updates per generator update, Adam(lr 1e-4, betas (0, 0.9)), and no batch norm in the critic (the
penalty is per sample; the paper suggests layer norm as a drop-in, we use none). The penalty is the built-in ``gp``
regulariser, which the trainer computes correctly under autocast and gradient scaling. As in Algorithm 1, the
generator step draws fresh noise (``generator_noise="fresh"``).
"""

from __future__ import annotations

import ganzoo


class WassersteinLoss(ganzoo.Loss):
    """Critic: E[D(fake)] - E[D(real)]; generator: -E[D(fake)] (Arjovsky et al. 2017; Gulrajani et al. 2017)."""

    def discriminator_loss(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


class WassersteinGPLoss(WassersteinLoss):
    """The v0.1 ``wgan-gp`` loss name: the Wasserstein loss asking for the ``gp`` regulariser (lambda 10) through
    ``gradient_penalty_weight``, so ``--loss wgan-gp`` on any model still adds the penalty."""

    def __init__(self, gp_weight: float = 10.0):
        self.gradient_penalty_weight = float(gp_weight)


@ganzoo.hookimpl
def register_losses(register):
    register("wasserstein", WassersteinLoss, "Wasserstein critic loss (Arjovsky et al. 2017)")
    register("wgan-gp", WassersteinGPLoss, "Wasserstein loss + gp regulariser, lambda 10 (Gulrajani et al. 2017)")


@ganzoo.hookimpl
def register_models(register):
    register(
        "wgan-gp",
        ganzoo.Recipe(
            generator={"image": "dcgan", "vector": "mlp"},
            discriminator={"image": "dcgan", "vector": "mlp"},
            loss="wasserstein",
            latent_dim=100,
            lr_g=1e-4,
            lr_d=1e-4,
            betas=(0.0, 0.9),
            n_critic=5,
            batch_size=64,
            steps=2000,
            discriminator_options={"normalization": "none"},
            regularizers=({"name": "gp", "weight": 10.0, "target": 1.0},),
            generator_noise="fresh",
            # On 2-D points: the synthetic protocol of GDPP (Elfeki et al. 2019), whose Table 1 has the WGAN-GP row
            # this is compared with (the networks of the authors' gdppgan_Synthetic.py:
            # G z 256 -> 2 x 128 tanh -> 2, D 2 x 128 tanh -> 1, orthogonal init gain 1.4; batch 512; Adam beta1
            # 0.5 with lr 1e-3 (G) and 1e-4 (D); 25k iterations). GDPP does not state its WGAN-GP settings: the
            # penalty (lambda 10), n_critic 5 and fresh noise for G are Gulrajani et al.'s Algorithm 1.
            variants={"vector": dict(
                latent_dim=256, batch_size=512, steps=25_000, lr_g=1e-3, lr_d=1e-4, betas=(0.5, 0.999),
                generator_options={"hidden": (128, 128), "activation": "tanh", "init": "orthogonal", "gain": 1.4},
                discriminator_options={"hidden": (128, 128), "activation": "tanh", "init": "orthogonal",
                                       "gain": 1.4})},
            citation="Gulrajani et al. 2017, WGAN-GP: lambda 10, n_critic 5, Adam(1e-4, betas (0, 0.9)), no critic "
                     "batch norm. 2-D points: GDPP's synthetic protocol (Elfeki et al. 2019, Table 1).",
        ),
        "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017)",
    )
