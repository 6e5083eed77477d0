"""Checkpoints written atomically, checksummed, rotated, and read without executing code.

On disk a checkpoint is torch.save's zip archive (with the archive comment ``ganzoo-checkpoint/2``) followed by
one trailer line::

    <torch.save bytes>\\n#ganzoo sha256=<64 hex> size=<20 digits>\\n

The trailer covers every byte of the payload, so a flipped bit or a cut-off file anywhere is caught *before* anything
is unpickled. zip readers ignore trailing bytes, so ``torch.load(path, weights_only=True)`` still reads the file
directly; ``load_checkpoint`` verifies first. Files without a trailer that end like a complete zip archive are
checkpoints of ganzoo 0.1: they are loaded unverified with a notice, and the next save writes the new format.

Writing goes to a temporary file in the same folder, is flushed and fsynced, then renamed over the old one, so a
crash or kill at any moment leaves a complete checkpoint. Before the rename the current checkpoint, if it verifies,
becomes ``checkpoint.prev.pt`` (hard-linked, so ``checkpoint.pt`` exists at every moment); one that fails
verification is moved aside as ``checkpoint.corrupt-<time>.pt`` rather than rotated over the good previous one.
Reading uses ``torch.load(weights_only=True)``: tensors and plain containers only, never arbitrary objects.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import secrets
import shutil
import struct
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from ganzoo.errors import CheckpointError, CorruptCheckpointError, GanzooError
from ganzoo.store.sizes import human_bytes

FORMAT = "ganzoo-checkpoint/1"  # the layout of the state dict inside
TRAILER_FORMAT = b"\n#ganzoo sha256=%s size=%020d\n"
TRAILER_LEN = len(TRAILER_FORMAT % (b"0" * 64, 0))
_TRAILER = re.compile(rb"\n#ganzoo sha256=([0-9a-f]{64}) size=([0-9]{20})\n")
_ZIP_END = b"PK\x05\x06"  # end-of-central-directory record; torch.save writes no archive comment
ZIP_COMMENT = b"ganzoo-checkpoint/2"

Notice = Callable[[str], None]


class UnverifiedCheckpointWarning(UserWarning):
    """A ganzoo 0.1 checkpoint (no checksum) was loaded without verification."""


def _warn(message: str) -> None:
    warnings.warn(message, UnverifiedCheckpointWarning, stacklevel=3)


def write_fully(fd: int, data: bytes) -> None:
    """os.write until every byte is out (a short write is not an error); raises the OSError of a failed write."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_folder(folder: Path) -> None:
    """Make renames and new files in `folder` durable (best effort: not every platform can open a folder)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


#: open flags of every file ganzoo writes in place: never through a symbolic link, never inherited by children
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def temp_name(path: Path) -> Path:
    """A fresh temporary name beside `path`: ``.NAME.<random>.tmp`` (what RunFolder.clean_stale_temp removes)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def check_space(path: Path, nbytes: int) -> None:
    """Refuse a write that cannot fit before a byte of it is written, naming what it needs and what is free."""
    try:
        free = shutil.disk_usage(Path(path).parent).free
    except OSError:
        return  # the write itself will say what is wrong
    if nbytes > free:
        raise GanzooError(f"no space for {path}: it needs {human_bytes(nbytes)} and {Path(path).parent} has "
                          f"{human_bytes(free)} free; free space (see `df -h {Path(path).parent}`) or write it to "
                          f"another disk")


