"""FID, KID and Inception Score through torchmetrics, plus k-NN precision/recall/density/coverage, all on one
feature extractor so the numbers are comparable."""

from __future__ import annotations

import warnings

import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from .extractor import FeatureExtractor, LogitsView
from .prdc import density_coverage, precision_recall


def _batches(x: torch.Tensor, size: int):
    for i in range(0, x.shape[0], size):
        yield x[i : i + size]


@torch.no_grad()
def image_metrics(real: torch.Tensor, fake: torch.Tensor, extractor: FeatureExtractor, *, batch_size: int = 500,
                  kid_subsets: int = 50, is_splits: int = 10) -> dict:
    """All image metrics of `fake` against `real`, both (N, C, H, W) in [-1, 1] on the extractor's device."""
    extractor = extractor.eval()
    device = next(extractor.parameters()).device
    kid_size = min(1000, real.shape[0], fake.shape[0])
    with warnings.catch_warnings():  # torchmetrics warns that KID/IS buffer features: expected, sizes are bounded
        warnings.simplefilter("ignore")
        return _compute(real, fake, extractor, device, batch_size, kid_subsets, kid_size, is_splits)


def _compute(real, fake, extractor, device, batch_size, kid_subsets, kid_size, is_splits):
    fid = FrechetInceptionDistance(feature=extractor, normalize=False).to(device)
    kid = KernelInceptionDistance(feature=extractor, normalize=False, subsets=kid_subsets, subset_size=kid_size).to(device)
    inception = InceptionScore(feature=LogitsView(extractor), normalize=False, splits=is_splits).to(device)
    real_features, fake_features = [], []
    for batch in _batches(real.to(device), batch_size):
        fid.update(batch, real=True)
        kid.update(batch, real=True)
        real_features.append(extractor.features(batch).double().cpu())
    for batch in _batches(fake.to(device), batch_size):
        fid.update(batch, real=False)
        kid.update(batch, real=False)
        inception.update(batch)
        fake_features.append(extractor.features(batch).double().cpu())
    kid_mean, kid_std = kid.compute()
    is_mean, is_std = inception.compute()
    fid_value = fid.compute()
    real_f, fake_f = torch.cat(real_features), torch.cat(fake_features)
    precision, recall = precision_recall(real_f, fake_f, k=3)
    density, coverage = density_coverage(real_f, fake_f, k=5)
    return {
        "fid": float(fid_value),
        "kid_mean": float(kid_mean),
        "kid_std": float(kid_std),
        "is_mean": float(is_mean),
        "is_std": float(is_std),
        "precision": precision,
        "recall": recall,
        "density": density,
        "coverage": coverage,
        "feature_extractor": extractor.name,
        "feature_extractor_info": extractor.description,
        "num_samples": int(fake.shape[0]),
        "num_real": int(real.shape[0]),
    }
