"""WGAN: Arjovsky, Chintala & Bottou 2017, "Wasserstein Generative Adversarial Networks" (ICML).

Algorithm 1 with the paper's defaults: alpha = 5e-5, c = 0.01, m = 64, n_critic = 5, RMSProp for both networks.

- Loss: the Wasserstein critic loss ``E[D(fake)] - E[D(real)]``, generator ``-E[D(fake)]`` (the ``wasserstein`` loss
  of ``ganzoo_plugins.wgan_gp``), on a critic without a final sigmoid.
- Weight clipping: every critic parameter clamped to [-0.01, 0.01] right after each critic update (the ``clip``
  constraint, phase D; Algorithm 1, line 7).
- Optimiser: RMSProp (``optimizer="rmsprop"``, PyTorch's alpha 0.99, eps 1e-8, as the authors' code), lr 5e-5 for
  both networks; the paper reports that momentum-based optimisers (Adam) made the clipped critic unstable.
- Networks: the DCGAN generator and critic *with* batch norm, as the paper's LSUN experiments and the authors'
  code (``models/dcgan.py``: ``DCGAN_D`` has BatchNorm after every strided conv but the first; init N(0, 0.02),
  batch-norm scale N(1, 0.02)). Batch-norm scales and shifts are clipped too. The DCGAN rule puts batch norm after
  every strided conv but the first, so at 8 px (digits: one strided conv) the critic has none. The authors' code
  also has a critic without batch norm (``DCGAN_D_nobn``); a recipe built on this one gets it with
  ``discriminator_options={"normalization": "none"}``.
- Noise: the generator step draws fresh noise (Algorithm 1, line 9), ``generator_noise="fresh"``.
- Latent: z in R^100 ~ N(0, I), as the authors' code (``nz=100``).

Not reproduced, stated: the authors' code runs 100 critic iterations for the first 25 generator iterations and
every 500th one (a warm start of the critic); the recipe uses the paper's constant n_critic = 5. On 2-D points the
recipe falls back to the MLP networks (the paper has no 2-D experiment).
"""

from __future__ import annotations

import ganzoo

WGAN = ganzoo.Recipe(
    generator={"image": "dcgan", "vector": "mlp"},
    discriminator={"image": "dcgan", "vector": "mlp"},
    loss="wasserstein",
    latent_dim=100,
    lr_g=5e-5,
    lr_d=5e-5,
    betas=None,  # RMSProp has no betas
    optimizer="rmsprop",
    n_critic=5,
    batch_size=64,
    steps=4000,
    discriminator_options={"image": {"normalization": "batch"}, "vector": {}},
    constraints=({"name": "clip", "bound": 0.01, "phase": "D"},),
    generator_noise="fresh",
    citation="Arjovsky et al. 2017, Wasserstein GAN: critic weights clipped to [-0.01, 0.01] after each critic "
             "step, RMSProp lr 5e-5, n_critic 5, batch 64, DCGAN networks with batch norm.",
)


@ganzoo.hookimpl
def register_models(register):
    register("wgan", WGAN, "Wasserstein GAN with weight clipping (Arjovsky et al. 2017)")
