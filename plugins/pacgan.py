"""PacGAN: Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative adversarial networks".

The discriminator scores *packs* of m samples concatenated along the feature axis (m = 2..4), which penalises mode
collapse. Packing is a discriminator option usable with any model here (``pack=m`` on ``pacgan-maxout``, or the
``Packed`` wrapper). The 2-D networks are those of the authors' synthetic-data code (fjxmlzn/PacGAN):

- G: latent 2 -> 4 x [Linear 400 (no bias) -> BatchNorm (momentum 0.05, eps 1e-4) -> ReLU] -> Linear 2; in a packed
  run the reference calls G once per pack slot: here one call normalises each slot of 100 samples with its own
  batch statistics (the same outputs) and updates the running statistics once with their mean, as the reference
  averages its per-slot population updates (it averages standard deviations, torch keeps variances).
- D: 3 x LinearMaxout (200 units, 5 pieces) -> Linear 1, on m concatenated samples.
- init N(0, 0.02), zero biases; Adam lr 1e-4, betas (0.8, 0.999); 100 packed D inputs per batch; both players'
  gradients taken at the same parameters on the same batch and applied together (``update="simultaneous"``).
Differences from the reference, stated: real packs are drawn without replacement within an epoch (the reference
draws each slot with replacement); the paper trains 400 epochs x 1,000 batches, the recipe's default is shorter.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.errors import GanzooError


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """N(0, std) weights and zero biases for every Linear layer (the reference code's initialiser)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class SlotBatchNorm1d(nn.BatchNorm1d):
    """Batch norm with statistics per pack slot: a training batch of ``slots * n`` rows is normalised slot by slot
    (rows ``i*n .. (i+1)*n``), as if G had run once per slot, and the running statistics are updated once with the
    mean of the slots' (unbiased) statistics. The reference code likewise averages its per-slot population updates
    into one (it keeps a standard deviation where torch keeps a variance); calling a plain BatchNorm1d once per slot
    would instead apply the momentum m times in a row."""

    def __init__(self, features: int, slots: int = 1, **kwargs):
        super().__init__(features, **kwargs)
        if self.momentum is None:
            raise ValueError("SlotBatchNorm1d needs a momentum (a cumulative average over slots is not defined here)")
        self.slots = int(slots)

    def forward(self, x):
        if self.slots == 1 or not self.training or x.shape[0] % self.slots or x.shape[0] // self.slots < 2:
            return super().forward(x)
        n = x.shape[0] // self.slots
        # the native batch-norm kernel per slot (faster here than one hand-written normalisation of all slots)
        y = torch.cat([F.batch_norm(c, None, None, self.weight, self.bias, True, 0.0, self.eps)
                       for c in x.chunk(self.slots)])
        if self.track_running_stats:
            with torch.no_grad():
                var, mean = torch.var_mean(x.detach().view(self.slots, n, -1), dim=1, unbiased=True)
                self.num_batches_tracked.add_(1)
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(mean.mean(0), alpha=m)
                self.running_var.mul_(1 - m).add_(var.mean(0), alpha=m)
        return y


class PacGenerator(nn.Module):
    """The reference 2-D generator; with ``pack=m`` a training batch is m slots, each with its own batch-norm
    statistics (as if G ran once per slot, which the reference code does)."""

    def __init__(self, shape, latent_dim=2, hidden=400, layers=4, pack=1):
        super().__init__()
        if len(shape) != 1:
            raise ValueError(f"the PacGAN generator makes points (D,), not samples of shape {tuple(shape)}")
        blocks, width = [], latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden, bias=False),
                       SlotBatchNorm1d(hidden, slots=pack, eps=1e-4, momentum=0.05), nn.ReLU(inplace=True)]
            width = hidden
        blocks.append(nn.Linear(width, shape[0]))
        self.net = nn.Sequential(*blocks)
        self.pack = int(pack)
        init_normal(self)

    def forward(self, z):
        return self.net(z)


class Maxout(nn.Module):
    """max over ``pieces`` linear maps (Goodfellow et al. 2013)."""

    def __init__(self, in_features, units, pieces):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x):
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(-1)


