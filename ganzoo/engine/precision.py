"""Chooses the device and the numeric precision of a run, and makes the matching autocast context and scaler.

One code path serves fp32, bf16 and fp16: an autocast context (disabled for fp32) and a GradScaler that is only
enabled for fp16, where small gradients would otherwise underflow.
"""

from __future__ import annotations

import contextlib
import os
import platform
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ganzoo.errors import GanzooError
from ganzoo.spec.config import PRECISIONS

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanzooError(f"unknown device {name!r}; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanzooError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise GanzooError(f"there is no {device}; this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type not in ("cpu", "cuda"):
        raise GanzooError(f"device {name!r} is not supported; use auto, cpu or cuda")
    return device


def bf16_supported(device: torch.device) -> bool:
    """bf16 pays off where the hardware has bf16 matrix units: Ampere+ GPUs, AVX512-BF16/AMX CPUs."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _cpuinfo() -> list[str]:
    """/proc/cpuinfo's lines (Linux); none where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return f.readlines()
    except OSError:
        return []


def cpu_bf16_units(cpuinfo: Optional[list[str]] = None) -> str:
    """The CPU's bf16 instructions by its flags (Linux): "amx", "avx512", "arm" (ARMv8.6 BF16), "none", or
    "unknown" where /proc/cpuinfo cannot be read. Machines of one kind differ in this, and every bf16 speed with
    them."""
    lines = _cpuinfo() if cpuinfo is None else cpuinfo
    if not lines:
        return "unknown"
    words = {w for line in lines if line.startswith(("flags", "Features")) for w in line.split()}
    if "amx_bf16" in words:
        return "amx"
    if "avx512_bf16" in words:
        return "avx512"
    return "arm" if "bf16" in words else "none"


def device_label(device: torch.device) -> str:
    """The machine a number was measured on, in words: the GPU's name, or the CPU's model, the cores this process
    may use, its bf16 instructions and what `auto` precision resolves to on it."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    lines = _cpuinfo()
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    auto = "bf16" if bf16_supported(device) else "fp32"
    return (f"{name or platform.processor() or platform.machine()}, {cores} cores, bf16 instructions: "
            f"{cpu_bf16_units(lines)}, auto precision {auto}")


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' means bf16 where the device supports it, fp16 on CUDA devices without bf16, fp32 otherwise."""
    if name == "auto":
        if bf16_supported(device):
            return "bf16"
        return "fp16" if device.type == "cuda" else "fp32"
    if name not in PRECISIONS:
        raise GanzooError(f"unknown precision {name!r}; use one of auto, {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type != "cuda":
        raise GanzooError("fp16 needs a CUDA device (its gradient scaler is CUDA-only here); use bf16 or fp32 on CPU")
    return name


def autograd_input_grad(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d(out)/dx with its graph kept (so a penalty on it trains D): ``torch.autograd.grad``."""
    (grad,) = torch.autograd.grad(out, x, create_graph=True)
    return grad


def backward_input_grad(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The same gradient through ``backward(inputs=[x])``, which torch.utils.flop_counter can follow (it cannot
    follow autograd.grad): benchmarks count a penalty's FLOPs with this one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch.autograd.backward(out, inputs=[x], create_graph=True)
    grad, x.grad = x.grad, None
    return grad


def scaled_input_grad(scaler: torch.amp.GradScaler, scores: torch.Tensor, x: torch.Tensor,
                      grad_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = autograd_input_grad
                      ) -> torch.Tensor:
    """d(sum scores)/dx in float32 with its graph kept.

    PyTorch's AMP recipe for gradient penalties: the gradient is taken of the *scaled* scores (so small values
    survive fp16), then unscaled in float32. An overflow gives inf, which makes the step's gradients inf; the
    scaler then skips the step and backs off its scale (no divergence is reported).
    """
    out = scores.float().sum()
    scaled = scaler.is_enabled()
    if scaled:
        out = scaler.scale(out)
    grad = grad_fn(out, x).float()
    if scaled:
        grad = grad / scaler.scale(torch.ones((), device=grad.device))
    return grad


@dataclass(frozen=True)
class Precision:
    """The autocast/scaler pair for one device and precision."""

    device: torch.device
    name: str

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]

    def autocast(self):
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def make_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.name == "fp16")
