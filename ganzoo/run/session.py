"""A run folder's life: start a new run, resume it, restart it from step 0, or continue it to more steps.

Each entry point returns (or fits) a `Trainer`, which holds the folder's lock from when it is built (or first
writes) to the end of fit(); nothing here locks. The run loop itself is ganzoo.run.trainer.
Hyper-parameters of a continued run come from its saved spec in config.json, never from a plugin's current recipe.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from ganzoo.contract.types import Dataset
from ganzoo.data import load_dataset
from ganzoo.engine.precision import resolve_device, resolve_precision
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, get_registry
from ganzoo.run.trainer import Notice, Trainer, TrainResult, resolve_spec
from ganzoo.spec.config import PRECISIONS, TrainConfig
from ganzoo.spec.runspec import RunSpec
from ganzoo.store.folder import RunFolder


def train(config: Optional[TrainConfig] = None, *, progress: Any = False, registry: Optional[Registry] = None,
          **settings: Any) -> TrainResult:
    """Train a model from Python: ``ganzoo.train(model=NAME, steps=500, out="runs/demo")``."""
    if config is None:
        config = TrainConfig.from_settings(settings)
    elif settings:
        raise TypeError("pass either a TrainConfig or keyword settings, not both")
    return Trainer(config, registry=registry, progress=progress).fit()


def resume(run_dir: Path, *, steps: Optional[int] = None, progress: Any = False,
           registry: Optional[Registry] = None, console: Any = None, from_previous: bool = False,
           restart: bool = False, notice: Optional[Notice] = None) -> TrainResult:
    """Continue a run from its folder's config.json and checkpoint.pt, optionally to a new step count.

    Hyper-parameters come from the saved spec in config.json, never from the plugin's current recipe; a learning
    rate or betas edited by hand in config.json's spec are applied (the optimiser state keeps its moments).
    ``from_previous`` continues from checkpoint.prev.pt; ``restart`` starts over from step 0 with the folder's
    config.json, after moving its old files into ``.restarted-<time>/``. The folder's lock is held throughout (by the
    trainer).
    """
    run = RunFolder(Path(run_dir))
    if restart:  # the trainer locks the folder when it is built, and holds the lock to the end of fit()
        _, config, dataset, spec = _saved_run(run, steps, None, registry)
        return Trainer(config, registry=registry, progress=progress, console=console, dataset=dataset, spec=spec,
                       restart=True, notice=notice).fit()
    return continue_run(run.path, steps=steps, progress=progress, registry=registry, console=console,
                        from_previous=from_previous, notice=notice).fit()


def continue_run(run_dir: Path, *, steps: Optional[int] = None, overrides: Optional[dict[str, Any]] = None,
                 progress: Any = False, registry: Optional[Registry] = None, console: Any = None,
                 from_previous: bool = False, notice: Optional[Notice] = None,
                 finished_ok: bool = False) -> Trainer:
    """The Trainer that continues a run from its checkpoint (to `steps` when given), restored and holding the
    folder's lock: call ``fit()`` on it (or ``close()``). `overrides` sets run settings that do not change the
    training math (e.g. ``log_every``, ``checkpoint_every``); config.json is rewritten to describe the continued run
    when `steps` or `overrides` change it. A run already at `steps` or past it is refused with one line, unless
    ``finished_ok`` and it is exactly there (the caller only wants the trained state)."""
    run = RunFolder(Path(run_dir))
    run.read_config()  # a missing folder or config.json is said first
    run.resume_checkpoint(from_previous=from_previous)  # says how to proceed when there is none
    saved, config, dataset, spec = _saved_run(run, steps, overrides, registry)
    trainer = Trainer(config, registry=registry, resume=run.path, progress=progress, console=console,
                      dataset=dataset, spec=spec, from_previous=from_previous, notice=notice)
    try:
        at, end = trainer.start_step, trainer.config.steps
        if at > end or (at == end and not finished_ok):
            raise GanzooError(f"the run in {run.path} is already at step {at}; pass --steps larger than that to "
                              f"continue")
        if (steps is not None or overrides) and trainer.dist.is_main:
            described = trainer.describe()
            kept = {k: v for k, v in saved.items() if k != "hyperparameters"}  # folders before 0.2 stored it too
            trainer.run.write_config({**kept, **{k: described[k] for k in ("train", "spec")}})
    except BaseException:
        trainer.close()  # the restored trainer holds the folder's lock
        raise
    return trainer


#: run settings a continuation may change: when to log, checkpoint, evaluate and write samples, and where numbers go
#: (none of them changes the training math)
CONTINUATION_OVERRIDES = ("log_every", "checkpoint_every", "sample_every", "eval_every", "eval_samples", "logger")


def _saved_run(run: RunFolder, steps: Optional[int], overrides: Optional[dict[str, Any]],
               registry: Optional[Registry]) -> tuple[dict, TrainConfig, Dataset, RunSpec]:
    """A run folder's config.json, its settings (with `steps` and `overrides` applied), dataset and saved spec."""
    saved = run.read_config()
    config = TrainConfig.from_dict(saved["train"])
    for key in overrides or {}:
        if key not in CONTINUATION_OVERRIDES:
            raise GanzooError(f"a continued run cannot change {key!r} (it would change the training); it may change "
                              f"{', '.join(CONTINUATION_OVERRIDES)}")
    config = replace(config, out=str(run.path), **(overrides or {})).validate()
    trained = saved.get("precision")
    if config.precision == "auto" and trained in PRECISIONS:
        # "auto" resolves per machine (bf16 where the CPU or GPU has bf16 units): a run continued (or restarted)
        # on another kind of machine keeps the precision it trained in, so its math does not change halfway; only a
        # precision this device refuses (fp16 without CUDA) is resolved again
        try:
            resolve_precision(trained, resolve_device(config.device))
            config = replace(config, precision=trained)
        except GanzooError:
            pass
    registry = registry or get_registry()
    dataset = load_dataset(config.dataset, data_dir=config.data_dir, image_size=config.image_size,
                           seed=config.seed, registry=registry)
    # the saved spec; a v0.1 folder without one is resolved from its saved settings once
    spec = RunSpec.from_dict(saved["spec"]) if "spec" in saved else resolve_spec(config, dataset, registry)
    if steps is not None:
        spec = spec.with_(steps=int(steps))
        config = replace(config, steps=int(steps))
    return saved, config, dataset, spec
