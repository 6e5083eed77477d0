"""Part of a suite, `--only KEY=VALUE[,VALUE...]`: a suite too long for one machine's session runs in parts.

PacGAN's 2-D table is about 16 core-hours on a CPU, more than one session or one node's allocation. Its parts
(`--only dataset=ring8`, then `--only dataset=grid25`, or a seed at a time) run into one suite folder: each part's
finished runs are skipped by the next, every part is checked against the same suite, and the table covers whatever
has finished. Values of one key are alternatives; different keys must all match (`--only model=pacgan,infogan --only
seed=0` selects two runs per dataset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Optional

from ganzoo.errors import GanzooError
from ganzoo.suite.spec import Suite, SuiteRun

__all__ = ["KEYS", "Selection"]

#: what `--only` can name, and the field of a run each reads
KEYS = {"model": "model", "dataset": "dataset", "seed": "seed", "label": "label", "id": "run_id"}


@dataclass(frozen=True)
class Selection:
    """The runs of a suite that `--only` names; empty: every run."""

    terms: tuple[tuple[str, frozenset[str]], ...] = ()

    @classmethod
    def parse(cls, texts: Optional[Sequence[str]]) -> Selection:
        """From `--only` values such as "model=pacgan,infogan" (a key given twice: the union of its values)."""
        wanted: dict[str, set[str]] = {}
        for text in texts or ():
            key, sep, values = str(text).partition("=")
            key = key.strip()
            if not sep or key not in KEYS:
                raise GanzooError(f"--only {text!r}: write KEY=VALUE[,VALUE...] with KEY one of {', '.join(KEYS)}")
            chosen = {v.strip() for v in values.split(",") if v.strip()}
            if not chosen:
                raise GanzooError(f"--only {text!r} names no value; e.g. --only {key}=...")
            wanted.setdefault(key, set()).update(chosen)
        return cls(tuple((k, frozenset(v)) for k, v in wanted.items()))

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, run: SuiteRun) -> bool:
        return all(str(getattr(run, KEYS[key])) in values for key, values in self.terms)

    def describe(self) -> str:
        """As the command line gives it: "--only model=pacgan,infogan --only seed=0"."""
        return " ".join(f"--only {key}={','.join(sorted(values))}" for key, values in self.terms)

    def apply(self, suite: Suite) -> Suite:
        """The suite with the selected runs only; a selection that names nothing in the suite is refused, naming
        what is there, so a typo does not run nothing and call it done."""
        if not self:
            return suite
        for key, values in self.terms:
            present = {str(getattr(r, KEYS[key])) for r in suite.runs}
            missing = sorted(values - present)
            if missing:
                raise GanzooError(f"--only {key}={','.join(missing)}: suite {suite.name} has no run with that {key}; "
                                  f"its {key}s: {', '.join(sorted(present)) or '(none)'}")
        runs = tuple(r for r in suite.runs if self.matches(r))
        if not runs:
            raise GanzooError(f"{self.describe()} selects none of the {len(suite.runs)} runs of suite {suite.name}; "
                              f"see `ganzoo suite show {suite.name}`")
        return replace(suite, runs=runs)
