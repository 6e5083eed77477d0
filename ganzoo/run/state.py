"""What a run's checkpoint holds, composed from the parts' own state_dicts, and `upgrade` for older layouts.

The file format (sealing, atomic writes, the previous checkpoint) is ganzoo.store.checkpoint's; this module is the
schema inside it: the engine's state (networks, EMA, optimisers, scalers, augmentation, noise), the sampler's, the
global RNGs and the step. Exact resume restores all of them.
"""

from __future__ import annotations

from typing import Any

import torch


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint in the current schema: ganzoo 0.1 kept the engine's noise generator under rng.noise and had no
    augmentation state."""
    if "noise" not in state and "noise" in state.get("rng", {}):
        state = {**state, "noise": state["rng"]["noise"], "augment": None}
    return state


def run_state(step: int, engine: Any, sampler: Any, run_id: str = "") -> dict[str, Any]:
    """Everything a run continues from at `step`, naming the run (`run_id`, as in its config.json)."""
    return {
        "step": step,
        "run_id": run_id,
        **engine.state_dict(),
        "sampler": sampler.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
        "model": engine.gan.name,
        "components": dict(engine.gan.components),
    }


def restore_run_state(state: dict[str, Any], engine: Any, sampler: Any) -> int:
    """Load a checkpoint's state into the engine, the sampler and the global RNGs; returns its step. A state that
    does not fit raises KeyError, RuntimeError, ValueError or TypeError (the caller names the checkpoint)."""
    state = upgrade(state)
    engine.load_state_dict(state)
    sampler.load_state_dict(state["sampler"])
    torch.set_rng_state(state["rng"]["torch"])
    if torch.cuda.is_available() and state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return int(state["step"])
