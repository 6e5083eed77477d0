"""Drawing from a built GAN: seeded samples (per class for conditional runs), latent walks, and writing them out.

Latents are always drawn on the CPU from a ``torch.Generator`` seeded with ``seed``
(``ganzoo.contract.types.draw_latent`` and ``draw_labels``, the rule ``GAN.sample`` follows too), then moved to the
model's device, so the same seed gives the same latents on any device and ``gan.sample(n, seed=s)`` equals
``ganzoo.use.sampling.sample(gan, n, seed=s)``. A GAN is conditional when ``gan.num_classes`` is set; its generator is
then called ``G(z, y)`` with integer labels ``y``.

The truncation trick (``truncation=psi``, ``ganzoo sample --truncation PSI``) trades variety for fidelity as each
paper defines it: a style-based generator, whose ``forward`` takes a ``truncation`` argument, moves every w
towards its running mean, ``w' = w_avg + psi (w - w_avg)`` (Karras et al. 2019, StyleGAN; psi in [0, 1], 1 = off);
for every other generator the latents are drawn from the normal distribution truncated to ``|z_i| <= psi``
(Brock et al. 2019, BigGAN: "values with magnitude above a chosen threshold are resampled"; psi > 0), by inverse
CDF from the same seeded generator, so a seed still gives the same samples.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image

from ganzoo.contract.types import draw_labels, draw_latent
from ganzoo.data.memory import check_fits
from ganzoo.errors import GanzooError
from ganzoo.store.images import image_grid, save_picture, scatter_plot

Labels = Optional[Union[Sequence[int], torch.Tensor]]
BATCH = 500  # generator calls are chunked so a large -n never needs one huge activation


def num_classes(gan) -> Optional[int]:
    n = getattr(gan, "num_classes", None)
    return int(n) if n else None


def _device(gan) -> torch.device:
    p = next(iter(gan.generator.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _rng(seed: Optional[int]) -> torch.Generator:
    rng = torch.Generator()
    if seed is None:
        rng.seed()
    else:
        rng.manual_seed(int(seed))
    return rng


def check_labels(gan, labels: Labels) -> Optional[torch.Tensor]:
    """Labels as a 1-D int64 tensor, refusing labels for unconditional runs and classes out of range."""
    classes = num_classes(gan)
    if labels is None:
        return None
    if classes is None:
        raise GanzooError(f"{gan.name} is unconditional (it has no classes); drop --labels/--per-class")
    y = torch.as_tensor(labels).long().flatten()
    bad = [int(v) for v in y if not 0 <= int(v) < classes]
    if bad:
        raise GanzooError(f"labels {bad[:5]} are out of range; {gan.name} has classes 0..{classes - 1}")
    return y


def per_class_labels(gan, k: int) -> torch.Tensor:
    """k of each class in class order: 0,0,..,1,1,.. (one grid row per class when the grid is k wide)."""
    classes = num_classes(gan)
    if classes is None:
        raise GanzooError(f"{gan.name} is unconditional; --per-class needs a conditional run, use -n instead")
    return torch.arange(classes).repeat_interleave(int(k))


def style_truncation(net) -> bool:
    """Whether the generator truncates its own styles (its forward takes a ``truncation`` argument)."""
    try:
        return "truncation" in inspect.signature(net.forward).parameters
    except (TypeError, ValueError):
        return False


def check_truncation(gan, truncation: Optional[float]) -> Optional[float]:
    """psi checked for this generator's kind of truncation (None or exactly 1 for a style-based one: off)."""
    if truncation is None:
        return None
    psi = float(truncation)
    if style_truncation(gan.generator):
        if not 0.0 <= psi <= 1.0:
            raise GanzooError(f"--truncation {truncation} is out of range: {gan.name} truncates towards the mean w, "
                              f"psi in [0, 1] (1 = no truncation, 0.7 is common)")
        return psi
    if getattr(gan.generator, "sample_latent", None) is not None:
        raise GanzooError(f"{gan.name}'s generator draws its own structured latents (not N(0, I)), which cannot be "
                          f"truncated; drop --truncation")
    if not psi > 0.0 or not math.isfinite(psi):
        raise GanzooError(f"--truncation {truncation} must be a positive threshold: {gan.name}'s latents are drawn "
                          f"from N(0, 1) truncated to |z| <= psi (0.5 to 2 is common)")
    return psi


