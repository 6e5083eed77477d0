"""The metrics against their reference implementations: hand-computed cases where the references' rules and the
obvious alternatives give different numbers, plus numbers recorded from the references themselves.

Recorded numbers (inputs are built from numpy's seeded generator, so they do not depend on torch's RNG):
- torch-fidelity 0.4.0, ``torch_fidelity.metric_isc.isc_features_to_metric(logits, splits=10, shuffle=False)`` and
  ``metric_kid.kid_features_to_metric``; its package import needs torchvision, so it was run once with the unrelated
  torchvision/tqdm imports stubbed out (the two functions use only numpy and torch).
- prdc 0.2 (Naeem et al.'s reference, ``prdc.compute_prdc(real, fake, nearest_k=5)``). When the package is
  installed the same comparisons also run live against it.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics import FeatureExtractor, density_coverage, image_metrics, precision_recall
from ganzoo.metrics.image import inception_score, kernel_distance, resolve_kid_subset_size


def peaked_logits(classes: list[int], num_classes: int, gap: float = 60.0) -> torch.Tensor:
    """Logits whose softmax is one-hot to 1e-24: a split whose rows name c distinct classes has IS exactly c."""
    logits = torch.zeros(len(classes), num_classes, dtype=torch.float64)
    logits[torch.arange(len(classes)), torch.tensor(classes)] = gap
    return logits


# -- Inception Score: Salimans et al. 2016's split rule and std, as torch-fidelity -----------------------------------

def test_is_splits_and_std_by_hand():
    """21 samples of 21 distinct classes in 10 splits: parts i*21//10.. have sizes 2 (x9) and 3, so the split scores
    are 2 (x9) and 3: mean 2.1, population std sqrt(4.5 - 2.1^2) = 0.3. (ceil(21/10) = 3 per part would give 7
    parts of 3: mean 3, std 0; Bessel's correction would give 0.3 * sqrt(10/9).)"""
    mean, std = inception_score(peaked_logits(list(range(21)), 21), splits=10, shuffle=False)
    assert mean == pytest.approx(2.1, abs=1e-12)
    assert std == pytest.approx(0.3, abs=1e-12)


def test_is_population_std_by_hand():
    """Two splits, one of one class (IS 1) and one of three distinct classes (IS 3): std |3 - 1| / 2 = 1."""
    mean, std = inception_score(peaked_logits([0, 0, 0, 1, 2, 3], 4), splits=2, shuffle=False)
    assert (mean, std) == (pytest.approx(2.0, abs=1e-12), pytest.approx(1.0, abs=1e-12))


@pytest.mark.parametrize("n,expected", [
    (995, (3.7212180515288664, 0.14270630055078898)),
    (21, (1.7333551361213402, 0.20183219070376587)),
])
def test_is_equals_torch_fidelity(n, expected):
    logits = torch.from_numpy(np.random.default_rng(24).normal(0, 3, (n, 10)))
    assert inception_score(logits, splits=10, shuffle=False) == pytest.approx(expected, rel=1e-12)


def test_is_shuffle_is_seeded_and_only_reorders():
    logits = torch.from_numpy(np.random.default_rng(24).normal(0, 3, (40, 10)))
    assert inception_score(logits, seed=3) == inception_score(logits, seed=3)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(3))
    assert inception_score(logits, seed=3) == inception_score(logits[perm], shuffle=False)


def test_is_with_fewer_samples_than_splits_is_a_one_line_error():
    with pytest.raises(GanzooError, match="needs at least 10 samples, got 7") as info:
        inception_score(torch.zeros(7, 3))
    assert "\n" not in str(info.value)


# -- density and coverage: Naeem et al. 2020's strict inequality, as the prdc package ---------------------------------

def test_density_coverage_strict_boundary_by_hand():
    """1-D real points 0, 1, 3 with k = 1: radii 1, 1, 2. Fake 1 lies inside the ball of 1 only (it is on the
    boundaries of 0 and 3), fake 2 inside the ball of 3 only (on the boundary of 1): density (1 + 1) / (1 * 2) = 1,
    coverage 2 / 3. Counting boundaries as inside would give 2.5 and 1."""
    real, fake = torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([[1.0], [2.0]])
    density, coverage = density_coverage(real, fake, k=1)
    assert density == pytest.approx(1.0) and coverage == pytest.approx(2 / 3)


def test_precision_recall_keep_the_boundary_inside_by_hand():
    """Real 0, 1, 5 with k = 1: radii 1, 1, 4. Fake -1 lies on the boundary of 0's ball and counts as inside (NVlabs,
    torch-fidelity); fake 10 is outside every ball: precision 1/2. The fake balls (radius 11 each) hold every real
    point: recall 1. Two fakes at -1, both on the boundary: precision 1 (it would be 0 with a strict inequality)."""
    real = torch.tensor([[0.0], [1.0], [5.0]])
    precision, recall = precision_recall(real, torch.tensor([[-1.0], [10.0]]), k=1)
    assert precision == pytest.approx(0.5) and recall == pytest.approx(1.0)
    precision, _ = precision_recall(real, torch.tensor([[-1.0], [-1.0]]), k=1)
    assert precision == 1.0


