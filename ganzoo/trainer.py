"""The one trainer every model runs on.

Plugins provide networks and loss formulas; this module owns everything else: device and precision (autocast, and
a gradient scaler for fp16), the n-critic schedule, the gradient penalty, EMA, sampling, logging, checkpoints and
resuming. The hot loop never waits on the device: losses are accumulated as tensors and read every `log_every`
steps.
"""

from __future__ import annotations

import datetime
import math
import signal
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from . import __version__, distributed
from .build import build
from .checkpoint import load_checkpoint, save_checkpoint
from .components import GAN, Dataset, generate
from .config import TrainConfig
from .data import BatchSampler, load_dataset
from .ema import EMA
from .errors import CheckpointError, DivergenceError, GanzooError
from .images import save_samples
from .precision import Precision, resolve_device, resolve_precision
from .registry import Registry, get_registry
from .runfolder import RunFolder


class Interrupted(GanzooError):
    """SIGINT/SIGTERM arrived; the run saved a checkpoint and can be resumed."""

    exit_code = 130


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    gan: GAN
    config: dict[str, Any]
    last_metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    images_per_second: float = 0.0
    eval: dict[str, Any] = field(default_factory=dict)


def _has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d)) for m in module.modules())


def make_adam(params, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Fused Adam where this torch build has it for the device (one kernel for all parameters), else foreach."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


class Trainer:
    """Builds a run from a TrainConfig (or resumes one from its folder) and trains it."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        registry: Optional[Registry] = None,
        resume: Optional[Path] = None,
        console: Any = None,
        progress: bool = True,
        dataset: Optional[Dataset] = None,
    ):
        self.config = config.validate()
        self.registry = registry or get_registry()
        self.console = console
        self.show_progress = progress
        self.dist = distributed.from_environment(config.device)
        self.device = resolve_device(config.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.precision = Precision(self.device, resolve_precision(config.precision, self.device))
        self._stop_requested: Optional[str] = None
        self._penalty_grad_via_backward = False
        self._setup(dataset)
        self.start_step = 0
        if resume is not None:
            self._restore(load_checkpoint(self.run.checkpoint))
        elif self.dist.is_main and self.run.holds_run():
            raise CheckpointError(
                f"{self.run.path} already holds a run; continue it with `ganzoo run --resume {self.run.path}` "
                f"or pass another --out"
            )

    # -- setup ---------------------------------------------------------------------------------------------------
    def _setup(self, dataset: Optional[Dataset]) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.dataset = dataset or load_dataset(
            cfg.dataset, data_dir=cfg.data_dir, image_size=cfg.image_size, seed=cfg.seed, registry=self.registry
        )
        self.gan = build(
            cfg.model,
            self.dataset.shape,
            generator=cfg.generator,
            discriminator=cfg.discriminator,
            loss=cfg.loss,
            latent_dim=cfg.latent_dim,
            registry=self.registry,
        )
        recipe = self.gan.recipe
        # Resolve every default now, so config.json repeats the run exactly.
        cfg.steps = cfg.steps or recipe.steps
        cfg.batch_size = cfg.batch_size or recipe.batch_size
        cfg.n_critic = cfg.n_critic or recipe.n_critic
        cfg.latent_dim = self.gan.latent_dim
        if cfg.ema_decay is None:
            cfg.ema_decay = recipe.ema_decay or 0.0
        cfg.sample_every = cfg.sample_every or max(1, cfg.steps // 10)
        cfg.checkpoint_every = cfg.checkpoint_every or max(1, min(cfg.steps, 500))
        self.lr_g = cfg.lr or recipe.lr_g
        self.lr_d = cfg.lr or recipe.lr_d
        self.betas = tuple(recipe.betas)

        G, D = self.gan.generator, self.gan.discriminator
        conv = _has_conv(G) or _has_conv(D)
        self.channels_last = self.dataset.kind == "image" and (
            cfg.channels_last == "on" or (cfg.channels_last == "auto" and conv)
        )
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        G.to(self.device, memory_format=memory_format).train()
        D.to(self.device, memory_format=memory_format).train()
        data = self.dataset.data.to(self.device)
        if self.channels_last:
            data = data.contiguous(memory_format=torch.channels_last)
        if cfg.batch_size % self.dist.world_size:
            raise GanzooError(f"--batch-size {cfg.batch_size} (the global batch) must be divisible by the "
                              f"{self.dist.world_size} processes; use a multiple of {self.dist.world_size}")
        self.sampler = BatchSampler(data, cfg.batch_size, seed=cfg.seed + 1, rank=self.dist.rank,
                                    world_size=self.dist.world_size)
        self.noise = torch.Generator(device=self.device).manual_seed(cfg.seed + 2)
        fixed = torch.Generator(device=self.device).manual_seed(cfg.seed + 3)
        n_fixed = 2500 if self.dataset.kind == "vector" else 64
        self.fixed_noise = torch.randn(n_fixed, self.gan.latent_dim, generator=fixed, device=self.device)

        self.opt_g = make_adam(G.parameters(), self.lr_g, self.betas, self.device)
        self.opt_d = make_adam(D.parameters(), self.lr_d, self.betas, self.device)
        self.scaler_g = self.precision.make_scaler()
        self.scaler_d = self.precision.make_scaler()
        self.ema = EMA(G, cfg.ema_decay) if cfg.ema_decay else None

        out = Path(cfg.out) if cfg.out else Path("runs") / f"{self.gan.name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
        cfg.out = str(out)
        self.run = RunFolder(out)
        self._zero = torch.zeros((), device=self.device)
        self.last_eval: dict[str, Any] = {}
        self._reset_accumulators()
        self._wrap_networks()

    def _wrap_networks(self) -> None:
        """DDP wrappers under torchrun (made once), then torch.compile when asked."""
        G, D = self.gan.generator, self.gan.discriminator
        self.notices: list[str] = []
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            if self.config.sync_bn and self.device.type != "cuda":
                raise GanzooError("--sync-bn needs CUDA devices (PyTorch's SyncBatchNorm is GPU-only); on CPU "
                                  "drop it: batch-norm statistics then stay per process")
            if self.config.sync_bn:
                G = self.gan.generator = nn.SyncBatchNorm.convert_sync_batchnorm(G)
                D = self.gan.discriminator = nn.SyncBatchNorm.convert_sync_batchnorm(D)
            G, D = DDP(G, device_ids=ids), DDP(D, device_ids=ids)
        self._eager = (G, D)
        # Only a discriminator that declares it scores each sample on its own (no batch norm, no minibatch
        # statistics) may see real and fake samples in one batch.
        self.fuse_d = bool(getattr(self.gan.discriminator, "per_sample", False))
        if self.config.sync_bn and not self.dist.enabled:
            self.notices.append("--sync-bn has no effect in a single process (it applies under torchrun)")
        self._use_eager()
        if self.config.compile:
            self._compile_networks()

    def _use_eager(self) -> None:
        self.G, self.D = self._eager
        # The generator step runs D without DDP: D's weights take no gradient there, so there is nothing to reduce.
        self.D_for_g = self.gan.discriminator
        self._compile_unproven = False

    def _compile_networks(self) -> None:
        """torch.compile what can be compiled; a critic with a gradient penalty stays eager, with a notice."""
        G, D = self._eager
        self.G = torch.compile(G)
        if float(getattr(self.gan.loss, "gradient_penalty_weight", 0.0) or 0.0):
            self.notices.append("discriminator left eager: its gradient penalty needs double backward, "
                                "which torch.compile does not support")
        else:
            self.D = torch.compile(D)
            self.D_for_g = self.D if not self.dist.enabled else torch.compile(self.gan.discriminator)
        self._compile_unproven = True

    def step(self) -> None:
        """One training step; the first compiled step falls back to eager if compilation fails."""
        if not self._compile_unproven:
            self.train_step()
            return
        self._compile_unproven = False
        try:
            self.train_step()
        except Exception as exc:  # compilers fail in many ways (no C compiler, unsupported ops, ...)
            self.config.compile = False
            self._use_eager()
            first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            self.notices.append(f"torch.compile failed ({type(exc).__name__}: {first}); running eager")
            self.train_step()

    def describe(self) -> dict[str, Any]:
        """Everything needed to repeat the run, and how it was run (for config.json and the summary)."""
        return {
            "ganzoo_version": __version__,
            "train": self.config.to_dict(),
            "model": self.gan.name,
            "components": self.gan.components,
            "recipe": {k: (dict(v) if isinstance(v, dict) or hasattr(v, "items") else v)
                       for k, v in asdict(self.gan.recipe).items()},
            "hyperparameters": {"lr_g": self.lr_g, "lr_d": self.lr_d, "betas": list(self.betas),
                                "n_critic": self.config.n_critic, "batch_size": self.config.batch_size,
                                "latent_dim": self.gan.latent_dim, "ema_decay": self.config.ema_decay},
            "dataset": {"name": self.dataset.name, "shape": list(self.dataset.shape),
                        "size": int(self.dataset.data.shape[0])},
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            "precision": self.precision.name,
            "channels_last": self.channels_last,
            "compile": bool(self.config.compile),
            "notices": list(self.notices),
            "torch": torch.__version__,
            "plugins": self.registry.distributions(),
            "world_size": self.dist.world_size,
            "backend": self.dist.backend,
        }

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def state_dict(self, step: int) -> dict[str, Any]:
        return {
            "step": step,
            "generator": self.gan.generator.state_dict(),
            "discriminator": self.gan.discriminator.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "noise": self.noise.get_state(),
            },
            "model": self.gan.name,
            "components": dict(self.gan.components),
        }

    def save_checkpoint(self, step: int) -> Path:
        save_checkpoint(self.state_dict(step), self.run.checkpoint)
        return self.run.checkpoint

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.gan.generator.load_state_dict(state["generator"])
            self.gan.discriminator.load_state_dict(state["discriminator"])
            if self.ema is not None:
                if state.get("ema") is None:
                    raise KeyError("ema")
                self.ema.load_state_dict(state["ema"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
            self.sampler.load_state_dict(state["sampler"])
            torch.set_rng_state(state["rng"]["torch"])
            if torch.cuda.is_available() and state["rng"]["cuda"]:
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
            self.noise.set_state(state["rng"]["noise"])
            self.start_step = int(state["step"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint {self.run.checkpoint} does not match this run's model or settings ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:120]}); resume with the config it was saved with"
            ) from None

    # -- one training step ---------------------------------------------------------------------------------------
    def _draw(self, draw, n: int, *shape: int) -> torch.Tensor:
        """Random numbers for this rank's `n` samples, drawn for the whole global batch and sliced, so N processes
        see exactly what one process would (data-parallel runs then match single-process runs)."""
        world = self.dist.world_size
        values = draw((n * world, *shape), generator=self.noise, device=self.device)
        return values.tensor_split(world)[self.dist.rank] if world > 1 else values

    def _z(self, n: int) -> torch.Tensor:
        return self._draw(torch.randn, n, self.gan.latent_dim)

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """E[(||grad_x D(x_hat)||_2 - target)^2] on random interpolates (Gulrajani et al. 2017).

        Follows PyTorch's AMP recipe for gradient penalties: the penalty's own gradient is taken of the *scaled*
        output (so fp16 does not underflow), then unscaled before the norm, which is computed in fp32.
        """
        alpha = self._draw(torch.rand, real.shape[0], *(1,) * (real.ndim - 1))
        x_hat = torch.lerp(fake.detach().float(), real.float(), alpha).requires_grad_(True)
        with self.precision.autocast():
            scores = self.D(x_hat)
        out = scores.float().sum()
        scaled = self.scaler_d.is_enabled()
        if scaled:
            out = self.scaler_d.scale(out)
        if self._penalty_grad_via_backward:
            # Same gradient through backward(inputs=...): torch.utils.flop_counter cannot follow autograd.grad,
            # so the benchmark's FLOP count switches to this path.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                torch.autograd.backward(out, inputs=[x_hat], create_graph=True)
            grad, x_hat.grad = x_hat.grad, None
        else:
            (grad,) = torch.autograd.grad(out, x_hat, create_graph=True)
        grad = grad.float()
        if scaled:
            grad = grad / self.scaler_d.scale(torch.ones((), device=self.device))
        norm = grad.flatten(1).norm(2, dim=1)
        return ((norm - self.gan.loss.gradient_penalty_target) ** 2).mean()

    def train_step(self) -> None:
        """n_critic discriminator updates, then one generator update on the last critic step's fakes."""
        G, D, loss = self.G, self.D, self.gan.loss
        n_critic = self.config.n_critic
        skip_bad = self.config.on_nan == "skip"
        gp_weight = float(getattr(loss, "gradient_penalty_weight", 0.0) or 0.0)
        fake = None
        for i in range(n_critic):
            real = self.sampler.next()
            z = self._z(real.shape[0])
            last = i == n_critic - 1
            with self.precision.autocast():
                if last:
                    fake = G(z)  # keep the graph: the generator step reuses these samples
                else:
                    with torch.no_grad():
                        fake = G(z)
                if self.fuse_d:
                    # A per-sample critic scores real and fake samples in one larger forward pass. (The penalty's
                    # samples stay apart: their double backward would otherwise run over the whole batch.)
                    n = real.shape[0]
                    scores = D(torch.cat([real, fake.detach().to(real.dtype)])).float().reshape(-1)
                    real_scores, fake_scores = scores[:n], scores[n:]
                else:
                    real_scores = D(real).float().reshape(-1)
                    fake_scores = D(fake.detach()).float().reshape(-1)
            loss_d = loss.discriminator_loss(real_scores, fake_scores)
            if gp_weight:
                loss_d = loss_d + gp_weight * self.gradient_penalty(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            if skip_bad and not bool(torch.isfinite(loss_d)):
                self.skipped += 1
                continue
            self.scaler_d.scale(loss_d).backward()
            self.scaler_d.step(self.opt_d)
            self.scaler_d.update()
            self._acc_d += loss_d.detach()
            self._n_d += 1

        # Generator step: D's weights need no gradients here, only its input does.
        self.gan.discriminator.requires_grad_(False)
        try:
            with self.precision.autocast():
                scores = self.D_for_g(fake).float().reshape(-1)
            loss_g = loss.generator_loss(scores)
            self.opt_g.zero_grad(set_to_none=True)
            if skip_bad and not bool(torch.isfinite(loss_g)):
                self.skipped += 1
            else:
                self.scaler_g.scale(loss_g).backward()
                self.scaler_g.step(self.opt_g)
                self.scaler_g.update()
                self._acc_g += loss_g.detach()
                self._n_g += 1
        finally:
            self.gan.discriminator.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.gan.generator)

    # -- the loop ------------------------------------------------------------------------------------------------
    def _reset_accumulators(self) -> None:
        self._acc_d = self._zero.clone()
        self._acc_g = self._zero.clone()
        self._n_d = self._n_g = 0
        self.skipped = 0

    def _log(self, step: int, images: int, seconds: float) -> dict[str, Any]:
        loss_d = distributed.all_reduce_mean(self._acc_d / max(self._n_d, 1), self.dist).item()
        loss_g = distributed.all_reduce_mean(self._acc_g / max(self._n_g, 1), self.dist).item()
        record = {
            "step": step,
            "loss_d": loss_d,
            "loss_g": loss_g,
            "img_per_s": images / seconds if seconds > 0 else None,
            "time": time.time(),
        }
        if self.skipped:
            record["skipped_updates"] = self.skipped
        if self.dist.is_main:
            self.run.append_metrics(record)
        self._reset_accumulators()
        return record

    def _check_finite(self, step: int, since: int, record: dict[str, Any], last_good: int) -> None:
        bad = [k for k in ("loss_d", "loss_g") if not math.isfinite(record[k])]
        if not bad:
            bad = [name for name, net in (("generator", self.gan.generator), ("discriminator", self.gan.discriminator))
                   if not all(bool(torch.isfinite(p).all()) for p in net.parameters())]
        if bad and (self.config.on_nan == "stop" or bad[0] in ("generator", "discriminator")):
            raise DivergenceError(
                f"training diverged {f'at step {step}' if since + 1 >= step else f'between steps {since + 1} and {step}'}: "
                f"{', '.join(bad)} became non-finite; the last good checkpoint "
                f"(step {last_good}) is kept in {self.run.path}; lower --lr, try --precision fp32, or use "
                f"--on-nan skip"
            )

    def sample(self, n: Optional[int] = None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Samples (EMA generator when there is one) as float32 on the CPU: from the fixed noise, or `n` new ones.

        Pass a `generator` (on the training device) to leave training's random streams untouched.
        """
        net = self.ema.shadow if self.ema is not None else self.gan.generator
        if n is None:
            z = self.fixed_noise
        else:
            z = torch.randn(n, self.gan.latent_dim, generator=generator or self.noise, device=self.device)
        return generate(net, z, self.precision.autocast()).cpu()

    def evaluate(self, samples: Optional[int] = None, feature_extractor: Optional[str] = None,
                 weights: Optional[str] = None, plot: bool = True) -> dict[str, Any]:
        """Quality metrics of the current generator on fresh samples (fixed seed), see ganzoo.evaluate."""
        from .evaluate import DEFAULT_SAMPLES, evaluate_samples, resolve_extractor, sample_generator, save_points_plot

        n = samples or self.config.eval_samples or DEFAULT_SAMPLES[self.dataset.kind]
        noise = torch.Generator(device=self.device).manual_seed(self.config.seed + 1_000_003)
        fake = sample_generator(lambda k: self.sample(k, generator=noise), n)
        extractor = None
        if self.dataset.kind == "image":
            key = (feature_extractor or self.config.feature_extractor, weights or self.config.inception_weights)
            if getattr(self, "_extractor_key", None) != key:  # build (or train) the extractor once per run
                self._extractor = resolve_extractor(key[0], self.dataset, self.device, key[1], self.registry)
                self._extractor_key = key
            extractor = self._extractor
        elif plot:
            save_points_plot(fake, self.dataset, self.run.path / "eval_points.png")
        return evaluate_samples(fake, self.dataset, extractor)

    def save_sample_grid(self, step: int) -> Path:
        samples = self.sample()
        real = centers = None
        if self.dataset.kind == "vector":
            real = self.dataset.data[:2500]
            centers = self.dataset.centers
        return save_samples(samples, self.run.samples / f"step_{step:07d}.png", real=real, centers=centers)

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            self._stop_requested = signal.Signals(signum).name

        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def fit(self) -> TrainResult:
        cfg = self.config
        main = self.dist.is_main
        if main:
            self.run.create()
            if self.start_step == 0:
                self.run.write_config(self.describe())
            else:
                self.run.truncate_metrics_after(self.start_step)
        previous_handlers = self._install_signal_handlers()
        progress = self._make_progress() if main else None
        images_per_step = cfg.batch_size * cfg.n_critic
        last_good = self.start_step
        record: dict[str, Any] = {}
        t_start = t_last = time.perf_counter()
        last_logged = self.start_step
        step = self.start_step
        try:
            if progress is not None:
                progress.start()
                task = progress.add_task(self.gan.name, total=cfg.steps, completed=self.start_step, stats="")
            for step in range(self.start_step + 1, cfg.steps + 1):
                self.step()
                at_log = step % cfg.log_every == 0 or step == cfg.steps
                if self.dist.enabled:  # all ranks must agree, so they only compare notes at log points
                    stopping = at_log and distributed.any_rank(self._stop_requested is not None, self.dist, self.device)
                else:
                    stopping = self._stop_requested is not None
                if at_log or stopping:
                    if self.device.type == "cuda":
                        torch.cuda.synchronize(self.device)
                    now = time.perf_counter()
                    record = self._log(step, images_per_step * (step - last_logged), now - t_last)
                    self._check_finite(step, last_logged, record, last_good)
                    t_last, last_logged = now, step
                    if progress is not None:
                        progress.update(task, completed=step, stats=(
                            f"D {record['loss_d']:.3f}  G {record['loss_g']:.3f}  {record['img_per_s'] or 0:,.0f} img/s"))
                if main and step % cfg.sample_every == 0:
                    self.save_sample_grid(step)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps or stopping:
                    if not record or record.get("step") != step:
                        record = self._log(step, images_per_step * (step - last_logged), time.perf_counter() - t_last)
                        self._check_finite(step, last_logged, record, last_good)
                        t_last, last_logged = time.perf_counter(), step
                    if main:
                        self.save_checkpoint(step)
                    last_good = step
                if main and cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
                    self.last_eval = {"step": step, **self.evaluate()}
                    self.run.append_metrics({"step": step, "eval": self.last_eval})
                if stopping:
                    raise Interrupted(
                        f"stopped by {self._stop_requested or 'a signal to another rank'} at step {step}; "
                        f"checkpoint saved, continue with "
                        f"`ganzoo run --resume {self.run.path}`"
                    )
        finally:
            if progress is not None:
                progress.stop()
            for sig, old in previous_handlers.items():
                signal.signal(sig, old)
        if main and cfg.steps % cfg.sample_every:
            self.save_sample_grid(step)
        seconds = time.perf_counter() - t_start
        self.ranks_in_sync = distributed.ranks_in_sync([self.gan.generator, self.gan.discriminator], self.dist,
                                                       self.device)
        if main and self.dist.enabled:
            self.run.append_metrics({"step": step, "ranks_in_sync": self.ranks_in_sync,
                                     "world_size": self.dist.world_size})
        done = max(step - self.start_step, 0)
        return TrainResult(
            run_dir=self.run.path,
            step=step,
            gan=self.gan,
            config=self.describe(),
            last_metrics=record,
            seconds=seconds,
            images_per_second=images_per_step * done / seconds if seconds > 0 else 0.0,
            eval=self.last_eval,
        )

    def _make_progress(self):
        if not self.show_progress:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=self.console,
        )


def train(config: Optional[TrainConfig] = None, *, progress: bool = False, registry: Optional[Registry] = None,
          **settings: Any) -> TrainResult:
    """Train a model from Python: ``ganzoo.train(model=NAME, steps=500, out="runs/demo")``."""
    if config is None:
        config = TrainConfig(**settings)
    elif settings:
        raise TypeError("pass either a TrainConfig or keyword settings, not both")
    return Trainer(config, registry=registry, progress=progress).fit()


def resume(run_dir: Path, *, steps: Optional[int] = None, progress: bool = False,
           registry: Optional[Registry] = None, console: Any = None) -> TrainResult:
    """Continue a run from its folder's config.json and checkpoint.pt, optionally to a new step count."""
    run = RunFolder(Path(run_dir))
    saved = run.read_config()
    config = TrainConfig.from_dict(saved["train"])
    config.out = str(run.path)
    if steps is not None:
        config.steps = steps
    if not run.checkpoint.exists():
        raise CheckpointError(f"{run.path} has no {run.checkpoint.name}; the run stopped before its first checkpoint")
    trainer = Trainer(config, registry=registry, resume=run.path, progress=progress, console=console)
    if trainer.start_step >= config.steps:
        raise GanzooError(
            f"the run in {run.path} is already at step {trainer.start_step}; pass --steps larger than that to continue"
        )
    if steps is not None and trainer.dist.is_main:
        described = trainer.describe()
        trainer.run.write_config({**saved, "train": described["train"]})
    return trainer.fit()
