"""The run folder: config.json, metrics.jsonl, samples/ and checkpoint.pt, in one place with one owner."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write_bytes
from .errors import CheckpointError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
SAMPLES = "samples"


def jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep the information
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    def holds_run(self) -> bool:
        """A folder with a config or checkpoint belongs to a run, which a new run must never overwrite."""
        return (self.path / CONFIG).exists() or self.checkpoint.exists()

    def create(self) -> None:
        self.samples.mkdir(parents=True, exist_ok=True)

    def write_config(self, config: dict) -> None:
        atomic_write_bytes(self.path / CONFIG, (json.dumps(jsonable(config), indent=2) + "\n").encode())

    def read_config(self) -> dict:
        path = self.path / CONFIG
        if not self.path.is_dir():
            raise CheckpointError(f"run folder {self.path} does not exist; pass the folder a run wrote")
        if not path.is_file():
            raise CheckpointError(f"{self.path} has no {CONFIG}; it is not a ganzoo run folder")
        try:
            config = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path} is corrupt ({exc.__class__.__name__}); restore it from a backup") from None
        if not isinstance(config, dict) or "train" not in config:
            raise CheckpointError(f"{path} is not a ganzoo run config")
        return config

    def append_metrics(self, record: dict) -> None:
        with open(self.path / METRICS, "a") as f:
            f.write(json.dumps(jsonable(record)) + "\n")

    def read_metrics(self) -> list[dict]:
        path = self.path / METRICS
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def truncate_metrics_after(self, step: int) -> None:
        """On resume, drop records logged after the checkpoint (they will be logged again)."""
        records = [r for r in self.read_metrics() if r.get("step", 0) <= step]
        atomic_write_bytes(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in records).encode())
