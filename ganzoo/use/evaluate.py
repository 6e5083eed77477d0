"""Evaluating a trained run from its folder: the networks only (no optimisers, no lock), the run's dataset, and
the same seeded draw the trainer's own evaluations make. Writes eval.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import torch

from ganzoo.data import class_probs_of, load_dataset
from ganzoo.engine.precision import resolve_device
from ganzoo.metrics.evaluate import (
    DEFAULT_SAMPLES,
    check_sample_count,
    evaluate_samples,
    resolve_extractor,
    sample_generator,
)
from ganzoo.registry import Registry, get_registry
from ganzoo.spec.config import TrainConfig
from ganzoo.spec.seeds import Seeds
from ganzoo.store.checkpoint import atomic_write_bytes
from ganzoo.store.folder import RunFolder, jsonable
from ganzoo.store.images import save_points_plot
from ganzoo.use.load import load


def evaluate_run(run_dir: Path, *, samples: Optional[int] = None, feature_extractor: Optional[str] = None,
                 weights: Optional[str] = None, registry: Optional[Registry] = None) -> dict[str, Any]:
    """Load a run's checkpoint (EMA generator when present), generate samples, measure them, save eval.json.

    Uses ganzoo.use.load (the networks only) and the run's dataset, never the trainer: no optimisers are built and the
    folder's lock is not needed. Latents come from a CPU generator seeded with the run's seed + EVAL_SEED_OFFSET,
    the same draw the trainer's own evaluations make.
    """
    registry = registry or get_registry()
    run = RunFolder(Path(run_dir))
    saved = run.read_config()
    config = TrainConfig.from_dict(saved["train"]).validate()
    check_sample_count(samples, _saved_kind(saved))  # before loading data or building anything
    device = resolve_device("cpu" if config.device == "cpu" else "auto")
    gan = load(run.path, device=device, registry=registry)
    dataset = load_dataset(config.dataset, data_dir=config.data_dir, image_size=config.image_size, seed=config.seed,
                           registry=registry)
    check_sample_count(samples or config.eval_samples, dataset.kind, len(dataset.data),
                       flag="--samples" if samples else "the run's eval_samples (override it with --samples)")
    if gan.conditional and dataset.labels is not None:  # fake labels follow the data's classes, as in training
        gan.class_probs = class_probs_of(dataset, gan.num_classes)
    n = samples or config.eval_samples or DEFAULT_SAMPLES[dataset.kind]
    noise = torch.Generator().manual_seed(Seeds(config.seed).eval)
    fake = sample_generator(lambda k: gan.sample(k, generator=noise).cpu(), n)
    extractor = None
    if dataset.kind == "image":
        extractor = resolve_extractor(feature_extractor or config.feature_extractor, dataset, device,
                                      weights or config.inception_weights, registry)
    else:
        save_points_plot(fake, dataset, run.path / "eval_points.png")
    result = evaluate_samples(fake, dataset, extractor, seed=config.seed, noise_seed=Seeds(config.seed).eval,
                              weights=gan.loaded_from["weights"], step=gan.loaded_from["step"])
    result = {"run": str(run.path), "model": saved.get("model"), "dataset": saved["dataset"]["name"],
              "step": gan.loaded_from["step"], "weights": gan.loaded_from["weights"], **result}
    atomic_write_bytes(run.path / "eval.json", (json.dumps(jsonable(result), indent=2) + "\n").encode())
    return result


def _saved_kind(saved: dict) -> str:
    """The dataset kind (image, vector) from config.json's dataset shape; unknown when it does not say."""
    dataset = saved.get("dataset")
    shape = dataset.get("shape") if isinstance(dataset, dict) else None
    return {3: "image", 1: "vector"}.get(len(shape), "unknown") if isinstance(shape, list) else "unknown"
