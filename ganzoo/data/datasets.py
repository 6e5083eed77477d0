"""Datasets from plugins: loading and checking them, uint8 <-> float, memory budgets; samplers live in sampler.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch

from ganzoo.contract.types import Dataset, DatasetRequest
from ganzoo.errors import DataError, GanzooError
from ganzoo.registry import Registry, get_registry


def cache_dir() -> Path:
    """Where downloaded datasets and cached helpers live: $GANZOO_CACHE, else ~/.cache/ganzoo."""
    return Path(os.environ.get("GANZOO_CACHE") or Path.home() / ".cache" / "ganzoo")


def parse_dataset_spec(spec: str) -> tuple[str, Optional[str]]:
    """`name` or `name:ARG` (e.g. `folder:~/pictures`)."""
    name, sep, arg = spec.partition(":")
    return name, (arg if sep else None)


def load_dataset(
    spec: str,
    *,
    data_dir: Optional[Path] = None,
    image_size: Optional[int] = None,
    download: bool = True,
    seed: int = 0,
    registry: Optional[Registry] = None,
) -> Dataset:
    """Load a registered dataset and check what its plugin returned."""
    registry = registry or get_registry()
    name, arg = parse_dataset_spec(spec)
    if name not in registry.names("dataset"):
        from ganzoo.data.prepared import is_prepared

        if is_prepared(spec):  # --dataset PATH_TO_PREPARED, as well as prepared:PATH
            name, arg = "prepared", spec
    loader = registry.get("dataset", name).obj
    request = DatasetRequest(
        name=name,
        argument=arg,
        data_dir=Path(data_dir).expanduser() if data_dir else cache_dir() / name,
        image_size=image_size,
        download=download,
        seed=seed,
    )
    dataset = loader(request)
    if not isinstance(dataset, Dataset):
        raise GanzooError(f"dataset {name!r} returned a {type(dataset).__name__}, not a ganzoo.Dataset; fix its plugin")
    data = dataset.data
    if data.ndim not in (2, 4) or data.shape[0] == 0:
        raise DataError(f"dataset {name!r} has shape {tuple(data.shape)}; "
                        "expected (N, C, H, W) images or (N, D) points")
    if data.dtype == torch.uint8:
        if data.ndim != 4:
            raise DataError(f"dataset {name!r} holds uint8 points; uint8 is for (N, C, H, W) images in 0..255")
    else:
        if data.dtype != torch.float32:
            dataset.data = data = data.float()
        if not torch.isfinite(data).all():
            raise DataError(f"dataset {name!r} contains non-finite values; its files may be corrupt")
        if data.ndim == 4 and (data.min() < -1.0001 or data.max() > 1.0001):
            raise DataError(f"dataset {name!r} images are outside [-1, 1]; its loader must scale them")
    if dataset.labels is not None:
        if dataset.labels.shape != (data.shape[0],):
            raise DataError(f"dataset {name!r} has {tuple(dataset.labels.shape)} labels for {data.shape[0]} samples")
        dataset.labels = dataset.labels.long()
    return dataset


def num_classes_of(dataset: Dataset) -> Optional[int]:
    """Classes in a labelled dataset (its ``num_classes`` attribute, else max label + 1)."""
    if dataset.labels is None:
        return None
    explicit = getattr(dataset, "num_classes", None)
    return int(explicit) if explicit else int(dataset.labels.max()) + 1


def class_probs_of(dataset: Dataset, num_classes: int) -> torch.Tensor:
    """The data's label distribution, from which fake labels are drawn."""
    counts = torch.bincount(dataset.labels.long().reshape(-1).cpu(), minlength=num_classes).double()
    return (counts / counts.sum()).float()
