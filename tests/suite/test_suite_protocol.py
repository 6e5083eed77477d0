"""The quality protocol's pieces against direct computations: class shares and the real-vs-real floor."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from ganzoo.metrics import FeatureExtractor
from ganzoo.metrics.image import frechet_distance
from ganzoo.suite import protocol


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
    """A stand-in for a labelled 1x8x8 dataset (what the protocol reads: float_data, labels)."""
    g = torch.Generator().manual_seed(1)
    images = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    return SimpleNamespace(float_data=lambda: images, labels=torch.arange(n) % 10, data=images, num_classes=10)


def test_class_shares_count_predictions():
    pred = torch.tensor([0, 2, 2, 9, 2, 0])
    shares = protocol.class_shares(pred, 10)
    assert shares == [2 / 6, 0, 3 / 6, 0, 0, 0, 0, 0, 0, 1 / 6]


def test_floor_compares_two_disjoint_halves():
    data = small_dataset()
    ext = LinearFeatures(64)
    floor = protocol.real_floor(data, ext, {"floor_seed": 0, "kid_seed": 0})
    real = data.float_data()
    order = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(0))
    half = real.shape[0] // 2
    a, b = order[:half], order[half: 2 * half]
    assert not set(a.tolist()) & set(b.tolist()) and floor["halves"] == [half, half]
    expected = frechet_distance(ext.features(real[a]).double(), ext.features(real[b]).double())
    assert floor["fid"] == pytest.approx(expected, rel=1e-6)
    pred = ext.logits(real[b]).argmax(1)
    assert floor["class_shares"] == pytest.approx([(pred == k).double().mean().item() for k in range(10)])


def test_the_train_vs_reference_floor_compares_a_draw_of_training_images_with_the_reference(monkeypatch):
    data = small_dataset()
    ext = LinearFeatures(64)
    evaluation = {"floor_seed": 0, "kid_seed": 0, "reference": "small:test"}
    assert protocol.train_vs_reference_floor(data, ext, {**evaluation, "reference": None}) is None
    # the reference being the training images themselves: a permutation of one set, the same statistics
    monkeypatch.setattr(protocol, "reference_images", lambda dataset, ev: data.float_data())
    same = protocol.train_vs_reference_floor(data, ext, evaluation)
    assert same["counts"] == [240, 240] and abs(same["fid"]) < 1e-6
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    # a reference of other images: the FID between the drawn training images and them, computed directly
    other = torch.rand(100, 1, 8, 8, generator=torch.Generator().manual_seed(9)) * 2 - 1
    monkeypatch.setattr(protocol, "reference_images", lambda dataset, ev: other)
    versus = protocol.train_vs_reference_floor(data, ext, evaluation)
    drawn = data.float_data()[torch.randperm(240, generator=torch.Generator().manual_seed(0))[:100]]
    assert versus["counts"] == [100, 100]
    assert versus["fid"] == pytest.approx(frechet_distance(ext.features(other).double(),
                                                           ext.features(drawn).double()), rel=1e-6)
