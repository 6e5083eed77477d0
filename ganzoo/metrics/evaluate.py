"""Measures generated samples against their dataset: image metrics on a feature extractor, or mode coverage on
2-D mixtures. Every result says what produced it (extractor, sample count)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from ganzoo.contract.types import Dataset
from ganzoo.errors import GanzooError
from ganzoo.metrics import ExtractorUnavailable, FeatureExtractor, image_metrics, mode_metrics
from ganzoo.metrics.protocol import card
from ganzoo.registry import Registry, get_registry

#: Tried in order when no extractor is named: the field's standard first, then the dataset-trained classifier.
DEFAULT_EXTRACTORS = ("inception", "classifier")
#: On the CPU the dataset-trained classifier stays the default even when Inception weights are cached: InceptionV3
#: at 299x299 costs minutes per evaluation there. Name ``--feature-extractor inception`` to use it anyway.
CPU_DEFAULT_EXTRACTORS = ("classifier", "inception")
DEFAULT_SAMPLES = {"image": 2000, "vector": 2500}

#: Fewest generated images for which every image metric is defined: recall's k=3 nearest neighbours need 4, FID's
#: covariance 2, and the Inception Score's 10 splits need 2 samples each (with 1 per split IS is exactly 1).
MIN_IMAGE_SAMPLES = 20
#: density/coverage and precision put k=5 (3) nearest-neighbour balls around the real samples: 6 are needed.
MIN_REAL_IMAGES = 6


def check_sample_count(samples: Optional[int], kind: str, num_real: Optional[int] = None,
                       flag: str = "--samples") -> None:
    """Refuse, before any sampling or extractor training, a sample count the metrics cannot use (one-line error)."""
    if samples is not None and (not isinstance(samples, int) or isinstance(samples, bool) or samples < 1):
        raise GanzooError(f"{flag} must be a positive whole number, got {samples!r}")
    if kind != "image":
        return  # mode coverage is defined for any number of points
    if samples is not None and samples < MIN_IMAGE_SAMPLES:
        raise GanzooError(
            f"{flag} {samples} is too few for image metrics: at least {MIN_IMAGE_SAMPLES} are needed (FID's "
            f"covariance needs 2, recall's k=3 nearest neighbours 4, the Inception Score's 10 splits 2 each); "
            f"use {DEFAULT_SAMPLES['image']} or more for comparable numbers")
    if num_real is not None and num_real < MIN_REAL_IMAGES:
        raise GanzooError(f"the dataset has {num_real} images; image metrics need at least {MIN_REAL_IMAGES} real "
                          f"images (density/coverage use each one's 5 nearest neighbours)")


def resolve_extractor(name: Optional[str], dataset: Dataset, device: torch.device, weights: Optional[str] = None,
                      registry: Optional[Registry] = None) -> FeatureExtractor:
    """The named extractor (its own error if it cannot be built), or the first default that can be."""
    registry = registry or get_registry()
    if name is not None:
        extractor = registry.get("feature_extractor", name).obj(dataset, device=device, weights=weights)
        extractor.name = extractor.name or name
        return extractor
    reasons = []
    for candidate in (CPU_DEFAULT_EXTRACTORS if torch.device(device).type == "cpu" else DEFAULT_EXTRACTORS):
        if candidate not in registry.entries["feature_extractor"]:
            continue
        try:
            extractor = registry.get("feature_extractor", candidate).obj(dataset, device=device, weights=weights)
            extractor.name = extractor.name or candidate
            return extractor
        except ExtractorUnavailable as exc:
            reasons.append(f"{candidate}: {exc}")
    raise ExtractorUnavailable("no feature extractor can be built here (" + "; ".join(reasons) + ")")


def evaluate_samples(fake: torch.Tensor, dataset: Dataset, extractor: Optional[FeatureExtractor] = None,
                     max_real: int = 10000, seed: int = 0, *, noise_seed: Optional[int] = None,
                     weights: Optional[str] = None, step: Optional[int] = None) -> dict[str, Any]:
    """Metrics of generated samples against the dataset (mode coverage for mixtures, image metrics for images),
    with their protocol card (``protocol``; `noise_seed`, `weights` and `step` say how `fake` was drawn).
    `seed` (the run's seed) fixes KID's subsets and the Inception Score's splits."""
    drawn = {"noise_seed": noise_seed, "weights": weights, "step": step}
    if dataset.kind == "vector":
        if dataset.centers is None or dataset.std is None:
            raise GanzooError(f"dataset {dataset.name!r} has no mixture centres; "
                              "mode metrics need ring8/grid25-like data")
        result = {**mode_metrics(fake, dataset.centers, dataset.std), "num_samples": int(fake.shape[0])}
        return {**result, "protocol": card(result, reference=f"{dataset.name}'s mixture: modes at its "
                                           f"{len(dataset.centers)} centres, std {dataset.std}", **drawn)}
    if extractor is None:
        raise GanzooError("image metrics need a feature extractor")
    real = dataset.float_data(slice(0, max_real))  # uint8 images -> float32 in [-1, 1], like the fakes
    check_sample_count(int(fake.shape[0]), dataset.kind, int(real.shape[0]))
    result = image_metrics(real, fake, extractor, seed=seed)
    total = int(dataset.data.shape[0])
    which = f"all {total:,} images" if real.shape[0] == total else f"the first {int(real.shape[0]):,} of {total:,}"
    return {**result, "protocol": card(result, reference=f"{dataset.name}: {which}", **drawn)}


def sample_generator(generate: Callable[[int], torch.Tensor], n: int, batch: int = 500) -> torch.Tensor:
    return torch.cat([generate(min(batch, n - i)) for i in range(0, n, batch)])
