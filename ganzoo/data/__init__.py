"""The data layer: datasets (registered, folders, prepared caches), memory budgets and the batch samplers.

Imports only the contract, the registry and errors; the engine never imports it (it takes a ``next_batch``
callable), so datasets and the update step can change independently.
"""

from ganzoo.contract.types import to_float  # the 0.1 home of to_float
from ganzoo.data.datasets import cache_dir, class_probs_of, load_dataset, num_classes_of, parse_dataset_spec
from ganzoo.data.memory import available_memory, check_fits, human_bytes
from ganzoo.data.samplers import BatchSampler, make_sampler
from ganzoo.data.tensors import resize_images

__all__ = ["BatchSampler", "available_memory", "cache_dir", "check_fits", "class_probs_of", "human_bytes",
           "load_dataset", "make_sampler", "num_classes_of", "parse_dataset_spec", "resize_images",
           "to_float"]