def _write_temp(path: Path, payload: bytes) -> Path:
    check_space(path, len(payload))
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW, 0o644)
    try:
        try:
            write_fully(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)
        raise
    return tmp


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload` so that a crash leaves either the old or the new content, never a mix."""
    path = Path(path)
    tmp = _write_temp(path, payload)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


# -- the checksummed container -------------------------------------------------------------------------------------
def seal(payload: bytes) -> bytes:
    """torch.save bytes -> the bytes of a checksummed checkpoint file.

    The zip archive also gets the comment ``ganzoo-checkpoint/2``, so a file that lost exactly its trailer no longer
    ends like a 0.1 file (an empty comment) and is refused as truncated instead of loaded unverified.
    """
    if payload[-22:-18] == _ZIP_END and payload[-2:] == b"\0\0":
        payload = payload[:-2] + struct.pack("<H", len(ZIP_COMMENT)) + ZIP_COMMENT
    return payload + TRAILER_FORMAT % (hashlib.sha256(payload).hexdigest().encode(), len(payload))


def _payload_size(tail: bytes, total: int, path: Path) -> Optional[int]:
    """From a file's last bytes (at least TRAILER_LEN + 32) and its size: the sealed payload's size, or None for a
    complete 0.1 file (no trailer, a zip end record without comment); raises CorruptCheckpointError otherwise."""
    match = _TRAILER.fullmatch(tail[-TRAILER_LEN:]) if total >= TRAILER_LEN else None
    if match is None:
        if total >= 22 and tail[-22:-18] == _ZIP_END and b"#ganzoo" not in tail[-TRAILER_LEN - 32:]:
            return None
        reason = "its checksum line is damaged" if b"#ganzoo" in tail[-TRAILER_LEN - 32:] else (
            "the file is cut off or not a checkpoint")
        raise CorruptCheckpointError(reason, Path(path))
    size = int(match.group(2))
    if size != total - TRAILER_LEN:
        raise CorruptCheckpointError(f"its size is {total - TRAILER_LEN} bytes, the checksum line says {size}",
                                     Path(path))
    return size


def unseal(data: bytes, path: Path) -> tuple[bytes, bool]:
    """(payload, verified) of a checkpoint file's bytes; raises CorruptCheckpointError with the reason.

    verified is False for a complete ganzoo 0.1 file (no trailer, ends with a zip end record without comment).
    """
    size = _payload_size(data[-TRAILER_LEN - 32:], len(data), path)
    if size is None:
        return data, False
    payload = data[:size]
    if hashlib.sha256(payload).hexdigest().encode() != _TRAILER.fullmatch(data[-TRAILER_LEN:]).group(1):
        raise CorruptCheckpointError("its content does not match its sha256 checksum", Path(path))
    return payload, True


def read_checkpoint_bytes(path: Path) -> bytes:
    """A checkpoint file's bytes, read whole only once its last bytes say a whole checkpoint is there: a huge or
    sparse file that is not one is refused without reading it, and one too large for memory says so."""
    path = Path(path)
    with open(path, "rb") as file:
        total = os.fstat(file.fileno()).st_size
        file.seek(max(0, total - TRAILER_LEN - 32))
        _payload_size(file.read(), total, path)
        file.seek(0)
        try:
            return file.read()
        except MemoryError:
            raise CheckpointError(f"checkpoint {path} ({total / 2 ** 30:.1f} GiB) does not fit in this machine's "
                                  f"memory; load it where more is free") from None


def previous_path(path: Path) -> Path:
    """checkpoint.pt -> checkpoint.prev.pt"""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def verifies(path: Path) -> bool:
    """Whether the file exists and passes its checksum (or is a complete 0.1 file). Nothing is unpickled."""
    try:
        unseal(read_checkpoint_bytes(path), Path(path))
    except (OSError, CheckpointError):
        return False
    return True


def newest_good_checkpoint(path: Path) -> Optional[Path]:
    """checkpoint.pt if it verifies, else checkpoint.prev.pt if that does, else None."""
    for candidate in (Path(path), previous_path(path)):
        if verifies(candidate):
            return candidate
    return None


# -- save and load -------------------------------------------------------------------------------------------------
def save_checkpoint(state: dict[str, Any], path: Path, *, keep_previous: bool = True,
                    notice: Optional[Notice] = None) -> None:
    """Serialise in memory, write a checksummed temp file, rotate the current file to .prev, rename into place.

    A current file that fails verification is moved aside (``NAME.corrupt-<time>.pt``), never rotated over the
    previous good one and never deleted. A failed write (disk full, ...) leaves both existing files untouched.
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    tmp = _write_temp(path, seal(buffer.getvalue()))
    try:
        if keep_previous and path.exists():
            if verifies(path):
                _link_over(path, previous_path(path))
            else:
                aside = path.with_name(f"{path.stem}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
                os.replace(path, aside)
                (notice or _warn)(f"{path} failed verification; kept it as {aside.name} and left "
                                  f"{previous_path(path).name} as it was")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def _link_over(source: Path, target: Path) -> None:
    """Make `target` another name of `source`, replacing `target` atomically (a rename if links are unsupported)."""
    tmp = temp_name(target)
    try:
        os.link(source, tmp)
    except OSError:  # no hard links here (some network/FAT file systems): a plain rename, newest_good... covers it
        os.replace(source, target)
        return
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _step_of(path: Path) -> Optional[int]:
    try:
        payload, _ = unseal(read_checkpoint_bytes(path), path)
        step = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True).get("step")
        return int(step) if step is not None else None
    except Exception:
        return None


def _offer_previous(path: Path) -> tuple[str, Optional[Path]]:
    prev = previous_path(path)
    if prev != path and verifies(prev):
        step = _step_of(prev)
        at = f" (step {step})" if step is not None else ""
        return (f"the previous checkpoint {prev.name}{at} verifies: continue from it with "
                f"`ganzoo run --resume {path.parent} --from-previous`"), prev
    return (f"no verifying previous checkpoint is left: start over with "
            f"`ganzoo run --resume {path.parent} --restart`"), None


def load_checkpoint(path: Path, map_location: Any = "cpu", *, notice: Optional[Notice] = None) -> dict[str, Any]:
    """Verify, then load a ganzoo checkpoint, refusing anything that is not plain tensors and containers.

    A file that fails verification is left untouched; the CorruptCheckpointError names a verifying
    checkpoint.prev.pt (``.previous``) when there is one. `notice` receives the one-line notice for a 0.1 file.
    """
    path = Path(path)
    if not path.is_file():
        prev = previous_path(path)
        if prev.is_file() and verifies(prev):
            offer, _ = _offer_previous(path)
            raise CheckpointError(f"no checkpoint at {path}, but {offer}")
        raise CheckpointError(f"no checkpoint at {path}; pass the run folder of a run that saved one")
    try:
        data = read_checkpoint_bytes(path)
        payload, verified = unseal(data, path)
    except OSError as exc:
        exc.filename = exc.filename or str(path)
        raise
    except CorruptCheckpointError as exc:
        offer, prev = _offer_previous(path)
        raise CorruptCheckpointError(f"checkpoint {path} is corrupt or truncated ({exc}); it is left untouched; "
                                     f"{offer}", path, prev) from None
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"refusing to load {path}: it holds objects other than tensors and plain data ({first[:160]}); "
            f"only load checkpoints you trust with torch.load yourself"
        ) from None
    except Exception as exc:  # a 0.1 file that is damaged inside, a wrong file type, ...
        offer, prev = _offer_previous(path)
        raise CorruptCheckpointError(f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}); it is left "
                                     f"untouched; {offer}", path, prev) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganzoo checkpoint (format {FORMAT} expected)")
    if not verified:
        (notice or _warn)(f"{path} was written by ganzoo 0.1 without a checksum and is loaded unverified; "
                          f"the next checkpoint saved will carry one")
    return state
