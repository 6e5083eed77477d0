"""The adversarial update: one training step of any model, with no run folder, logging or signals.

The trainer owns every backward pass, the gradient scaler, autocast, DDP, n_critic and the update order; plugins
own the math (losses, regularisers, augmentations, schedules, constraints) and see a StepContext. Tests, benchmarks
and profiling build this class directly; ganzoo.run.trainer runs it in a loop with checkpoints and logging.

Update orders:
- ``alternating``: n_critic discriminator steps, then one generator step (Goodfellow et al. 2014, Alg. 1). The G
  step scores the last critic step's fakes (``generator_noise="reuse"``, PyTorch's example of Radford et al. 2015)
  or fresh ones (``"fresh"``, Gulrajani et al. 2017, Alg. 1).
- ``simultaneous``: one forward pass; both players' gradients are taken at the same parameters on the same batch
  and applied together (the ALI / PacGAN reference code).
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from typing import Any, Callable, Optional

import torch
from torch import nn

from ganzoo.engine.assemble import Extensions, make_optimizer
from ganzoo.contract.types import GAN, draw_labels, draw_latent
from ganzoo.engine.ema import EMA
from ganzoo.errors import GanzooError
from ganzoo.contract.extensions import StepContext, split_output
from ganzoo.engine.precision import Precision
from ganzoo.registry import Registry
from ganzoo.spec.runspec import RunSpec

Batch = tuple[torch.Tensor, Optional[torch.Tensor]]


def accepts_ctx(fn: Callable, n_scores: int) -> bool:
    """Whether a loss method takes the step context after its ``n_scores`` score arguments."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) for p in params):
        return True
    return any(p.name == "ctx" for p in params) or len(params) > n_scores


def has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d)) for m in module.modules())


