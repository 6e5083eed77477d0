"""Built-in regularisers: gradient penalties on real, fake and interpolated samples, and consistency terms.

Each returns its weighted term; the trainer adds it to the phase's objective (multiplied by ``every`` when lazy),
computes input gradients scale- and autocast-safely through ``ctx.input_grad``, and logs it as ``reg/NAME``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import ganzoo


def _squared_norm(grad: torch.Tensor) -> torch.Tensor:
    return grad.flatten(1).pow(2).sum(1)


class R1(ganzoo.Regularizer):
    """gamma/2 * E_real ||grad_x D(x)||^2 (Mescheder et al. 2018, eq. 9): zero-centred penalty on real data."""

    needs_real_grad = True

    def __init__(self, gamma: float = 10.0):
        self.gamma = float(gamma)

    def __call__(self, ctx):
        return self.gamma / 2 * _squared_norm(ctx.input_grad(ctx.real_scores, ctx.real)).mean()


class R2(ganzoo.Regularizer):
    """gamma/2 * E_fake ||grad_x D(x)||^2 (Mescheder et al. 2018; R3GAN pairs it with R1)."""

    needs_fake_grad = True

    def __init__(self, gamma: float = 10.0):
        self.gamma = float(gamma)

    def __call__(self, ctx):
        return self.gamma / 2 * _squared_norm(ctx.input_grad(ctx.fake_scores, ctx.fake)).mean()


class InterpolationPenalty(ganzoo.Regularizer):
    """weight * E[(||grad D(x_hat)|| - target)^2] on x_hat = a*real + (1-a)*fake, a ~ U(0, 1) per sample.

    target 1: WGAN-GP (Gulrajani et al. 2017, Alg. 1, lambda 10); target 0: the zero-centred GP of Thanh-Tung et
    al. 2019. Interpolates get their own D pass (their double backward must not run over the whole batch).
    """

    def __init__(self, weight: float = 10.0, target: float = 1.0):
        self.weight, self.target = float(weight), float(target)

    def __call__(self, ctx):
        real, fake = ctx.real.detach().float(), ctx.fake.detach().float()
        alpha = ctx.rand(real.shape[0], *([1] * (real.ndim - 1)))
        return gradient_norm_penalty(ctx, torch.lerp(fake, real, alpha), self.weight, self.target)


def gradient_norm_penalty(ctx, points: torch.Tensor, weight: float, target: float) -> torch.Tensor:
    """weight * E[(||grad_x D(x)|| - target)^2] at `points` (float32, no graph), in their own D pass: the points
    take the real batch's dtype and memory format and the real labels; the input gradient is the trainer's
    (scale- and autocast-safe). WGAN-GP's interpolates and DRAGAN's perturbed reals both use it."""
    x_hat = points.to(ctx.real.dtype)
    if ctx.real.is_contiguous(memory_format=torch.channels_last) and x_hat.ndim == 4:
        x_hat = x_hat.contiguous(memory_format=torch.channels_last)
    x_hat.requires_grad_(True)
    labels = ctx.real_labels if ctx.num_classes else None
    norm = ctx.input_grad(ctx.D(x_hat, labels), x_hat).flatten(1).norm(2, dim=1)
    return weight * ((norm - target) ** 2).mean()


def _flip_translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Random horizontal flip and integer translation (zero padded): CR-GAN's image transform."""
    if x.ndim != 4:
        return x + 0.01 * torch.randn_like(x)  # points: a small jitter
    n, _, h, w = x.shape
    flip = torch.rand(n, 1, 1, 1, device=x.device) < 0.5
    x = torch.where(flip, x.flip(3), x)
    pad_h, pad_w = max(1, int(h * ratio)), max(1, int(w * ratio))
    padded = F.pad(x, (pad_w, pad_w, pad_h, pad_h))
    dy = torch.randint(0, 2 * pad_h + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * pad_w + 1, (n,), device=x.device)
    rows = ((dy[:, None] + torch.arange(h, device=x.device)[None]).view(n, 1, h, 1)
            .expand(n, x.shape[1], h, w + 2 * pad_w))
    padded = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None]).view(n, 1, 1, w).expand(n, x.shape[1], h, w)
    return padded.gather(3, cols)


class Consistency(ganzoo.Regularizer):
    """Consistency regularisation: lambda_real * E||D(x) - D(T(x))||^2 on reals (Zhang et al. 2020, CR-GAN), plus
    lambda_fake on fakes when > 0 (balanced CR, Zhao et al. 2021). T: random flip + translation by 1/8."""

    def __init__(self, lambda_real: float = 10.0, lambda_fake: float = 0.0):
        self.lambda_real, self.lambda_fake = float(lambda_real), float(lambda_fake)

    def __call__(self, ctx):
        labels_r = ctx.real_labels if ctx.num_classes else None
        term = self.lambda_real * (ctx.real_scores - ctx.D(_flip_translate(ctx.real.detach()), labels_r)).pow(2).mean()
        if self.lambda_fake:
            labels_f = ctx.fake_labels if ctx.num_classes else None
            fake = ctx.fake.detach()
            term = term + self.lambda_fake * (ctx.fake_scores - ctx.D(_flip_translate(fake), labels_f)).pow(2).mean()
        return term


def bcr(lambda_real: float = 10.0, lambda_fake: float = 10.0) -> Consistency:
    """Balanced consistency regularisation (Zhao et al. 2021): lambda 10 on reals and on fakes."""
    return Consistency(lambda_real, lambda_fake)


@ganzoo.hookimpl
def register_regularizers(register):
    register("r1", R1, "R1: gamma/2 E||grad D(real)||^2 (Mescheder et al. 2018)")
    register("r2", R2, "R2: gamma/2 E||grad D(fake)||^2 (Mescheder et al. 2018)")
    register("gp", InterpolationPenalty, "WGAN-GP interpolation penalty, target 1 (Gulrajani et al. 2017)")
    register("gp0", lambda weight=10.0: InterpolationPenalty(weight, 0.0),
             "zero-centred interpolation penalty (Thanh-Tung et al. 2019)")
    register("cr", Consistency, "consistency regularisation on reals (Zhang et al. 2020)")
    register("bcr", bcr, "balanced consistency regularisation, reals and fakes (Zhao et al. 2021)")
