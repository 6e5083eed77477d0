"""The adversarial update: one training step of any model, with no run folder, logging or signals.

The engine owns every backward pass, the gradient scaler, autocast, DDP, n_critic and the update order; plugins
own the math (losses, regularisers, augmentations, schedules, constraints) and see a StepContext. Build it with
``ganzoo.engine.assemble.build_engine`` (the one assembly path); the run loop (ganzoo.run) calls ``step``.

A step is StyleGAN2-ADA's named phases with ganzoo's contract: ``draw`` a batch and its fakes, then ``phase("D")``
n_critic times and ``phase("G")`` once; each phase is ``score`` (D passes), ``objective`` (the plugin's loss plus
the due regularisers) and the backward/optimiser step. Update orders:

- ``alternating``: n_critic discriminator steps, then one generator step (Goodfellow et al. 2014, Alg. 1). The G
  step scores the last critic step's fakes (``generator_noise="reuse"``, PyTorch's example of Radford et al. 2015)
  or fresh ones (``"fresh"``, Gulrajani et al. 2017, Alg. 1).
- ``simultaneous``: one forward pass; both players' gradients are taken at the same parameters on the same batch
  and applied together (the ALI / PacGAN reference code): ``both`` shares ``score`` and ``objective``.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import nn

from ganzoo.contract.extensions import StepContext, split_output
from ganzoo.contract.types import GAN, draw_labels, draw_latent, loss_calls
from ganzoo.engine.ema import EMA
from ganzoo.engine.precision import Precision, autograd_input_grad, scaled_input_grad
from ganzoo.errors import GanzooError

Batch = tuple[torch.Tensor, Optional[torch.Tensor]]


@dataclass
class Draw:
    """What one phase sees: a real batch and its labels, and the fakes G made from latents `z` (labels `y_fake`)."""

    real: torch.Tensor
    y_real: Optional[torch.Tensor]
    fake: torch.Tensor
    y_fake: Optional[torch.Tensor]
    z: torch.Tensor


def _host_copy(value: Any) -> Any:
    """A deep copy with every tensor cloned to the CPU (load_state_dict moves them back to their devices)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return type(value)((k, _host_copy(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_host_copy(v) for v in value)
    return copy.deepcopy(value)


class AdversarialUpdate:
    """Networks, optimisers, scalers, EMA and extensions of one run, and the step that updates them.

    Made by ``build_engine``; its constructor takes already-built parts (networks on their device, optimisers) and
    changed in 0.2 (it used to build them itself): call ``build_engine(spec, ...)`` instead.
    ``input_grad_fn(out, x)`` is how the penalty gradients d(out)/dx are taken (``torch.autograd.grad``); a tool may
    replace it, as the benchmark's FLOP counter does with ``backward(inputs=...)``, without the step knowing.
    """

    def __init__(self, spec, gan: GAN, extensions, optimizers: dict, *, device: torch.device, precision: Precision,
                 noise_seed: int, channels_last: bool = False, on_nan: str = "stop", dist: Any = None,
                 compile: bool = False, sync_bn: bool = False):
        self.spec, self.gan, self.ext = spec, gan, extensions
        self.device, self.precision, self.on_nan, self.dist = device, precision, on_nan, dist
        self.world_size = dist.world_size if dist is not None else 1
        self.rank = dist.rank if dist is not None else 0
        self.channels_last = channels_last
        self.augment = extensions.augment
        self.opt_g, self.opt_d = optimizers["G"], optimizers["D"]
        self.scaler_g, self.scaler_d = precision.make_scaler(), precision.make_scaler()
        self.ema = EMA(gan.generator, spec.ema_decay) if spec.ema_decay else None
        self.noise = torch.Generator(device=device).manual_seed(noise_seed)
        self.regs = {p: [e for e in extensions.regularizers if e.reg.phase == p] for p in "DG"}
        self.constraints = {p: [c for _, c in extensions.constraints if c.phase == p] for p in "DG"}
        self.base = {"G": dict(lr=spec.lr_g, betas=spec.optimizer_g.options.get("betas")),
                     "D": dict(lr=spec.lr_d, betas=spec.optimizer_d.options.get("betas"))}
        self.input_grad_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = autograd_input_grad
        self.notices: list[str] = []
        self.state: dict = {}
        self.compile = compile
        if spec.update == "simultaneous" and self.world_size > 1:
            raise GanzooError("the simultaneous update order is not supported under torchrun yet; train this model in "
                              "one process (DDP would reduce each player's gradients twice)")
        self._wrap_networks(sync_bn)
        self._zero = torch.zeros((), device=device)
        self._outputs_checked = False  # the plugins' output shapes are checked on the first step's calls
        self.reset_metrics()

    @property
    def opts(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    @property
    def scalers(self) -> dict[str, torch.amp.GradScaler]:
        return {"G": self.scaler_g, "D": self.scaler_d}

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

    def rand(self, n: int, *shape: int) -> torch.Tensor:
        """Uniform numbers for this rank's `n` samples from the update's own generator (checkpointed)."""
        return self._slice(torch.rand((n * self.world_size, *shape), generator=self.noise, device=self.device))

    def draw(self, next_batch: Callable[[], Batch], keep_graph: bool) -> Draw:
        """A real batch and fakes for it; `keep_graph` keeps G's graph (for a G phase that reuses these fakes)."""
        real, y_real = next_batch()
        return Draw(real, y_real, *self._fakes(real.shape[0], keep_graph))

    def redraw_fake(self, d: Draw) -> Draw:
        """Fresh latents and fakes for the same real batch (Gulrajani et al. 2017's G step)."""
        return Draw(d.real, d.y_real, *self._fakes(d.real.shape[0], keep_graph=True))

    def _fakes(self, n: int, keep_graph: bool) -> tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """(fake, y_fake, z) for `n` samples: latents, then labels, from the engine's noise; G under autocast."""
        z, y_fake = self.draw_z(n), self.draw_fake_labels(n)
        with self.precision.autocast(), (contextlib.nullcontext() if keep_graph else torch.no_grad()):
            fake = self.run_G(z, y_fake)
        if not self._outputs_checked:
            self._check_fakes(fake, n)
        return fake, y_fake, z

    def _check_fakes(self, fake: Any, n: int) -> None:
        """G's output is (n, *shape) for n latents: a wrong shape is one line naming the plugin, not a traceback
        deep inside D (or, worse, a run that trains on it)."""
        want = (n, *self.spec.shape)
        if not isinstance(fake, torch.Tensor) or tuple(fake.shape) != want:
            got = tuple(fake.shape) if isinstance(fake, torch.Tensor) else type(fake).__name__
            raise GanzooError(f"generator {self.spec.generator.name!r} returned {got} for {n} latents; it must "
                              f"return a tensor of shape {want} for this dataset's samples {tuple(self.spec.shape)} "
                              f"(fix the plugin's forward)")

    def _check_scores(self, scores: Any, n: int) -> None:
        """D returns one score per sample, (n,) or (n, 1), or one per pack when it declares ``pack_size`` m."""
        m = int(getattr(self.gan.discriminator, "pack_size", 1) or 1)
        allowed = {n} | ({n // m} if m > 1 and n % m == 0 else set())
        if not isinstance(scores, torch.Tensor) or scores.numel() not in allowed or \
                (scores.ndim > 1 and tuple(scores.shape[1:]) != (1,) * (scores.ndim - 1)):
            got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise GanzooError(f"discriminator {self.spec.discriminator.name!r} returned scores of shape {got} for "
                              f"{n} samples; it must return one score per sample, shape ({n},) or ({n}, 1), or one per "
                              f"pack if it sets pack_size (fix the plugin's forward)")

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
        if not self._outputs_checked:
            self._check_scores(scores, x.shape[0])
        if isinstance(aux, torch.Tensor):
            aux = aux.float()
        return scores.float().reshape(-1), aux

    def _score_pair(self, real: torch.Tensor, y_real: Optional[torch.Tensor], fake: torch.Tensor,
                    y_fake: Optional[torch.Tensor], joint: bool = True):
        """Scores of real and fake samples: one forward pass for per-sample critics, two otherwise or when `joint`
        is off, as on steps where a regulariser needs an input gradient (R1/R2): over a joint pass its double
        backward would run over both halves, doubling the penalty's work."""
        if self.fuse_d and joint and (y_real is None) == (y_fake is None):
            y = None if y_real is None else torch.cat([y_real, y_fake])
            scores, aux = self.call_D(self.D, torch.cat([real, fake.to(real.dtype)]), y)
            k = scores.shape[0] // 2
            if aux is None:
                return scores[:k], None, scores[k:], None
            if isinstance(aux, torch.Tensor):
                return scores[:k], aux[: aux.shape[0] // 2], scores[k:], aux[aux.shape[0] // 2:]
        real_scores, real_aux = self.call_D(self.D, real, y_real)
        fake_scores, fake_aux = self.call_D(self.D, fake, y_fake)
        return real_scores, real_aux, fake_scores, fake_aux

    def context(self, step: int, total: int, phase: str, d: Draw, real: torch.Tensor, fake: torch.Tensor,
                real_scores: Optional[torch.Tensor], fake_scores: torch.Tensor, real_aux: Any = None,
                fake_aux: Any = None) -> StepContext:
        """The StepContext of one phase: the draw's labels and latents, D's scores, and D / input_grad / rand bound
        to this engine (autocast, augmentation, the phase's gradient scaler)."""
        D = self.D if phase == "D" else self.D_for_g
        scaler = self.scalers[phase]
        return StepContext(
            step=step, total_steps=total, phase=phase, num_classes=self.spec.num_classes, state=self.state,
            real=real, fake=fake, real_scores=real_scores, fake_scores=fake_scores, real_labels=d.y_real,
            fake_labels=d.y_fake, real_aux=real_aux, fake_aux=fake_aux, z=d.z,
            D=lambda x, labels=None: self.call_D(D, x, labels)[0],
            D_with_aux=lambda x, labels=None: self.call_D(D, x, labels),
            input_grad=lambda scores, x: scaled_input_grad(scaler, scores, x, self.input_grad_fn),
            rand=self.rand, generator=self.gan.generator, draw_z=self.draw_z, autocast=self.precision.autocast,
        )

    # -- the step ----------------------------------------------------------------------------------------------------
    def step(self, step: int, total: int, next_batch: Callable[[], Batch]) -> None:
        """One training step (1-based `step` of `total`); ``next_batch() -> (x, labels or None)``."""
        if self._compile_unproven:
            return self._first_compiled_step(step, total, next_batch)
        self.apply_schedules(step, total)
        if self.spec.update == "simultaneous":
            self.both(self.draw(next_batch, keep_graph=True), step, total)
        else:
            reuse = self.spec.generator_noise == "reuse"
            for k in range(self.spec.n_critic):
                d = self.draw(next_batch, keep_graph=reuse and k == self.spec.n_critic - 1)
                self.phase("D", d, step, total)
            self.phase("G", d if reuse else self.redraw_fake(d), step, total)
        if self.ema is not None:
            self.ema.update(self.gan.generator, self.ema_decay(step, total))
        self._outputs_checked = True

    def phase(self, p: str, d: Draw, step: int, total: int) -> None:
        """One player's update: score, objective (loss + due regularisers), backward and the optimiser step."""
        with self._d_frozen() if p == "G" else contextlib.nullcontext():
            ctx = self.score(p, d, step, total)
            loss, objective = self.objective(ctx)
            self.opts[p].zero_grad(set_to_none=True)
            if self._finite_or_skip(objective):
                self.scalers[p].scale(objective).backward()
                self._optimizer_step(p, loss)
        if p == "D" and self.augment is not None:
            self.augment.feedback(ctx.real_scores.detach(), ctx)
        if self._separate_due(p, step):
            self.reg_phase(p, d, step, total)

    def reg_phase(self, p: str, d: Draw, step: int, total: int) -> None:
        """The due `separate` regularisers of player `p` as their own update (StyleGAN2-ADA's Dreg and Greg phases):
        only their terms (x k), D's passes they need on the same draw, a backward and an optimiser step."""
        with self._d_frozen() if p == "G" else contextlib.nullcontext():
            real, fake = d.real.detach(), d.fake.detach()
            real_scores = real_aux = fake_scores = fake_aux = None
            scored = any(getattr(e.reg, "needs_scores", True) for e in self._due(p, step, separate=True))
            if p == "D":
                real_grad, fake_grad = self._due_input_grads(step, separate=True)
                real, fake = real.requires_grad_(real_grad), fake.requires_grad_(fake_grad)
                real_scores, real_aux = self.call_D(self.D, real, d.y_real)
                if fake_grad or scored:
                    fake_scores, fake_aux = self.call_D(self.D, fake, d.y_fake)
            elif scored:
                fake_scores, fake_aux = self.call_D(self.D_for_g, fake, d.y_fake)
            ctx = self.context(step, total, p, d, real, fake, real_scores, fake_scores, real_aux, fake_aux)
            term = self.regularize(ctx, separate=True)
            self.opts[p].zero_grad(set_to_none=True)
            if term is not None and self._finite_or_skip(term):
                self.scalers[p].scale(term).backward()
                if p == "G" and self.dist is not None and self.dist.enabled:
                    self._average_grads(self.gan.generator)  # a G-side term (path length) does not run through DDP
                self._optimizer_step(p, None)

    def _average_grads(self, net: nn.Module) -> None:
        """Average `net`'s gradients over the ranks, as DDP would have: for a backward that did not go through the
        DDP wrapper (a regulariser calling the plain generator)."""
        import torch.distributed as dist

        for param in net.parameters():
            if param.grad is not None:
                dist.all_reduce(param.grad)
                param.grad /= self.dist.world_size

    def _due(self, p: str, step: int, separate: bool = False) -> list:
        """The regularisers of player `p` that run on `step`: in the main objective, or (`separate`) in their own
        step."""
        return [e for e in self.regs[p] if e.separate == separate and step % e.every == 0]

    def _separate_due(self, p: str, step: int) -> bool:
        return bool(self._due(p, step, separate=True))

    def both(self, d: Draw, step: int, total: int) -> None:
        """The simultaneous update: both players' gradients at the same parameters on one batch, then both steps."""
        ctx_d = self.score("D", d, step, total)
        loss_d, total_d = self.objective(ctx_d)
        ctx_g = self.context(step, total, "G", d, ctx_d.real, ctx_d.fake, ctx_d.real_scores, ctx_d.fake_scores,
                              ctx_d.real_aux, ctx_d.fake_aux)
        loss_g, total_g = self.objective(ctx_g)
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
            self.augment.feedback(ctx_d.real_scores.detach(), ctx_d)
        for p in "DG":
            if self._separate_due(p, step):
                self.reg_phase(p, d, step, total)

    def score(self, p: str, d: Draw, step: int, total: int) -> StepContext:
        """D's passes for phase `p` and the context they give: in D, real and fake scores (inputs made to need
        gradients on the steps an R1/R2-style regulariser runs); in G, the fakes' scores (and the real ones, without
        gradient, for relativistic losses)."""
        if p == "G":
            fake_scores, fake_aux = self.call_D(self.D_for_g, d.fake, d.y_fake)
            real_scores = real_aux = None
            if self.gan.loss.needs_real_scores_in_g_step:
                with torch.no_grad():  # G's gradient flows through the fake scores only
                    real_scores, real_aux = self.call_D(self.D_for_g, d.real, d.y_real)
            return self.context(step, total, "G", d, d.real, d.fake, real_scores, fake_scores, real_aux, fake_aux)
        real_grad, fake_grad = self._due_input_grads(step)
        real = d.real.detach().requires_grad_(True) if real_grad else d.real
        if self.spec.update == "simultaneous":
            fake = d.fake  # keeps G's graph: G's gradient is taken from these same scores
        else:
            fake = d.fake.detach().requires_grad_(True) if fake_grad else d.fake.detach()
        real_scores, real_aux, fake_scores, fake_aux = self._score_pair(real, d.y_real, fake, d.y_fake,
                                                                        joint=not (real_grad or fake_grad))
        return self.context(step, total, "D", d, real, fake, real_scores, fake_scores, real_aux, fake_aux)

    def objective(self, ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, loss + due regularisers) of the context's phase: the plugin's math in one calling convention."""
        d_loss, g_loss = self._loss_calls()
        if ctx.phase == "D":
            loss = d_loss(ctx.real_scores, ctx.fake_scores, ctx)
        else:
            loss = g_loss(ctx.fake_scores, ctx)
        reg = self.regularize(ctx)
        return loss, (loss if reg is None else loss + reg)

    def _loss_calls(self) -> tuple[Callable, Callable]:
        """loss_calls(loss), made again only when the loss object or its methods are replaced (a spy in a test)."""
        loss = self.gan.loss
        own = getattr(loss, "__dict__", {})
        key = (id(loss), own.get("discriminator_loss"), own.get("generator_loss"))
        if key != getattr(self, "_loss_key", None):
            self._loss_key, self._losses = key, loss_calls(loss)
        return self._losses

    def regularize(self, ctx: StepContext, separate: bool = False) -> Optional[torch.Tensor]:
        """The due regularisers of the phase (the main objective's, or with `separate` those with their own step):
        a lazy one (every k) runs on steps k, 2k, ... with its term x k (Karras et al. 2020), scaled by the
        schedules; each is logged as reg/NAME (unscaled by k)."""
        terms = None
        for name, reg, every, _ in self._due(ctx.phase, ctx.step, separate):
            term = reg(ctx).float() * every
            for _, sched in self.ext.schedules:
                term = term * sched.regularizer_scale(name, ctx.step, ctx.total_steps)
            self._add(f"reg/{name}", term.detach() / every)
            terms = term if terms is None else terms + term
        return terms

    def _due_input_grads(self, step: int, separate: bool = False) -> tuple[bool, bool]:
        due = [e.reg for e in self._due("D", step, separate)]
        return (any(getattr(r, "needs_real_grad", False) for r in due),
                any(getattr(r, "needs_fake_grad", False) for r in due))

    @contextlib.contextmanager
    def _d_frozen(self):
        """D's weights need no gradients in the G phase, only its input does (about 8% fewer FLOPs for a conv GAN)."""
        self.gan.discriminator.requires_grad_(False)
        try:
            yield
        finally:
            self.gan.discriminator.requires_grad_(True)

    def _first_compiled_step(self, step: int, total: int, next_batch: Callable[[], Batch]) -> None:
        """The first compiled step, from a snapshot: when the compiler fails part-way (after D's optimiser stepped,
        say), everything the step touched is restored and the step runs eagerly, so no half-applied step remains.
        `next_batch` is rewound when it has ``state_dict``/``load_state_dict`` (ganzoo's samplers do)."""
        self._compile_unproven = False
        snapshot = self._snapshot(next_batch)
        try:
            return self.step(step, total, next_batch)
        except Exception as exc:  # compilers fail in many ways (no C compiler, unsupported ops, ...)
            self._restore(snapshot, next_batch)
            self.compile = False
            self.use_eager()
            first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            self.notices.append(f"torch.compile failed ({type(exc).__name__}: {first}); running eager")
            return self.step(step, total, next_batch)

    def _snapshot(self, next_batch: Any) -> dict[str, Any]:
        """Everything the step may change. The engine's state is copied to host memory (a device copy would double
        the weights and optimiser moments on the GPU for one step; load_state_dict moves it back); ctx.state and the
        sampler's state keep their devices, as plugins and samplers expect; the metric dicts are copied shallowly
        (`_add` replaces their tensors, it never changes one in place)."""
        sampler_state = getattr(next_batch, "state_dict", None)
        return {
            "engine": _host_copy(self.state_dict()), "ctx_state": copy.deepcopy(self.state),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "metrics": (dict(self._sums), dict(self._counts), dict(self._nonfinite), self._skipped),
            "sampler": copy.deepcopy(sampler_state()) if callable(sampler_state) else None,
        }

    def _restore(self, snapshot: dict[str, Any], next_batch: Any) -> None:
        self.load_state_dict(snapshot["engine"])
        self.state.clear()
        self.state.update(snapshot["ctx_state"])
        torch.set_rng_state(snapshot["torch"])
        if snapshot["cuda"]:
            torch.cuda.set_rng_state_all(snapshot["cuda"])
        self._sums, self._counts, self._nonfinite, self._skipped = snapshot["metrics"]
        if snapshot["sampler"] is not None:
            next_batch.load_state_dict(snapshot["sampler"])

    def apply_schedules(self, step: int, total: int) -> None:
        """Per-step learning rates and betas (only when the run has schedules: otherwise nothing is touched)."""
        if not self.ext.schedules:
            return
        for net, opt in self.opts.items():
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

    def _finite_or_skip(self, total: torch.Tensor) -> bool:
        """With --on-nan skip and no gradient scaler, a non-finite objective skips the update (one host sync).
        Under a scaler every step goes through it: the scaler skips overflowing steps and backs off its scale."""
        if self.on_nan == "skip" and not self.scaler_d.is_enabled() and not bool(torch.isfinite(total)):
            self._skipped += 1
            return False
        return True

    def _optimizer_step(self, phase: str, loss: Optional[torch.Tensor]) -> None:
        scaler = self.scalers[phase]
        scaler.step(self.opts[phase])
        scaler.update()
        net = self.gan.discriminator if phase == "D" else self.gan.generator
        for constraint in self.constraints[phase]:
            with torch.no_grad():
                constraint(net)
        if loss is not None:  # a regulariser's own step logs its term as reg/NAME only
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
            **({"regularizers": states} if (states := self._regularizer_states()) else {}),
        }

    def _stateful_regularizers(self) -> dict[str, Any]:
        return {e.name: e.reg for e in self.ext.regularizers if callable(getattr(e.reg, "state_dict", None))}

    def _regularizer_states(self) -> dict[str, Any]:
        """Each stateful regulariser's state_dict (LeCam's anchors, the path-length mean), cloned so a snapshot
        or a checkpoint never aliases the live tensors."""
        return {name: _host_copy(reg.state_dict()) for name, reg in self._stateful_regularizers().items()}

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
        for net, opt in self.opts.items():
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
        saved = state.get("regularizers", {})
        for name, reg in self._stateful_regularizers().items():
            if name not in saved:
                raise KeyError(f"regularizers/{name}")
            reg.load_state_dict(saved[name])

    def sample_net(self) -> nn.Module:
        """The generator samples come from: the EMA copy when there is one."""
        return self.ema.shadow if self.ema is not None else self.gan.generator
