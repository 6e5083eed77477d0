"""Every random stream of a run, derived from its one ``--seed`` here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass

#: Offset of the evaluation's latent seed from the run's seed (fresh samples, independent of training's streams).
EVAL_SEED_OFFSET = 1_000_003


@dataclass(frozen=True)
class Seeds:
    """The seeds of one run: network initialisation (the global torch RNG), the data sampler, the engine's own
    noise (latents, fake labels, ``ctx.rand``), the fixed latents of the sample grids, and evaluations."""

    base: int = 0

    @property
    def init(self) -> int:
        return self.base

    @property
    def sampler(self) -> int:
        return self.base + 1

    @property
    def noise(self) -> int:
        return self.base + 2

    @property
    def grid(self) -> int:
        return self.base + 3

    @property
    def eval(self) -> int:
        return self.base + EVAL_SEED_OFFSET
