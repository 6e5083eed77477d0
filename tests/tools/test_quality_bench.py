"""benchmarks/quality.py: class shares, the real-vs-real floor and the mean +- sd table, against direct computations."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import ganzoo
from ganzoo.metrics import FeatureExtractor
from ganzoo.metrics.image import frechet_distance

spec = importlib.util.spec_from_file_location("quality_bench", Path(__file__).parents[2] / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quality)


class LinearFeatures(FeatureExtractor):
    """A fixed random projection: cheap features and logits, enough to check the bookkeeping."""

    def __init__(self, pixels: int, classes: int = 10):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(pixels, 16, generator=g), requires_grad=False)
        self.head = torch.nn.Parameter(torch.randn(16, classes, generator=g), requires_grad=False)
        self.num_features, self.name, self.description = 16, "linear", "random projection"

    def features(self, x):
        return x.flatten(1) @ self.w

    def logits(self, x):
        return self.features(x) @ self.head


def small_dataset(n: int = 240):
    """A stand-in for a labelled 1x8x8 dataset (what quality.py reads: float_data, labels)."""
    g = torch.Generator().manual_seed(1)
    images = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    return SimpleNamespace(float_data=lambda: images, labels=torch.arange(n) % 10, data=images)


def test_class_shares_count_predictions():
    pred = torch.tensor([0, 2, 2, 9, 2, 0])
    shares = quality.class_shares(pred, 10)
    assert shares == [2 / 6, 0, 3 / 6, 0, 0, 0, 0, 0, 0, 1 / 6]


def test_floor_compares_two_disjoint_halves():
    data = small_dataset()
    ext = LinearFeatures(64)
    floor = quality.real_floor(data, ext)
    real = data.float_data()
    order = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(quality.FLOOR_SEED))
    half = real.shape[0] // 2
    a, b = order[:half], order[half: 2 * half]
    assert not set(a.tolist()) & set(b.tolist()) and floor["halves"] == [half, half]
    expected = frechet_distance(ext.features(real[a]).double(), ext.features(real[b]).double())
    assert floor["fid"] == pytest.approx(expected, rel=1e-6)
    pred = ext.logits(real[b]).argmax(1)
    assert floor["class_shares"] == pytest.approx([(pred == k).double().mean().item() for k in range(10)])


def test_measure_samples_the_generator_and_reports_shares():
    data = small_dataset()
    gan = ganzoo.build("vanilla", image_shape=(1, 8, 8))
    out = quality.measure(gan, data, LinearFeatures(64), samples=200, seed=3)
    assert out["num_samples"] == 200 and out["num_real"] == len(data.data)
    assert sum(out["class_shares"]) == pytest.approx(1.0)
    assert out["class_share_min"] == min(out["class_shares"]) and "label_accuracy" not in out
    again = quality.measure(gan, data, LinearFeatures(64), samples=200, seed=3)
    assert again["fid"] == out["fid"] and again["kid_mean"] == out["kid_mean"], "fixed noise and seeded KID"


def test_rows_are_mean_and_sd_over_seeds_and_failures_are_listed():
    base = dict(dataset="digits", steps=50, conditional=False, weights="ema", train_precision="bf16")
    records = [dict(model="a", seed=s, fid=f, kid_mean=k, class_shares=[0.5, 0.5], class_share_min=0.5,
                    class_share_max=0.5, **base) for s, f, k in ((0, 10.0, 1.0), (1, 14.0, 2.0), (2, 9.0, 4.0))]
    records.append(dict(model="b", seed=0, dataset="digits", error="GanzooError: boom"))
    rows = {r["model"]: r for r in quality.summarize_rows(records)}
    assert rows["a"]["fid"] == pytest.approx(statistics.fmean([10, 14, 9]))
    assert rows["a"]["fid_sd"] == pytest.approx(statistics.stdev([10, 14, 9]))
    assert rows["a"]["seeds"] == [0, 1, 2] and rows["a"]["label_accuracy"] is None
    assert rows["b"]["seeds"] == [] and rows["b"]["errors"] == {"0": "GanzooError: boom"}
    floor = dict(fid=1.0, kid_mean=0.1, is_mean=9.0, precision=0.9, recall=0.9, density=1.0, coverage=0.97,
                 class_share_min=0.09, class_share_max=0.11, class_shares=[0.5, 0.5], halves=[4, 4])
    text = quality.markdown(dict(dataset="digits", command="cmd", commit="abc", dirty=False, machine="m", torch="t",
                                 wall_seconds=1.0, samples=2000, num_real=8, extractor="e", runs="r", floor=floor,
                                 results=list(rows.values())))
    assert "| **real vs real (floor)** | - | - | 1 |" in text
    assert f"| a | 3/3 | 50 | {statistics.fmean([10, 14, 9]):.3g} ± {statistics.stdev([10, 14, 9]):.2g} |" in text
    assert "b seed 0: GanzooError: boom" in text
    two = quality.markdown(dict(dataset="digits", command="python quality.py --summarize-only", commit="abc",
                                dirty=False, machine="m", torch="t", wall_seconds=None, samples=2000, num_real=8,
                                extractor="e", runs="r", floor=floor, results=list(rows.values()),
                                commands=["python quality.py --models a", "python quality.py --models b"]))
    assert ("made the runs in this table: `python quality.py --models a`; `python quality.py --models b`" in two
            and "Summarised by: `python quality.py --summarize-only`" in two)
