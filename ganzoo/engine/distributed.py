"""Data-parallel training on torch.distributed, set up from torchrun's environment.

`torchrun --nproc_per_node N -m ganzoo run ...` sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous variables;
ganzoo then joins the process group (NCCL on CUDA, gloo on CPU) and wraps both networks in
DistributedDataParallel. Without those variables everything runs in one process, untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist

from ganzoo.errors import GanzooError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment(device: str) -> DistInfo:
    """Join the process group torchrun describes, if any. `device` is the user's --device choice."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GanzooError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, backend=backend)


def all_reduce_mean(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        tensor /= info.world_size
    return tensor


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank when it is true on any (so all ranks stop at the same step)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def ranks_in_sync(modules, info: DistInfo, device: torch.device) -> bool:
    """Every rank holds the same weights (a position-weighted float64 checksum of all parameters, gathered).

    Buffers are left out: without SyncBatchNorm each rank keeps batch-norm statistics of its own shard (DDP
    broadcasts rank 0's before each forward), and rank 0's are the ones saved.
    """
    if not info.enabled:
        return True
    total = torch.zeros((), dtype=torch.float64, device=device)
    for module in modules:
        for t in module.parameters():
            t = t.detach()
            if t.is_floating_point():
                total += (t.double() * torch.arange(1, t.numel() + 1, device=t.device, dtype=torch.float64)
                          .reshape(t.shape)).sum()
    gathered = [torch.zeros_like(total) for _ in range(info.world_size)]
    dist.all_gather(gathered, total)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def finish() -> None:
    """Leave the process group together: a barrier first, so no rank tears down gloo's connections while a
    peer is still using them (which aborts the peer with 'terminate called without an active exception')."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
