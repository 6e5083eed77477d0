"""DRAGAN: Kodali, Abernethy, Hays & Kira 2017, "On Convergence and Stability of GANs" (arXiv:1705.07215).

A gradient penalty around the *data* manifold instead of between real and fake samples: the discriminator's
gradient norm is pulled to k on points near the real samples,
``lambda * E[(||grad_x D(x_hat)|| - k)^2]``, ``x_hat = x + alpha * delta``, ``delta = c * std(x) * u``,
u ~ U[0, 1] elementwise and alpha ~ U[0, 1] per sample (the authors' reference code: the perturbation is scaled by
the standard deviation of the whole real batch and the penalty is taken on a random point of the segment between x
and its perturbation). Defaults: lambda 10, c 0.5, k 1 (the paper's and the code's values).

The ``dragan`` regulariser works with any model (``--regularizer dragan`` or ``dragan:weight=10,c=0.5``); the
``dragan`` model is the paper's setting: the non-saturating GAN loss with DCGAN networks (Radford et al. 2015;
MLPs on 2-D points) and DCGAN's optimiser, Adam(2e-4, 0.5), batch 64.
"""

from __future__ import annotations

import ganzoo
from ganzoo_plugins.regularizers import gradient_norm_penalty


class DRAGANPenalty(ganzoo.Regularizer):
    """lambda * E[(||grad D(x + alpha * c * std(x) * u)|| - k)^2] (Kodali et al. 2017); its own D pass."""

    def __init__(self, weight: float = 10.0, c: float = 0.5, k: float = 1.0):
        self.weight, self.c, self.k = float(weight), float(c), float(k)

    def __call__(self, ctx):
        real = ctx.real.detach().float()
        n = real.shape[0]
        u = ctx.rand(n, *real.shape[1:])
        alpha = ctx.rand(n, *([1] * (real.ndim - 1)))
        return gradient_norm_penalty(ctx, real + alpha * self.c * real.std() * u, self.weight, self.k)


DRAGAN = ganzoo.Recipe(
    generator={"image": "dcgan", "vector": "mlp"},
    discriminator={"image": "dcgan", "vector": "mlp"},
    loss="ns",
    latent_dim=100,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.5, 0.999),
    batch_size=64,
    steps=2000,
    regularizers=({"name": "dragan", "weight": 10.0, "c": 0.5, "k": 1.0},),
    citation="Kodali et al. 2017, DRAGAN: NS loss + lambda E(||grad D(x + delta)|| - 1)^2, lambda 10, "
             "delta = 0.5 std(x) U[0,1]; DCGAN networks, Adam(2e-4, 0.5).",
)


@ganzoo.hookimpl
def register_regularizers(register):
    register("dragan", DRAGANPenalty, "gradient penalty on perturbed real samples (Kodali et al. 2017)")


@ganzoo.hookimpl
def register_models(register):
    register("dragan", DRAGAN, "NS GAN with the DRAGAN penalty near the data (Kodali et al. 2017)")
