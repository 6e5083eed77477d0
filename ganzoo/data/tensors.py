"""Resizing image batches within a memory budget (chunked, dtype kept)."""

from __future__ import annotations

from typing import Optional

import torch

from ganzoo.contract.types import to_float
from ganzoo.data.memory import check_fits


def resize_images(images: torch.Tensor, size: Optional[int], chunk: int = 1024) -> torch.Tensor:
    """(N, C, H, W) images to size x size (bilinear, antialiased), keeping their dtype; uint8 in chunks.

    The result's size is checked against free memory before it is allocated.
    """
    if not size or (images.shape[-1] == size and images.shape[-2] == size):
        return images
    n, c = images.shape[:2]
    out_bytes = n * c * size * size * images.element_size()
    check_fits(out_bytes, f"resizing {n:,} images to {c}x{size}x{size}", torch.device("cpu"),
               fix="use a smaller --image-size, or `ganzoo prepare` the dataset and stream it from disk")
    out = torch.empty((n, c, size, size), dtype=images.dtype)
    for i in range(0, n, chunk):
        block = to_float(images[i : i + chunk])
        block = torch.nn.functional.interpolate(block, size=(size, size), mode="bilinear", antialias=True,
                                                align_corners=False).clamp_(-1, 1)
        if images.dtype == torch.uint8:
            block = block.add_(1.0).mul_(127.5).round_()
        out[i : i + chunk] = block
    return out
