"""BigGAN: Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis" (ICLR).

A class-conditional SN ResNet GAN (SAGAN's design scaled up) with the paper's additions:

- **Shared class embedding + hierarchical latents** (section 3, appendix B): one embedding of the class (dim 128,
  ``shared``, no spectral norm: BigGAN-PyTorch notes that SN on G's embedding "seems to randomly cripple G") is
  shared by all G blocks; z is split into ``num_blocks + 1`` equal chunks, the first feeds G's linear layer and
  chunk i+1 is concatenated with the embedding to condition block i.
- **Conditional batch norm** in every G ResBlock (both of its BNs): batch norm without affine, then ``gain = 1 +
  linear(cond)``, ``bias = linear(cond)``, the linears spectrally normalised and bias-free (BigGAN-PyTorch
  ``layers.ccbn`` with ``--G_shared``).
- **Projection discriminator** (Miyato & Koyama 2018): ``D(x, y) = linear(phi(x)) + <embed(y), phi(x)>`` with phi
  the ReLU'd, globally sum-pooled features; SN on D's embedding too (BigGAN-PyTorch ``SNEmbedding``).
- **Self-attention** in G and D (SAGAN's block, ``ganzoo.api.SelfAttention2d``), **spectral norm** on every conv
  and linear weight of G and D, **hinge loss** (``hinge``).
- **Orthogonal regularisation** of G (section 3.1), registered here as the G-phase regulariser ``ortho`` that any
  model may use: ``beta * sum_W ||W^T W (.) (1 - I)||_F^2`` over G's weights with at least 2 dimensions except
  embeddings (BigGAN-PyTorch's ``utils.ortho`` skips 1-D parameters and, from ``train_fns.py``, G's ``shared``
  embedding). Each weight is read as the matrix whose columns are its ``out`` filters (torch's ``(out, -1)`` view,
  transposed), so the term penalises the cosine of every pair of filters and leaves their norms free. beta 1e-4.
  Taken on the raw weights (the spectral-norm parametrisation's ``original``), as BigGAN-PyTorch, whose SN keeps the
  raw weight as the parameter. BigGAN-PyTorch adds the gradient ``2 beta (W W^T (.) (1 - I)) W`` by hand, which is
  the gradient of beta/2 times the paper's term; this follows the paper's formula (its gradient is 4 beta (...) W).
- **EMA of G**: decay 0.9999, the average pegged to G's weights before step 1000 (``ema_start``; the schedule
  ``ema-start`` registered here reproduces BigGAN-PyTorch's ``utils.ema``: decay 0 while ``itr < start_itr``).

The paper's CIFAR-10 setting is BigGAN-PyTorch's ``scripts/launch_cifar_ema.sh``: batch 50, ``--num_D_steps 4``,
Adam lr 2e-4 for G and D, betas (0, 0.999) (the parser's defaults), ``--G_init N02 --D_init N02`` (weights N(0,
0.02)), ``--ema --ema_start 1000`` with decay 0.9999, G_ch = D_ch = 64 (``BigGAN.G_arch[32]``: 3 up blocks of 4 *
64 = 256 channels from 4x4; ``D_arch[32]``: 4 blocks of 256, the first two downsampling), dim_z 128. That script
also turns three of the additions **off**: ``--G_attn 0 --D_attn 0`` (no attention at 32x32; the paper's models
put it at 64x64, the S/2 map of their 128x128 images), ``--G_ortho 0.0`` (no orthogonal regularisation; the
parser's own comment: "1e-4 is default for BigGAN"), and it passes neither ``--G_shared`` nor ``--hier`` (so each
CBN has its own class embedding and z goes whole to the linear layer). This recipe keeps the paper's architecture at
every size (shared embedding, hierarchical z, attention on the S/2 map, ortho with beta 1e-4: PyTorch-StudioGAN's
``src/configs/CIFAR10/BigGAN.yaml`` also keeps attention at 32x32, after G's second block and D's first, i.e. at
16x16) and the script's optimisation (n_critic 4, lr 2e-4, betas (0, 0.999), N(0, 0.02), EMA 0.9999 from step
1000, batch 50: no ganzoo suite needs 64 from a recipe, the ``zoo-speed`` suite sets its own batch of 64 for
every model). ``generator_options={"attention": False, "hier": False}``, ``discriminator_options={"attention":
False}`` and ``--no-recipe-regularizers`` give the script's model.

Networks. G: z (128) -> split -> SN linear(chunk 0) to M x M x ch -> k GBlocks [CBN, ReLU, 2x nearest, SN conv3x3,
CBN, ReLU, SN conv3x3; shortcut 2x nearest, SN conv1x1], attention on the S/2 map (before the last block; on the M x
M base when k = 1) -> BN, ReLU, SN conv3x3, tanh. With k blocks z has k + 1 chunks of ``latent_dim // (k + 1)``;
when that does not divide, the remainder goes to the linear layer's chunk (BigGAN-PyTorch instead shrinks dim_z to a
multiple). D: an optimised first DBlock (conv3x3, ReLU, conv3x3, avg-pool; shortcut avg-pool, conv1x1), attention
after it (the S/2 map), then DBlocks [ReLU, conv3x3, ReLU, conv3x3, (avg-pool); shortcut conv1x1 (, avg-pool)]; up
to 32 px it has 4 blocks and downsamples twice (once at 8 px), as ``D_arch[32]``; above 32 px it downsamples to
G's base size and adds one plain block, as ``D_arch[64/128]`` (the channel pyramid of those sizes is not
reproduced: one width throughout). ReLU, global sum pooling, SN linear + projection.

Widths: the CIFAR script's are G 256, D 256 (``width`` in the options). The recipe's defaults are G 32, D 32 (the
script's 1:1 ratio at 1/8 the width) so that a step at 8x8, batch 64 (four D steps and one G step) runs in well under
0.5 s on one CPU core in fp32 (about 0.2-0.25 s measured on a shared 2-core machine; widths 64/64 took 0.55-0.65 s).

Sizes: square images S = M * 2**k with 4 <= M <= 7 and k >= 1 (``resolution_plan``): digits 8 (M 4, k 1),
Fashion-MNIST 28 (M 7, k 2), CIFAR 32 (M 4, k 3); others raise a ValueError naming the rule.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo
from ganzoo.api import SelfAttention2d, normal_init_, resolution_plan
from ganzoo.errors import GanzooError

LATENT_DIM = 128
SHARED_DIM = 128


def image_plan(shape) -> tuple[int, int, int]:
    """(channels, M, k) for (C, S, S) images, S = M * 2**k, 4 <= M <= 7, k >= 1; a ValueError naming the rule."""
    return resolution_plan(shape, "BigGAN's networks", min_size=8, min_halvings=1)


def _labels(y, what: str) -> torch.Tensor:
    if y is None:
        raise GanzooError(f"BigGAN's {what} is class-conditional: call it with labels")
    return y.long()


def _init_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """BigGAN-PyTorch's ``N02``: conv, linear and embedding weights ~ N(0, 0.02) (biases zero here)."""
    normal_init_(module, std)
    for m in module.modules():
        if isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, std)
    return module


