"""How a suite measures a run: a pure function of a checkpoint, so a resumed suite measures exactly what an
uninterrupted one did.

- ``quality`` (images; benchmarks/quality.py's protocol): the run's generator as ``ganzoo.load`` gives it (EMA when
  kept) makes `samples` images from latents seeded with ``noise_seed + seed`` (conditional runs: balanced labels
  ``arange(n) % classes``); FID, KID (subsets seeded with ``kid_seed``), IS, precision/recall, density/coverage on the
  named feature extractor against the reference images, plus each class's share among the samples by the extractor's
  predictions (and, conditional, the share classified as the label asked for). The reference is the whole training
  dataset, or ``reference`` (a dataset spec such as ``fashion-mnist:test``), cut to ``max_real`` images by a seeded
  draw (``floor_seed``) when it has more. The real-vs-real floor is the same metrics between two disjoint random
  halves of the reference.
- ``modes`` (2-D mixtures; PacGAN's protocol, Lin et al. 2018): `samples` points from the raw generator and from its
  EMA, latents seeded with ``noise_seed + seed``: modes captured, high-quality fraction (within 3 std), reverse KL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from ganzoo.contract.types import Dataset
from ganzoo.metrics import image_metrics
from ganzoo.metrics.evaluate import resolve_extractor
from ganzoo.metrics.image import extract
from ganzoo.metrics.modes import mode_metrics
from ganzoo.metrics.protocol import card
from ganzoo.use.load import load


def class_shares(predictions: torch.Tensor, num_classes: int) -> list[float]:
    """Share of each class among predicted labels (sums to 1)."""
    counts = torch.bincount(predictions.reshape(-1).long(), minlength=num_classes)[:num_classes]
    return (counts.double() / max(1, predictions.numel())).tolist()


def predict(extractor, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The classifier's predicted class of each image."""
    _, logits = extract(extractor, images, batch_size=batch, logits=True)
    return logits.argmax(1)


def num_classes(dataset: Dataset) -> int:
    return int(getattr(dataset, "num_classes", None) or int(dataset.labels.max()) + 1)


def extractor_for(dataset: Dataset, name: str):
    """The feature extractor of a quality suite, on the CPU (built, or trained once and cached, here)."""
    return resolve_extractor(name, dataset, torch.device("cpu"))


def with_shares(result: dict[str, Any], extractor, images: torch.Tensor, dataset: Dataset) -> list[float]:
    if dataset.labels is None:
        return []
    predicted = predict(extractor, images)
    shares = class_shares(predicted, num_classes(dataset))
    result.update(class_shares=shares, class_share_min=min(shares), class_share_max=max(shares))
    return predicted


def reference_images(dataset: Dataset, evaluation: dict[str, Any]) -> torch.Tensor:
    """The real images a quality measurement compares with (see the module's docstring)."""
    if evaluation.get("reference"):
        from ganzoo.data import load_dataset

        dataset = load_dataset(evaluation["reference"], image_size=dataset.shape[-1], seed=0)
    real = dataset.float_data()
    cap = evaluation.get("max_real")
    if cap and real.shape[0] > int(cap):
        order = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(int(evaluation["floor_seed"])))
        real = real[order[: int(cap)]]
    return real


def measure_quality(run_dir: Path, dataset: Dataset, extractor, evaluation: dict[str, Any], seed: int,
                    real: Optional[torch.Tensor] = None) -> dict:
    gan = load(run_dir)
    samples = int(evaluation["samples"])
    noise = torch.Generator().manual_seed(int(evaluation["noise_seed"]) + seed)
    labels = torch.arange(samples) % gan.num_classes if gan.conditional else None
    fake = gan.sample(samples, labels=labels, generator=noise)
    real = reference_images(dataset, evaluation) if real is None else real
    result = image_metrics(real, fake, extractor, seed=int(evaluation["kid_seed"]))
    predicted = with_shares(result, extractor, fake, dataset)
    if labels is not None and len(predicted):
        result["label_accuracy"] = float((predicted == labels).double().mean())
    result.update(weights=gan.loaded_from["weights"], conditional=bool(gan.conditional))
    result["protocol"] = card(result, reference=reference_description(dataset, evaluation, int(real.shape[0])),
                              noise_seed=int(evaluation["noise_seed"]) + seed, weights=gan.loaded_from["weights"],
                              step=gan.loaded_from["step"])
    return result


def reference_description(dataset: Dataset, evaluation: dict[str, Any], count: int) -> str:
    """Which real images a quality measurement compared with (reference_images' choice), in words."""
    name = evaluation.get("reference") or dataset.name
    cap = evaluation.get("max_real")
    drawn = f" (at most {int(cap):,}: a draw seeded {evaluation['floor_seed']} when there are more)" if cap else ""
    return f"{name}: {count:,} images{drawn}"


def real_floor(dataset: Dataset, extractor, evaluation: dict[str, Any],
               real: Optional[torch.Tensor] = None) -> dict[str, Any]:
    """The metrics between two disjoint random halves of the data: what a perfect generator could reach at this
    sample size (FID and KID are biased upward at small n, so the floor is itself above 0). `real`: the
    reference_images already drawn, if the caller has them."""
    real = reference_images(dataset, evaluation) if real is None else real
    order = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(int(evaluation["floor_seed"])))
    half = real.shape[0] // 2
    a, b = real[order[:half]], real[order[half: 2 * half]]
    result = image_metrics(a, b, extractor, seed=int(evaluation["kid_seed"]))
    with_shares(result, extractor, b, dataset)
    result["halves"] = [int(a.shape[0]), int(b.shape[0])]
    return result


def train_vs_reference_floor(dataset: Dataset, extractor, evaluation: dict[str, Any],
                             reference: Optional[torch.Tensor] = None) -> Optional[dict[str, Any]]:
    """When runs are measured against another split (e.g. Fashion-MNIST's test images), the same metrics between a
    seeded draw of as many training images and those reference images: what a generator that reproduced its
    training data exactly would score, split shift included. None when the reference is the training data."""
    if not evaluation.get("reference"):
        return None
    reference = reference_images(dataset, evaluation) if reference is None else reference
    train = dataset.float_data()
    order = torch.randperm(train.shape[0], generator=torch.Generator().manual_seed(int(evaluation["floor_seed"])))
    drawn = train[order[: min(train.shape[0], reference.shape[0])]]
    result = image_metrics(reference, drawn, extractor, seed=int(evaluation["kid_seed"]))
    with_shares(result, extractor, drawn, dataset)
    result["counts"] = [int(drawn.shape[0]), int(reference.shape[0])]
    return result


def measure_modes(run_dir: Path, dataset: Dataset, evaluation: dict[str, Any], seed: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for label, ema in (("raw", False), ("ema", True)):
        gan = load(run_dir, ema=ema)
        if ema and gan.loaded_from["weights"] != "ema":
            continue
        z = torch.randn(int(evaluation["samples"]), gan.latent_dim,
                        generator=torch.Generator().manual_seed(int(evaluation["noise_seed"]) + seed))
        with torch.no_grad():
            points = gan.generator(z).float()
        record[label] = mode_metrics(points, dataset.centers, dataset.std)
    return record
