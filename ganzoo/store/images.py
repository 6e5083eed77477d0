"""Sample grids and 2-D scatter plots as PNG files, with Pillow alone."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganzoo.store.checkpoint import atomic_write_bytes


def save_picture(picture: Image.Image, path: Path, **options) -> Path:
    """Write a picture (PNG, or the format of the suffix, e.g. an animated .gif with ``save_all=True``) through a temp
    file and a rename: a link at `path` is replaced, never written through, and a full disk leaves neither a
    truncated picture nor the temp file."""
    buffer = io.BytesIO()
    picture.save(buffer, format=Image.registered_extensions().get(Path(path).suffix.lower(), "PNG"), **options)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def image_grid(images: torch.Tensor, nrow: Optional[int] = None, pad: int = 1, min_width: int = 256) -> Image.Image:
    """Tile (N, C, H, W) images in [-1, 1] into one picture, scaled up (nearest) to at least `min_width`."""
    images = images.detach().float().cpu().clamp(-1, 1)
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    canvas = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, top : top + h, left : left + w] = images[i]
    array = ((canvas + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    picture = Image.fromarray(array[..., 0] if c == 1 else array, mode="L" if c == 1 else "RGB")
    if picture.width < min_width:
        factor = math.ceil(min_width / picture.width)
        picture = picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
    return picture


def scatter_plot(points: torch.Tensor, real: Optional[torch.Tensor] = None, centers: Optional[torch.Tensor] = None,
                 size: int = 512) -> Image.Image:
    """Generated points (blue) over real points (grey) and mode centres (red crosses), in a square frame."""
    sets = [t.detach().float().cpu() for t in (points, real, centers) if t is not None]
    everything = torch.cat(sets)
    finite = everything[torch.isfinite(everything).all(dim=1)]
    lo = float(finite.min()) if len(finite) else -1.0
    hi = float(finite.max()) if len(finite) else 1.0
    half = max(hi - lo, 1e-3) * 0.55
    mid = (hi + lo) / 2
    picture = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(picture)

    def to_pixels(t):
        xy = ((t - (mid - half)) / (2 * half) * (size - 1)).numpy()
        xy[:, 1] = size - 1 - xy[:, 1]
        return xy[np.isfinite(xy).all(axis=1)]

    if real is not None:
        for x, y in to_pixels(real.detach().float().cpu()):
            draw.point((x, y), fill=(170, 170, 170))
    for x, y in to_pixels(points.detach().float().cpu()):
        draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(30, 90, 200))
    if centers is not None:
        for x, y in to_pixels(centers.detach().float().cpu()):
            draw.line((x - 5, y - 5, x + 5, y + 5), fill=(210, 30, 30), width=2)
            draw.line((x - 5, y + 5, x + 5, y - 5), fill=(210, 30, 30), width=2)
    return picture


def save_samples(samples: torch.Tensor, path: Path, real: Optional[torch.Tensor] = None,
                 centers: Optional[torch.Tensor] = None) -> Path:
    """A grid for images, a scatter plot for 2-D points."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if samples.ndim == 4:
        picture = image_grid(samples)
    elif samples.ndim == 2 and samples.shape[1] == 2:
        picture = scatter_plot(samples, real, centers)
    else:
        raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}")
    return save_picture(picture, path)


def save_points_plot(fake: torch.Tensor, dataset, path: Path) -> Path:
    """2-D samples over the dataset's points and mode centres, as a PNG at `path`."""
    save_picture(scatter_plot(fake, real=dataset.data[:2500], centers=dataset.centers), path)
    return path