def truncated_normal(n: int, dim: int, threshold: float, rng: torch.Generator) -> torch.Tensor:
    """(n, dim) draws of N(0, 1) conditioned on |z| <= threshold, by inverse CDF of uniforms from `rng`."""
    normal = torch.distributions.Normal(0.0, 1.0)
    low = normal.cdf(torch.tensor(-float(threshold), dtype=torch.float64))
    u = torch.rand((n, dim), generator=rng, dtype=torch.float64)
    z = normal.icdf(low + u * (1 - 2 * low))
    return z.clamp(-threshold, threshold).float()


def generate(gan, z: torch.Tensor, y: Optional[torch.Tensor] = None, truncation: Optional[float] = None
             ) -> torch.Tensor:
    """G(z) or G(z, y) in eval mode without gradients, in chunks, as float32 on the CPU; a style-based generator
    is called with ``truncation`` psi when one is given (other generators' truncation is in the latents: `draw`)."""
    net, device = gan.generator, _device(gan)
    style = {"truncation": float(truncation)} if truncation is not None and style_truncation(net) else {}
    was_training = net.training
    net.eval()
    out = []
    try:
        with torch.no_grad():
            for i in range(0, z.shape[0], BATCH):
                zi = z[i:i + BATCH].to(device)
                x = net(zi, **style) if y is None else net(zi, y[i:i + BATCH].to(device), **style)
                out.append(x.float().cpu())
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, *gan.shape)


def check_room(gan, n: int, what: str) -> None:
    """Refuse, before allocating anything, a sample count whose latents and outputs (float32, on the CPU) would not
    fit in memory: a one-line error instead of an allocator failure part-way."""
    per_sample = 4 * (int(gan.latent_dim) + math.prod(int(s) for s in gan.shape))
    check_fits(n * per_sample, f"{what} {n:,} samples of {gan.name} ({per_sample:,} bytes each)", torch.device("cpu"),
               fix="ask for fewer, or write them in several calls with different --seed")


def draw(gan, n: Optional[int] = None, labels: Labels = None, seed: Optional[int] = None,
         truncation: Optional[float] = None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The latents (and labels) `sample` uses: n normal latents (truncated to |z| <= `truncation` for a generator
    that does not truncate its own styles); random classes for a conditional run without labels."""
    psi = check_truncation(gan, truncation)
    y = check_labels(gan, labels)
    if y is not None:
        if n is not None and n != len(y):
            raise GanzooError(f"-n {n} does not match the {len(y)} labels given; drop -n or give {n} labels")
        n = len(y)
    n = 64 if n is None else int(n)
    if n <= 0:
        raise GanzooError(f"-n must be positive, got {n}")
    check_room(gan, n, "-n")
    rng = _rng(seed)
    cpu = torch.device("cpu")
    if psi is not None and not style_truncation(gan.generator):
        z = truncated_normal(n, gan.latent_dim, psi, rng)
    else:
        z = draw_latent(gan.generator, n, gan.latent_dim, rng, cpu)  # structured codes (InfoGAN) when G has them
    if y is None and num_classes(gan) is not None:
        y = draw_labels(n, num_classes(gan), getattr(gan, "class_probs", None), rng, cpu)
    return z, y


def sample(gan, n: Optional[int] = None, labels: Labels = None, seed: Optional[int] = None,
           truncation: Optional[float] = None) -> torch.Tensor:
    """n samples (float32, CPU) from seeded latents; for a conditional GAN of the given (or random) classes; with
    the truncation trick when `truncation` psi is given (see the module docstring)."""
    z, y = draw(gan, n, labels, seed, truncation)
    return generate(gan, z, y, truncation)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents) between rows of z0 and z1.

    Returns ``(len(z0), len(t), D)``; equal angles between consecutive points, linear where z0 and z1 are parallel.
    """
    t = torch.as_tensor(t, dtype=z0.dtype).reshape(1, -1, 1)
    a, b = z0.unsqueeze(1), z1.unsqueeze(1)
    cos = (torch.nn.functional.normalize(z0, dim=1) * torch.nn.functional.normalize(z1, dim=1)).sum(1)
    omega = torch.arccos(cos.clamp(-1.0, 1.0)).reshape(-1, 1, 1)
    so = torch.sin(omega)
    parallel = so.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(so), so)
    spherical = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / safe
    linear = (1 - t) * a + t * b
    return torch.where(parallel, linear, spherical)


