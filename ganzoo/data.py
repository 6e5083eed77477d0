"""Datasets from plugins, and the device-resident batch sampler every run uses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch

from .components import Dataset, DatasetRequest
from .errors import DataError, GanzooError
from .registry import Registry, get_registry


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
        raise DataError(f"dataset {name!r} has shape {tuple(data.shape)}; expected (N, C, H, W) images or (N, D) points")
    if data.dtype != torch.float32:
        dataset.data = data = data.float()
    if not torch.isfinite(data).all():
        raise DataError(f"dataset {name!r} contains non-finite values; its files may be corrupt")
    if data.ndim == 4 and (data.min() < -1.0001 or data.max() > 1.0001):
        raise DataError(f"dataset {name!r} images are outside [-1, 1]; its loader must scale them")
    return dataset


class BatchSampler:
    """Draws batches from a tensor that stays on the training device, one shuffled epoch after another.

    Indices come from its own `torch.Generator`, so its whole position (generator state, permutation, cursor)
    can be saved in a checkpoint and a resumed run sees exactly the batches an uninterrupted one would.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if batch_size > data.shape[0]:
            raise GanzooError(
                f"--batch-size {batch_size} is larger than the dataset ({data.shape[0]} samples); use a smaller batch"
            )
        self.data = data
        self.batch_size = batch_size
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.permutation = torch.randperm(data.shape[0], generator=self.generator)
        self.cursor = 0
        self.epoch = 0

    def next(self) -> torch.Tensor:
        """The next global batch of `batch_size` samples, or this rank's shard of it."""
        if self.cursor + self.batch_size > self.permutation.numel():
            self.permutation = torch.randperm(self.data.shape[0], generator=self.generator)
            self.cursor = 0
            self.epoch += 1
        idx = self.permutation[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        if self.world_size > 1:
            idx = idx.tensor_split(self.world_size)[self.rank]
        return self.data.index_select(0, idx.to(self.data.device, non_blocking=True))

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "permutation": self.permutation.clone(),
            "cursor": self.cursor,
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"].clone()
        self.cursor = int(state["cursor"])
        self.epoch = int(state["epoch"])
