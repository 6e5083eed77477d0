"""Checkpoints written atomically and read without executing code.

Writing goes to a temporary file in the same folder, is flushed and fsynced, then renamed over the old one, so a
crash or a kill at any moment leaves either the previous complete checkpoint or the new complete one. Reading uses
``torch.load(weights_only=True)``, which only rebuilds tensors and plain containers, never arbitrary objects.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError

FORMAT = "ganzoo-checkpoint/1"


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Serialize in memory first, then replace the file atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a ganzoo checkpoint, refusing anything that is not plain tensors and containers."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; pass the run folder of a run that saved one")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"refusing to load {path}: it holds objects other than tensors and plain data ({first[:160]}); "
            f"only load checkpoints you trust with torch.load yourself"
        ) from None
    except Exception as exc:  # truncated zip, wrong file type, ...
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}); "
                              f"use an earlier copy or start a new run") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganzoo checkpoint (format {FORMAT} expected)")
    return state
