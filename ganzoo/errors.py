"""User-facing errors: the CLI prints them as one line and exits with code 2, no traceback."""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Optional


class GanzooError(Exception):
    """A problem the user can fix. The message names the problem and the fix, on one line."""

    exit_code = 2


class UnknownNameError(GanzooError, KeyError):
    """A model, component or dataset name that no loaded plugin registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else (
            f"known: {', '.join(known)}" if known else "no plugin registered any"
        )
        plural = {"loss": "losses", "feature_extractor": "feature-extractors"}.get(kind, kind + "s")
        super().__init__(f"unknown {kind.replace('_', ' ')} {name!r}; {hint} (see `ganzoo list {plural}`)")
        self.kind, self.name, self.suggestions = kind, name, close

    def __str__(self) -> str:  # KeyError would add quotes
        return self.args[0]


class DataError(GanzooError):
    """Missing, truncated or corrupt dataset files."""


class CheckpointError(GanzooError):
    """A missing, corrupt or unsafe run folder or checkpoint."""


class DivergenceError(GanzooError):
    """Training produced non-finite losses or weights."""


class RunLockedError(GanzooError):
    """Another process holds the run folder's lock (it is training or resuming that run)."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint that fails verification; `previous` is a verifying older one to fall back to, if any."""

    def __init__(self, message: str, path: Path, previous: Optional[Path] = None):
        super().__init__(message)
        self.path, self.previous = path, previous


def _first_blocking_ancestor(path: Path) -> Optional[Path]:
    """The first existing non-folder on the way down to `path` (why making a folder there fails)."""
    for parent in reversed([path, *path.parents]):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


#: what torch's CPU and CUDA allocators say when an allocation fails (RuntimeError / torch.OutOfMemoryError)
_ALLOCATION_FAILURES = ("can't allocate memory", "out of memory")


def describe_memory_error(exc: BaseException) -> Optional[str]:
    """One line for an allocation that failed (MemoryError, torch's allocator errors); None for anything else.
    Sizes a command can check before allocating are checked there; this catches the rest (a huge --latent-dim or
    width building the networks, a batch that does not fit) so the user sees the fix, not an internal error."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
    if not (isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"
            or (isinstance(exc, RuntimeError) and any(s in text.lower() for s in _ALLOCATION_FAILURES))):
        return None
    detail = f" ({text[:160]})" if text else ""
    return (f"out of memory{detail}; lower what sets the size: --batch-size, --latent-dim, the model's width "
            f"(--generator-option), -n or --rows")


#: what gloo and NCCL say when the process at the other end of a collective is gone
_PEER_LOST = ("connection reset by peer", "connection closed by peer", "broken pipe", "ncclremoteerror",
              "communicator was aborted", "socket closed")


def in_torchrun_job() -> bool:
    """True in a process of a torchrun job of two or more processes (torchrun sets WORLD_SIZE)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1") or 1) >= 2
    except ValueError:
        return False


def describe_lost_peer(exc: BaseException, run_dir: Optional[str] = None) -> Optional[str]:
    """One line for a torchrun process whose collective failed because another process of the job died (killed,
    out of memory, a lost node); None for anything else, or outside a multi-process job."""
    if not in_torchrun_job():
        return None
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lost = type(exc).__name__ in ("DistBackendError", "DistNetworkError") or (
        isinstance(exc, RuntimeError) and any(s in text.lower() for s in _PEER_LOST))
    if not lost:
        return None
    reason = next((s for s in _PEER_LOST if s in text.lower()), type(exc).__name__)
    how = (f"`ganzoo run --resume {run_dir}` under the same torchrun command" if run_dir else
           "`ganzoo run --resume DIR` under the same torchrun command")
    return (f"rank {os.environ.get('RANK', '?')}: another process of this torchrun job stopped ({reason}); the run "
            f"keeps its last checkpoint: continue it with {how}")


def describe_os_error(exc: OSError) -> Optional[str]:
    """A one-line message naming the problem and the fix for the OS errors a user can fix; None for the rest.

    The CLI turns these into exit code 2; anything unmapped stays an internal error (exit 1), since it may be a bug.
    """
    name = exc.filename if exc.filename is not None else None
    where = f" ({name})" if name else ""
    folder = Path(name).parent if name else None
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        what = "no space left on the disk" if code == errno.ENOSPC else "disk quota exceeded"
        return (f"{what} while writing{where}; files written before it are intact: free space "
                f"(see `df -h {folder or '.'}`) or pass --out on another disk, then resume")
    if code == errno.EROFS:
        return f"read-only file system{where}; pass --out (or a run folder) on a writable disk"
    if code in (errno.EACCES, errno.EPERM):
        return (f"permission denied{where}; pick a folder you can write to or fix its permissions "
                f"(`ls -ld {folder or '.'}`)")
    if code == errno.ENOTDIR:
        blocker = _first_blocking_ancestor(Path(name)) if name else None
        return (f"{blocker or name or 'a path'} is a file, not a folder{'' if blocker else where}; "
                f"pass another --out (or move the file away)")
    if code == errno.EEXIST:
        return f"{name or 'the path'} already exists and is not a folder; pass another --out"
    if code == errno.EISDIR:
        return f"{name or 'the path'} is a folder where a file was expected; pass a file path"
    if code == errno.ENAMETOOLONG:
        return f"file name too long{where}; pass a shorter --out"
    if code == errno.EIO:
        return f"input/output error{where}: the disk may be failing; copy the run folder elsewhere and resume there"
    return None
