"""`ganzoo bench`: times the trainer's full training step against a plain eager-fp32 loop, in one run.

For each setting (precision x compile) it reports images per second, step time (median, 10th and 90th percentile),
peak memory, FLOPs per step (torch.utils.flop_counter, on the setting's own step) and MFU: achieved FLOP/s over
the peak that a large matrix product reaches in that precision on this machine, measured in the same run. The
reference is the training loop of PyTorch's canonical GAN example in pytorch/examples (eager fp32, contiguous tensors, default Adam, loss
values read with `.item()` every step) over identically built modules, so `speedup_vs_eager` is a same-run ratio.
"""

from __future__ import annotations

import gc
import platform
import resource
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

from . import __version__
from .build import build
from .components import Dataset
from .config import TrainConfig
from .errors import GanzooError
from .precision import DTYPES, bf16_supported, resolve_device
from .registry import Registry, get_registry
from .trainer import Trainer


def supported_precisions(device: torch.device) -> list[str]:
    out = ["fp32"]
    if bf16_supported(device):
        out.append("bf16")
    if device.type == "cuda":
        out.append("fp16")
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_peak_flops(device: torch.device, precision: str, size: Optional[int] = None, reps: int = 10) -> float:
    """FLOP/s of a large square matrix product in `precision` (fp32 matmul for fp32), best of `reps`."""
    size = size or (8192 if device.type == "cuda" else 2048)
    dtype = DTYPES[precision]
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best


def _peak_memory_mb(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_max_rss"


def _time_steps(step: Callable[[], None], device: torch.device, warmup: int, steps: int) -> list[float]:
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else [times[0]] * 9
    return {"step_ms": statistics.median(times) * 1e3, "step_ms_p10": q[0] * 1e3, "step_ms_p90": q[-1] * 1e3}


class EagerReference:
    """The training loop of PyTorch's canonical GAN example, generalised to the recipe's loss and n_critic, eager fp32."""

    def __init__(self, model: str, shape: tuple[int, ...], data: torch.Tensor, batch: int, device: torch.device,
                 seed: int, registry: Registry):
        torch.manual_seed(seed)
        self.gan = build(model, shape, registry=registry)
        self.G = self.gan.generator.to(device).train()
        self.D = self.gan.discriminator.to(device).train()
        r = self.gan.recipe
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=r.lr_g, betas=r.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=r.lr_d, betas=r.betas)
        self.data, self.batch, self.device = data, batch, device
        self.n_critic = r.n_critic
        self.gp = float(getattr(self.gan.loss, "gradient_penalty_weight", 0.0) or 0.0)
        self.penalty_grad_via_backward = False  # set while counting FLOPs, like Trainer's

    def _penalty(self, real, fake):
        alpha = torch.rand(real.shape[0], *[1] * (real.ndim - 1), device=self.device)
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        if self.penalty_grad_via_backward:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                torch.autograd.backward(self.D(x_hat).sum(), inputs=[x_hat], create_graph=True)
            grad = x_hat.grad
        else:
            (grad,) = torch.autograd.grad(self.D(x_hat).sum(), x_hat, create_graph=True)
        return ((grad.flatten(1).norm(2, dim=1) - self.gan.loss.gradient_penalty_target) ** 2).mean()

    def step(self) -> None:
        loss = self.gan.loss
        for _ in range(self.n_critic):
            idx = torch.randint(self.data.shape[0], (self.batch,), device=self.device)
            real = self.data[idx]
            self.D.zero_grad()
            fake = self.G(torch.randn(self.batch, self.gan.latent_dim, device=self.device))
            real_out = self.D(real).view(-1)
            fake_out = self.D(fake.detach()).view(-1)
            err_d = loss.discriminator_loss(real_out, fake_out)
            if self.gp:
                err_d = err_d + self.gp * self._penalty(real, fake.detach())
            err_d.backward()
            d_x, d_g_z1 = real_out.mean().item(), fake_out.mean().item()
            self.opt_d.step()
        self.G.zero_grad()
        out = self.D(fake).view(-1)
        err_g = loss.generator_loss(out)
        err_g.backward()
        d_g_z2 = out.mean().item()
        self.opt_g.step()
        _ = (err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2)


