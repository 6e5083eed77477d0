"""A trained run as a ready GAN: weights from checkpoint.pt, nothing of training (no optimiser, data or trainer).

``ganzoo.load(run_dir)`` reads the run's config.json, rebuilds the networks through the registry and loads the
EMA generator when the run kept one. It deliberately imports neither the trainer nor the data pipeline, so sampling
and exporting a run costs only the networks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import torch

from ganzoo.contract.types import GAN
from ganzoo.engine.assemble import build
from ganzoo.errors import CheckpointError, GanzooError
from ganzoo.registry import Registry
from ganzoo.store.checkpoint import load_checkpoint
from ganzoo.store.folder import RunFolder, check_checkpoint_owner


def _build_from_config(saved: dict[str, Any], registry: Optional[Registry] = None) -> GAN:
    """config.json -> the untrained GAN it describes (the one place that knows config.json's layout).

    Built from the saved RunSpec (config.json's "spec": networks, options, latent size, classes) exactly as the
    trainer built it, so the checkpoint's weights fit whatever the plugin's recipe says today. Folders written by
    v0.1 (no "spec") are rebuilt from their "train" settings and the recipe.
    """
    if "spec" in saved:
        from ganzoo.engine.assemble import build_gan
        from ganzoo.spec.runspec import RunSpec

        spec = RunSpec.from_dict(saved["spec"])
        gan = build_gan(spec, registry, class_probs=None)
    else:
        gan = _build_v01(saved, registry)
    expected = saved.get("components")
    if expected and dict(expected) != dict(gan.components):
        raise CheckpointError(
            f"the installed plugins build {gan.components} but the run used {dict(expected)}; install the plugin "
            f"versions listed under 'plugins' in config.json")
    return gan


def _build_v01(saved: dict[str, Any], registry: Optional[Registry] = None) -> GAN:
    """A v0.1 run folder (config.json without "spec"): the recipe's networks with the saved overrides."""
    try:
        train = saved["train"]
        shape = tuple(int(s) for s in saved["dataset"]["shape"])
        latent_dim = int(saved.get("hyperparameters", {}).get("latent_dim") or train["latent_dim"])  # 0.1 files
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"config.json lacks {exc} needed to rebuild the networks; it was not written by "
                              f"`ganzoo run`") from None
    num_classes = saved.get("num_classes", saved["dataset"].get("num_classes"))
    extra = {"num_classes": int(num_classes)} if num_classes else {}
    gan = build(train.get("model"), shape, generator=train.get("generator"), discriminator=train.get("discriminator"),
                loss=train.get("loss"), latent_dim=latent_dim, registry=registry, **extra)
    if num_classes and getattr(gan, "num_classes", None) is None:
        gan.num_classes = int(num_classes)
    return gan


def load(run_dir: Union[str, Path], device: Union[str, torch.device] = "cpu", ema: bool = True,
         registry: Optional[Registry] = None) -> GAN:
    """The run's GAN in eval mode on `device`: the EMA generator when the run kept one and `ema` is true.

    ``gan.loaded_from`` says what was loaded: ``{"run_dir", "step", "weights": "ema" | "generator"}``.
    """
    run = RunFolder(Path(run_dir))
    saved = run.read_config()
    if not run.checkpoint.exists():
        raise CheckpointError(f"{run.path} has no {run.checkpoint.name}; the run stopped before its first "
                              f"checkpoint, so there are no weights to load")
    state = load_checkpoint(run.checkpoint)
    check_checkpoint_owner(state, saved, run.checkpoint)
    gan = _build_from_config(saved, registry=registry)
    use_ema = bool(ema) and state.get("ema") is not None
    try:
        gan.generator.load_state_dict(state["ema"] if use_ema else state["generator"])
        gan.discriminator.load_state_dict(state["discriminator"])
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{run.checkpoint} does not fit the networks config.json describes "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); the run folder is "
                              f"inconsistent") from None
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise GanzooError(f"unknown device {device!r} ({exc}); use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanzooError(f"device {device} requested but torch sees no CUDA device; use --device cpu")
    gan.generator.to(device).eval()
    gan.discriminator.to(device).eval()
    gan.loaded_from = {"run_dir": str(run.path), "step": int(state.get("step", 0)),
                       "weights": "ema" if use_ema else "generator"}
    return gan
