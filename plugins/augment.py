"""Discriminator augmentations usable with any image model (``--augment NAME[:key=value,...]``).

The trainer applies the augmentation to every discriminator input, real and fake, in the D and the G step, and
gradients flow through it to G. Random parameters are drawn per sample from torch's global generator (the trainer
checkpoints it, so a resumed run repeats exactly); nothing here reads a value back to the host in the hot loop.

- ``diffaugment`` (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"): the policy
  ``color,translation,cutout`` of the paper's reference code, on images in [-1, 1]:
  brightness ``x + (u - 0.5)``; saturation ``m_c + (x - m_c) * 2u`` (m_c: the mean over channels);
  contrast ``m + (x - m) * (u + 0.5)`` (m: the image mean); u ~ U(0, 1) per sample and op;
  translation by an integer in [-s, s] pixels per axis, s = round(size / 8), zero padded;
  cutout of a square of half the image size (rounded) at a uniform centre, set to 0.
  On the command line separate policy entries with ``+`` (``diffaugment:policy=color+translation``): commas
  separate options there.
- ``ada`` (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data"): every op is applied
  to each sample with probability p, and p is steered by the sign of D's real scores: ``feedback`` accumulates
  sign(D(real)) and, every ``interval`` (4) D steps, moves p by sign(r_t - target) * (images in the interval) /
  (kimg * 1000), r_t = E[sign(D(real))], target 0.6, kimg 500 (p can go from 0 to 1 in 500k real images), clamped
  to [0, 1]. p and the accumulators are buffers (checkpointed); under torchrun the sums are all-reduced so every
  process keeps the same p. A documented subset of the paper's "bgc" pipeline, the ops that are cheap on a CPU:
  xflip, 90-degree rotations, integer translation (up to 1/8 of the size, reflection padded), brightness
  (N(0, 0.2) added), contrast (x 2^N(0, 0.5)) and saturation (x 2^N(0, 1) off the grey axis, RGB only), with the
  paper's distributions and order. Left out: isotropic/anisotropic scaling, arbitrary rotation, fractional
  translation (the upsampled grid-sample geometric ops), luma flip and hue rotation, and the filter/noise/cutout
  groups. ``p=0.2,adaptive=false`` keeps p fixed (the paper's fixed-p baseline).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

import ganzoo
from ganzoo.errors import GanzooError

DIFFAUGMENT_POLICY = "color,translation,cutout"
DIFFAUGMENT_OPS = ("color", "translation", "cutout")
ADA_OPS = ("xflip", "rotate90", "xint", "brightness", "contrast", "saturation")
ADA_DEFAULT_OPS = ",".join(ADA_OPS)
#: The paper's distributions (StyleGAN2-ADA AugmentPipe defaults).
XINT_MAX = 0.125
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5
SATURATION_STD = 1.0


# -- shared pieces ------------------------------------------------------------------------------------------------

def image_shape(name: str, shape: Any) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise GanzooError(f"augmentation {name!r} works on images (C, H, W); this dataset's samples have shape "
                          f"{shape}: drop --augment for 2-D data")
    return shape  # type: ignore[return-value]


def split_list(name: str, key: str, text: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """'a,b' or 'a+b' (the CLI separates options with commas) -> ('a', 'b'), each checked against `allowed`."""
    if not isinstance(text, str):
        raise GanzooError(f"{name}: {key} must be a string like {'+'.join(allowed)}, got {text!r}")
    items = tuple(p for p in (s.strip() for s in text.replace("+", ",").split(",")) if p)
    unknown = [p for p in items if p not in allowed]
    if unknown:
        raise GanzooError(f"{name}: unknown {key} entry {unknown[0]!r}; choose from {', '.join(allowed)}")
    if not items:
        raise GanzooError(f"{name}: {key} is empty; give one of {', '.join(allowed)} (or use --augment none)")
    return items


def refuse_unknown(name: str, unknown: dict, known: str) -> None:
    if unknown:
        raise GanzooError(f"{name}: unknown option {sorted(unknown)[0]!r}; options are {known}")


def per_sample(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, 1, 1) in x's dtype."""
    return v.to(x.dtype).view(-1, *([1] * (x.ndim - 1)))


