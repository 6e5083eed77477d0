"""The protocol card of a quality number: how it was measured, kept beside it wherever ganzoo prints or writes one.

FIDs compare only under one protocol (feature extractor and its weights, reference images and their count, generated
count, resize, seeds); a number without its card cannot be compared. `card` gathers what a measurement used from its
result; callers add what only they know (which weights, at which step, the latents' seed); `card_text` renders it.
"""

from __future__ import annotations

from typing import Any, Optional

from ganzoo.version import __version__, source_commit


def card(result: dict[str, Any], *, reference: str, noise_seed: Optional[int] = None, weights: Optional[str] = None,
         step: Optional[int] = None) -> dict[str, Any]:
    """The protocol of one measurement `result` (image or 2-D mode metrics) against `reference` (which real
    samples: dataset, split, how many)."""
    protocol: dict[str, Any] = {"generated": result.get("num_samples"), "reference": reference}
    if weights is not None:
        protocol["generator"] = f"{'EMA' if weights == 'ema' else 'raw'} weights" + (
            f" at step {step}" if step is not None else "")
    if noise_seed is not None:
        protocol["latents"] = f"the generator's latent draw from a CPU generator seeded {noise_seed}"
    if "feature_extractor" in result:
        protocol["extractor"] = f"{result['feature_extractor']}: {result.get('feature_extractor_info', '')}".strip()
        protocol["kid"] = f"{result.get('kid_subsets')} subsets of {result.get('kid_subset_size')}"
        protocol["is"] = f"{result.get('is_splits')} splits"
        protocol["dtype"] = "fp32 samples and features"
    protocol["ganzoo"] = __version__ + (f", commit {source_commit()}" if source_commit() else "")
    return protocol


def card_text(protocol: dict[str, Any]) -> str:
    """One line: ``generated 2000; reference digits: all 1,797 images; ...``."""
    return "; ".join(f"{key} {value}" for key, value in protocol.items() if value not in (None, ""))
