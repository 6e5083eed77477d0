"""InfoGAN: Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016, "InfoGAN: Interpretable Representation Learning
by Information Maximizing Generative Adversarial Nets" (NeurIPS).

G's input is incompressible noise z plus a latent code c: one categorical code with 10 values (one-hot) and 2
continuous codes ~ U(-1, 1) (the MNIST setting: 62 + 10 + 2 = 74 inputs). The generator draws its own latent with
``sample_latent(n, generator, device)``; the codes are the *last* 12 entries of the latent vector. D returns
``(scores, q)``: a Q head sharing D's body outputs 10 categorical logits and 2 means for the continuous codes.

The mutual-information term (eq. 4-5) is the variational lower bound L_I(G, Q) = E[log Q(c|x)] + H(c); it is
*maximised* by G and Q, so the regulariser adds ``-(lambda_cat * L_I,cat + lambda_cont * L_I,cont)`` to both
players' objectives (``infogan-mi-d`` in the D phase trains Q and D's body on detached fakes; ``infogan-mi-g`` in
the G phase trains G). Q models each continuous code as a factored Gaussian with fixed unit variance (as the
authors' MNIST code, ``fix_std=True``), so its log-likelihood is ``-(c - mu)^2 / 2 - log(2 pi) / 2``; H(c) is
log 10 for the categorical code and log 2 per U(-1, 1) code. lambda 1 for the categorical code, 0.1 for the
continuous ones.

Networks (the paper's MNIST architecture, Appendix C.1), for any square size S divisible by 4:
- G: FC 1024 -> BN -> ReLU -> FC 128 x S/4 x S/4 -> BN -> ReLU -> 4x4 up-conv 64 stride 2 -> BN -> ReLU -> 4x4
  up-conv C stride 2 -> tanh (data here is in [-1, 1]; the paper's sigmoid for [0, 1]).
- D: 4x4 conv 64 stride 2 -> LReLU(0.1) -> 4x4 conv 128 stride 2 -> BN -> LReLU -> FC 1024 -> BN -> LReLU -> FC 1;
  Q: FC 128 -> BN -> LReLU -> FC 10 + 2 on the shared 1024 features.
- Adam, lr 2e-4 for D and 1e-3 for G, betas (0.5, 0.999), batch 64 (the authors' code).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.errors import GanzooError

CATEGORIES = 10
CONTINUOUS = 2


def _check(shape, what):
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] % 4 or shape[1] < 4:
        raise ValueError(f"the InfoGAN {what} needs square (C, S, S) images with S divisible by 4, got {tuple(shape)}")


class InfoGenerator(nn.Module):
    """The MNIST generator of the paper; its latent is [noise, one-hot categorical code, continuous codes]."""

    def __init__(self, shape, latent_dim: int = 74, categories: int = CATEGORIES, continuous: int = CONTINUOUS):
        super().__init__()
        _check(shape, "generator")
        self.categories, self.continuous = int(categories), int(continuous)
        self.noise_dim = int(latent_dim) - self.categories - self.continuous
        if self.noise_dim < 1:
            raise ValueError(f"latent_dim {latent_dim} leaves no room for noise next to {categories} + {continuous} "
                             "code entries")
        self.latent_dim = int(latent_dim)
        self.side = shape[1] // 4
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU(True),
            nn.Linear(1024, 128 * self.side * self.side), nn.BatchNorm1d(128 * self.side * self.side), nn.ReLU(True))
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, shape[0], 4, 2, 1), nn.Tanh())

    def sample_latent(self, n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
        """[z ~ N(0, I) (noise_dim), one-hot c1 ~ Cat(1/K), c2.. ~ U(-1, 1)] for n samples."""
        noise = torch.randn(n, self.noise_dim, generator=generator, device=device)
        cat = torch.randint(self.categories, (n,), generator=generator, device=device)
        cont = torch.rand(n, self.continuous, generator=generator, device=device) * 2 - 1
        return torch.cat([noise, F.one_hot(cat, self.categories).float(), cont], dim=1)

    def forward(self, z):
        return self.conv(self.fc(z).view(z.shape[0], 128, self.side, self.side))


class InfoDiscriminator(nn.Module):
    """The MNIST discriminator with a Q head on its shared 1024-d features: returns ``(scores, q)``."""

    def __init__(self, shape, categories: int = CATEGORIES, continuous: int = CONTINUOUS):
        super().__init__()
        _check(shape, "discriminator")
        side = shape[1] // 4
        self.body = nn.Sequential(
            nn.Conv2d(shape[0], 64, 4, 2, 1), nn.LeakyReLU(0.1, True),
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.1, True), nn.Flatten(),
            nn.Linear(128 * side * side, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.1, True))
        self.score = nn.Linear(1024, 1)
        self.q = nn.Sequential(nn.Linear(1024, 128), nn.BatchNorm1d(128), nn.LeakyReLU(0.1, True),
                               nn.Linear(128, int(categories) + int(continuous)))

    def forward(self, x):
        h = self.body(x)
        return self.score(h).squeeze(1), self.q(h)


def mutual_information(z: torch.Tensor, q: torch.Tensor, categories: int = CATEGORIES,
                       continuous: int = CONTINUOUS) -> tuple[torch.Tensor, torch.Tensor]:
    """The lower bounds (L_I,cat, L_I,cont) of InfoGAN eq. 5, averaged over the batch, in nats.

    ``z`` is G's latent (codes last), ``q`` Q's output (categorical logits, then continuous means).
    """
    z, q = z.float(), q.float()
    codes = z[:, z.shape[1] - categories - continuous:]
    cat, cont = codes[:, :categories].argmax(1), codes[:, categories:]
    logits, mean = q[:, :categories], q[:, categories:categories + continuous]
    cat_bound = -F.cross_entropy(logits, cat) + math.log(categories)
    if continuous:
        log_q = (-0.5 * (cont - mean) ** 2 - 0.5 * math.log(2 * math.pi)).sum(1).mean()
        cont_bound = log_q + continuous * math.log(2.0)  # H(U(-1, 1)) = log 2 per code
    else:
        cont_bound = torch.zeros((), device=z.device)
    return cat_bound, cont_bound


class MutualInformation(ganzoo.Regularizer):
    """``-(lambda_cat * L_I,cat + lambda_cont * L_I,cont)`` on G's own samples, from ``ctx.z`` and ``ctx.fake_aux``."""

    def __init__(self, phase: str = "D", lambda_cat: float = 1.0, lambda_cont: float = 0.1,
                 categories: int = CATEGORIES, continuous: int = CONTINUOUS):
        self.phase = phase
        self.lambda_cat, self.lambda_cont = float(lambda_cat), float(lambda_cont)
        self.categories, self.continuous = int(categories), int(continuous)

    def __call__(self, ctx):
        if ctx.z is None or not isinstance(ctx.fake_aux, torch.Tensor):
            raise GanzooError("the InfoGAN mutual-information term needs G's latent codes and a discriminator that "
                              "returns (scores, q); use the infogan generator and discriminator")
        if ctx.fake_aux.shape[0] != ctx.z.shape[0]:
            raise GanzooError(f"Q returned {ctx.fake_aux.shape[0]} outputs for {ctx.z.shape[0]} latents")
        cat, cont = mutual_information(ctx.z, ctx.fake_aux, self.categories, self.continuous)
        return -(self.lambda_cat * cat + self.lambda_cont * cont)


