"""FID, KID and Inception Score, plus k-NN precision/recall/density/coverage, all on one feature extractor so the
numbers are comparable. Each image goes through the extractor once (Inception costs ~0.1 s per image on a CPU core);
the metrics are then computed from the feature matrices in float64, with seeded subsets and splits."""

from __future__ import annotations

import math
from typing import Optional

import torch

from ..errors import GanzooError
from .extractor import FeatureExtractor
from .prdc import density_coverage, precision_recall


def _batches(x: torch.Tensor, size: int):
    for i in range(0, x.shape[0], size):
        yield x[i : i + size]


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)) of two feature sets (rows = samples).

    tr((S_a S_b)^(1/2)) is the sum of singular values of A B^T / sqrt((n_a-1)(n_b-1)) with A, B the centred
    features (the nonzero eigenvalues of A^T A B^T B are those of (A B^T)(A B^T)^T), so with fewer samples than
    features nothing d x d is formed; otherwise it is taken from the symmetric S_a^(1/2) S_b S_a^(1/2).
    """
    a, b = a.double(), b.double()
    na, nb, d = a.shape[0], b.shape[0], a.shape[1]
    if na < 2 or nb < 2:
        raise ValueError("the Frechet distance needs at least 2 samples on each side")
    ca, cb = a - a.mean(0), b - b.mean(0)
    mean_term = (a.mean(0) - b.mean(0)).square().sum()
    trace_a, trace_b = ca.square().sum() / (na - 1), cb.square().sum() / (nb - 1)
    if min(na, nb) < d:
        cross = torch.linalg.svdvals(ca @ cb.T).sum() / math.sqrt((na - 1) * (nb - 1))
    else:
        sa, sb = ca.T @ ca / (na - 1), cb.T @ cb / (nb - 1)
        w, v = torch.linalg.eigh(sa)
        root_a = (v * w.clamp_min(0).sqrt()) @ v.T
        cross = torch.linalg.eigvalsh(root_a @ sb @ root_a).clamp_min(0).sqrt().sum()
    return float(mean_term + trace_a + trace_b - 2 * cross)


def _poly_mmd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^3 of Binkowski et al. 2018."""
    m, d = x.shape[0], x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    off = m * (m - 1)
    return (kxx.sum() - kxx.diagonal().sum()) / off + (kyy.sum() - kyy.diagonal().sum()) / off - 2 * kxy.mean()


#: KID's subset size (Binkowski et al. 2018; torch-fidelity's and torchmetrics' default).
KID_SUBSET_SIZE = 1000


def resolve_kid_subset_size(n_a: int, n_b: int, subset_size: int = KID_SUBSET_SIZE, *,
                            allow_smaller: bool = False) -> int:
    """The subset size KID will use: `subset_size`, or with `allow_smaller` the smaller sample count when that is
    below it. Without `allow_smaller`, too few samples is an error, as in torch-fidelity (KID is biased by the
    subset size, so a number at another size is not comparable and must not appear silently)."""
    if subset_size < 2:
        raise GanzooError(f"KID subset size must be at least 2, got {subset_size}")
    smaller = min(n_a, n_b)
    if smaller >= subset_size:
        return subset_size
    if allow_smaller and smaller >= 2:
        return smaller
    fix = ("generate at least 2 samples" if smaller < 2 else
           f"pass a subset size <= {smaller} or allow a smaller subset (kid_subset_size=None in image_metrics)")
    raise GanzooError(f"KID subset size {subset_size} is larger than the samples given ({n_a} real, {n_b} "
                      f"generated); {fix}, or give at least {subset_size} samples on each side")


