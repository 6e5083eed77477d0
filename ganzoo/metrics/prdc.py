"""k-NN manifold metrics on features.

- Improved precision and recall: Kynkaanniemi et al. 2019, k = 3. Each real sample's manifold ball has the radius of
  its k-th nearest real neighbour; precision is the share of fake samples inside some real ball; recall swaps roles.
- Density and coverage: Naeem et al. 2020, k = 5 (their recommendation). Density counts, per fake sample, the real
  balls that contain it, over k * M; coverage is the share of real balls that contain at least one fake sample.
"""

from __future__ import annotations

import torch


def _kth_neighbour_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    d = torch.cdist(x, x)
    # index 0 is the point itself (distance 0): the k-th neighbour is at index k
    return d.kthvalue(k + 1, dim=1).values


def _inside_balls(centres: torch.Tensor, radii: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(M, N) boolean: point j lies in the ball of centre i."""
    return torch.cdist(points, centres) <= radii.unsqueeze(0)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    real, fake = real.double(), fake.double()
    precision = _inside_balls(real, _kth_neighbour_radius(real, k), fake).any(dim=1).double().mean().item()
    recall = _inside_balls(fake, _kth_neighbour_radius(fake, k), real).any(dim=1).double().mean().item()
    return precision, recall


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    real, fake = real.double(), fake.double()
    inside = _inside_balls(real, _kth_neighbour_radius(real, k), fake)  # (M fake, N real)
    density = inside.sum().item() / (k * fake.shape[0])
    coverage = inside.any(dim=0).double().mean().item()
    return density, coverage
