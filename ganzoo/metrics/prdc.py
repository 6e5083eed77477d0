"""k-NN manifold metrics on features.

- Improved precision and recall: Kynkaanniemi et al. 2019, k = 3. Each real sample's manifold ball has the radius of
  its k-th nearest real neighbour; precision is the share of fake samples inside some real ball; recall swaps roles.
  A point on a ball's boundary counts as inside (``<=``), as in NVlabs' code and torch-fidelity.
- Density and coverage: Naeem et al. 2020, k = 5 (their recommendation). Density counts, per fake sample, the real
  balls that contain it, over k * M; coverage is the share of real balls that contain at least one fake sample.
  A point must lie strictly inside a ball (``<``), as in the authors' reference code (the ``prdc`` package): on tied
  features (duplicates, integer-valued features) boundary points are common, and ``<=`` counted an exact copy of
  the real set at a density above 1.

Ties are decided on exact distances: the fast ``|x|^2 + |y|^2 - 2 x.y`` form puts an exact copy a rounding error away
from its centre, so every pair whose fast distance lies within a (generous) rounding bound of a radius is measured
again from its coordinate differences. That is a handful of pairs, so the cost stays that of one matrix product.
"""

from __future__ import annotations

import torch

_BLOCK = 1024  # rows per block: memory stays at _BLOCK x N distances
_REL_TOL = 1e-8  # bound on the fast form's error relative to the squared norms (float64 rounding is ~1e-13)


class _Space:
    """Squared distances between rows of `a` and rows of `b`: fast ones with an error bound, and exact ones."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        self.a, self.b = a, b
        centre = b.mean(0)
        self.ac, self.bc = a - centre, b - centre  # shorter vectors: a tighter error bound on the fast form
        self.aa, self.bb = self.ac.square().sum(1), self.bc.square().sum(1)
        self.offset = centre.square().sum()

    def fast(self, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        aa = self.aa[rows].unsqueeze(1)
        d = (aa + self.bb.unsqueeze(0) - 2 * self.ac[rows] @ self.bc.T).clamp_min(0)
        return d, _REL_TOL * (aa + self.bb.unsqueeze(0) + self.offset)

    def exact(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return (self.a[rows] - self.b[cols]).square().sum(1)


def _blocks(n: int):
    for start in range(0, n, _BLOCK):
        yield slice(start, min(start + _BLOCK, n))


def _kth_neighbour_radius_sq(x: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance of each row to its k-th nearest other row (the row itself is at index 0), exact."""
    space, out = _Space(x, x), []
    for rows in _blocks(x.shape[0]):
        d, tol = space.fast(rows)
        kth = d.kthvalue(k + 1, dim=1).values.unsqueeze(1)
        slack = tol.max(dim=1, keepdim=True).values
        # every entry outside the candidates is truly farther than the true k-th neighbour
        i, j = (d <= kth + 2 * slack).nonzero(as_tuple=True)
        exact = torch.full_like(d, float("inf"))
        exact[i, j] = space.exact(i + rows.start, j)
        out.append(exact.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def _inside_balls(centres: torch.Tensor, radii_sq: torch.Tensor, points: torch.Tensor, *,
                  strict: bool) -> torch.Tensor:
    """(M points, N centres) boolean: point j lies in the ball of centre i (strictly inside when `strict`)."""
    space, out = _Space(points, centres), []
    r = radii_sq.unsqueeze(0)
    for rows in _blocks(points.shape[0]):
        d, tol = space.fast(rows)
        inside = d < r - tol
        i, j = ((d - r).abs() <= tol).nonzero(as_tuple=True)  # too close to the boundary to trust the fast form
        exact = space.exact(i + rows.start, j)
        inside[i, j] = exact < radii_sq[j] if strict else exact <= radii_sq[j]
        out.append(inside)
    return torch.cat(out)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019); boundary points count as inside."""
    real, fake = real.double(), fake.double()
    inside_real = _inside_balls(real, _kth_neighbour_radius_sq(real, k), fake, strict=False)
    inside_fake = _inside_balls(fake, _kth_neighbour_radius_sq(fake, k), real, strict=False)
    return inside_real.any(dim=1).double().mean().item(), inside_fake.any(dim=1).double().mean().item()


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), strictly inside the real k-NN balls as in their reference code."""
    real, fake = real.double(), fake.double()
    inside = _inside_balls(real, _kth_neighbour_radius_sq(real, k), fake, strict=True)  # (M fake, N real)
    density = inside.sum().item() / (k * fake.shape[0])
    coverage = inside.any(dim=0).double().mean().item()
    return density, coverage
