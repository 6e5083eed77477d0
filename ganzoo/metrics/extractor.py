"""What a feature extractor is: a module from images in [-1, 1] to features, with logits for the Inception Score."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GanzooError


class ExtractorUnavailable(GanzooError):
    """The extractor cannot be built on this machine (missing package or weights); the message says what to do."""


class FeatureExtractor(nn.Module):
    """Base class. Subclasses set ``num_features`` and ``description`` and implement ``features`` and ``logits``.

    Inputs are float images ``(N, C, H, W)`` in [-1, 1], exactly what the generator makes; torchmetrics is used with
    ``normalize=False`` so nothing rescales them on the way (with ``normalize=True`` it would hand the module uint8
    0..255 values). ``description`` says what the features are and how far to trust them (e.g. test accuracy).
    """

    num_features: int = 0
    description: str = ""
    name: str = ""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class LogitsView(nn.Module):
    """Presents an extractor's class logits as the 'features' torchmetrics' InceptionScore softmaxes."""

    def __init__(self, extractor: FeatureExtractor):
        super().__init__()
        self.extractor = extractor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extractor.logits(x)
