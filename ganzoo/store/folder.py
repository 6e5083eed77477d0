"""The run folder: config.json, metrics.jsonl, samples/ and checkpoint.pt, in one place with one owner.

Reliability rules the helpers here keep (the trainer calls them; see docs/usage.md "The run folder"):

- one owner: ``with run.lock():`` around training or resuming (an OS lock, released on any exit incl. kill -9);
- never a dead end: a folder either holds a checkpoint to resume, or ``restart()`` moves its files aside into
  ``.restarted-<time>/`` and a new run starts there; nothing is ever deleted;
- never written into a folder that is not a run (``check_new_run_target``);
- metrics.jsonl is appended one whole line per record (a failed write is rolled back, so it never ends in a cut-off
  line because of us), and readers skip and report damaged lines instead of failing.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from ganzoo.errors import CheckpointError, GanzooError
from ganzoo.store.checkpoint import (
    NO_FOLLOW,
    atomic_write_bytes,
    fsync_folder,
    newest_good_checkpoint,
    previous_path,
    write_fully,
)
from ganzoo.store.lock import LOCK_NAME, RunLock

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
SAMPLES = "samples"
EVAL = "eval.json"
EVAL_PLOT = "eval_points.png"
RESTARTED = ".restarted-"
#: files written through temp files by whoever holds the lock; their leftovers are safe to remove under the lock
TEMP_OWNERS = (CHECKPOINT, "checkpoint.prev.pt", CONFIG, METRICS)
#: every top-level name a run folder owns: the one list that ownership checks and --out refusals read
OWNED = (CONFIG, METRICS, CHECKPOINT, previous_path(Path(CHECKPOINT)).name, SAMPLES, EVAL, EVAL_PLOT, LOCK_NAME)


def is_run_folder(folder: Path) -> bool:
    """Whether `folder` holds a run (its config.json or checkpoint.pt): only then do its files belong to a run."""
    return (folder / CONFIG).is_file() or (folder / CHECKPOINT).is_file()


def is_run_file(path: Union[str, Path]) -> bool:
    """Whether `path`, after resolving symlinks, is a run folder or one of its own files (OWNED, restarted copies,
    temp files), so that writing an --out there would overwrite what the run needs."""
    target = Path(path).resolve()
    if target.is_dir() and is_run_folder(target):
        return True
    for parent in target.parents:
        if is_run_folder(parent):
            top = target.relative_to(parent).parts[0]
            if top in OWNED or top.startswith(RESTARTED) or (top.startswith(".") and top.endswith(".tmp")):
                return True
    return False


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


@dataclass
class MetricsScan:
    """What metrics.jsonl holds: the records that parse, and one line per damaged line that was skipped."""

    records: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def new_run_id() -> str:
    """A run's identity, written into its config.json and every checkpoint it saves (16 hex digits)."""
    import secrets

    return secrets.token_hex(8)


