"""The run loop every model runs on: checkpoints, logging, sample grids, evaluation and signals.

The math of a step lives in ganzoo.engine.update (buildable without a run folder); this module resolves a
config once into a frozen RunSpec, builds the update, and loops it. The hot loop never waits on the device:
losses are accumulated as tensors and read every `log_every` steps. What happens is emitted on one event stream
(ganzoo.run.events) that the progress bar, the loggers, notices and user callbacks subscribe to.
"""

from __future__ import annotations

import datetime
import math
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from ganzoo.contract.types import GAN, Dataset, generate
from ganzoo.data import class_probs_of, load_dataset, make_sampler, num_classes_of
from ganzoo.engine import distributed
from ganzoo.engine.assemble import build_engine
from ganzoo.engine.precision import Precision, device_label, resolve_device, resolve_precision
from ganzoo.errors import CheckpointError, DivergenceError, GanzooError
from ganzoo.registry import Registry, get_registry
from ganzoo.run.events import EventStream, LoggerSubscriber, NoticeSubscriber, stderr_notice
from ganzoo.run.loggers import LoggerSet, build_loggers, picture_tensor
from ganzoo.run.state import restore_run_state, run_state
from ganzoo.spec.config import TrainConfig
from ganzoo.spec.resolve import resolve_recipe, spec_from_recipe, with_component_options
from ganzoo.spec.runspec import RunSpec
from ganzoo.spec.seeds import Seeds
from ganzoo.store.checkpoint import load_checkpoint, save_checkpoint
from ganzoo.store.folder import RunFolder, check_checkpoint_owner, new_run_id
from ganzoo.store.images import image_grid, save_picture, scatter_plot
from ganzoo.store.lock import RunLock
from ganzoo.version import __version__

ProgressCallback = Callable[[dict], None]
Notice = Callable[[str], None]
__all__ = ["Interrupted", "Notice", "ProgressCallback", "TrainResult", "Trainer", "resolve_spec", "stderr_notice"]


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

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """lr, betas, n_critic, batch size, latent dim and EMA decay, derived from config.json's "spec"."""
        return RunSpec.from_dict(self.config["spec"]).hyperparameters


def resolve_spec(config: TrainConfig, dataset: Dataset, registry: Registry) -> RunSpec:
    """A new run's config plus the registry's recipe into the frozen RunSpec (the one place defaults apply)."""
    name, recipe = resolve_recipe(config.model, generator=config.generator, discriminator=config.discriminator,
                                  loss=config.loss, registry=registry)
    recipe = with_component_options(recipe, dataset.shape, registry, generator_options=config.generator_options,
                                    discriminator_options=config.discriminator_options,
                                    loss_options=config.loss_options)
    lr_g = config.lr_g or config.lr
    lr_d = config.lr_d or config.lr
    return spec_from_recipe(
        name, recipe, dataset.shape, num_classes=num_classes_of(dataset), registry=registry,
        latent_dim=config.latent_dim, steps=config.steps, batch_size=config.batch_size, n_critic=config.n_critic,
        lr_g=lr_g, lr_d=lr_d, betas=config.betas, ema_decay=config.ema_decay,
        extra_regularizers=tuple(config.regularizers or ()),
        drop_recipe_regularizers=config.no_recipe_regularizers, augment=config.augment,
        extra_schedules=tuple(config.schedules or ()), extra_constraints=tuple(config.constraints or ()),
    )


