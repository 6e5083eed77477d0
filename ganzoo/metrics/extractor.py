"""What a feature extractor is: a module from images in [-1, 1] to features, with logits for the Inception Score."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GanzooError


class ExtractorUnavailable(GanzooError):
    """The extractor cannot be built on this machine (missing package or weights); the message says what to do."""


class FeatureExtractor(nn.Module):
    """Base class. Subclasses set ``num_features``, ``name`` and ``description`` and implement ``features`` and
    ``logits`` (or ``features_and_logits`` when one forward pass yields both, as Inception's does).

    Inputs are float images ``(N, C, H, W)`` in [-1, 1], exactly what the generator makes; each extractor converts
    them itself (Inception to uint8 RGB). ``description`` says what the features are and how far to trust them
    (e.g. test accuracy); ``protocol`` names everything a reader needs to compare two numbers (weights file hash,
    resize, normalisation) and travels into every result.
    """

    num_features: int = 0
    description: str = ""
    name: str = ""
    protocol: dict  # optional; set by extractors with a published protocol (see InceptionFeatures)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features(x), self.logits(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