def check_checkpoint_owner(state: dict, config: dict, path: Path) -> None:
    """Refuse a checkpoint written by another run: a copy of another run's checkpoint of the same networks would
    otherwise load, train on and sample as this run's. Folders and checkpoints from before run ids pass."""
    mine, theirs = config.get("run_id"), state.get("run_id")
    if mine and theirs and mine != theirs:
        folder = Path(path).parent
        raise CheckpointError(f"checkpoint {path} belongs to another run (run id {theirs}; {folder / CONFIG} says "
                              f"{mine}); put this run's own checkpoint back, or start over with `ganzoo run --resume "
                              f"{folder} --restart`")


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def previous_checkpoint(self) -> Path:
        return previous_path(self.checkpoint)

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    # -- ownership -----------------------------------------------------------------------------------------------
    def lock(self) -> RunLock:
        """The folder's exclusive lock: ``with run.lock(): ...`` (creates the folder; re-entrant in one process)."""
        return RunLock(self.path)

    def clean_stale_temp(self) -> list[Path]:
        """Remove temp files a killed write left behind (``.checkpoint.pt.*.tmp`` and the like); returns them.

        Takes the lock, so a live writer's temp file is never removed.
        """
        removed = []
        if not self.path.is_dir():
            return removed
        with self.lock():
            for name in TEMP_OWNERS:
                for tmp in self.path.glob(f".{name}.*.tmp"):
                    if tmp.is_file():
                        tmp.unlink(missing_ok=True)
                        removed.append(tmp)
        return removed

    def check_links(self) -> None:
        """Refuse a folder where one of the run's own files is a symbolic link: ganzoo would read or write the file
        it points at, outside the folder (and a checkpoint linked to another run's would pass as this run's)."""
        if not self.path.is_dir():
            return
        owned = [self.path / name for name in OWNED]
        if self.samples.is_dir() and not self.samples.is_symlink():
            owned += sorted(self.samples.iterdir())
        for path in owned:
            if path.is_symlink():
                raise GanzooError(f"{path} is a symbolic link (to {os.readlink(path)}); a run folder's files must be "
                                  f"its own: put the file itself there, or remove the link")
        for path in (self.path / LOCK_NAME, self.metrics):  # written in place (the rest is replaced by renames)
            try:
                links = path.lstat().st_nlink
            except OSError:
                continue
            if links > 1:
                raise GanzooError(f"{path} is a hard link shared with {links - 1} other name(s) (a `cp -al` copy?); "
                                  f"writing it would change the other run's file too: replace it with a copy "
                                  f"(`cp {path} {path}.own && mv {path}.own {path}`)")

    # -- what the folder holds -----------------------------------------------------------------------------------
    def holds_run(self) -> bool:
        """A folder with a config or checkpoint belongs to a run, which a new run must never overwrite."""
        return (self.path / CONFIG).exists() or self.checkpoint.exists() or self.previous_checkpoint.exists()

    def has_checkpoint(self) -> bool:
        """Whether there is a checkpoint to resume from (checkpoint.pt, or checkpoint.prev.pt after a crash)."""
        return self.checkpoint.is_file() or self.previous_checkpoint.is_file()

    def good_checkpoint(self) -> Optional[Path]:
        """The newest checkpoint that passes its checksum, or None (reads the files, unpickles nothing)."""
        return newest_good_checkpoint(self.checkpoint)

    def _foreign_entries(self) -> list[str]:
        """Entries that a ganzoo run did not write."""
        ours = set(OWNED)
        foreign = []
        for entry in sorted(self.path.iterdir()):
            name = entry.name
            if name in ours or name.startswith(RESTARTED) or (name.startswith(".") and name.endswith(".tmp")):
                continue
            if name.startswith("checkpoint.corrupt-"):
                continue
            foreign.append(name)
        return foreign

    def check_new_run_target(self) -> None:
        """Raise a one-line error unless a new run may write here: a new or empty folder, or one holding only
        ganzoo's own leftovers (a lock file, temp files) and no run. Call it while holding the lock."""
        if self.path.exists() and not self.path.is_dir():
            raise GanzooError(f"--out {self.path} is a file, not a folder; pass another --out")
        if not self.path.exists():
            return
        self.check_links()
        if self.holds_run():
            if self.has_checkpoint():
                how = f"continue it with `ganzoo run --resume {self.path}`"
            else:
                how = "it stopped before its first checkpoint"
            raise CheckpointError(
                f"{self.path} already holds a run; {how}, start it over with `ganzoo run --resume {self.path} "
                f"--restart` (the old files are kept in {self.path}/{RESTARTED}<time>/) or pass another --out")
        foreign = self._foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise GanzooError(f"{self.path} exists and holds files that are not a ganzoo run ({shown}); "
                              f"a run is never written into it: pass a new or empty folder as --out")

    def restart(self) -> Optional[Path]:
        """Start over: move the run's files (config, metrics, checkpoints, samples, eval) into
        ``.restarted-<time>/`` inside the folder and return that folder (None when there was nothing to move).
        Nothing is deleted. Takes the lock."""
        with self.lock():
            names = [CONFIG, METRICS, CHECKPOINT, self.previous_checkpoint.name, SAMPLES, EVAL, EVAL_PLOT]
            present = [n for n in names if (self.path / n).exists()]
            present += sorted(p.name for p in self.path.glob("checkpoint.corrupt-*"))
            if not present:
                return None
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path / f"{RESTARTED}{stamp}"
            n = 1
            while aside.exists():
                n += 1
                aside = self.path / f"{RESTARTED}{stamp}-{n}"
            aside.mkdir()
            for name in present:
                os.replace(self.path / name, aside / name)  # same file system: a rename, never a copy
            fsync_folder(self.path)
            return aside

    def create(self) -> None:
        self.check_links()
        self.samples.mkdir(parents=True, exist_ok=True)

    # -- config --------------------------------------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        atomic_write_bytes(self.path / CONFIG, (json.dumps(jsonable(config), indent=2) + "\n").encode())

    def read_config(self) -> dict:
        path = self.path / CONFIG
        if not self.path.is_dir():
            raise CheckpointError(f"run folder {self.path} does not exist; pass the folder a run wrote")
        if not path.is_file():
            raise CheckpointError(f"{self.path} has no {CONFIG}; it is not a ganzoo run folder")
        self.check_links()  # every command that opens a run reads its config first
        try:
            config = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path} is corrupt ({exc.__class__.__name__}); restore it from a backup") from None
        if not isinstance(config, dict) or "train" not in config:
            raise CheckpointError(f"{path} is not a ganzoo run config")
        return config

    # -- metrics -------------------------------------------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        """Append one record as one line, in one write straight to the OS (no buffer to lose). If the write fails
        (disk full, ...) the file is cut back to its previous length, so it never ends in half a record."""
        line = (json.dumps(jsonable(record)) + "\n").encode()
        fd = os.open(self.metrics, os.O_RDWR | os.O_APPEND | os.O_CREAT | NO_FOLLOW, 0o644)
        try:
            start = os.fstat(fd).st_size
            if start and os.pread(fd, 1, start - 1) != b"\n":
                line = b"\n" + line  # a cut-off last line (a crash mid-write) stays on its own, readers skip it
            try:
                write_fully(fd, line)
            except OSError as exc:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    pass
                exc.filename = exc.filename or str(self.metrics)
                raise
        finally:
            os.close(fd)

    def sync(self) -> None:
        """fsync metrics.jsonl and the folder: call at every checkpoint, so logged records survive a power cut."""
        try:
            fd = os.open(self.metrics, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_folder(self.path)

    def scan_metrics(self) -> MetricsScan:
        """Every record that parses, and a note for each damaged line skipped (cut off, not JSON, not an object)."""
        scan = MetricsScan()
        if not self.metrics.exists():
            return scan
        data = self.metrics.read_bytes()
        lines = data.split(b"\n")
        last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None
            if isinstance(record, dict):
                scan.records.append(record)
                continue
            kind = "is cut off" if number - 1 == last and not data.endswith(b"\n") else (
                "is not a JSON object")
            scan.skipped.append(f"{self.metrics} line {number} {kind} ({len(raw)} bytes); skipped")
        return scan

    def read_metrics(self) -> list[dict]:
        return self.scan_metrics().records

    def truncate_metrics_after(self, step: int) -> list[str]:
        """On resume, drop records logged after the checkpoint (they will be logged again) and damaged lines.
        Returns one notice per damaged line dropped, for the caller to show."""
        scan = self.scan_metrics()
        records = [r for r in scan.records if _step(r) <= step]
        atomic_write_bytes(self.metrics, "".join(json.dumps(r) + "\n" for r in records).encode())
        return [s.replace("; skipped", "; dropped on resume") for s in scan.skipped]

    def resume_checkpoint(self, from_previous: bool = False) -> Path:
        """The checkpoint file a resume should load: checkpoint.pt, or checkpoint.prev.pt when asked for.

        Raises a one-line error saying how to proceed when there is none (never a dead end)."""
        path = self.previous_checkpoint if from_previous else self.checkpoint
        if path.is_file():
            return path
        if from_previous:
            raise CheckpointError(f"{self.path} has no {path.name} (only one checkpoint was ever saved); resume "
                                  f"without --from-previous or start over with `ganzoo run --resume {self.path} "
                                  f"--restart`")
        if self.previous_checkpoint.is_file():
            raise CheckpointError(f"{self.path} has no {CHECKPOINT} but has {self.previous_checkpoint.name}; continue "
                                  f"from it with `ganzoo run --resume {self.path} --from-previous`")
        raise CheckpointError(f"{self.path} has no {CHECKPOINT}; the run stopped before its first checkpoint: start "
                              f"it over with `ganzoo run --resume {self.path} --restart` (old files are kept)")


def _step(record: dict) -> float:
    step = record.get("step", 0)
    return step if isinstance(step, (int, float)) else math.inf  # a record without a usable step is not kept


__all__ = ["CONFIG", "CHECKPOINT", "METRICS", "SAMPLES", "MetricsScan", "RunFolder", "jsonable"]
