"""Quality metrics: FID/KID/IS on a pluggable feature extractor, precision/recall,
density/coverage, and the mode-coverage metrics of the 2-D Gaussian-mixture benchmarks."""

from .extractor import ExtractorUnavailable, FeatureExtractor
from .image import image_metrics
from .modes import mode_metrics
from .prdc import density_coverage, precision_recall

__all__ = ["ExtractorUnavailable", "FeatureExtractor", "density_coverage", "image_metrics", "mode_metrics",
           "precision_recall"]
