"""`ganzoo bench`: times the trainer's full training step against two hand-written loops on the same modules.

References (built from the same recipe with the same seed, so they start from identical weights):

- `eager-fp32-reference`: the training loop of PyTorch's canonical GAN example (pytorch/examples): eager fp32,
  contiguous tensors, default Adam, D on real then detached fake, G through D with D's weight gradients computed,
  losses read with `.item()` every step.
- `tuned-eager-reference`: the same loop with the few lines a competent user adds: bf16 autocast where the device
  supports it, channels-last for convolutional models, fused (else foreach) Adam, no per-step `.item()`. It takes
  n_critic and the gradient penalty exactly as the eager reference does.

Settings and references are timed in interleaved rounds (A B C A B C ...); every speedup is the ratio of two
medians *within one round*, and the report gives the median over rounds with its min-max and interquartile range,
so drift of the machine between rounds does not masquerade as a speedup. Peak memory is measured per setting in a
fresh child process (see `measure_memory`), FLOPs by torch.utils.flop_counter on the setting's own step, and MFU
against the matrix-product peak of the setting's precision measured in the same run.

Everything that builds or steps the ganzoo trainer is in `make_trainer_step`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Union

import torch
from torch.utils.flop_counter import FlopCounterMode

from ganzoo.contract.extensions import StepContext, split_output
from ganzoo.contract.types import draw_latent, loss_calls
from ganzoo.engine.assemble import build, build_extensions, build_gan, build_update, has_conv
from ganzoo.engine.precision import (
    DTYPES,
    autograd_input_grad,
    backward_input_grad,
    bf16_supported,
    device_label,
    resolve_device,
)
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, get_registry
from ganzoo.spec.resolve import resolve_recipe, spec_from_recipe
from ganzoo.tools.bench_options import BenchOptions
from ganzoo.version import __version__

EAGER = "eager-fp32-reference"
TUNED = "tuned-eager-reference"
CUDAGRAPHS = "cudagraphs"  # a compile setting: inductor with CUDA graphs (mode "reduce-overhead")


def supported_precisions(device: torch.device) -> list[str]:
    out = ["fp32"]
    if device.type == "cuda":
        out.append("tf32")
    if bf16_supported(device):
        out.append("bf16")
    if device.type == "cuda":
        out.append("fp16")
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _tf32(enabled: bool):
    """TF32 matmuls and convolutions on (CUDA) for the duration; restores the previous flags."""
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def measure_peak_flops(device: torch.device, precision: str, size: Optional[int] = None, reps: int = 10) -> float:
    """FLOP/s of a large square matrix product in `precision` (tf32: fp32 tensors, TF32 math), best of `reps`."""
    size = size or (8192 if device.type == "cuda" else 2048)
    dtype = torch.float32 if precision == "tf32" else DTYPES[precision]
    with _tf32(precision == "tf32"):
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


PEAK_MEASURES = ("the larger of two measurements in this run (before and after the timing), each the best of 10 "
                 "square {size}-sided matrix products in the setting's precision")


ZOO_PEAK_MEASURES = ("the largest of the measurements in this zoo run (before the first model and after every one), "
                     "each the best of 10 square {size}-sided matrix products in the setting's precision")


def remeasure_peaks(peaks: dict[str, float], device: torch.device, size: Optional[int] = None) -> None:
    """Measure each peak again and keep the larger: a peak is a maximum, and one measurement taken during a slow
    moment (another process, a frequency drop) would make MFU exceed 1."""
    for p in peaks:
        peaks[p] = max(peaks[p], measure_peak_flops(device, p, size=size))


def apply_peaks(result: dict[str, Any], peaks: dict[str, float]) -> None:
    """Recompute a bench result's MFU columns against `peaks` (the zoo's final peaks, shared by every model)."""
    result["peak_flops"] = dict(peaks)
    for row in result["results"]:
        row["mfu"] = row["achieved_flops"] / peaks[row["precision"]]
        row["mfu_vs_bf16_peak"] = row["achieved_flops"] / peaks["bf16"] if "bf16" in peaks else None


def count_flops(step: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


# -- spreads -------------------------------------------------------------------------------------------------------
def spread(values: list[float]) -> dict[str, float]:
    """Median, min, max and quartiles (inclusive method, so they stay inside min-max) of repeated measurements."""
    if not values:
        raise ValueError("spread of no values")
    if len(values) == 1:
        v = float(values[0])
        return {"median": v, "min": v, "max": v, "q1": v, "q3": v}
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "q1": q1, "q3": q3}


def decimals_for(width: float, most: int = 3) -> int:
    """Decimals that the width of a spread supports: its first significant digit is the last one quoted."""
    if not width or not math.isfinite(width) or width <= 0:
        return most
    return max(0, min(most, -math.floor(math.log10(width))))


def format_spread(median: float, low: float, high: float, unit: str = "x") -> str:
    """'2.4x (2.2-2.6)': the median and its range, at the precision the range supports ('1.00x' without one)."""
    if high == low:
        return f"{median:.2f}{unit}"
    d = decimals_for(high - low)
    return f"{median:.{d}f}{unit} ({low:.{d}f}-{high:.{d}f})"


# -- the two hand-written reference loops ---------------------------------------------------------------------------
def _per_network(value: Any, net: str) -> Any:
    """A recipe value given for both networks, or as {"G": ..., "D": ...}."""
    return value.get(net) if isinstance(value, dict) or hasattr(value, "keys") else value


class LoopReference:
    """The canonical GAN loop, generalised to the recipe: its loss, n_critic, and its regularisers and constraints
    called as plain functions where a hand-written loop would put them (the interpolation gradient penalty, R1/R2 on
    the D pass's own scores, lazily every k steps with the term times k, mutual-information terms, weight clipping
    after the D step), so both loops do the recipe's work. What the loop leaves out (augmentation, schedules, a
    simultaneous update) is listed in `notes`.

    `tuned=False` is pytorch/examples' loop (eager fp32, `.item()` every step); `tuned=True` adds bf16 autocast
    where supported, channels-last for conv models, fused/foreach Adam and no per-step host sync.
    """

    def __init__(self, model: str, shape: tuple[int, ...], data: torch.Tensor, batch: int, device: torch.device,
                 seed: int, registry: Registry, tuned: bool):
        name, recipe = resolve_recipe(model, registry=registry)
        spec = spec_from_recipe(name, recipe, tuple(shape), num_classes=bench_classes(model, registry),
                                registry=registry)
        torch.manual_seed(seed)
        self.gan = build_gan(spec, registry)
        extensions = build_extensions(spec, registry)
        self.tuned = tuned
        self.precision = "bf16" if tuned and bf16_supported(device) else "fp32"
        conv = has_conv(self.gan.generator) or has_conv(self.gan.discriminator)
        self.channels_last = tuned and conv and len(shape) == 3
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.G = self.gan.generator.to(device, memory_format=fmt).train()
        self.D = self.gan.discriminator.to(device, memory_format=fmt).train()
        r = self.gan.recipe
        self.notes: list[str] = []
        self.opt_g = self._optimizer("G", self.G.parameters(), r.lr_g)
        self.opt_d = self._optimizer("D", self.D.parameters(), r.lr_d)
        if getattr(r, "update", "alternating") != "alternating":
            self.notes.append(f"the reference loops alternate n_critic D steps and one G step; the recipe asks "
                              f"for a {r.update!r} update")
        #: (regulariser, every, separate) of each phase, as the recipe resolves them
        self.regs = {phase: [(e.reg, e.every, e.separate) for e in extensions.regularizers if e.reg.phase == phase]
                     for phase in "DG"}
        self.constraints = {phase: [c for _, c in extensions.constraints if c.phase == phase] for phase in "DG"}
        if extensions.augment is not None:
            self.notes.append(f"augmentation {spec.augment.name!r} is not part of the reference loops")
        if extensions.schedules:
            self.notes.append("the reference loops keep the recipe's learning rates and weights constant (its "
                              "schedules change values, not work)")
        self.data = data.contiguous(memory_format=fmt) if self.channels_last else data
        self.batch, self.device = batch, device
        self.n_critic = r.n_critic
        self.steps = 0
        self.state: dict = {}  # ctx.state: what a regulariser keeps between steps, as the trainer's
        # Gulrajani et al. 2017's Algorithm 1 draws fresh noise for the generator step;
        # the canonical PyTorch example loop reuses the fakes.
        self.fresh_g_noise = getattr(r, "generator_noise", "reuse") == "fresh"
        #: how d(out)/dx is taken: autograd.grad, or backward(inputs=...) while FLOPs are counted
        self.input_grad_fn = autograd_input_grad

    def _optimizer(self, net: str, params, lr: float) -> torch.optim.Optimizer:
        """The recipe's optimiser for `net` ("G"/"D"): Adam, RMSprop or SGD; tuned loops ask for fused/foreach."""
        recipe = self.gan.recipe
        name = str(_per_network(getattr(recipe, "optimizer", "adam"), net) or "adam").lower()
        cls = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}.get(name)
        if cls is None:
            self.notes.append(f"{net}: optimiser {name!r} has no reference implementation; the loops use Adam")
            cls, name = torch.optim.Adam, "adam"
        kwargs: dict[str, Any] = {"lr": lr}
        if name == "adam":
            kwargs["betas"] = tuple(_per_network(recipe.betas, net))
        params = list(params)
        if self.tuned:
            for fast in ({"fused": True}, {"foreach": True}):
                try:
                    return cls(params, **kwargs, **fast)
                except (RuntimeError, TypeError, ValueError):
                    pass
        return cls(params, **kwargs)

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.precision])

    def _input_grad(self, scores: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """d(sum scores)/dx in float32 with its graph kept."""
        return self.input_grad_fn(scores.float().sum(), x).float()

    def due(self, phase: str, separate: bool = False) -> list:
        """The (regulariser, every) pairs of `phase` that run on this step: in the main objective, or (`separate`)
        in their own optimiser step after it."""
        return [(reg, every) for reg, every, own in self.regs[phase] if own == separate and self.steps % every == 0]

    def regularize(self, due: list, ctx: StepContext) -> Optional[torch.Tensor]:
        """The due terms, each times its `every` (lazy regularisation, Karras et al. 2020)."""
        terms = [reg(ctx).float() * every for reg, every in due]
        return sum(terms[1:], terms[0]) if terms else None

    def _z(self):
        return draw_latent(self.G, self.batch, self.gan.latent_dim, None, self.device)

    def _y(self):
        if not self.gan.conditional:
            return None
        return torch.randint(self.gan.num_classes, (self.batch,), device=self.device)

    def _g(self, z, y):
        return self.G(z) if y is None else self.G(z, y)

    def critic(self, x, y):
        """D's float32 (N,) scores of `x` and its auxiliary output (no autocast: the caller's context decides)."""
        scores, aux = split_output(self.D(x) if y is None else self.D(x, y))
        return scores.float().view(-1), aux

    def _d_autocast(self, x, y=None):
        with self._autocast():
            return self.critic(x, y)

    def context(self, phase, real, fake, real_out, fake_out, real_aux, fake_aux, y_real, y_fake, z):
        """What a v2 loss or regulariser reads: scores, labels, auxiliary outputs, D, input gradients, noise."""
        return StepContext(step=self.steps, total_steps=10**9, phase=phase, real=real, fake=fake,
                           fake_scores=fake_out, real_scores=real_out, real_labels=y_real, fake_labels=y_fake,
                           real_aux=real_aux, fake_aux=fake_aux, z=z, num_classes=self.gan.num_classes,
                           D=lambda x, labels=None: self._d_autocast(x, labels)[0], D_with_aux=self._d_autocast,
                           input_grad=self._input_grad, state=self.state,
                           rand=lambda n, *shape: torch.rand(n, *shape, device=self.device), generator=self.G,
                           draw_z=lambda n: draw_latent(self.G, n, self.gan.latent_dim, None, self.device),
                           autocast=self._autocast)

    @torch.no_grad()
    def _constrain(self, phase: str) -> None:
        for constraint in self.constraints[phase]:  # e.g. clamping D's weights after its step
            constraint(self.D if phase == "D" else self.G)

    def step(self) -> None:
        loss = self.gan.loss
        d_loss, g_loss = loss_calls(loss)
        self.steps += 1
        due_d, due_g = self.due("D"), self.due("G")
        real_grad = any(reg.needs_real_grad for reg, _ in due_d)
        fake_grad = any(reg.needs_fake_grad for reg, _ in due_d)
        for _ in range(self.n_critic):
            idx = torch.randint(self.data.shape[0], (self.batch,), device=self.device)
            real = self.data[idx].requires_grad_(real_grad)
            y_real, y_fake, z = self._y(), self._y(), self._z()
            self.D.zero_grad()
            with self._autocast():
                fake = self._g(z, y_fake)
                fake_in = fake.detach().requires_grad_(fake_grad)
                real_out, real_aux = self.critic(real, y_real)
                fake_out, fake_aux = self.critic(fake_in, y_fake)
            ctx = self.context("D", real, fake_in, real_out, fake_out, real_aux, fake_aux, y_real, y_fake, z)
            err_d = d_loss(real_out, fake_out, ctx)
            reg = self.regularize(due_d, ctx)
            if reg is not None:
                err_d = err_d + reg
            err_d.backward()
            if not self.tuned:
                d_x, d_g_z1 = real_out.mean().item(), fake_out.mean().item()
            self.opt_d.step()
            self._constrain("D")
            self._own_step("D", real, fake_in, y_real, y_fake, z)
        self.G.zero_grad()
        with self._autocast():
            if self.fresh_g_noise:
                z, y_fake = self._z(), self._y()
                fake = self._g(z, y_fake)
            out, aux = self.critic(fake, y_fake)
            real_now = real_aux = None
            if getattr(loss, "needs_real_scores_in_g_step", False):
                with torch.no_grad():
                    real_now, real_aux = self.critic(real.detach(), y_real)
        ctx = self.context("G", real.detach(), fake, real_now, out, real_aux, aux, y_real, y_fake, z)
        err_g = g_loss(out, ctx)
        reg = self.regularize(due_g, ctx)
        if reg is not None:
            err_g = err_g + reg
        err_g.backward()
        self.opt_g.step()
        self._constrain("G")
        self._own_step("G", real.detach(), fake.detach(), y_real, y_fake, z)
        if not self.tuned:
            _ = (err_d.item(), err_g.item(), d_x, d_g_z1, out.mean().item())

    def _own_step(self, phase: str, real, fake, y_real, y_fake, z) -> None:
        """The due `separate` regularisers of `phase` (StyleGAN2's Dreg/Greg): their terms, a backward, a step."""
        due = self.due(phase, separate=True)
        if not due:
            return
        net, opt = (self.D, self.opt_d) if phase == "D" else (self.G, self.opt_g)
        real_out = real_aux = fake_out = fake_aux = None
        if phase == "D":
            real = real.detach().requires_grad_(any(reg.needs_real_grad for reg, _ in due))
            fake = fake.detach().requires_grad_(any(reg.needs_fake_grad for reg, _ in due))
            with self._autocast():
                real_out, real_aux = self.critic(real, y_real)
                if fake.requires_grad:
                    fake_out, fake_aux = self.critic(fake, y_fake)
        net.zero_grad()
        ctx = self.context(phase, real, fake, real_out, fake_out, real_aux, fake_aux, y_real, y_fake, z)
        self.regularize(due, ctx).backward()
        opt.step()
        self._constrain(phase)

    def count_flops(self) -> int:
        self.input_grad_fn = backward_input_grad
        try:
            return count_flops(self.step)
        finally:
            self.input_grad_fn = autograd_input_grad


# -- the ganzoo trainer's step: the one place that builds and steps it ----------------------------------------------
def bench_classes(model: str, registry: Optional[Registry]) -> Optional[int]:
    """Synthetic labels for class-conditional models (10 classes, like digits and CIFAR-10), else None."""
    recipe = (registry or get_registry()).get("model", model).obj
    return 10 if getattr(recipe, "conditional", False) else None


def make_trainer_step(model: str, shape: tuple[int, ...], precision: str, *, batch_size: int = 64,
                      device: Union[str, torch.device] = "cpu", compile: Union[bool, str] = False,
                      channels_last: str = "auto", seed: int = 0, data: Optional[torch.Tensor] = None,
                      registry: Optional[Registry] = None
                      ) -> tuple[Callable[[], None], dict[str, Any], Callable[[], int]]:
    """(step_fn, modules, flop_fn) for one trainer setting on synthetic data held on the device.

    `step_fn()` runs one full training step (n_critic D updates and one G update); `modules` holds the
    `generator` and `discriminator`, `n_critic`, `channels_last`, `precision` and a live `notices` list;
    `flop_fn()` counts one step's FLOPs (the gradient penalty included). `precision` "tf32" is fp32 with TF32
    math (CUDA); `compile` is False, True or "cudagraphs" (inductor with CUDA graphs).
    """
    device = torch.device(device)
    if data is None:
        torch.manual_seed(seed)
        data = torch.rand(max(4 * batch_size, 512), *shape) * 2 - 1
    registry = registry or get_registry()
    classes = bench_classes(model, registry)
    update = build_update(model, tuple(shape), precision="fp32" if precision == "tf32" else precision, device=device,
                          batch_size=batch_size, seed=seed, channels_last=channels_last, compile=bool(compile),
                          registry=registry, num_classes=classes)
    data = data.to(device)
    if update.channels_last:
        data = data.contiguous(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(seed + 1)
    n = update.spec.batch_size

    def next_batch():  # device-resident random batches, like the trainer's in-memory sampler
        idx = torch.randint(data.shape[0], (n,), generator=generator).to(device)
        labels = (idx % classes) if classes else None
        return data.index_select(0, idx), labels

    def context():
        stack = contextlib.ExitStack()
        if precision == "tf32":
            stack.enter_context(_tf32(True))
        if compile == CUDAGRAPHS:
            import torch._inductor.config as inductor_config

            stack.enter_context(inductor_config.patch({"triton.cudagraphs": True}))
        return stack

    counter = {"step": 0}

    def step_fn() -> None:
        counter["step"] += 1
        with context():
            update.step(counter["step"], 10**9, next_batch)

    def flop_fn() -> int:
        update.input_grad_fn = backward_input_grad  # flop_counter cannot follow autograd.grad
        try:
            with context():
                return count_flops(step_fn)
        finally:
            update.input_grad_fn = autograd_input_grad

    modules = {"generator": update.gan.generator, "discriminator": update.gan.discriminator,
               "n_critic": update.spec.n_critic, "channels_last": update.channels_last,
               "precision": precision, "notices": update.notices,
               "lazy": {e.name: e.every for e in update.ext.regularizers if e.every > 1}}
    return step_fn, modules, flop_fn


# -- per-setting peak memory in fresh processes ----------------------------------------------------------------------
MEMORY_KINDS = {
    "cuda": "CUDA max_memory_allocated during the setting's steps minus memory_allocated before them, in a fresh "
            "process per setting (MB): activations, gradients, optimizer state, workspaces",
    "hwm": "peak resident set size during the setting's steps (VmHWM, reset after building) minus the resident size "
           "before them, in a fresh process per setting (MB): activations, gradients, optimizer state, workspaces",
    "maxrss": "max resident set size (ru_maxrss) of a fresh process running the setting minus that of a baseline "
              "process that only imported torch and built the modules and the data (MB)",
}


def status_mb(key: str) -> float:
    """A /proc/self/status memory field (VmRSS, VmHWM) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(f"{key} not in /proc/self/status")


def reset_rss_peak() -> Optional[float]:
    """Reset this process's peak RSS (Linux clear_refs 5) and return the RSS now; None where that is impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return status_mb("VmRSS")
    except OSError:
        return None


def _memory_child(spec: dict[str, Any]) -> dict[str, float]:
    """Build one setting in this fresh process, run a few of its steps, and report the memory they took."""
    device = torch.device(spec["device"])
    torch.set_num_threads(spec["threads"])
    shape, batch, seed = tuple(spec["shape"]), spec["batch_size"], spec["seed"]
    torch.manual_seed(seed)
    data = torch.rand(max(4 * batch, 512), *shape) * 2 - 1
    registry = get_registry()
    kind = spec["kind"]
    if kind == "baseline":
        torch.manual_seed(seed)
        gan = build(spec["model"], shape, registry=registry)
        gan.generator.to(device), gan.discriminator.to(device)
        data = data.to(device)
        step = None
    elif kind in (EAGER, TUNED):
        ref = LoopReference(spec["model"], shape, data.to(device), batch, device, seed, registry, tuned=kind == TUNED)
        step = ref.step
    else:
        step, _, _ = make_trainer_step(spec["model"], shape, spec["precision"], batch_size=batch, device=device,
                                       compile=spec["compile"], channels_last=spec["channels_last"], seed=seed,
                                       data=data, registry=registry)
    gc.collect()
    _sync(device)
    before = reset_rss_peak()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        cuda_before = torch.cuda.memory_allocated(device)
    for _ in range(spec["steps"] if step else 0):
        step()
    _sync(device)
    out = {"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if before is not None:
        out["hwm_mb"] = status_mb("VmHWM") - before
    if device.type == "cuda":
        out["cuda_mb"] = (torch.cuda.max_memory_allocated(device) - cuda_before) / 2**20
    return out


def _run_child(spec: dict[str, Any]) -> dict[str, Any]:
    code = ("import json, sys; from ganzoo.tools.bench import _memory_child; "
            "print(json.dumps(_memory_child(json.loads(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"error": f"memory child exited with {proc.returncode}: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_memory(specs: list[dict[str, Any]], device: torch.device,
                   workers: Optional[int] = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Peak memory of each setting's training steps, one fresh process per setting (run side by side).

    One process running setting after setting has a lifetime maximum that can only grow down the table, so each
    setting gets its own process and only the memory its steps add is reported (see MEMORY_KINDS). Where the
    RSS peak cannot be reset (no /proc), a baseline process that only builds is subtracted instead.
    """
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    if device.type == "cuda":
        workers = 1  # children on one GPU would contend for its memory
    with ThreadPoolExecutor(workers) as pool:
        measured = list(pool.map(_run_child, specs))
    if device.type == "cuda":
        method, base = "cuda", 0.0
    elif all("hwm_mb" in m for m in measured if "error" not in m):
        method, base = "hwm", 0.0
    else:
        method = "maxrss"
        baseline = _run_child({**specs[0], "kind": "baseline"})
        if "error" in baseline:
            return [{"peak_mem_mb": None, "peak_mem_error": baseline["error"]} for _ in specs], \
                {"kind": MEMORY_KINDS[method]}
        base = baseline["max_rss_mb"]
    key = {"cuda": "cuda_mb", "hwm": "hwm_mb", "maxrss": "max_rss_mb"}[method]
    results = [{"peak_mem_mb": None, "peak_mem_error": m["error"]} if "error" in m
               else {"peak_mem_mb": max(m[key] - base, 0.0)} for m in measured]
    return results, {"kind": MEMORY_KINDS[method], "method": method,
                     **({"baseline_mem_mb": base} if method == "maxrss" else {})}


# -- timing -----------------------------------------------------------------------------------------------------------
@dataclass
class _Setting:
    label: str
    kind: str  # "reference" or "trainer"
    precision: str
    compile: Union[bool, str]
    channels_last: bool
    step: Callable[[], None]
    flop_fn: Callable[[], int]
    notices: list[str] = field(default_factory=list)
    lazy: dict[str, int] = field(default_factory=dict)  # lazy regularisers: name -> every
    memory_spec: dict[str, Any] = field(default_factory=dict)
    first_step_s: Optional[float] = None
    times: list[float] = field(default_factory=list)  # every timed step, seconds
    round_ms: list[float] = field(default_factory=list)  # the median of each round, ms


LAZY_MEASURES = ("per row, the median step time of the timed steps where no lazy regulariser runs (plain) and of "
                 "those where each one runs (every k: on steps k, 2k, ...), and their ratio; FLOPs per step are "
                 "averaged over one whole interval (the lcm of the intervals)")

#: FLOPs are averaged over one whole interval of the lazy regularisers when it is at most this many steps
MAX_FLOP_INTERVAL = 64


def lazy_interval(lazy: dict[str, int]) -> int:
    """The steps after which every lazy regulariser's pattern repeats: the lcm of their intervals (1: none)."""
    return math.lcm(*lazy.values()) if lazy else 1


def averaged_flops(flop_fn: Callable[[], int], steps: int) -> int:
    """FLOPs per step over `steps` consecutive steps (each `flop_fn()` call counts the next step)."""
    return int(round(sum(flop_fn() for _ in range(steps)) / steps))


def lazy_step_costs(times: list[float], first_step: int, lazy: dict[str, int]) -> Optional[dict[str, Any]]:
    """What the lazy regularisers cost: the median time of the steps where none runs and of the steps where each
    one runs (step numbers from `first_step`, as the trainer's `step % every == 0`), with their counts."""
    if not lazy:
        return None
    steps = range(first_step, first_step + len(times))
    plain = [t for k, t in zip(steps, times) if all(k % every for every in lazy.values())]
    due = {name: [t for k, t in zip(steps, times) if k % every == 0] for name, every in lazy.items()}
    plain_ms = statistics.median(plain) * 1e3 if plain else None
    out: dict[str, Any] = {"every": dict(lazy), "plain_step_ms": plain_ms, "plain_steps": len(plain), "due": {}}
    for name, ts in due.items():
        ms = statistics.median(ts) * 1e3 if ts else None
        out["due"][name] = {"steps": len(ts), "step_ms": ms,
                            "x_plain": (ms / plain_ms) if ms is not None and plain_ms else None}
    return out


def _time_steps(step: Callable[[], None], device: torch.device, steps: int) -> list[float]:
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def _attempt(setting: _Setting, failed: list[dict[str, str]], run: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, run()); a trainer setting that raises is recorded in `failed` ((False, None)), a reference re-raises."""
    try:
        return True, run()
    except Exception as exc:
        if setting.kind == "reference":
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        failed.append({"setting": setting.label, "error": f"{type(exc).__name__}: {first}"})
        return False, None


def _check_precisions(options: BenchOptions, device: torch.device) -> list[str]:
    supported = supported_precisions(device)
    precisions = options.precisions or [p for p in supported if p != "tf32"]
    for p in precisions:
        if p not in supported:
            raise GanzooError(f"precision {p} is not supported on {device}; use {', '.join(supported)}")
    return precisions


def _label(precision: str, compile: Union[bool, str]) -> str:
    return precision + {False: "", True: " +compile", CUDAGRAPHS: " +cudagraphs"}[compile]


def bench(options: BenchOptions, registry: Optional[Registry] = None,
          progress: Optional[Callable[[str], None]] = None, peaks: Optional[dict[str, float]] = None) -> dict[str, Any]:
    """Time both references and every setting in interleaved rounds; return one JSON-ready object (`results`)."""
    registry = registry or get_registry()
    registry.get("model", options.model)  # an unknown name fails before any measurement
    device = resolve_device(options.device)
    say = progress or (lambda _msg: None)
    precisions = _check_precisions(options, device)
    compiles = options.compiles
    if CUDAGRAPHS in compiles and device.type != "cuda":
        raise GanzooError("--compile cudagraphs needs a CUDA device; use off, on or both")
    if options.rounds < 1 or options.steps < 1:
        raise GanzooError("--rounds and --steps must be at least 1; use --rounds 5 or more for a stated spread")
    torch.manual_seed(options.seed)
    data = torch.rand(max(4 * options.batch_size, 512), *options.shape) * 2 - 1
    data_on_device = data.to(device)

    own_peaks = peaks is None
    if own_peaks:
        say("measuring peak matrix-product FLOP/s")
        peaks = {}
    peak_precisions = sorted({"fp32", *precisions, *(["bf16"] if bf16_supported(device) else [])})
    for p in peak_precisions:
        if p not in peaks:
            peaks[p] = measure_peak_flops(device, p, size=options.peak_size)

    child = {"model": options.model, "shape": list(options.shape), "batch_size": options.batch_size,
             "seed": options.seed, "device": str(device), "threads": torch.get_num_threads(),
             "steps": min(options.warmup, 2) + 2, "channels_last": options.channels_last}
    settings: list[_Setting] = []
    failed: list[dict[str, str]] = []
    for kind, tuned in ((EAGER, False), (TUNED, True)):
        ref = LoopReference(options.model, options.shape, data_on_device, options.batch_size, device, options.seed,
                            registry, tuned=tuned)
        setting = _Setting(kind, "reference", ref.precision, False, ref.channels_last, ref.step, ref.count_flops,
                           notices=ref.notes, memory_spec={**child, "kind": kind})
        ref.step()  # one untimed first step, as the trainer settings take (theirs compiles): the step counters of
        settings.append(setting)  # all settings stay aligned, so lazy (every-k) terms fall on the same steps
        n_critic = ref.n_critic
    for precision in precisions:
        for use_compile in compiles:
            if use_compile:
                # Each setting compiles fresh modules; without a reset dynamo's recompile limit is reached after a
                # few settings and it silently runs eager.
                torch._dynamo.reset()
            step, modules, flop_fn = make_trainer_step(
                options.model, options.shape, precision, batch_size=options.batch_size, device=device,
                compile=use_compile, channels_last=options.channels_last, seed=options.seed, data=data,
                registry=registry)
            s = _Setting(_label(precision, use_compile), "trainer", precision, use_compile, modules["channels_last"],
                         step, flop_fn, notices=modules["notices"], lazy=modules["lazy"],
                         memory_spec={**child, "kind": "trainer", "precision": precision, "compile": use_compile})
            t0 = time.perf_counter()
            if _attempt(s, failed, lambda: (step(), _sync(device)))[0]:  # the first step compiles, untimed
                s.first_step_s = time.perf_counter() - t0
                settings.append(s)

    # every setting took one untimed first step; its timed steps start after the warm-up
    lazy = next((s.lazy for s in settings if s.kind == "trainer"), {})
    first_timed_step = 2 + options.warmup
    say(f"warming up {len(settings)} settings ({options.warmup} steps each)")
    settings = [s for s in settings if _attempt(s, failed, lambda: _time_steps(s.step, device, options.warmup))[0]]
    for r in range(options.rounds):
        say(f"round {r + 1} of {options.rounds}: {', '.join(s.label for s in settings)}")
        for s in list(settings):
            ok, times = _attempt(s, failed, lambda: _time_steps(s.step, device, options.steps))
            if not ok:
                settings.remove(s)  # a setting that fails mid-run (e.g. CUDA graphs) leaves every round
                continue
            s.times += times
            s.round_ms.append(statistics.median(times) * 1e3)

    if own_peaks:  # a slow moment during one measurement would understate the peak and overstate MFU
        say("measuring peak matrix-product FLOP/s again")
        remeasure_peaks(peaks, device, options.peak_size)
    interval = lazy_interval(lazy)
    over = interval if interval <= MAX_FLOP_INTERVAL else 1
    say("counting FLOPs" + (f" over {over} steps (the lazy regularisers' interval)" if over > 1 else ""))
    flops = [averaged_flops(s.flop_fn, over) for s in settings]
    memory: list[dict[str, Any]] = [{} for _ in settings]
    memory_info: dict[str, Any] = {"kind": "not measured (--memory off)"}
    if options.measures_memory:
        say(f"measuring peak memory: {len(settings)} fresh processes")
        memory, memory_info = measure_memory([s.memory_spec for s in settings], device)

    images = options.batch_size * n_critic
    eager_ms, tuned_ms = settings[0].round_ms, settings[1].round_ms
    results = []
    for s, f, mem in zip(settings, flops, memory):
        step_ms = statistics.median(s.times) * 1e3
        q = statistics.quantiles(s.times, n=10) if len(s.times) >= 2 else [s.times[0]] * 9
        vs_eager = [e / m for e, m in zip(eager_ms, s.round_ms)]
        vs_tuned = [t / m for t, m in zip(tuned_ms, s.round_ms)]
        # with lazy regularisers the FLOPs are an interval's mean, so they go with the mean step time
        achieved = f / (statistics.fmean(s.times) if lazy else step_ms / 1e3)
        results.append({
            "setting": s.label, "kind": s.kind, "precision": s.precision, "compile": s.compile,
            "channels_last": s.channels_last,
            "img_per_s": images / (step_ms / 1e3),
            "img_per_s_rounds": [images / (m / 1e3) for m in s.round_ms],
            "step_ms": step_ms, "step_ms_p10": q[0] * 1e3, "step_ms_p90": q[-1] * 1e3,
            "step_ms_rounds": s.round_ms, "step_ms_spread": spread(s.round_ms),
            "speedup_vs_eager": statistics.median(vs_eager), "speedup_vs_eager_spread": spread(vs_eager),
            "speedup_vs_eager_rounds": vs_eager,
            "speedup_vs_tuned_eager": statistics.median(vs_tuned),
            "speedup_vs_tuned_eager_spread": spread(vs_tuned), "speedup_vs_tuned_eager_rounds": vs_tuned,
            "flops_per_step": f, "achieved_flops": achieved, "mfu": achieved / peaks[s.precision],
            "mfu_vs_bf16_peak": achieved / peaks["bf16"] if "bf16" in peaks else None,
            "peak_mem_mb": mem.get("peak_mem_mb"), "peak_mem_kind": memory_info["kind"],
            **({"peak_mem_error": mem["peak_mem_error"]} if mem.get("peak_mem_error") else {}),
            "first_step_s": s.first_step_s, "notices": list(s.notices),
            **({"lazy": costs} if (costs := lazy_step_costs(s.times, first_timed_step, lazy)) else {}),
        })
    tuned = settings[1]
    del settings
    gc.collect()
    return {
        "model": options.model, "shape": list(options.shape), "batch_size": options.batch_size,
        "n_critic": n_critic, "rounds": options.rounds, "steps_per_round": options.steps,
        "flops_averaged_over_steps": over,
        **({"lazy_regularizers": {"every": dict(lazy), "measures": LAZY_MEASURES}} if lazy else {}),
        "steps_timed": options.steps * options.rounds, "warmup": options.warmup,
        "device": str(device),
        "device_name": device_label(device),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "ganzoo": __version__,
        "peak_flops": peaks,
        "peak_flops_measures": PEAK_MEASURES.format(
            size=options.peak_size or (8192 if device.type == "cuda" else 2048)),
        "img_per_s_counts": "real images seen by the discriminator: batch_size * n_critic per step",
        "timing": "settings and references alternate in rounds; a speedup is the ratio of two round medians within "
                  "one round; *_spread gives median, min, max and quartiles over rounds",
        "references": {EAGER: "pytorch/examples' GAN loop: eager fp32, contiguous tensors, default Adam, .item() "
                              "every step",
                       TUNED: f"the same loop with {tuned.precision} autocast"
                              f"{', channels-last' if tuned.channels_last else ''}, fused/foreach Adam, no per-step "
                              f".item()"},
        "memory": memory_info,
        "results": results,
        "failed": failed,
    }


def buildable_models(shape: tuple[int, ...],
                     registry: Optional[Registry] = None) -> tuple[list[str], list[dict[str, str]]]:
    """(models that build for samples of `shape`, [{model, reason}] for those that do not)."""
    registry = registry or get_registry()
    ok, skipped = [], []
    for name in registry.names("model"):
        try:
            build(name, shape, registry=registry, num_classes=bench_classes(name, registry))
        except (GanzooError, ValueError, TypeError, RuntimeError) as exc:
            skipped.append({"model": name, "reason": str(exc).splitlines()[0][:200] or type(exc).__name__})
        else:
            ok.append(name)
    return ok, skipped


def bench_zoo(options: BenchOptions, registry: Optional[Registry] = None,
              progress: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """`ganzoo bench --all`: every registered model that builds for the shape, one bench each; the peaks are measured
    before the first model and after every one, and every model's MFU uses the largest."""
    registry = registry or get_registry()
    say = progress or (lambda _msg: None)
    models, skipped = buildable_models(options.shape, registry)
    if not models:
        raise GanzooError(f"no registered model builds for samples of shape {tuple(options.shape)}; try 3,32,32")
    peaks: dict[str, float] = {}
    benches = []
    for name in models:
        say(f"== {name}")
        try:
            benches.append(bench(BenchOptions(**{**asdict(options), "model": name}), registry=registry,
                                 progress=say, peaks=peaks))
        except (GanzooError, ValueError, RuntimeError) as exc:  # one model that cannot step is a row, not a lost zoo
            reason = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            skipped.append({"model": name, "reason": f"failed: {reason}"})
            say(f"skipped {name}: failed: {reason}")
        if peaks:
            remeasure_peaks(peaks, resolve_device(options.device), options.peak_size)
    for result in benches:  # every model's MFU against the same peak: the largest measured over the whole run
        apply_peaks(result, peaks)
        result["peak_flops_measures"] = ZOO_PEAK_MEASURES.format(
            size=options.peak_size or (8192 if resolve_device(options.device).type == "cuda" else 2048))
    return {"zoo": True, "shape": list(options.shape), "batch_size": options.batch_size, "peak_flops": peaks,
            "benches": benches, "skipped": skipped}
