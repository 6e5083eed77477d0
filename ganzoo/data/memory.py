"""How much memory a new allocation may take (host RAM, cgroup, ulimit -v, or free GPU memory), checked before
anything large is allocated so a too-large dataset is a one-line error, not an OOM kill."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Optional

import torch

from ganzoo.errors import DataError
from ganzoo.store.sizes import human_bytes


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
    except Exception:
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
    available = available_memory(device)
    if nbytes > fraction * available:
        where = "GPU memory" if torch.device(device).type == "cuda" else "RAM"
        raise DataError(f"{what} needs {human_bytes(nbytes)} but only {human_bytes(available)} of {where} is "
                        f"available; {fix or 'use a smaller --image-size or --data-mode stream'}")