class Trainer:
    """Builds a run from a TrainConfig (or resumes one from its folder) and trains it.

    The caller's config is never mutated: ``trainer.config`` is a resolved copy.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        registry: Optional[Registry] = None,
        resume: Optional[Path] = None,
        console: Any = None,
        progress: Any = True,
        dataset: Optional[Dataset] = None,
        spec: Optional[RunSpec] = None,
        restart: bool = False,
        from_previous: bool = False,
        notice: Optional[Notice] = None,
    ):
        self.config = cfg = replace(config).validate()
        self.events = EventStream((NoticeSubscriber(notice or stderr_notice),))
        self.restart = bool(restart) and resume is None
        self._lock: Optional[RunLock] = None
        self.loggers: LoggerSet = LoggerSet([])
        self.registry = registry or get_registry()
        self.console = console
        self.progress = progress
        self.dist = distributed.from_environment(cfg.device)
        self.device = resolve_device(cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.precision = Precision(self.device, resolve_precision(cfg.precision, self.device))
        if callable(progress) and self.dist.is_main:
            self.events.subscribe(progress)  # a user callback: every event from here on (main rank)
        self._stop_requested: Optional[str] = None
        torch.manual_seed(cfg.seed)
        self.dataset = dataset or load_dataset(cfg.dataset, data_dir=cfg.data_dir, image_size=cfg.image_size,
                                               seed=cfg.seed, registry=self.registry)
        self.spec = spec or resolve_spec(cfg, self.dataset, self.registry)
        if tuple(self.spec.shape) != tuple(self.dataset.shape):
            raise GanzooError(f"the run was made for samples of shape {tuple(self.spec.shape)} but the dataset gives "
                              f"{tuple(self.dataset.shape)}; resume with the same dataset and --image-size")
        # The resolved values, so config.json's "train" repeats the run's settings exactly (a new, resolved copy:
        # TrainConfig is frozen, neither the caller's nor any other config is ever changed in place).
        steps = self.spec.steps
        self.config = cfg = replace(
            cfg, steps=steps, batch_size=self.spec.batch_size, n_critic=self.spec.n_critic,
            latent_dim=self.spec.latent_dim, ema_decay=self.spec.ema_decay,
            sample_every=cfg.sample_every or max(1, steps // 10),
            checkpoint_every=cfg.checkpoint_every or max(1, min(steps, 500)))
        if cfg.batch_size % self.dist.world_size:
            raise GanzooError(f"--batch-size {cfg.batch_size} (the global batch) must be divisible by the "
                              f"{self.dist.world_size} processes; use a multiple of {self.dist.world_size}")
        self.seeds = Seeds(cfg.seed)
        probs = class_probs_of(self.dataset, self.spec.num_classes) if self.spec.conditional else None
        self.update = build_engine(
            self.spec, registry=self.registry, device=self.device, precision=self.precision, seed=cfg.seed,
            channels_last=cfg.channels_last, class_probs=probs, compile=cfg.compile, dist=self.dist,
            on_nan=cfg.on_nan, sync_bn=cfg.sync_bn)
        self.gan, self.extensions, self.channels_last = self.update.gan, self.update.ext, self.update.channels_last
        if cfg.eval_every:  # refuse an unusable sample count now, not after hours of training
            from ganzoo.metrics.evaluate import check_sample_count

            check_sample_count(cfg.eval_samples, self.dataset.kind, len(self.dataset.data), flag="--eval-samples")
        self.sampler = make_sampler(self.dataset, cfg.batch_size, seed=self.seeds.sampler, device=self.device,
                                    rank=self.dist.rank, world_size=self.dist.world_size,
                                    channels_last=self.channels_last, mode=cfg.data_mode, mirror=cfg.mirror)
        self._fixed_inputs()
        out = Path(cfg.out) if cfg.out else Path("runs") / f"{self.gan.name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
        self.config = cfg = replace(cfg, out=str(out))
        self.run = RunFolder(out)
        self.last_eval: dict[str, Any] = {}
        self.start_step = 0
        self.checkpoint_path: Optional[Path] = None
        self.run_id = new_run_id()  # a resume takes its folder's instead
        self._stamp_run_id = False  # a resumed folder from before run ids gets its id written into config.json
        if resume is not None:
            self._resume_from(from_previous)
        elif self.dist.is_main:
            self._claim_new_run()

    def _claim_new_run(self) -> None:
        """Fail fast, before any file is written: an existing folder is locked now (a second process is refused,
        naming the holder's pid) and checked; a folder that does not exist yet is only checked, and locked when
        fit() first writes, so a trainer that is built but never fit creates nothing."""
        if self.run.path.is_dir():
            self._hold_folder()
        try:
            if not self.restart:
                self.run.check_new_run_target()
        except BaseException:
            self.close()  # a refused folder is not kept locked by the error (or a notebook's last exception)
            raise

    def _resume_from(self, from_previous: bool) -> None:
        """Load the run's checkpoint under the folder's lock, held from here to the end of fit()."""
        self._hold_folder()
        try:
            if self.dist.is_main:
                self.run.clean_stale_temp()
            path = self.run.resume_checkpoint(from_previous=from_previous)
            saved = self.run.read_config()
            state = load_checkpoint(path, notice=self.notice)
            check_checkpoint_owner(state, saved, path)
            # a folder from before run ids keeps its checkpoint's (or gets one): config.json says it from fit() on
            self.run_id = saved.get("run_id") or state.get("run_id") or self.run_id
            self._stamp_run_id = not saved.get("run_id")
            self._restore(state, path)
            self.checkpoint_path = path
        except BaseException:
            self.close()
            raise

    def _hold_folder(self) -> None:
        """The one place the trainer takes its run folder's lock (main rank; other ranks write nothing). It holds it
        until close(), which fit() calls however it ends."""
        if self._lock is None and self.dist.is_main:
            self._lock = self.run.lock().acquire()

    def notice(self, line: str) -> None:
        """A one-line notice, as a ``notice`` event (printed by the NoticeSubscriber, seen by every subscriber)."""
        self.events.emit("notice", text=line)

    def close(self) -> None:
        """Release the run folder's lock (fit() does this when it ends; call it for a trainer you never fit)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _fixed_inputs(self) -> None:
        """Fixed noise (and labels: one class per row) for the sample grids, from their own seed."""
        fixed = torch.Generator(device=self.device).manual_seed(self.seeds.grid)
        if self.spec.conditional:
            per_class = 8
            n = self.spec.num_classes * per_class
            self.fixed_labels = torch.arange(self.spec.num_classes, device=self.device).repeat_interleave(per_class)
            self.grid_columns = per_class
        else:
            n = 2500 if self.dataset.kind == "vector" else 64
            self.fixed_labels = None
            self.grid_columns = None
        self.fixed_noise = torch.randn(n, self.spec.latent_dim, generator=fixed, device=self.device)
        own = getattr(self.gan.generator, "sample_latent", None)
        if own is not None:
            self.fixed_noise = own(n, generator=fixed, device=self.device)

    # -- v0.1 attribute names, kept for plugin tests and scripts -------------------------------------------------------
    @property
    def notices(self) -> list[str]:
        return self.update.notices

    @property
    def ema(self):
        return self.update.ema

    @property
    def opt_g(self):
        return self.update.opt_g

    @property
    def opt_d(self):
        return self.update.opt_d

    def step(self, step: Optional[int] = None) -> None:
        """One training step (used by tests and profiling; `fit` runs the loop)."""
        self._steps_taken = getattr(self, "_steps_taken", self.start_step) + 1
        self.update.step(step or self._steps_taken, self.config.steps, self.sampler)

    def describe(self) -> dict[str, Any]:
        """Everything needed to repeat the run, and how it was run (for config.json and the summary)."""
        return {
            "ganzoo_version": __version__,
            "run_id": self.run_id,
            "train": self.config.settings_dict(),
            "spec": self.spec.to_dict(),
            "model": self.gan.name,
            "components": self.gan.components,
            "citation": self.spec.citation,
            "dataset": {"name": self.dataset.name, "shape": list(self.dataset.shape),
                        "size": int(self.dataset.data.shape[0]), **sampler_description(self.sampler)},
            "device": str(self.device),
            "device_name": device_label(self.device),
            "precision": self.precision.name,
            "channels_last": self.channels_last,
            "compile": bool(self.update.compile),
            "notices": list(self.notices),
            "torch": torch.__version__,
            "plugins": self.registry.distributions(),
            "world_size": self.dist.world_size,
            "backend": self.dist.backend,
        }

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def state_dict(self, step: int) -> dict[str, Any]:
        return run_state(step, self.update, self.sampler, self.run_id)

    def save_checkpoint(self, step: int) -> Path:
        """Write checkpoint.pt (the previous one becomes checkpoint.prev.pt), then fsync metrics.jsonl and the folder,
        so what was logged up to a checkpoint survives a power cut with it."""
        save_checkpoint(self.state_dict(step), self.run.checkpoint, notice=self.notice)
        self.run.sync()
        self.events.emit("checkpoint", step=step, path=self.run.checkpoint)
        return self.run.checkpoint

    def _restore(self, state: dict[str, Any], path: Optional[Path] = None) -> None:
        try:
            self.start_step = restore_run_state(state, self.update, self.sampler)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint {path or self.run.checkpoint} does not match this run's model or settings "
                f"({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:120]}); resume with the config it was saved with"
            ) from None

    # -- logging ---------------------------------------------------------------------------------------------------
    def _log(self, step: int, images: int, seconds: float) -> dict[str, Any]:
        values = self.update.read_metrics(lambda t: distributed.all_reduce_mean(t, self.dist))
        record = {"step": step, **values, "img_per_s": images / seconds if seconds > 0 else None, "time": time.time()}
        self.events.emit("log", step=step, total=self.config.steps, record=record)
        return record

    def _check_finite(self, step: int, since: int, record: dict[str, Any], last_good: int) -> None:
        """Divergence: non-finite weights, or non-finite losses (unless a gradient scaler or --on-nan skip handled
        them: the scaler skips overflowing steps and backs off its scale, which is not divergence)."""
        bad = [name for name, net in (("generator", self.gan.generator), ("discriminator", self.gan.discriminator))
               if not all(bool(torch.isfinite(p).all()) for p in net.parameters())]
        if not bad:
            losses = [k for k in ("loss_d", "loss_g") if k in record]
            if self.update.scaled or self.config.on_nan == "skip":
                bad = [k for k in losses if not math.isfinite(record[k])]  # no finite value in the whole window
            else:
                bad = [k for k in losses if k in record.get("nonfinite", {}) or not math.isfinite(record[k])]
        if bad:
            where = f"at step {step}" if since + 1 >= step else f"between steps {since + 1} and {step}"
            kept = (f"the last good checkpoint (step {last_good}) is kept in {self.run.path}"
                    if last_good > 0 and self.run.has_checkpoint()
                    else f"no checkpoint was written yet; start over with `ganzoo run --resume {self.run.path} "
                         f"--restart` (or new settings and `--out {self.run.path} --restart`)")
            raise DivergenceError(f"training diverged {where}: {', '.join(bad)} became non-finite; {kept}; lower the "
                                  f"learning rate, try --precision fp32, or use --on-nan skip")

    # -- samples and evaluation --------------------------------------------------------------------------------------
    def sample(self, n: Optional[int] = None, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Samples (EMA generator when there is one) as float32 on the CPU: from the fixed inputs, or `n` new ones.

        Pass a `generator` (on the CPU or the training device; latents are drawn where it lives, then moved) to leave
        training's random streams untouched.
        """
        net = self.update.sample_net()
        if n is None:
            z, y = self.fixed_noise, self.fixed_labels
        else:
            from ganzoo.contract.types import draw_labels, draw_latent

            gen = generator or self.update.noise
            where = gen.device
            z = draw_latent(self.gan.generator, n, self.spec.latent_dim, gen, where).to(self.device)
            y = None
            if self.spec.conditional:
                y = labels if labels is not None else draw_labels(n, self.spec.num_classes, self.gan.class_probs, gen,
                                                                  where)
                y = y.to(self.device)
        return generate(net, z, self.precision.autocast(), y=y).cpu()

    def evaluate(self, samples: Optional[int] = None, feature_extractor: Optional[str] = None,
                 weights: Optional[str] = None, plot: bool = True, step: Optional[int] = None) -> dict[str, Any]:
        """Quality metrics of the current generator on fresh samples, see ganzoo.metrics.evaluate: latents from a CPU
        generator seeded with the run's seed (the draw `ganzoo eval` makes), KID/IS subsets seeded with it."""
        from ganzoo.metrics.evaluate import DEFAULT_SAMPLES, evaluate_samples, resolve_extractor, sample_generator
        from ganzoo.store.images import save_points_plot

        n = samples or self.config.eval_samples or DEFAULT_SAMPLES[self.dataset.kind]
        noise = torch.Generator().manual_seed(self.seeds.eval)
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
        drawn_from = "ema" if self.update.sample_net() is not self.gan.generator else "generator"
        return evaluate_samples(fake, self.dataset, extractor, seed=self.config.seed, noise_seed=self.seeds.eval,
                                weights=drawn_from, step=step)

    def sample_picture(self):
        """The sample grid of the fixed inputs (one row per class when conditional), or a scatter plot of 2-D points."""
        samples = self.sample()
        if self.dataset.kind == "vector":
            return scatter_plot(samples, self.dataset.data[:2500].float(), self.dataset.centers)
        if samples.ndim != 4:
            raise GanzooError(f"cannot draw samples of shape {tuple(samples.shape)}")
        return image_grid(samples, nrow=self.grid_columns)

    def save_sample_grid(self, step: int) -> Path:
        """samples/step_NNNNNNN.png, also handed to the loggers as "samples"."""
        picture = self.sample_picture()
        path = self.run.samples / f"step_{step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_picture(picture, path)
        self.events.emit("sample", step=step, path=path, image=picture_tensor(picture))
        return path

    # -- the loop ------------------------------------------------------------------------------------------------
    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            self._stop_requested = signal.Signals(signum).name

        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def _progress_bar(self) -> Optional[ProgressCallback]:
        """The CLI's rich bar (``progress=True``), subscribed for one fit; a callable `progress` is subscribed once."""
        if self.progress and not callable(self.progress) and self.dist.is_main:
            from ganzoo.run.progress import RichProgress

            return self.events.subscribe(RichProgress(self.gan.name, self.config.steps, console=self.console))
        return None

    def _open_run(self) -> None:
        """Under the folder's lock: restart (if asked), check the target, clean stale temp files, write config.json
        (fresh run) or cut metrics.jsonl back to the checkpoint (resume), then open the loggers. Main rank only."""
        if self._lock is None and not self.restart:  # a new folder: a file where it goes is said before the lock mkdirs
            self.run.check_new_run_target()
        self._hold_folder()
        if self.start_step == 0:
            if self.restart:
                aside = self.run.restart()
                if aside is not None:
                    self.notice(f"started {self.run.path} over; its previous files are in {aside}")
            self.run.check_new_run_target()
        self.run.clean_stale_temp()
        self.run.create()
        self._notices_written = list(self.update.notices)
        if self.start_step == 0:
            self.run.write_config(self.describe())
        else:
            for line in self.run.truncate_metrics_after(self.start_step):
                self.notice(line)
            if self._stamp_run_id:
                self.run.write_config({**self.run.read_config(), "run_id": self.run_id})
        self.loggers = build_loggers(self.config.logger, self.run.path, start_step=self.start_step,
                                     registry=self.registry)
        self._logger_subscriber = self.events.subscribe(LoggerSubscriber(self.loggers))

    def _record_first_step_notices(self) -> None:
        """The first step can change how the run runs (a failed torch.compile falls back to eager): rewrite
        config.json's "compile" and "notices" so the record matches what ran."""
        self.config = replace(self.config, compile=bool(self.update.compile))
        saved = self.run.read_config()
        described = self.describe()
        saved.update(compile=described["compile"], notices=described["notices"])
        saved["train"] = {**saved.get("train", {}), "compile": described["train"]["compile"]}
        self.run.write_config(saved)
        self._notices_written = list(self.update.notices)

    def fit(self) -> TrainResult:
        cfg = self.config
        main = self.dist.is_main
        previous_handlers = self._install_signal_handlers()  # before the first file: a signal now still checkpoints
        bar = None
        started = False
        images_per_step = cfg.batch_size * cfg.n_critic
        last_good = self.start_step
        record: dict[str, Any] = {}
        t_start = t_last = time.perf_counter()
        last_logged = self.start_step
        step = self.start_step
        failed = True
        try:
            if main:
                self._open_run()
                bar = self._progress_bar()
            self.events.emit("start", step=self.start_step, total=cfg.steps, run_dir=self.run.path,
                             new=self.start_step == 0, config=self.describe() if main else {})
            started = True
            for step in range(self.start_step + 1, cfg.steps + 1):
                self.update.step(step, cfg.steps, self.sampler)
                if step == self.start_step + 1 and main and self.update.notices != self._notices_written:
                    self._record_first_step_notices()  # e.g. a torch.compile fallback: config.json says so
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
                    self.last_eval = {"step": step, **self.evaluate(step=step)}
                    self.events.emit("eval", step=step, metrics=self.last_eval)
                if stopping:
                    raise Interrupted(
                        f"stopped by {self._stop_requested or 'a signal to another rank'} at step {step}; "
                        f"checkpoint saved, continue with `ganzoo run --resume {self.run.path}`")
            if main and cfg.steps % cfg.sample_every:
                self.save_sample_grid(step)
            seconds = time.perf_counter() - t_start
            self.ranks_in_sync = distributed.ranks_in_sync([self.gan.generator, self.gan.discriminator], self.dist,
                                                           self.device)
            if main and self.dist.enabled:
                self.loggers.log_scalars(step, {"ranks_in_sync": self.ranks_in_sync,
                                                "world_size": self.dist.world_size})  # the loggers' own record only
            failed = False
        finally:
            try:
                if started:
                    self.events.emit("stop", step=step, total=cfg.steps, ok=not failed)
            finally:
                if bar is not None:
                    self.events.unsubscribe(bar)
            for sig, old in previous_handlers.items():
                signal.signal(sig, old)
            try:
                self._finish(failed)
            finally:
                self.close()
        done = max(step - self.start_step, 0)
        return TrainResult(
            run_dir=self.run.path, step=step, gan=self.gan, config=self.describe(), last_metrics=record,
            seconds=seconds, images_per_second=images_per_step * done / seconds if seconds > 0 else 0.0,
            eval=self.last_eval,
        )

    def _finish(self, failed: bool) -> None:
        """Close the loggers and the sampler; an error closing them is raised only when nothing else failed."""
        try:
            self.loggers.close()
        except GanzooError:
            if not failed:
                raise
        finally:
            self.events.unsubscribe(getattr(self, "_logger_subscriber", None))
            self.loggers = LoggerSet([])
            close = getattr(self.sampler, "close", None)
            if close is not None:
                close()


def sampler_description(sampler: Any) -> dict[str, Any]:
    describe = getattr(sampler, "describe", None)
    return dict(describe()) if callable(describe) else {"mode": getattr(sampler, "mode", "memory")}
