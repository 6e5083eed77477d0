"""The declared plugin API: everything a plugin package (built-in or third-party) may import besides ``ganzoo``
itself, ``ganzoo.errors`` and ``ganzoo.testing``. These names are kept stable across releases; the modules they
come from are not (an import-linter contract in pyproject.toml keeps the built-in plugins to this list).
"""

from ganzoo.contract.extensions import PHASES, split_output
from ganzoo.contract.layers import SelfAttention2d, normal_init_, resolution_plan
from ganzoo.contract.types import draw_labels, draw_latent, to_float
from ganzoo.data.datasets import cache_dir
from ganzoo.data.download import fetch
from ganzoo.data.prepared import cached_folder, open_prepared
from ganzoo.data.tensors import resize_images
from ganzoo.errors import DataError, GanzooError
from ganzoo.metrics import ExtractorUnavailable, FeatureExtractor
from ganzoo.metrics.inception import (
    PUBLISHED_SHA256_PREFIX,
    RESIZE,
    WEIGHT_FILE_NAMES,
    WEIGHTS_URL,
    FIDInceptionV3,
    load_fid_weights,
)
from ganzoo.run.loggers import Logger, as_uint8, is_number
from ganzoo.store.checkpoint import load_checkpoint, save_checkpoint
from ganzoo.store.folder import RunFolder

__all__ = [
    "PHASES", "PUBLISHED_SHA256_PREFIX", "RESIZE", "SelfAttention2d", "WEIGHTS_URL", "WEIGHT_FILE_NAMES", "DataError",
    "ExtractorUnavailable", "FIDInceptionV3", "FeatureExtractor", "GanzooError", "Logger", "RunFolder", "as_uint8",
    "cache_dir", "cached_folder", "draw_labels", "draw_latent", "fetch", "is_number", "load_checkpoint",
    "load_fid_weights", "normal_init_", "open_prepared", "resize_images", "resolution_plan", "save_checkpoint",
    "split_output", "to_float",
]
