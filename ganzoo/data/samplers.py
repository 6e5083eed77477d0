"""Batch samplers: shuffled epochs from a seeded generator, read from device memory or streamed from a cache file.

Both modes draw the same indices from the same `IndexPlan`, so a run's batches (and its checkpointed position)
do not depend on the mode: a checkpoint written while streaming resumes bit-identically in memory and back.
Under torchrun every rank draws the global batch's indices and keeps its own slice, so 2 ranks see exactly the
samples 1 process would, and in streaming mode each rank reads only its own, disjoint, part of each batch.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import numpy as np
import torch

from ganzoo.contract.types import Dataset
from ganzoo.data import memory
from ganzoo.errors import DataError, GanzooError

MIRROR_SEED_OFFSET = 0x5EED_F11D  # the flip generator's seed = sampler seed + this, independent of the indices
MODES = ("auto", "memory", "stream")


class IndexPlan:
    """Which samples come next: a generator, the epoch's permutation and a cursor (plus the x-flip generator)."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1, mirror: bool = False):
        self.n, self.batch_size, self.rank, self.world_size = n, batch_size, rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.permutation = torch.randperm(n, generator=self.generator)
        self.cursor = 0
        self.epoch = 0
        self.flip_generator = torch.Generator().manual_seed(seed + MIRROR_SEED_OFFSET) if mirror else None

    def take(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """This rank's indices of the next global batch, and which of them to flip (None without mirroring)."""
        if self.cursor + self.batch_size > self.permutation.numel():
            self.permutation = torch.randperm(self.n, generator=self.generator)  # a new tensor: snapshots stay valid
            self.cursor = 0
            self.epoch += 1
        idx = self.permutation[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        flip = None
        if self.flip_generator is not None:
            flip = torch.rand(self.batch_size, generator=self.flip_generator) < 0.5
        if self.world_size > 1:
            idx = idx.tensor_split(self.world_size)[self.rank]
            flip = None if flip is None else flip.tensor_split(self.world_size)[self.rank]
        return idx, flip

    def state_dict(self) -> dict:
        state = {"generator": self.generator.get_state(), "permutation": self.permutation.clone(),
                 "cursor": self.cursor, "epoch": self.epoch}
        if self.flip_generator is not None:
            state["flip_generator"] = self.flip_generator.get_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        if self.flip_generator is not None and "flip_generator" not in state:
            raise GanzooError("the checkpoint's sampler was saved without mirroring; resume without --mirror")
        if state["permutation"].numel() != self.n:
            raise GanzooError(f"the checkpoint's sampler covers {state['permutation'].numel()} samples but the "
                              f"dataset has {self.n}; resume with the dataset the run was started on")
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"].clone()
        self.cursor = int(state["cursor"])
        self.epoch = int(state["epoch"])
        if self.flip_generator is not None:
            self.flip_generator.set_state(state["flip_generator"])


class BatchSampler:
    """v0.1's sampler, kept for old callers: `next()` returns only the float batch from a tensor on the device."""

    def __init__(self, data: torch.Tensor, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        _check_batch(batch_size, data.shape[0])
        self.data = data
        self.batch_size = batch_size
        self.rank, self.world_size = rank, world_size
        self.plan = IndexPlan(data.shape[0], batch_size, seed, rank, world_size)

    # v0.1 callers read and set these directly.
    generator = property(lambda self: self.plan.generator)
    permutation = property(lambda self: self.plan.permutation, lambda self, v: setattr(self.plan, "permutation", v))
    cursor = property(lambda self: self.plan.cursor, lambda self, v: setattr(self.plan, "cursor", v))
    epoch = property(lambda self: self.plan.epoch, lambda self, v: setattr(self.plan, "epoch", v))

    def next(self) -> torch.Tensor:
        from ganzoo.contract.types import to_float

        idx, _ = self.plan.take()
        return to_float(self.data.index_select(0, idx.to(self.data.device, non_blocking=True)))

    def state_dict(self) -> dict:
        return self.plan.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.plan.load_state_dict(state)


def _check_batch(batch_size: int, n: int) -> None:
    if batch_size > n:
        raise GanzooError(f"--batch-size {batch_size} is larger than the dataset ({n} samples); use a smaller batch")


def _nhwc_rows(data: torch.Tensor) -> Optional[torch.Tensor]:
    """The (N, H, W, C) tensor behind a channels-last (N, C, H, W) view, else None."""
    if data.ndim == 4 and data.shape[1] > 1 and not data.is_contiguous():
        rows = data.permute(0, 2, 3, 1)
        if rows.is_contiguous():
            return rows
    return None


class _Sampler:
    """What both modes share: the index plan, turning a gathered batch into floats, mirroring, describe()."""

    mode = "?"

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device, rank: int, world_size: int,
                 channels_last: bool, mirror: bool):
        self.dataset = dataset
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.rank, self.world_size = rank, world_size
        self.images = dataset.data.ndim == 4
        self.memory_format = torch.channels_last if channels_last and self.images else torch.contiguous_format
        self.mirror = mirror
        self.plan = IndexPlan(dataset.data.shape[0], batch_size, seed, rank, world_size, mirror)

    @property
    def epoch(self) -> int:
        return self.plan.epoch

    def _finish(self, x: torch.Tensor, nhwc: bool, flip: Optional[torch.Tensor]) -> torch.Tensor:
        """A gathered batch (uint8 or float, on the device) -> float32 (N, C, H, W) in [-1, 1], flipped, formatted."""
        from ganzoo.contract.types import to_float

        if nhwc:
            x = x.permute(0, 3, 1, 2)  # a channels-last view, no copy
        x = to_float(x)
        if flip is not None:
            x = torch.where(flip.to(x.device, non_blocking=True).view(-1, 1, 1, 1), x.flip(3), x)
        return x.contiguous(memory_format=self.memory_format)

    def __call__(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``sampler()`` is ``sampler.next()``: a sampler is the engine's ``next_batch``, one the engine can rewind
        (state_dict/load_state_dict) when a compile fallback repeats a step."""
        return self.next()

    def state_dict(self) -> dict:
        return self.plan.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.plan.load_state_dict(state)

    def describe(self) -> dict[str, Any]:
        data = self.dataset.data
        cache = self.dataset.info.get("cache") or {}
        return {"mode": self.mode, "size": int(data.shape[0]), "shape": list(data.shape[1:]),
                "dtype": str(data.dtype).removeprefix("torch."), "bytes": int(data.numel() * data.element_size()),
                "bytes_in_memory": int(self.bytes_in_memory()), "device": str(self.device),
                "labels": self.dataset.labels is not None, "mirror": self.mirror,
                "cache_hash": cache.get("hash"), "cache_path": cache.get("path")}

    def bytes_in_memory(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemorySampler(_Sampler):
    """The fast path: the whole dataset (uint8 images: 1 byte a value) on the device, batches gathered there."""

    mode = "memory"

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device, rank: int = 0, world_size: int = 1,
                 channels_last: bool = False, mirror: bool = False):
        super().__init__(dataset, batch_size, seed, device, rank, world_size, channels_last, mirror)
        data = dataset.data
        rows = _nhwc_rows(data)
        self.nhwc = rows is not None
        cache = dataset.info.get("cache")
        if cache and self.nhwc:
            self.rows = _read_whole(cache["file"], rows.shape, self.device)  # not through the mapping: 1 copy
        else:
            self.rows = (rows if self.nhwc else data).to(self.device)
        self.labels = None if dataset.labels is None else dataset.labels.to(self.device)

    def next(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        idx, flip = self.plan.take()
        idx = idx.to(self.device, non_blocking=True)
        x = self._finish(self.rows.index_select(0, idx), self.nhwc, flip)
        return x, (None if self.labels is None else self.labels.index_select(0, idx))

    def bytes_in_memory(self) -> int:
        return self.rows.numel() * self.rows.element_size()


def _read_whole(path: str, shape, device: torch.device, chunk_bytes: int = 64 << 20) -> torch.Tensor:
    """Read a raw uint8 file into a tensor on `device` with plain reads (no mapped pages left behind in RSS);
    to a GPU in pinned chunks, so host memory never holds the whole file."""
    out = torch.empty(shape, dtype=torch.uint8, device=device)
    flat = out.view(-1)
    with open(path, "rb", buffering=0) as f:
        if device.type == "cpu":
            view = memoryview(out.numpy()).cast("B")
            got = 0
            while got < len(view):
                n = f.readinto(view[got : got + chunk_bytes])
                if not n:
                    raise DataError(f"{path} ended after {got} bytes; "
                                    "the cache is truncated, run `ganzoo prepare` again")
                got += n
            return out
        buffer = torch.empty(chunk_bytes, dtype=torch.uint8, pin_memory=True)
        view = memoryview(buffer.numpy()).cast("B")
        for start in range(0, flat.numel(), chunk_bytes):
            n = f.readinto(view[: min(chunk_bytes, flat.numel() - start)])
            if not n:
                raise DataError(f"{path} ended early; the cache is truncated, run `ganzoo prepare` again")
            flat[start : start + n].copy_(buffer[:n])  # synchronous: the buffer is reused next
    return out


class StreamSampler(_Sampler):
    """Batches read from the prepared cache file by worker threads (positional reads, no mapping, so resident
    memory stays flat however large the file), into pinned memory on CUDA, `prefetch` batches ahead.

    The plan is advanced when a batch is *requested* from the workers, but `state_dict()` returns the position
    after the last batch *returned*, so prefetching never shifts a resumed run.
    """

    mode = "stream"

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device, rank: int = 0, world_size: int = 1,
                 channels_last: bool = False, mirror: bool = False, workers: int = 2, prefetch: int = 4):
        super().__init__(dataset, batch_size, seed, device, rank, world_size, channels_last, mirror)
        cache = dataset.info.get("cache")
        rows = _nhwc_rows(dataset.data)
        if not cache or rows is None:
            raise DataError(f"dataset {dataset.name!r} has no prepared cache file to stream from; run `ganzoo "
                            f"prepare` on it and pass the result to --dataset, or use --data-mode memory")
        self.row_shape = tuple(rows.shape[1:])
        self.row_bytes = int(np.prod(self.row_shape))
        self.path = cache["file"]
        self.fd = os.open(self.path, os.O_RDONLY)
        self.pin = self.device.type == "cuda"
        self.labels = dataset.labels  # small: stays on the host, indexed per batch
        self.prefetch = max(1, prefetch)
        self.workers = max(1, workers)
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ganzoo-stream")
        self.queue: deque = deque()
        self.consumed = self.plan.state_dict()

    def _read(self, idx: torch.Tensor) -> torch.Tensor:
        out = torch.empty((idx.numel(), *self.row_shape), dtype=torch.uint8, pin_memory=self.pin)
        view = memoryview(out.numpy()).cast("B")
        rb = self.row_bytes
        for j, i in enumerate(idx.tolist()):
            if os.preadv(self.fd, [view[j * rb : (j + 1) * rb]], i * rb) != rb:
                raise DataError(f"{self.path} is shorter than its header says; run `ganzoo prepare` again")
        return out

    def _fill(self) -> None:
        while len(self.queue) < self.prefetch:
            idx, flip = self.plan.take()
            snapshot = self.plan.state_dict()
            self.queue.append((self.pool.submit(self._read, idx), idx, flip, snapshot))

    def next(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        self._fill()
        future, idx, flip, snapshot = self.queue.popleft()
        self._fill()  # keep `prefetch` reads in flight while this batch is used
        x = future.result().to(self.device, non_blocking=True)
        self.consumed = snapshot
        y = None if self.labels is None else self.labels.index_select(0, idx).to(self.device, non_blocking=True)
        return self._finish(x, True, flip), y

    @property
    def epoch(self) -> int:
        return int(self.consumed["epoch"])

    def state_dict(self) -> dict:
        return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in self.consumed.items()}

    def load_state_dict(self, state: dict) -> None:
        for future, *_ in self.queue:
            future.cancel()
        self.queue.clear()
        self.plan.load_state_dict(state)
        self.consumed = self.plan.state_dict()

    def bytes_in_memory(self) -> int:
        return self.prefetch * self.batch_size * self.row_bytes // self.world_size

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "workers": self.workers, "prefetch": self.prefetch}

    def close(self) -> None:
        if getattr(self, "pool", None) is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            os.close(self.fd)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def choose_mode(dataset: Dataset, device, mode: str = "auto", fraction: float = 0.5) -> str:
    """`memory` when the data fits in `fraction` of the memory available on the device (or is not a cache file
    at all), else `stream`; a forced `memory` that cannot fit is refused before anything is allocated."""
    if mode not in MODES:
        raise GanzooError(f"data mode {mode!r} is not one of {', '.join(MODES)}")
    data = dataset.data
    nbytes = data.numel() * data.element_size()
    streamable = bool(dataset.info.get("cache")) and _nhwc_rows(data) is not None
    device = torch.device(device)
    already_there = data.device == device and not streamable
    if mode == "stream":
        return "stream"
    if mode == "memory" or not streamable:
        if not already_there:
            fix = ("stream it: --data-mode stream (or auto)" if streamable else
                   "`ganzoo prepare` the dataset, then stream it with --data-mode stream")
            memory.check_fits(nbytes, f"dataset {dataset.name!r} ({data.shape[0]:,} samples)", device, fix=fix)
        return "memory"
    return "memory" if nbytes <= fraction * memory.available_memory(device) else "stream"


def make_sampler(dataset: Dataset, batch_size: int, *, seed: int, device, rank: int = 0, world_size: int = 1,
                 channels_last: bool = False, mode: str = "auto", mirror: bool = False, workers: int = 2,
                 prefetch: int = 4):
    """The run's batch source. `next()` -> (x float32 on device, y int64 labels on device or None).

    x is (B, C, H, W) in [-1, 1] (channels-last when asked) or (B, D) points, B = batch_size / world_size;
    `state_dict()`/`load_state_dict()` hold every RNG and the position; `mode` is "memory" or "stream".
    """
    _check_batch(batch_size, dataset.data.shape[0])
    if batch_size % world_size:
        raise GanzooError(f"--batch-size {batch_size} (the global batch) must be divisible by the {world_size} "
                          f"processes; use a multiple of {world_size}")
    if mirror and dataset.data.ndim != 4:
        raise GanzooError(f"--mirror flips images left-right, and dataset {dataset.name!r} holds points; drop --mirror")
    chosen = choose_mode(dataset, device, mode)
    common = dict(seed=seed, device=device, rank=rank, world_size=world_size, channels_last=channels_last,
                  mirror=mirror)
    if chosen == "stream":
        return StreamSampler(dataset, batch_size, workers=workers, prefetch=prefetch, **common)
    return MemorySampler(dataset, batch_size, **common)