def sample_mask(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N,) bool -> (N, 1, 1, 1) bool, for torch.where over whole images."""
    return m.view(-1, *([1] * (x.ndim - 1)))


def source_index(size: int, shift: torch.Tensor, padding: str) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """For content moved by `shift` (N,) pixels along an axis of `size`: each output position's source index (N,
    size), and which sources lie inside the image (zero padding) or None (reflection: every index is folded in)."""
    idx = torch.arange(size, device=shift.device)[None, :] - shift[:, None]
    if padding == "reflect":
        if size == 1:
            return torch.zeros_like(idx), None
        period = 2 * (size - 1)
        idx = idx.remainder(period)
        return torch.where(idx >= size, period - idx, idx), None
    valid = (idx >= 0) & (idx < size)
    return idx.clamp(0, size - 1), valid


def translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """Move each image's content by integers (dy, dx) (down, right): out[n, :, i, j] = x[n, :, i - dy, j - dx],
    outside the image 0 (``zeros``) or the mirror image without repeating the edge (``reflect``)."""
    n, c, h, w = x.shape
    rows, valid_r = source_index(h, dy.long(), padding)
    cols, valid_c = source_index(w, dx.long(), padding)
    out = x.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w))
    out = out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))
    if valid_r is not None:
        mask = valid_r.view(n, 1, h, 1) & valid_c.view(n, 1, 1, w)
        out = out * mask.to(out.dtype)
    return out


# -- DiffAugment ----------------------------------------------------------------------------------------------------

def brightness(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """x + (u - 0.5), u (N,) in [0, 1)."""
    return x + per_sample(u - 0.5, x)


def saturation(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """m_c + (x - m_c) * 2u with m_c the per-pixel mean over channels (a no-op on one channel)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * per_sample(u * 2, x) + mean


