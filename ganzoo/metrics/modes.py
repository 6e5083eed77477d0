"""Mode coverage on 2-D Gaussian mixtures, as defined by VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

On 2,500 generated samples: a sample is *high quality* when it lies within 3 standard deviations of its nearest
mode centre; a mode is *captured* when it is the nearest centre of at least one high-quality sample; the *reverse
KL* is KL(p || uniform) where p is the histogram of nearest modes over the high-quality samples (infinite when
there are none).
"""

from __future__ import annotations

import math

import torch


def mode_metrics(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict[str, float]:
    samples, centers = samples.double(), centers.double()
    finite = torch.isfinite(samples).all(dim=1)
    samples = samples[finite]
    distances = torch.cdist(samples, centers)
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance <= 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centers)).double()
    total = counts.sum().item()
    if total == 0:
        reverse_kl = math.inf
    else:
        p = counts / total
        nz = p > 0
        reverse_kl = float((p[nz] * (p[nz] * len(centers)).log()).sum())
    n = int(finite.numel())
    return {
        "modes_captured": int((counts > 0).sum().item()),
        "modes_total": int(len(centers)),
        "high_quality_fraction": good.sum().item() / n if n else 0.0,
        "reverse_kl": reverse_kl,
    }
