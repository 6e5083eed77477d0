"""The package version and the source it runs from: a leaf module, so any layer can say which ganzoo wrote a file."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__version__ = "0.1.0"


@functools.lru_cache(maxsize=1)
def source_commit() -> str:
    """The git commit ganzoo runs from (``abc1234``, ``(with uncommitted changes)`` when the tree differs), or ""
    when this file is not tracked by the git work tree it sits in (an installed copy, even one inside some other
    repository or a checkout's .venv) or git is missing."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], capture_output=True, text=True, errors="replace", cwd=here, timeout=10)

    try:
        if git("ls-files", "--error-unmatch", Path(__file__).name).returncode != 0:
            return ""  # not this checkout's source: whatever HEAD is there says nothing about this code
        out = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty and out.stdout.strip() else "")