def contrast(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """m + (x - m) * (u + 0.5) with m each image's mean over channels and pixels."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * per_sample(u + 0.5, x) + mean


def cutout(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, size_h: int, size_w: int) -> torch.Tensor:
    """Zero the rows [cy - size_h // 2, cy - size_h // 2 + size_h) x the same for columns, clipped to the image."""
    n, _, h, w = x.shape
    top = (cy.long() - size_h // 2)[:, None]
    left = (cx.long() - size_w // 2)[:, None]
    r = torch.arange(h, device=x.device)[None, :]
    c = torch.arange(w, device=x.device)[None, :]
    in_r = (r >= top) & (r < top + size_h)
    in_c = (c >= left) & (c < left + size_w)
    cut = in_r.view(n, 1, h, 1) & in_c.view(n, 1, 1, w)
    return x * (~cut).to(x.dtype)


class DiffAugment(ganzoo.Augmentation):
    """Zhao et al. 2020: color, translation (1/8, zero padding) and cutout (1/2), fresh parameters per sample."""

    def __init__(self, shape, policy: str = DIFFAUGMENT_POLICY, **unknown: Any):
        super().__init__()
        refuse_unknown("diffaugment", unknown, "policy")
        _, h, w = image_shape("diffaugment", shape)
        self.policy = split_list("diffaugment", "policy", policy, DIFFAUGMENT_OPS)
        self.shift = (int(h * 0.125 + 0.5), int(w * 0.125 + 0.5))  # the reference's rounding: 1 px at 8, 4 at 32
        self.cut = (int(h * 0.5 + 0.5), int(w * 0.5 + 0.5))

    def extra_repr(self) -> str:
        return f"policy={'+'.join(self.policy)}, shift={self.shift}, cutout={self.cut}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        for op in self.policy:
            if op == "color":
                x = brightness(x, torch.rand(n, device=x.device))
                x = saturation(x, torch.rand(n, device=x.device))
                x = contrast(x, torch.rand(n, device=x.device))
            elif op == "translation":
                sy, sx = self.shift
                dy = torch.randint(-sy, sy + 1, (n,), device=x.device)
                dx = torch.randint(-sx, sx + 1, (n,), device=x.device)
                x = translate(x, dy, dx, "zeros")
            else:  # cutout: centres as in the reference (an odd size cannot be centred past the last pixel)
                ch, cw = self.cut
                cy = torch.randint(0, h + (1 - ch % 2), (n,), device=x.device)
                cx = torch.randint(0, w + (1 - cw % 2), (n,), device=x.device)
                x = cutout(x, cy, cx, ch, cw)
        return x


# -- ADA ------------------------------------------------------------------------------------------------------------

def rotate90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate each (square) image by k (N,) quarter turns counter-clockwise."""
    out = x
    for turns in (1, 2, 3):
        out = torch.where(sample_mask(k == turns, x), x.rot90(turns, dims=(2, 3)), out)
    return out


def ada_color(x: torch.Tensor, b: torch.Tensor, c: torch.Tensor, s: Optional[torch.Tensor]) -> torch.Tensor:
    """ADA's colour matrix without luma flip and hue: brightness b, then contrast c (scaling about 0), then
    saturation s off the grey axis v = (1, ..., 1)/sqrt(C): x -> v v^T y + s (I - v v^T) y, y = c (x + b)."""
    y = (x + per_sample(b, x)) * per_sample(c, x)
    if s is None or x.shape[1] == 1:
        return y
    grey = y.mean(dim=1, keepdim=True)  # v v^T y
    return grey + (y - grey) * per_sample(s, x)


class ADA(ganzoo.Augmentation):
    """Karras et al. 2020: ops applied per sample with probability p; p steered toward E[sign D(real)] = target."""

    def __init__(self, shape, p: float = 0.0, target: float = 0.6, interval: int = 4, kimg: float = 500,
                 ops: str = ADA_DEFAULT_OPS, adaptive: bool = True, **unknown: Any):
        super().__init__()
        refuse_unknown("ada", unknown, "p, target, interval, kimg, ops, adaptive")
        _, h, w = image_shape("ada", shape)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise GanzooError(f"ada: p must be a probability in [0, 1], got {p!r}")
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not -1 < target < 1:
            raise GanzooError(f"ada: target is a value of E[sign D(real)] in (-1, 1) (the paper: 0.6), got {target!r}")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise GanzooError(f"ada: interval must be a positive whole number of D steps, got {interval!r}")
        if isinstance(kimg, bool) or not isinstance(kimg, (int, float)) or not kimg > 0 or math.isinf(kimg):
            raise GanzooError(f"ada: kimg must be a positive number of thousands of images, got {kimg!r}")
        if not isinstance(adaptive, bool):
            raise GanzooError(f"ada: adaptive must be true or false, got {adaptive!r}")
        self.ops = split_list("ada", "ops", ops, ADA_OPS)
        if "rotate90" in self.ops and h != w:
            raise GanzooError(f"ada: rotate90 needs square images, these are {h}x{w}; leave it out, e.g. "
                              f"ada:ops=xflip+xint+brightness+contrast+saturation")
        self.target, self.interval, self.kimg, self.adaptive = float(target), int(interval), float(kimg), adaptive
        self.register_buffer("p", torch.tensor(float(p)))
        # sum of sign(D(real)), number of scores, number of real images, D steps: since the last adjustment
        self.register_buffer("accum", torch.zeros(4))
        self.register_buffer("rt", torch.tensor(float("nan")))  # r_t of the last completed interval

    def extra_repr(self) -> str:
        return (f"ops={'+'.join(self.ops)}, target={self.target}, interval={self.interval}, kimg={self.kimg}, "
                f"adaptive={self.adaptive}")

    def _chosen(self, n: int, device) -> torch.Tensor:
        """(N,) bool: which samples get an op, each with probability p (no host sync: p stays a tensor)."""
        return torch.rand(n, device=device) < self.p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        dev = x.device
        ops = self.ops
        if "xflip" in ops:
            flip = (torch.rand(n, device=dev) < 0.5) & self._chosen(n, dev)
            x = torch.where(sample_mask(flip, x), x.flip(3), x)
        if "rotate90" in ops:
            k = torch.floor(torch.rand(n, device=dev) * 4).long()
            x = rotate90(x, torch.where(self._chosen(n, dev), k, torch.zeros_like(k)))
        if "xint" in ops:
            t = (torch.rand(n, 2, device=dev) * 2 - 1) * XINT_MAX
            t = torch.where(self._chosen(n, dev)[:, None], t, torch.zeros_like(t))
            x = translate(x, torch.round(t[:, 1] * h).long(), torch.round(t[:, 0] * w).long(), "reflect")
        if any(o in ops for o in ("brightness", "contrast", "saturation")):
            zero, one = torch.zeros(n, device=dev), torch.ones(n, device=dev)
            touched = torch.zeros(n, dtype=torch.bool, device=dev)
            b, c, s = zero, one, None
            if "brightness" in ops:
                b, chosen = torch.randn(n, device=dev) * BRIGHTNESS_STD, self._chosen(n, dev)
                b, touched = torch.where(chosen, b, zero), touched | chosen
            if "contrast" in ops:
                c, chosen = torch.exp2(torch.randn(n, device=dev) * CONTRAST_STD), self._chosen(n, dev)
                c, touched = torch.where(chosen, c, one), touched | chosen
            if "saturation" in ops and x.shape[1] > 1:  # the paper skips saturation on one channel
                s, chosen = torch.exp2(torch.randn(n, device=dev) * SATURATION_STD), self._chosen(n, dev)
                s, touched = torch.where(chosen, s, one), touched | chosen
            x = torch.where(sample_mask(touched, x), ada_color(x, b, c, s), x)  # untouched samples stay exact
        return x

    @torch.no_grad()
    def feedback(self, real_scores: torch.Tensor, ctx: Any = None) -> None:
        scores = real_scores.detach().float().reshape(-1)
        images = ctx.real.shape[0] if ctx is not None and getattr(ctx, "real", None) is not None else scores.numel()
        dev = self.accum.device
        step = torch.stack([scores.sign().sum().to(dev), torch.full((), float(scores.numel()), device=dev),
                            torch.full((), float(images), device=dev), torch.ones((), device=dev)])
        if torch.distributed.is_available() and torch.distributed.is_initialized() \
                and torch.distributed.get_world_size() > 1:
            torch.distributed.all_reduce(step[:3])  # every process sees the global batch and keeps the same p
        self.accum.add_(step)
        due = self.accum[3] >= self.interval
        rt = self.accum[0] / self.accum[1].clamp_min(1)
        self.rt.copy_(torch.where(due, rt, self.rt))
        if self.adaptive:
            adjust = torch.sign(rt - self.target) * self.accum[2] / (self.kimg * 1000)
            self.p.copy_(torch.where(due, (self.p + adjust).clamp(0, 1), self.p))
        self.accum.copy_(torch.where(due, torch.zeros_like(self.accum), self.accum))

    def stats(self) -> dict[str, torch.Tensor]:
        """p, and r_t of the last completed interval once there is one (read at log points only)."""
        return {"p": self.p, **({"rt": self.rt} if bool(torch.isfinite(self.rt)) else {})}


@ganzoo.hookimpl
def register_augmentations(register):
    register("diffaugment", DiffAugment,
             "DiffAugment: color, translation 1/8, cutout 1/2 on real and fake (Zhao et al. 2020)")
    register("ada", ADA, "adaptive augmentation, p steered by sign D(real) to 0.6 (Karras et al. 2020); "
                         "xflip, rot90, int. translation, brightness/contrast/saturation")