def _spectral_norm_all_(module: nn.Module, kinds) -> nn.Module:
    for m in [m for m in module.modules() if isinstance(m, kinds)]:
        spectral_norm(m)
    return module


# -- generator ---------------------------------------------------------------------------------------------------------
class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without affine, then ``(1 + gain(cond)) * bn(x) + bias(cond)`` with bias-free linear maps of the
    conditioning vector (BigGAN-PyTorch ``layers.ccbn``)."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x, cond):
        h = self.bn(x)
        gain = (1 + self.gain(cond)).to(h.dtype)[:, :, None, None]
        return h * gain + self.bias(cond).to(h.dtype)[:, :, None, None]


class GBlock(nn.Module):
    """CBN, ReLU, 2x nearest, conv3x3, CBN, ReLU, conv3x3; shortcut 2x nearest, conv1x1 (BigGAN-PyTorch GBlock)."""

    def __init__(self, cin: int, cout: int, cond_dim: int):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, cond_dim)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn2 = ConditionalBatchNorm2d(cout, cond_dim)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x, cond):
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class BigGANGenerator(nn.Module):
    """Shared class embedding, hierarchical z, CBN ResBlocks, attention at S/2, SN everywhere but the embedding."""

    conditional = True  # needs labels: ganzoo refuses it in an unconditional run, before training

    def __init__(self, shape, latent_dim: int = LATENT_DIM, num_classes: int = 10, width: int = 256,
                 shared_dim: int = SHARED_DIM, hier: bool = True, attention: bool = True):
        super().__init__()
        channels, base, k = image_plan(shape)
        self.base, self.width, self.num_classes, self.hier = base, width, num_classes, bool(hier)
        if hier:
            chunk = latent_dim // (k + 1)
            if chunk < 1:
                raise ValueError(f"BigGAN's hierarchical z splits latent_dim into {k + 1} chunks (one per G block and "
                                 f"one for the linear layer): latent_dim {latent_dim} is too small")
            self.chunks = [latent_dim - chunk * k] + [chunk] * k
        else:
            chunk, self.chunks = 0, [latent_dim]
        cond_dim = shared_dim + chunk
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = nn.Linear(self.chunks[0], width * base * base)
        self.blocks = nn.ModuleList([GBlock(width, width, cond_dim) for _ in range(k)])
        self.attention_at = k - 1  # before the last block: the S/2 map
        self.attention = SelfAttention2d(width) if attention else None
        self.bn = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, channels, 3, padding=1)
        _init_(self)
        _spectral_norm_all_(self, (nn.Conv2d, nn.Linear))  # not the shared embedding

    def conditions(self, z, y):
        """(z chunk for the linear layer, [conditioning vector of block i])."""
        zs = torch.split(z, self.chunks, dim=1)
        e = self.shared(y)
        if self.hier:
            return zs[0], [torch.cat([e, zi.to(e.dtype)], dim=1) for zi in zs[1:]]
        return zs[0], [e] * len(self.blocks)

    def forward(self, z, y=None):
        y = _labels(y, "generator")
        z0, conds = self.conditions(z.flatten(1), y)
        h = self.linear(z0).view(z.shape[0], self.width, self.base, self.base)
        for i, block in enumerate(self.blocks):
            if self.attention is not None and i == self.attention_at:
                h = self.attention(h)
            h = block(h, conds[i])
        return torch.tanh(self.out(F.relu(self.bn(h))))