def kernel_distance(a: torch.Tensor, b: torch.Tensor, *, subsets: int = 50, subset_size: int = KID_SUBSET_SIZE,
                    seed: int = 0, allow_smaller: bool = False) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): mean and population std of the unbiased MMD^2 over `subsets` random subsets of
    `subset_size` rows drawn without replacement, seeded. Fewer rows than `subset_size` is an error unless
    `allow_smaller` (see :func:`resolve_kid_subset_size`, which names the size used)."""
    g = torch.Generator().manual_seed(seed)
    m = resolve_kid_subset_size(a.shape[0], b.shape[0], subset_size, allow_smaller=allow_smaller)
    a, b = a.double(), b.double()
    scores = []
    for _ in range(subsets):
        x = a[torch.randperm(a.shape[0], generator=g)[:m]]
        y = b[torch.randperm(b.shape[0], generator=g)[:m]]
        scores.append(_poly_mmd(x, y))
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


def inception_score(logits: torch.Tensor, *, splits: int = 10, seed: int = 0,
                    shuffle: bool = True) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))) on each of `splits` consecutive parts of
    a seeded shuffle, split as the reference code and torch-fidelity do (part i = rows i*N//splits to
    (i+1)*N//splits, so sizes differ by at most one and there are always `splits` parts); mean and population std
    (numpy's ``np.std``, as both references) over the parts."""
    n = logits.shape[0]
    if n < splits:
        raise GanzooError(f"the Inception Score with {splits} splits needs at least {splits} samples, got {n}; "
                          f"generate more samples or use fewer splits")
    logits = logits.double()
    if shuffle:
        logits = logits[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]
    log_p = logits.log_softmax(1)
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = part.exp().mean(0).log()
        # E_x KL(p(y|x) || p(y)) is a mutual information, >= 0; float rounding can leave -1e-16 (IS < 1)
        scores.append((part.exp() * (part - log_marginal)).sum(1).mean().clamp_min(0).exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


@torch.no_grad()
def extract(extractor: FeatureExtractor, images: torch.Tensor, *, batch_size: int = 500, logits: bool = False):
    """Features (and logits) of `images` in float64 on the CPU, one extractor pass per image."""
    device = next(extractor.parameters()).device
    feats, logs = [], []
    for batch in _batches(images, batch_size):
        batch = batch.to(device)
        if logits:
            f, lg = extractor.features_and_logits(batch)
            logs.append(lg.double().cpu())
        else:
            f = extractor.features(batch)
        feats.append(f.reshape(f.shape[0], -1).double().cpu())
    return (torch.cat(feats), torch.cat(logs)) if logits else torch.cat(feats)


@torch.no_grad()
def image_metrics(real: torch.Tensor, fake: torch.Tensor, extractor: FeatureExtractor, *, batch_size: int = 500,
                  kid_subsets: int = 50, kid_subset_size: Optional[int] = None, is_splits: int = 10,
                  seed: int = 0) -> dict:
    """All image metrics of `fake` against `real`, both (N, C, H, W) in [-1, 1]; `seed` fixes KID subsets and IS
    splits, so one set of samples always gives one set of numbers.

    `kid_subset_size`: None (ganzoo's evaluation rule) uses 1000, or the smaller sample count when either side has
    fewer; an int is used as it is and too few samples is an error. The size used is in the result
    (``kid_subset_size``): KID is only comparable at one subset size.
    """
    extractor = extractor.eval()
    real_f = extract(extractor, real, batch_size=batch_size)
    fake_f, fake_logits = extract(extractor, fake, batch_size=batch_size, logits=True)
    precision, recall = precision_recall(real_f, fake_f, k=3)
    density, coverage = density_coverage(real_f, fake_f, k=5)
    subset = resolve_kid_subset_size(real_f.shape[0], fake_f.shape[0],
                                     KID_SUBSET_SIZE if kid_subset_size is None else kid_subset_size,
                                     allow_smaller=kid_subset_size is None)
    kid_mean, kid_std = kernel_distance(real_f, fake_f, subsets=kid_subsets, subset_size=subset, seed=seed)
    is_mean, is_std = inception_score(fake_logits, splits=is_splits, seed=seed)
    result = {
        "fid": frechet_distance(real_f, fake_f),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "kid_subset_size": subset,
        "kid_subsets": kid_subsets,
        "is_mean": is_mean,
        "is_std": is_std,
        "is_splits": is_splits,
        "precision": precision,
        "recall": recall,
        "density": density,
        "coverage": coverage,
        "feature_extractor": extractor.name,
        "feature_extractor_info": extractor.description,
        "num_samples": int(fake.shape[0]),
        "num_real": int(real.shape[0]),
    }
    if getattr(extractor, "protocol", None):
        result["feature_extractor_protocol"] = dict(extractor.protocol)
    return result