def count_flops(step: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


@dataclass
class BenchOptions:
    model: str
    shape: tuple[int, ...] = (3, 32, 32)
    batch_size: int = 64
    steps: int = 20
    warmup: int = 5
    precisions: Optional[list[str]] = None
    compile: Optional[list[bool]] = None
    device: str = "auto"
    seed: int = 0
    channels_last: str = "auto"


def bench(options: BenchOptions, registry: Optional[Registry] = None,
          progress: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Run the grid of settings and the eager reference; return one JSON-ready object with a `results` list."""
    registry = registry or get_registry()
    registry.get("model", options.model)  # an unknown name fails before any measurement
    device = resolve_device(options.device)
    say = progress or (lambda _msg: None)
    precisions = options.precisions or supported_precisions(device)
    for p in precisions:
        if p not in supported_precisions(device):
            raise GanzooError(f"precision {p} is not supported on {device}; use {', '.join(supported_precisions(device))}")
    compiles = options.compile if options.compile is not None else [False, True]
    torch.manual_seed(options.seed)
    n_data = max(4 * options.batch_size, 512)
    data = torch.rand(n_data, *options.shape) * 2 - 1
    dataset = Dataset("synthetic", data)
    data_on_device = data.to(device)

    say("measuring peak matrix-product FLOP/s")
    peaks = {p: measure_peak_flops(device, p) for p in precisions}

    say("timing the eager fp32 reference loop")
    reference = EagerReference(options.model, options.shape, data_on_device, options.batch_size, device,
                               options.seed, registry)
    ref_times = _time_steps(reference.step, device, options.warmup, options.steps)
    reference.penalty_grad_via_backward = True  # torch.utils.flop_counter cannot follow autograd.grad
    ref_flops = count_flops(reference.step)
    n_critic = reference.n_critic
    images = options.batch_size * n_critic
    ref_stats = _summary(ref_times)
    peak_fp32 = peaks.get("fp32") or measure_peak_flops(device, "fp32")
    results = [{
        "setting": "eager-fp32-reference", "precision": "fp32", "compile": False, "channels_last": False,
        "img_per_s": images / (ref_stats["step_ms"] / 1e3), **ref_stats,
        "flops_per_step": ref_flops, "mfu": ref_flops / (ref_stats["step_ms"] / 1e3) / peak_fp32,
        "mfu_vs_bf16_peak": (ref_flops / (ref_stats["step_ms"] / 1e3) / peaks["bf16"]) if "bf16" in peaks else None,
        "speedup_vs_eager": 1.0, "notices": [],
    }]
    del reference
    gc.collect()

    for precision in precisions:
        for use_compile in compiles:
            label = f"{precision}{' +compile' if use_compile else ''}"
            say(f"timing the trainer: {label}")
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            if use_compile:
                # Each setting compiles fresh modules; without a reset, dynamo's per-function recompile limit is
                # reached after a few settings and it silently runs eager.
                torch._dynamo.reset()
            trainer = Trainer(TrainConfig(model=options.model, steps=1, batch_size=options.batch_size,
                                          precision=precision, device=str(device), compile=use_compile,
                                          channels_last=options.channels_last,
                                          seed=options.seed, out="/nonexistent-bench-run"),
                              registry=registry, progress=False, dataset=dataset)
            t_compile = time.perf_counter()
            trainer.step()  # the first step compiles (or falls back) outside the timing
            compile_seconds = time.perf_counter() - t_compile
            times = _time_steps(trainer.step, device, options.warmup, options.steps)
            stats = _summary(times)
            trainer._penalty_grad_via_backward = True
            flops = count_flops(trainer.train_step)
            trainer._penalty_grad_via_backward = False
            mem, mem_kind = _peak_memory_mb(device)
            achieved = flops / (stats["step_ms"] / 1e3)
            results.append({
                "setting": label, "precision": precision, "compile": use_compile,
                "channels_last": trainer.channels_last,
                "img_per_s": images / (stats["step_ms"] / 1e3), **stats,
                "peak_mem_mb": mem, "peak_mem_kind": mem_kind,
                "flops_per_step": flops, "achieved_flops": achieved, "mfu": achieved / peaks[precision],
                "mfu_vs_bf16_peak": achieved / peaks["bf16"] if "bf16" in peaks else None,
                "speedup_vs_eager": ref_stats["step_ms"] / stats["step_ms"],
                "first_step_s": compile_seconds, "notices": list(trainer.notices),
            })
            del trainer
            gc.collect()
    return {
        "model": options.model, "shape": list(options.shape), "batch_size": options.batch_size,
        "n_critic": n_critic, "steps_timed": options.steps, "warmup": options.warmup,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine()),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "ganzoo": __version__,
        "peak_flops": peaks, "img_per_s_counts": "real images seen by the discriminator: batch_size * n_critic per step",
        "results": results,
    }