def tied_features():
    rng = np.random.default_rng(2024)
    real = rng.integers(0, 4, (120, 3)).astype(np.float64)
    fake = rng.integers(0, 4, (100, 3)).astype(np.float64)
    pairs = np.repeat(np.random.default_rng(7).normal(size=(60, 4)), 2, axis=0)  # every real point twice
    return {"integer-valued": (real, fake), "exact copy of integer-valued": (real, real.copy()),
            "exact copy of duplicated points": (pairs, pairs.copy())}


#: prdc 0.2's (density, coverage) on tied_features(), k = 5.
PRDC_RECORDED = {"integer-valued": (0.418, 0.8083333333333333),
                 "exact copy of integer-valued": (0.5283333333333333, 1.0),
                 "exact copy of duplicated points": (0.8, 1.0)}


@pytest.mark.parametrize("case", sorted(PRDC_RECORDED))
def test_density_coverage_equal_prdc_on_tied_features(case):
    real, fake = tied_features()[case]
    ours = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    assert ours == pytest.approx(PRDC_RECORDED[case], abs=1e-12)


@pytest.mark.parametrize("case", sorted(PRDC_RECORDED))
def test_density_coverage_equal_the_installed_prdc(case):
    prdc = pytest.importorskip("prdc")
    real, fake = tied_features()[case]
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the sample counts
        ref = prdc.compute_prdc(real, fake, nearest_k=5)
    ours = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    assert ours == pytest.approx((ref["density"], ref["coverage"]), abs=1e-12)


def test_density_coverage_on_continuous_features_equal_brute_force_in_float64():
    """Away from ties the fast distances decide; every pair checked against numpy's direct distances."""
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(70, 5)) * 50 + 1000, rng.normal(0.2, 1.3, size=(40, 5)) * 50 + 1000
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=2)
    radii = np.sort(d_rr, axis=1)[:, 5]
    inside = np.linalg.norm(fake[:, None] - real[None], axis=2) < radii[None]
    ours = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    assert ours == pytest.approx((inside.sum() / (5 * 40), inside.any(0).mean()), abs=1e-12)


# -- KID: the subset size is stated, never shrunk silently -----------------------------------------------------------

def kid_inputs():
    a = np.random.default_rng(25).normal(0, 1, (120, 6))
    b = np.random.default_rng(26).normal(0.2, 1.2, (90, 6))
    return torch.from_numpy(a), torch.from_numpy(b)


def test_kid_refuses_a_subset_larger_than_the_samples_like_torch_fidelity():
    a, b = kid_inputs()
    with pytest.raises(GanzooError, match=r"KID subset size 100 is larger than the samples given \(120 real, 90 "
                                          r"generated\)") as info:
        kernel_distance(a, b, subset_size=100)
    assert "\n" not in str(info.value) and "allow a smaller subset" in str(info.value)
    with pytest.raises(GanzooError, match="subset size 1000"):
        kernel_distance(a, b)  # the default, 1000, is never shrunk without being asked
    assert resolve_kid_subset_size(120, 90, 100, allow_smaller=True) == 90


def test_kid_on_whole_sets_equals_torch_fidelity_and_a_direct_mmd():
    """Subsets as large as the sets: every subset is the whole set, so the value is the unbiased MMD^2 of the two
    sets (torch-fidelity 0.4.0: 0.28055538366575866), std 0."""
    a, b = kid_inputs()
    a = a[:90]
    x, y = a.numpy(), b.numpy()
    k = lambda p, q: (p @ q.T / 6 + 1) ** 3
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    direct = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (90 * 89) - 2 * kxy.mean()
    mean, std = kernel_distance(a, b, subsets=3, subset_size=90)
    assert mean == pytest.approx(0.28055538366575866, rel=1e-10) and mean == pytest.approx(direct, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


class Pixels(FeatureExtractor):
    name, description = "pixels", "raw pixels"

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(3.0))  # extract() reads the device from a parameter

    def features(self, x):
        return x.flatten(1).float()

    def logits(self, x):
        return x.flatten(1)[:, :4].float() * self.scale


def test_image_metrics_record_the_kid_subset_size_used():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(200, 1, 3, 3, generator=g) * 2 - 1, torch.rand(150, 1, 3, 3, generator=g) * 2 - 1
    default = image_metrics(real, fake, Pixels(), kid_subsets=5)
    assert default["kid_subset_size"] == 150 and default["kid_subsets"] == 5, "the stated rule: min(1000, n)"
    assert default["is_splits"] == 10
    a, b = real.flatten(1).double(), fake.flatten(1).double()
    assert default["kid_mean"] == kernel_distance(a, b, subsets=5, subset_size=150)[0]
    chosen = image_metrics(real, fake, Pixels(), kid_subsets=5, kid_subset_size=100)
    assert chosen["kid_subset_size"] == 100 and chosen["kid_mean"] != default["kid_mean"]
    with pytest.raises(GanzooError, match=r"KID subset size 1000 .*\(200 real, 150 generated\)"):
        image_metrics(real, fake, Pixels(), kid_subset_size=1000)
    assert math.isfinite(default["is_std"])