# -- discriminator -----------------------------------------------------------------------------------------------------
class DBlock(nn.Module):
    """BigGAN-PyTorch DBlock (wide): [ReLU], conv3x3, ReLU, conv3x3, [avg-pool]; ``first``: no pre-activation and
    the shortcut pools before its conv; otherwise the shortcut convs, then pools."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.learnable_sc = cin != cout or down
        if self.learnable_sc:
            self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if not self.learnable_sc:
            return h + x
        if self.first:
            return h + self.shortcut(F.avg_pool2d(x, 2) if self.down else x)
        s = self.shortcut(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


def d_layout(size: int, k: int) -> tuple[int, int]:
    """(blocks, downsampling blocks): D_arch[32]'s 4 blocks with 2 halvings up to 32 px (1 when k = 1); above,
    halvings down to G's base and one plain block (D_arch[64], [128])."""
    downs = min(2, k) if size <= 32 else k
    return max(4, downs + 1), downs


class BigGANDiscriminator(nn.Module):
    """SN ResNet projection discriminator with attention after the first block (S/2)."""

    per_sample = True  # spectral norm, no batch norm: each score depends on its own sample only
    conditional = True

    def __init__(self, shape, num_classes: int = 10, width: int = 256, attention: bool = True):
        super().__init__()
        channels, base, k = image_plan(shape)
        blocks, downs = d_layout(base * 2 ** k, k)
        layers: list[nn.Module] = [DBlock(channels, width, down=True, first=True)]
        if attention:
            layers.append(SelfAttention2d(width))
        layers += [DBlock(width, width, down=i < downs) for i in range(1, blocks)]
        self.blocks = nn.Sequential(*layers)
        self.num_classes = num_classes
        self.linear = nn.Linear(width, 1)
        self.embed = nn.Embedding(num_classes, width)
        _init_(self)
        _spectral_norm_all_(self, (nn.Conv2d, nn.Linear, nn.Embedding))

    def features(self, x):
        """phi(x): ReLU, then global sum pooling of the last block."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward(self, x, y=None):
        y = _labels(y, "discriminator")
        phi = self.features(x)
        return self.linear(phi).squeeze(1) + (self.embed(y).to(phi.dtype) * phi).sum(1)


# -- orthogonal regularisation -----------------------------------------------------------------------------------------
def ortho_weights(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The parameters orthogonal regularisation applies to: >= 2 dimensions, trainable, not an embedding's."""
    skip = {id(p) for m in module.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    return [(name, p) for name, p in module.named_parameters()
            if p.ndim >= 2 and p.requires_grad and id(p) not in skip]


def off_diagonal_gram_sq(weight: torch.Tensor) -> torch.Tensor:
    """||W^T W (.) (1 - I)||_F^2 for the matrix W whose columns are the weight's filters (rows of its ``(out, -1)``
    view): the sum of squared dot products of every ordered pair of distinct filters, in float32."""
    w = weight.float().flatten(1)
    if w.shape[0] <= w.shape[1]:
        gram = w @ w.T
        return (gram * (1 - torch.eye(w.shape[0], device=w.device, dtype=w.dtype))).pow(2).sum()
    # more filters than inputs: ||W W^T||_F = ||W^T W||_F, minus the diagonal's squared norms, on the smaller Gram
    return (w.T @ w).pow(2).sum() - w.pow(2).sum(1).pow(2).sum()


class OrthogonalRegularizer(ganzoo.Regularizer):
    """beta * sum_W ||W^T W (.) (1 - I)||_F^2 over the generator's weights (Brock et al. 2019, section 3.1; beta 1e-4);
    1-D parameters and embeddings are left out, as BigGAN-PyTorch's ``utils.ortho`` with its ``shared`` blacklist.
    A G-phase term; reads the generator from ``ctx.generator``."""

    phase = "G"

    def __init__(self, beta: float = 1e-4):
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"ortho beta must be a number >= 0, got {beta!r}")
        self.beta = float(beta)

    def __call__(self, ctx):
        generator: Optional[nn.Module] = getattr(ctx, "generator", None)
        if generator is None:
            raise GanzooError("the ortho regulariser needs the generator: this trainer's StepContext has no "
                              "`generator` (update ganzoo)")
        weights = ortho_weights(generator)
        if not weights:
            raise GanzooError("the ortho regulariser found no weight with 2 or more dimensions in the generator")
        total = sum(off_diagonal_gram_sq(p) for _, p in weights)
        return self.beta * total


