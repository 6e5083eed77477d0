"""One owner per run folder: an exclusive OS lock (``fcntl.flock``) on ``RUN_DIR/.lock``.

Whoever trains or resumes a run holds it; a second process gets a one-line error naming the holder's pid. The kernel
drops the lock when the holder's last file descriptor closes, which includes any exit (an exception, SIGTERM,
kill -9), so a crashed run never leaves a stale lock behind. The lock file itself is never deleted (deleting it would
let two processes lock two different files of the same name); it holds ``pid=... host=... since=...`` of the
current holder for the message, and is emptied on release.

The lock is re-entrant within one process (a nested ``with run.lock():`` is fine), and the file descriptor is not
inherited by programs the holder starts (``O_CLOEXEC``). Processes forked from the holder (e.g. data-loader workers)
share the lock until they exit. On platforms without ``fcntl`` (Windows) or file systems that refuse locks, nothing
is locked and a warning says so.
"""

from __future__ import annotations

import errno
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Optional

from ganzoo.errors import GanzooError, RunLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"

#: realpath of a locked folder -> [fd, depth] for the locks this process holds
_HELD: dict[str, list[int]] = {}


def _key(folder: Path) -> str:
    return os.path.realpath(folder)


def held_here(folder: Path) -> bool:
    """Whether this process holds the lock of `folder`."""
    return _key(Path(folder)) in _HELD


def read_holder(folder: Path) -> dict[str, str]:
    """What the lock file says about its holder (pid, host, since); empty when nobody wrote it (yet)."""
    try:
        text = (Path(folder) / LOCK_NAME).read_text(errors="replace")
    except OSError:
        return {}
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


class RunLock:
    """``with RunLock(run_dir):`` or ``RunLock(run_dir).acquire()`` ... ``release()``; creates the folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._acquired = False

    def acquire(self) -> RunLock:
        if self._acquired:
            return self
        key = _key(self.folder)
        if key in _HELD:
            _HELD[key][1] += 1
            self._acquired = True
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            warnings.warn(f"no file locking on this platform; nothing stops a second process using {self.folder}")
            _HELD[key] = [-1, 1]
            self._acquired = True
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0),
                         0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise GanzooError(f"{self.path} is a symbolic link (to {os.readlink(self.path)}); the lock file is "
                                  f"the folder's own: remove the link") from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunLockedError(self._busy_message()) from None
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                warnings.warn(f"the file system of {self.folder} does not support locks ({exc.strerror}); "
                              f"nothing stops a second process using it")
                _HELD[key] = [-1, 1]
                self._acquired = True
                return self
            raise
        try:
            os.ftruncate(fd, 0)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            os.pwrite(fd, f"pid={os.getpid()} host={socket.gethostname()} since={stamp}\n".encode(), 0)
        except OSError:
            pass  # the lock holds even if the note cannot be written (e.g. disk full)
        _HELD[key] = [fd, 1]
        self._acquired = True
        return self

    def release(self) -> None:
        if not self._acquired:
            return
        self._acquired = False
        key = _key(self.folder)
        entry = _HELD.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _HELD[key]
        fd = entry[0]
        if fd < 0:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the last descriptor drops the flock

    def _busy_message(self) -> str:
        holder = read_holder(self.folder)
        pid = holder.get("pid")
        if not pid:
            return (f"run folder {self.folder} is in use by another ganzoo process (it is just starting); "
                    f"wait for it to finish or stop it, then retry")
        host = holder.get("host")
        elsewhere = f" on host {host}" if host and host != socket.gethostname() else ""
        since = f" since {holder['since']}" if holder.get("since") else ""
        return (f"run folder {self.folder} is in use by pid {pid}{elsewhere}{since}; wait for it to finish or stop "
                f"it (`kill {pid}` saves a checkpoint), then retry")

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def holder_pid(folder: Path) -> Optional[int]:
    """The pid written by the current holder, or None."""
    pid = read_holder(folder).get("pid")
    return int(pid) if pid and pid.isdigit() else None
