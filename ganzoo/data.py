"""Datasets from plugins: loading and checking them, uint8 <-> float, memory budgets; samplers live in sampler.py."""

from __future__ import annotations

import os
import resource
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
    if name not in registry.names("dataset"):
        from .prepare import is_prepared

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
        raise DataError(f"dataset {name!r} has shape {tuple(data.shape)}; expected (N, C, H, W) images or (N, D) points")
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


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (0..255) -> float32 in [-1, 1], as x / 127.5 - 1 (memory format kept); floats unchanged."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(127.5).sub_(1.0)
    return x


def resize_images(images: torch.Tensor, size: Optional[int], chunk: int = 1024) -> torch.Tensor:
    """(N, C, H, W) images to size x size (bilinear, antialiased), keeping their dtype; uint8 in chunks.

    The result's size is checked against free memory before it is allocated.
    """
    if not size or (images.shape[-1] == size and images.shape[-2] == size):
        return images
    n, c = images.shape[:2]
    out_bytes = n * c * size * size * images.element_size()
    check_fits(out_bytes, f"resizing {n:,} images to {c}x{size}x{size}", torch.device("cpu"),
               fix="use a smaller --image-size, or `ganzoo prepare` the dataset and stream it from disk")
    out = torch.empty((n, c, size, size), dtype=images.dtype)
    for i in range(0, n, chunk):
        block = to_float(images[i : i + chunk])
        block = torch.nn.functional.interpolate(block, size=(size, size), mode="bilinear", antialias=True,
                                                align_corners=False).clamp_(-1, 1)
        if images.dtype == torch.uint8:
            block = block.add_(1.0).mul_(127.5).round_()
        out[i : i + chunk] = block
    return out


# -- memory budgets ------------------------------------------------------------------------------------------------
def _meminfo_available() -> Optional[int]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # optional

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unsupported here
        return None


def _cgroup_headroom() -> Optional[int]:
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit == "max" or int(limit) >= 1 << 60:
                return None
            return int(limit) - int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
    return None


def _address_space_headroom() -> Optional[int]:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return soft - int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return soft


def available_memory(device) -> int:
    """Bytes that a new allocation can take on `device`: free GPU memory, or the smallest of the host's
    MemAvailable, the cgroup's headroom and the address-space limit (ulimit -v)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    values = [v for v in (_meminfo_available(), _cgroup_headroom(), _address_space_headroom()) if v is not None]
    return max(0, min(values)) if values else 1 << 62


def check_fits(nbytes: int, what: str, device, *, fraction: float = 0.8, fix: str = "") -> None:
    """Refuse, before allocating, what would not fit in `fraction` of the memory available on `device`."""
    from .prepare import human_bytes

    available = available_memory(device)
    if nbytes > fraction * available:
        where = "GPU memory" if torch.device(device).type == "cuda" else "RAM"
        raise DataError(f"{what} needs {human_bytes(nbytes)} but only {human_bytes(available)} of {where} is "
                        f"available; {fix or 'use a smaller --image-size or --data-mode stream'}")


from .sampler import BatchSampler, make_sampler  # noqa: E402  (re-exported: the trainer imports them from here)

__all__ = ["BatchSampler", "available_memory", "cache_dir", "check_fits", "load_dataset", "make_sampler",
           "parse_dataset_spec", "resize_images", "to_float"]