# -- EMA start ---------------------------------------------------------------------------------------------------------
class EMAStart(ganzoo.Schedule):
    """EMA pegged to the generator's weights (decay 0) before step ``start``, the recipe's decay from it on
    (BigGAN-PyTorch ``utils.ema.update``: ``decay = 0.0 if itr < start_itr``; its itr counts from 1 as ganzoo's
    steps)."""

    def __init__(self, start: int = 1000):
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"ema-start start must be a step number >= 0, got {start!r}")
        self.start = start

    def ema_decay(self, step: int, total_steps: int, decay: float) -> float:
        return 0.0 if int(step) < self.start else decay


BIGGAN = ganzoo.Recipe(
    generator="biggan",
    discriminator="biggan",
    loss="hinge",
    latent_dim=LATENT_DIM,
    lr_g=2e-4,
    lr_d=2e-4,
    betas=(0.0, 0.999),
    n_critic=4,
    batch_size=50,
    steps=2000,
    ema_decay=0.9999,
    schedules=({"name": "ema-start", "start": 1000},),
    regularizers=({"name": "ortho", "beta": 1e-4},),
    # The CIFAR script's widths are G 256 / D 256 (G_ch = D_ch = 64); 32 / 32 here (the same ratio, 1/8 the width)
    # so a CPU step (four D steps and one G step) stays well under 0.5 s.
    generator_options={"width": 32},
    discriminator_options={"width": 32},
    conditional=True,
    generator_noise="fresh",
    citation=("Brock et al. 2019, Large Scale GAN Training for High Fidelity Natural Image Synthesis (ICLR): shared "
              "class embedding (128) + hierarchical z into conditional BN (gain 1 + linear, bias linear) in every G "
              "block, SN projection D, self-attention at S/2 in G and D, SN in G and D, hinge loss, orthogonal "
              "regularisation of G (beta 1e-4); BigGAN-PyTorch's CIFAR script: n_D 4, Adam(2e-4, betas (0, 0.999)), "
              "N(0, 0.02) init, EMA 0.9999 from step 1000, batch 50 (its --G_attn 0 --D_attn 0 --G_ortho 0.0 and no "
              "--G_shared/--hier are not followed); widths G/D 32 here for CPU (script 256)."),
)


@ganzoo.hookimpl
def register_generators(register):
    register("biggan", BigGANGenerator,
             "BigGAN generator: shared embedding, hierarchical z, conditional BN, attention (Brock et al. 2019)")


@ganzoo.hookimpl
def register_discriminators(register):
    register("biggan", BigGANDiscriminator,
             "BigGAN's SN ResNet projection discriminator with attention (Brock et al. 2019)")


@ganzoo.hookimpl
def register_regularizers(register):
    register("ortho", OrthogonalRegularizer,
             "orthogonal regularisation of G: beta ||W^T W (.) (1 - I)||_F^2 (Brock et al. 2019)")


@ganzoo.hookimpl
def register_schedules(register):
    register("ema-start", EMAStart, "EMA pegged to G's weights before step `start` (BigGAN-PyTorch's ema_start)")


@ganzoo.hookimpl
def register_models(register):
    register("biggan", BIGGAN, "class-conditional BigGAN, CIFAR-script optimisation (Brock et al. 2019)")