class AdversarialUpdate:
    """Networks, optimisers, scalers, EMA and extensions of one run, and the step that updates them."""

    def __init__(self, spec: RunSpec, gan: GAN, extensions: Extensions, *, device: torch.device, precision: Precision,
                 registry: Registry, seed: int = 0, channels_last: bool = False, on_nan: str = "stop",
                 dist: Any = None, compile: bool = False, sync_bn: bool = False):
        self.spec, self.gan, self.ext = spec, gan, extensions
        self.device, self.precision = device, precision
        self.on_nan = on_nan
        self.dist = dist
        self.world_size = dist.world_size if dist is not None else 1
        self.rank = dist.rank if dist is not None else 0
        self.channels_last = channels_last
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        gan.generator.to(device, memory_format=memory_format).train()
        gan.discriminator.to(device, memory_format=memory_format).train()
        if gan.class_probs is not None:
            gan.class_probs = gan.class_probs.to(device)
        self.augment = extensions.augment.to(device) if extensions.augment is not None else None
        self.opt_g = make_optimizer(spec, "G", gan.generator.parameters(), registry)
        self.opt_d = make_optimizer(spec, "D", gan.discriminator.parameters(), registry)
        self.scaler_g = precision.make_scaler()
        self.scaler_d = precision.make_scaler()
        self.ema = EMA(gan.generator, spec.ema_decay) if spec.ema_decay else None
        self.noise = torch.Generator(device=device).manual_seed(seed + 2)
        self.d_ctx = accepts_ctx(gan.loss.discriminator_loss, 2)
        self.g_ctx = accepts_ctx(gan.loss.generator_loss, 1)
        self.regs = {"D": [(n, r) for n, r in extensions.regularizers if r.phase == "D"],
                     "G": [(n, r) for n, r in extensions.regularizers if r.phase == "G"]}
        self.constraints = {"D": [c for _, c in extensions.constraints if c.phase == "D"],
                            "G": [c for _, c in extensions.constraints if c.phase == "G"]}
        self.base = {"G": dict(lr=spec.lr_g, betas=spec.optimizer_g.options.get("betas")),
                     "D": dict(lr=spec.lr_d, betas=spec.optimizer_d.options.get("betas"))}
        self.grad_via_backward = False  # see input_grad: flop_counter cannot follow torch.autograd.grad
        self.notices: list[str] = []
        self.state: dict = {}
        self.compile = compile
        if spec.update == "simultaneous" and self.world_size > 1:
            raise GanzooError("the simultaneous update order is not supported under torchrun yet; train this model in "
                              "one process (DDP would reduce each player's gradients twice)")
        self._wrap_networks(sync_bn)
        self._zero = torch.zeros((), device=device)
        self.reset_metrics()

    # -- networks --------------------------------------------------------------------------------------------------
    def _wrap_networks(self, sync_bn: bool) -> None:
        """DDP wrappers under torchrun (made once), then torch.compile when asked."""
        G, D = self.gan.generator, self.gan.discriminator
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            if sync_bn and self.device.type != "cuda":
                raise GanzooError("--sync-bn needs CUDA devices (PyTorch's SyncBatchNorm is GPU-only); on CPU "
                                  "drop it: batch-norm statistics then stay per process")
            if sync_bn:
                G = self.gan.generator = nn.SyncBatchNorm.convert_sync_batchnorm(G)
                D = self.gan.discriminator = nn.SyncBatchNorm.convert_sync_batchnorm(D)
            G, D = DDP(G, device_ids=ids), DDP(D, device_ids=ids)
        elif sync_bn:
            self.notices.append("--sync-bn has no effect in a single process (it applies under torchrun)")
        self._eager = (G, D)
        # Only a discriminator that declares it scores each sample on its own (no batch norm, no minibatch
        # statistics) may see real and fake samples in one batch.
        self.fuse_d = bool(getattr(self.gan.discriminator, "per_sample", False))
        self.use_eager()
        if self.compile:
            self._compile_networks()

    def use_eager(self) -> None:
        self.G, self.D = self._eager
        # The generator step runs D without DDP: D's weights take no gradient there, so there is nothing to reduce.
        self.D_for_g = self.gan.discriminator
        self._compile_unproven = False

    def _compile_networks(self) -> None:
        """torch.compile what can be compiled; a critic with an input-gradient regulariser stays eager."""
        G, D = self._eager
        self.G = torch.compile(G)
        if self.ext.regularizers:
            self.notices.append("discriminator left eager: its regularisers take input gradients (double "
                                "backward), which torch.compile does not support")
        else:
            self.D = torch.compile(D)
            self.D_for_g = self.D if self.world_size == 1 else torch.compile(self.gan.discriminator)
        self._compile_unproven = True

    # -- random draws ------------------------------------------------------------------------------------------------
    def _slice(self, values: torch.Tensor) -> torch.Tensor:
        """Draws are made for the whole global batch and sliced, so N processes see exactly what one would."""
        return values.tensor_split(self.world_size)[self.rank] if self.world_size > 1 else values

    def draw_z(self, n: int) -> torch.Tensor:
        return self._slice(draw_latent(self.gan.generator, n * self.world_size, self.spec.latent_dim, self.noise,
                                       self.device))

    def draw_fake_labels(self, n: int) -> Optional[torch.Tensor]:
        if not self.spec.conditional:
            return None
        return self._slice(draw_labels(n * self.world_size, self.spec.num_classes, self.gan.class_probs, self.noise,
                                       self.device))

    def draw(self, fn: Callable, n: int, *shape: int) -> torch.Tensor:
        """Extra random numbers for this rank's `n` samples from the update's own generator (checkpointed)."""
        return self._slice(fn((n * self.world_size, *shape), generator=self.noise, device=self.device))

    # -- network calls -------------------------------------------------------------------------------------------------
    def run_G(self, z: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
        return self.G(z) if y is None else self.G(z, y)

    def call_D(self, D: Callable, x: torch.Tensor, y: Optional[torch.Tensor]) -> tuple[torch.Tensor, Any]:
        """The trainer's D call: augmentation, conditioning, autocast; float32 scores and D's auxiliary output."""
        if self.augment is not None:
            x = self.augment(x)
        with self.precision.autocast():
            out = D(x) if y is None or not self.spec.conditional else D(x, y)
        scores, aux = split_output(out)
        if isinstance(aux, torch.Tensor):
            aux = aux.float()
        return scores.float().reshape(-1), aux

    def _score_pair(self, D: Callable, real: torch.Tensor, y_real: Optional[torch.Tensor], fake: torch.Tensor,
                    y_fake: Optional[torch.Tensor], joint: bool = True):
        """Scores of real and fake samples: one forward pass for per-sample critics, two otherwise or when `joint`
        is off, as on steps where a regulariser needs an input gradient (R1/R2): over a joint pass its double
        backward would run over both halves, doubling the penalty's work."""
        if self.fuse_d and joint and (y_real is None) == (y_fake is None):
            y = None if y_real is None else torch.cat([y_real, y_fake])
            scores, aux = self.call_D(D, torch.cat([real, fake.to(real.dtype)]), y)
            k = scores.shape[0] // 2
            if aux is None:
                return scores[:k], None, scores[k:], None
            if isinstance(aux, torch.Tensor):
                return scores[:k], aux[: aux.shape[0] // 2], scores[k:], aux[aux.shape[0] // 2:]
        real_scores, real_aux = self.call_D(D, real, y_real)
        fake_scores, fake_aux = self.call_D(D, fake, y_fake)
        return real_scores, real_aux, fake_scores, fake_aux

    def input_grad(self, scaler: torch.amp.GradScaler, scores: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """d(sum scores)/dx in float32 with its graph kept (so a penalty on it trains D).

        PyTorch's AMP recipe for gradient penalties: the gradient is taken of the *scaled* scores (so small values
        survive fp16), then unscaled in float32. An overflow gives inf, which makes the step's gradients inf; the
        scaler then skips the step and backs off its scale (no divergence is reported).
        """
        out = scores.float().sum()
        scaled = scaler.is_enabled()
        if scaled:
            out = scaler.scale(out)
        if self.grad_via_backward:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                torch.autograd.backward(out, inputs=[x], create_graph=True)
            grad, x.grad = x.grad, None
        else:
            (grad,) = torch.autograd.grad(out, x, create_graph=True)
        grad = grad.float()
        if scaled:
            grad = grad / scaler.scale(torch.ones((), device=grad.device))
        return grad

    @contextlib.contextmanager
    def counting_flops(self):
        """Inside, input gradients go through backward(inputs=...), which torch.utils.flop_counter can count."""
        self.grad_via_backward = True
        try:
            yield
        finally:
            self.grad_via_backward = False

    def _context(self, step: int, total: int, phase: str, **values: Any) -> StepContext:
        D = self.D if phase == "D" else self.D_for_g
        scaler = self.scaler_d if phase == "D" else self.scaler_g
        return StepContext(
            step=step, total_steps=total, phase=phase, num_classes=self.spec.num_classes, state=self.state,
            D=lambda x, labels=None: self.call_D(D, x, labels)[0],
            D_with_aux=lambda x, labels=None: self.call_D(D, x, labels),
            input_grad=lambda scores, x: self.input_grad(scaler, scores, x),
            rand=lambda n, *shape: self.draw(torch.rand, n, *shape),
            **values,
        )

    def _regularize(self, phase: str, ctx: StepContext, step: int, total: int) -> Optional[torch.Tensor]:
        terms = None
        for name, reg in self.regs[phase]:
            if step % reg.every:
                continue
            term = reg(ctx).float() * reg.every
            for _, sched in self.ext.schedules:
                term = term * sched.regularizer_scale(name, step, total)
            self._add(f"reg/{name}", term.detach() / reg.every)
            terms = term if terms is None else terms + term
        return terms

    def _needs_grad(self, which: str, phase: str, step: int) -> bool:
        return any(getattr(reg, f"needs_{which}_grad", False) and step % reg.every == 0 for _, reg in self.regs[phase])

    # -- the step ----------------------------------------------------------------------------------------------------
    def apply_schedules(self, step: int, total: int) -> None:
        """Per-step learning rates and betas (only when the run has schedules: otherwise nothing is touched)."""
        if not self.ext.schedules:
            return
        for net, opt in (("G", self.opt_g), ("D", self.opt_d)):
            lr, betas = self.base[net]["lr"], self.base[net]["betas"]
            for _, sched in self.ext.schedules:
                lr = lr * sched.lr_scale(net, step, total)
                if betas is not None:
                    betas = tuple(sched.betas(net, step, total, tuple(betas)))
            for group in opt.param_groups:
                group["lr"] = lr
                if betas is not None and "betas" in group:
                    group["betas"] = tuple(betas)

    def ema_decay(self, step: int, total: int) -> float:
        decay = self.spec.ema_decay
        for _, sched in self.ext.schedules:
            decay = sched.ema_decay(step, total, decay)
        return decay

    def step(self, step: int, total: int, next_batch: Callable[[], Batch]) -> None:
        """One training step (1-based `step` of `total`); the first compiled step falls back to eager on failure."""
        if not self._compile_unproven:
            self._step(step, total, next_batch)
            return
        self._compile_unproven = False
        try:
            self._step(step, total, next_batch)
        except Exception as exc:  # compilers fail in many ways (no C compiler, unsupported ops, ...)
            self.compile = False
            self.use_eager()
            first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            self.notices.append(f"torch.compile failed ({type(exc).__name__}: {first}); running eager")
            self._step(step, total, next_batch)

    def _step(self, step: int, total: int, next_batch: Callable[[], Batch]) -> None:
        self.apply_schedules(step, total)
        if self.spec.update == "simultaneous":
            self._simultaneous(step, total, next_batch)
        else:
            self._alternating(step, total, next_batch)
        if self.ema is not None:
            self.ema.update(self.gan.generator, self.ema_decay(step, total))

    def _alternating(self, step: int, total: int, next_batch: Callable[[], Batch]) -> None:
        n_critic = self.spec.n_critic
        reuse = self.spec.generator_noise == "reuse"
        fake = z = y_fake = real = y_real = None
        for i in range(n_critic):
            real, y_real = next_batch()
            n = real.shape[0]
            z, y_fake = self.draw_z(n), self.draw_fake_labels(n)
            keep_graph = reuse and i == n_critic - 1
            with self.precision.autocast(), (contextlib.nullcontext() if keep_graph else torch.no_grad()):
                fake = self.run_G(z, y_fake)
            self._d_phase(step, total, real, y_real, fake, y_fake, z)
        if not reuse:
            n = real.shape[0]
            z, y_fake = self.draw_z(n), self.draw_fake_labels(n)
            with self.precision.autocast():
                fake = self.run_G(z, y_fake)
        self._g_phase(step, total, real, y_real, fake, y_fake, z)

    def _d_phase(self, step, total, real, y_real, fake, y_fake, z) -> None:
        real_grad, fake_grad = self._needs_grad("real", "D", step), self._needs_grad("fake", "D", step)
        real_in = real.detach().requires_grad_(True) if real_grad else real
        fake_in = fake.detach().requires_grad_(True) if fake_grad else fake.detach()
        real_scores, real_aux, fake_scores, fake_aux = self._score_pair(self.D, real_in, y_real, fake_in, y_fake,
                                                                        joint=not (real_grad or fake_grad))
        ctx = self._context(step, total, "D", real=real_in, fake=fake_in, real_scores=real_scores,
                            fake_scores=fake_scores, real_labels=y_real, fake_labels=y_fake, real_aux=real_aux,
                            fake_aux=fake_aux, z=z)
        loss_d = self._d_loss(real_scores, fake_scores, ctx)
        reg = self._regularize("D", ctx, step, total)
        self._apply("D", loss_d, loss_d if reg is None else loss_d + reg)
        if self.augment is not None:
            self.augment.feedback(real_scores.detach(), ctx)

    def _g_phase(self, step, total, real, y_real, fake, y_fake, z) -> None:
        self.gan.discriminator.requires_grad_(False)  # D's weights need no gradients here, only its input does
        try:
            fake_scores, fake_aux = self.call_D(self.D_for_g, fake, y_fake)
            real_scores = real_aux = None
            if self.gan.loss.needs_real_scores_in_g_step:
                with torch.no_grad():  # G's gradient flows through the fake scores only
                    real_scores, real_aux = self.call_D(self.D_for_g, real, y_real)
            ctx = self._context(step, total, "G", real=real, fake=fake, real_scores=real_scores,
                                fake_scores=fake_scores, real_labels=y_real, fake_labels=y_fake, real_aux=real_aux,
                                fake_aux=fake_aux, z=z)
            loss_g = self._g_loss(fake_scores, ctx)
            reg = self._regularize("G", ctx, step, total)
            self._apply("G", loss_g, loss_g if reg is None else loss_g + reg)
        finally:
            self.gan.discriminator.requires_grad_(True)

    def _simultaneous(self, step: int, total: int, next_batch: Callable[[], Batch]) -> None:
        """Both players' gradients at the same parameters on the same batch, then both optimiser steps."""
        real, y_real = next_batch()
        n = real.shape[0]
        z, y_fake = self.draw_z(n), self.draw_fake_labels(n)
        with self.precision.autocast():
            fake = self.run_G(z, y_fake)
        real_grad, fake_grad = self._needs_grad("real", "D", step), self._needs_grad("fake", "D", step)
        real_in = real.detach().requires_grad_(True) if real_grad else real
        real_scores, real_aux, fake_scores, fake_aux = self._score_pair(self.D, real_in, y_real, fake, y_fake,
                                                                        joint=not (real_grad or fake_grad))
        common = dict(real=real_in, fake=fake, real_scores=real_scores, fake_scores=fake_scores, real_labels=y_real,
                      fake_labels=y_fake, real_aux=real_aux, fake_aux=fake_aux, z=z)
        ctx_d = self._context(step, total, "D", **common)
        loss_d = self._d_loss(real_scores, fake_scores, ctx_d)
        reg_d = self._regularize("D", ctx_d, step, total)
        ctx_g = self._context(step, total, "G", **common)
        loss_g = self._g_loss(fake_scores, ctx_g)
        reg_g = self._regularize("G", ctx_g, step, total)
        total_d = loss_d if reg_d is None else loss_d + reg_d
        total_g = loss_g if reg_g is None else loss_g + reg_g
        d_params = [p for p in self.gan.discriminator.parameters() if p.requires_grad]
        g_params = [p for p in self.gan.generator.parameters() if p.requires_grad]
        self.opt_d.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        ok_d, ok_g = self._finite_or_skip(total_d), self._finite_or_skip(total_g)
        if ok_d:
            self.scaler_d.scale(total_d).backward(inputs=d_params, retain_graph=ok_g)
        if ok_g:
            self.scaler_g.scale(total_g).backward(inputs=g_params)
        if ok_d:
            self._optimizer_step("D", loss_d)
        if ok_g:
            self._optimizer_step("G", loss_g)
        if self.augment is not None:
            self.augment.feedback(real_scores.detach(), ctx_d)

    def _d_loss(self, real_scores, fake_scores, ctx) -> torch.Tensor:
        if self.d_ctx:
            return self.gan.loss.discriminator_loss(real_scores, fake_scores, ctx)
        return self.gan.loss.discriminator_loss(real_scores, fake_scores)

    def _g_loss(self, fake_scores, ctx) -> torch.Tensor:
        if self.g_ctx:
            return self.gan.loss.generator_loss(fake_scores, ctx)
        return self.gan.loss.generator_loss(fake_scores)

    def _finite_or_skip(self, total: torch.Tensor) -> bool:
        """With --on-nan skip and no gradient scaler, a non-finite objective skips the update (one host sync).
        Under a scaler every step goes through it: the scaler skips overflowing steps and backs off its scale."""
        if self.on_nan == "skip" and not self.scaler_d.is_enabled() and not bool(torch.isfinite(total)):
            self._skipped += 1
            return False
        return True

    def _apply(self, phase: str, loss: torch.Tensor, total: torch.Tensor) -> None:
        opt = self.opt_d if phase == "D" else self.opt_g
        scaler = self.scaler_d if phase == "D" else self.scaler_g
        opt.zero_grad(set_to_none=True)
        if not self._finite_or_skip(total):
            return
        scaler.scale(total).backward()
        self._optimizer_step(phase, loss)

    def _optimizer_step(self, phase: str, loss: torch.Tensor) -> None:
        opt = self.opt_d if phase == "D" else self.opt_g
        scaler = self.scaler_d if phase == "D" else self.scaler_g
        scaler.step(opt)
        scaler.update()
        net = self.gan.discriminator if phase == "D" else self.gan.generator
        for constraint in self.constraints[phase]:
            with torch.no_grad():
                constraint(net)
        self._add(f"loss_{phase.lower()}", loss.detach().float())

    # -- metrics (read only at log points: no host sync in the hot loop) -----------------------------------------------
    def reset_metrics(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, torch.Tensor] = {}
        self._nonfinite: dict[str, torch.Tensor] = {}
        self._skipped = 0

    def _add(self, key: str, value: torch.Tensor) -> None:
        finite = torch.isfinite(value)
        self._sums[key] = self._sums.get(key, self._zero) + torch.where(finite, value, self._zero)
        self._counts[key] = self._counts.get(key, self._zero) + finite.float()
        self._nonfinite[key] = self._nonfinite.get(key, self._zero) + (~finite).float()

    def read_metrics(self, reduce: Callable[[torch.Tensor], torch.Tensor] = lambda t: t) -> dict[str, Any]:
        """Mean of each logged value since the last read (one host sync), with non-finite counts; then reset."""
        out: dict[str, Any] = {}
        for key in sorted(self._sums):
            count = float(reduce(self._counts[key]).item())
            bad = float(reduce(self._nonfinite[key]).item())
            out[key] = float(reduce(self._sums[key]).item()) / count if count else float("nan")
            if bad:
                out.setdefault("nonfinite", {})[key] = int(bad)
        if self._skipped:
            out["skipped_updates"] = self._skipped
        if self.augment is not None:
            for key, value in self.augment.stats().items():
                out[f"augment/{key}"] = float(value)
        if self.ext.schedules:
            out["lr_g"] = self.opt_g.param_groups[0]["lr"]
            out["lr_d"] = self.opt_d.param_groups[0]["lr"]
        self.reset_metrics()
        return out

    @property
    def scaled(self) -> bool:
        return self.scaler_d.is_enabled()

    # -- state -------------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.gan.generator.state_dict(),
            "discriminator": self.gan.discriminator.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "augment": self.augment.state_dict() if self.augment is not None else None,
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore everything; learning rates and betas then come from the spec (a hand edit of config.json is
        applied, documented in docs/usage.md), not from the saved optimiser state."""
        self.gan.generator.load_state_dict(state["generator"])
        self.gan.discriminator.load_state_dict(state["discriminator"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise KeyError("ema")
            self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for net, opt in (("G", self.opt_g), ("D", self.opt_d)):
            for group in opt.param_groups:
                group["lr"] = self.base[net]["lr"]
                if self.base[net]["betas"] is not None and "betas" in group:
                    group["betas"] = tuple(self.base[net]["betas"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        if self.augment is not None:
            if state.get("augment") is None:
                raise KeyError("augment")
            self.augment.load_state_dict(state["augment"])
        self.noise.set_state(state["noise"])

    def sample_net(self) -> nn.Module:
        """The generator samples come from: the EMA copy when there is one."""
        return self.ema.shadow if self.ema is not None else self.gan.generator


def build_update(model: str, shape: tuple[int, ...], *, precision: str = "fp32", device: Any = "cpu",
                 batch_size: Optional[int] = None, seed: int = 0, channels_last: str = "auto", compile: bool = False,
                 num_classes: Optional[int] = None, registry: Optional[Registry] = None, **spec_overrides: Any):
    """A model's update for samples of `shape`, with no run folder, sampler or logging (benchmarks, profiling,
    tests): ``update.step(i, total, next_batch)`` with ``next_batch() -> (x, labels or None)``."""
    from ganzoo.engine.assemble import build_extensions, build_gan
    from ganzoo.spec.resolve import resolve_recipe, spec_from_recipe
    from ganzoo.registry import get_registry

    registry = registry or get_registry()
    device = torch.device(device)
    name, recipe = resolve_recipe(model, registry=registry)
    spec = spec_from_recipe(name, recipe, shape, num_classes=num_classes, registry=registry, batch_size=batch_size,
                            **spec_overrides)
    torch.manual_seed(seed)
    probs = torch.full((num_classes,), 1.0 / num_classes) if spec.conditional else None
    gan = build_gan(spec, registry, class_probs=probs)
    conv = has_conv(gan.generator) or has_conv(gan.discriminator)
    use_cl = len(shape) == 3 and (channels_last == "on" or (channels_last == "auto" and conv))
    return AdversarialUpdate(spec, gan, build_extensions(spec, registry), device=device,
                             precision=Precision(device, precision), registry=registry, seed=seed,
                             channels_last=use_cl, compile=compile)