def interpolate(gan, steps: int = 8, rows: Optional[int] = None, seed: Optional[int] = None,
                truncation: Optional[float] = None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Samples along slerp walks between pairs of random latents: ``(rows, steps, *shape)`` and per-row labels.

    A conditional run keeps one class per row (row r is class r mod num_classes); its default is a row per class.
    """
    if steps < 2:
        raise GanzooError(f"--steps must be at least 2 (the two ends), got {steps}")
    classes = num_classes(gan)
    rows = int(rows or (classes or 4))
    if rows <= 0:
        raise GanzooError(f"--rows must be positive, got {rows}")
    check_room(gan, rows * steps, f"--rows {rows} x --steps {steps} =")
    psi = check_truncation(gan, truncation)
    rng = _rng(seed)
    if psi is not None and not style_truncation(gan.generator):
        ends = truncated_normal(2 * rows, gan.latent_dim, psi, rng)  # slerp keeps |z_i| <= psi only roughly
    else:
        ends = draw_latent(gan.generator, 2 * rows, gan.latent_dim, rng, torch.device("cpu"))
    ends = ends.reshape(2, rows, -1)
    z = slerp(ends[0], ends[1], torch.linspace(0, 1, steps)).reshape(rows * steps, ends.shape[-1])
    y_rows = torch.arange(rows) % classes if classes else None
    y = y_rows.repeat_interleave(steps) if y_rows is not None else None
    x = generate(gan, z, y, psi)
    return x.reshape(rows, steps, *x.shape[1:]), y_rows


# -- writing ---------------------------------------------------------------------------------------------------------
def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8, C in {1, 3}."""
    pixels = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).numpy()


def _picture(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array[..., 0], mode="L") if array.shape[-1] == 1 else Image.fromarray(array, mode="RGB")


def output_kind(path: Union[str, Path]) -> str:
    """'png' (a picture), 'npz' (arrays), 'folder' (one PNG per sample) or 'gif', from how the path is written."""
    text = str(path)
    suffix = Path(text).suffix.lower()
    if text.endswith(("/", "\\")) or not suffix:
        return "folder"
    if suffix in (".png", ".npz", ".gif"):
        return suffix[1:]
    raise GanzooError(f"cannot tell what to write from {text!r}; end --out with .png, .npz, .gif or / (a folder)")


def write_samples(samples: torch.Tensor, path: Union[str, Path], *, nrow: Optional[int] = None,
                  latents: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None) -> Path:
    """A PNG grid (scatter plot for 2-D points), a folder of PNGs, or an .npz, chosen by the path."""
    kind = output_kind(path)
    path = Path(path)
    points = samples.ndim == 2
    if kind == "npz":
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"samples": samples.float().numpy()}
        if latents is not None:
            arrays["latents"] = latents.float().numpy()
        if labels is not None:
            arrays["labels"] = labels.long().numpy()
        np.savez(path, **arrays)
    elif points and kind in ("png",):
        path.parent.mkdir(parents=True, exist_ok=True)
        save_picture(scatter_plot(samples), path)
    elif points or samples.ndim != 4:
        raise GanzooError(f"samples of shape {tuple(samples.shape[1:])} are points, not images; write a scatter "
                          f"plot (.png) or an .npz")
    elif kind == "png":
        path.parent.mkdir(parents=True, exist_ok=True)
        save_picture(image_grid(samples, nrow=nrow), path)
    elif kind == "folder":
        path.mkdir(parents=True, exist_ok=True)
        width = max(6, len(str(len(samples) - 1)))
        for i, array in enumerate(to_uint8(samples)):
            name = f"{i:0{width}d}" + (f"_class{int(labels[i])}" if labels is not None else "")
            save_picture(_picture(array), path / f"{name}.png")
    else:
        raise GanzooError(f"{path.suffix} is for interpolations; write samples to .png, .npz or a folder")
    return path


def write_walk(walk: torch.Tensor, path: Union[str, Path], labels: Optional[torch.Tensor] = None,
               frame_ms: int = 120) -> Path:
    """A (rows, steps, ...) walk as a PNG grid (one walk per row), an animated GIF (one frame per step), or .npz."""
    kind = output_kind(path)
    path = Path(path)
    rows, steps = walk.shape[:2]
    if kind == "npz":
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, walk=walk.float().numpy(), **({"labels": labels.long().numpy()} if labels is not None else {}))
        return path
    if walk.ndim != 5:
        raise GanzooError(f"walks through {tuple(walk.shape[2:])}-shaped points cannot be drawn; write an .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "png":
        save_picture(image_grid(walk.reshape(rows * steps, *walk.shape[2:]), nrow=steps), path)
    elif kind == "gif":
        nrow = math.ceil(math.sqrt(rows))
        frames = [image_grid(walk[:, s], nrow=nrow).convert("RGB") for s in range(steps)]
        frames += frames[-2:0:-1]  # walk back so the loop has no jump
        save_picture(frames[0], path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    else:
        raise GanzooError(f"write interpolations to .png, .gif or .npz, not {str(path)!r}")
    return path