RECIPE = ganzoo.Recipe(
    generator="infogan",
    discriminator="infogan",
    loss="ns",
    latent_dim=62 + CATEGORIES + CONTINUOUS,
    lr_g=1e-3,
    lr_d=2e-4,
    betas=(0.5, 0.999),
    n_critic=1,
    batch_size=64,
    steps=2000,
    regularizers=("infogan-mi-d", "infogan-mi-g"),
    citation=("Chen et al. 2016, InfoGAN: z 62 + one categorical code (10) + 2 continuous codes U(-1, 1), Q head "
              "sharing D's body, MI lower bound with lambda 1 (categorical) and 0.1 (continuous, fixed-variance "
              "Gaussian), the MNIST networks, Adam lr 1e-3 (G) / 2e-4 (D), betas (0.5, 0.999)."),
)


@ganzoo.hookimpl
def register_generators(register):
    register("infogan", InfoGenerator, "InfoGAN generator on noise + categorical + continuous codes (Chen et al. 2016)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("infogan", InfoDiscriminator, "InfoGAN discriminator with a Q head on its shared body (Chen et al. 2016)")


@ganzoo.hookimpl
def register_regularizers(register):
    register("infogan-mi-d", lambda **options: MutualInformation("D", **options),
             "InfoGAN mutual-information lower bound, D/Q phase (Chen et al. 2016)")
    register("infogan-mi-g", lambda **options: MutualInformation("G", **options),
             "InfoGAN mutual-information lower bound, G phase (Chen et al. 2016)")


@ganzoo.hookimpl
def register_models(register):
    register("infogan", RECIPE, "InfoGAN: interpretable latent codes by mutual information (Chen et al. 2016)")
