"""User-facing errors: the CLI prints them as one line and exits with code 2, no traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