def pack_samples(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, *shape) -> (N/m, m * prod(shape)): pack i holds sample i of each of the m consecutive slots of N/m.

    Slots are the chunks a packed generator ran on, so each pack mixes samples from m independent draws.
    """
    if m == 1:
        return x.flatten(1)
    n = x.shape[0]
    if n % m:
        raise GanzooError(f"a batch of {n} samples cannot be split into packs of {m}; use a --batch-size "
                          f"divisible by {m}")
    return x.flatten(1).view(m, n // m, -1).transpose(0, 1).reshape(n // m, -1)


class PacDiscriminator(nn.Module):
    """The reference 2-D discriminator: 3 maxout layers (200 units, 5 pieces) then a linear score, on packs of m."""

    def __init__(self, shape, pack=1, units=200, pieces=5, layers=3):
        super().__init__()
        width = math.prod(shape) * int(pack)
        blocks = []
        for _ in range(layers):
            blocks.append(Maxout(width, units, pieces))
            width = units
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)
        self.pack = self.pack_size = int(pack)  # pack_size: the trainer expects one score per pack
        self.per_sample = pack == 1  # packs of fakes must not mix with real samples in one pass
        init_normal(self)

    def forward(self, x):
        return self.net(pack_samples(x, self.pack)).squeeze(1)


class Packed(nn.Module):
    """Any discriminator made for packs: ``Packed(factory(shape with m x channels), m)``, for image models."""

    def __init__(self, inner: nn.Module, m: int):
        super().__init__()
        self.inner, self.m = inner, int(m)
        self.pack_size = self.m  # the trainer expects one score per pack of m

    def forward(self, x, *args):
        if self.m == 1:
            return self.inner(x, *args)
        n = x.shape[0]
        if n % self.m:
            raise GanzooError(f"a batch of {n} samples cannot be split into packs of {self.m}; use a --batch-size "
                              f"divisible by {self.m}")
        slots = x.view(self.m, n // self.m, *x.shape[1:])
        return self.inner(torch.cat(list(slots), dim=1), *args)


def packed_dcgan(shape, pack=2, **options):
    """DCGAN's discriminator on m images stacked along channels (the PacGAN paper's image experiments)."""
    registry = ganzoo.get_registry()
    inner = registry.get("discriminator", "dcgan").obj((shape[0] * int(pack), *shape[1:]), **options)
    return Packed(inner, pack)


def _recipe(m: int) -> ganzoo.Recipe:
    two_d = dict(
        generator="pacgan-mlp", discriminator="pacgan-maxout", latent_dim=2, lr_g=1e-4, lr_d=1e-4,
        betas=(0.8, 0.999), batch_size=100 * m, steps=60_000, ema_decay=None, update="simultaneous",
        generator_options={"pack": m}, discriminator_options={"pack": m},
    )
    return ganzoo.Recipe(
        generator={"image": "dcgan", "vector": "pacgan-mlp"},
        discriminator={"image": "pacgan-dcgan", "vector": "pacgan-maxout"},
        loss="ns",
        latent_dim=100,
        lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64 - 64 % m, steps=2000,  # packs need m | batch
        discriminator_options={"pack": m},
        variants={"vector": two_d},
        citation=(f"Lin et al. 2018, PacGAN (m={m}): discriminator on packs of {m} samples; 2-D: the authors' G "
                  "(4x400 BN-ReLU, z dim 2) and D (3x200 maxout, 5 pieces), Adam(1e-4, betas (0.8, 0.999)), "
                  "100 packed D inputs per batch, simultaneous updates."),
    )


@ganzoo.hookimpl
def register_generators(register):
    register("pacgan-mlp", PacGenerator, "PacGAN's 2-D generator: 4x400 BN-ReLU, run once per pack slot")


@ganzoo.hookimpl
def register_discriminators(register):
    register("pacgan-maxout", PacDiscriminator, "PacGAN's 2-D discriminator: 3x200 maxout (5 pieces), packs of m")
    register("pacgan-dcgan", packed_dcgan, "DCGAN discriminator on packs of m images stacked along channels")


@ganzoo.hookimpl
def register_models(register):
    register("pacgan", _recipe(4), "PacGAN4: discriminator on packs of 4 (Lin et al. 2018)")
    for m in (2, 3):
        register(f"pacgan{m}", _recipe(m), f"PacGAN{m}: discriminator on packs of {m} (Lin et al. 2018)")
