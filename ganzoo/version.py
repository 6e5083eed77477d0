"""The package version and the source it runs from: a leaf module, so any layer can say which ganzoo wrote a file."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__version__ = "0.1.0"


@functools.lru_cache(maxsize=1)
def source_commit() -> str:
    """The git commit ganzoo runs from (``abc1234``, ``(with uncommitted changes)`` when the tree differs), or ""
    for an installed copy outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=here, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty and out.stdout.strip() else "")
