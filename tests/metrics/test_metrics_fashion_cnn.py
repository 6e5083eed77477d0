"""The Fashion-MNIST feature extractor with a tiny training configuration on small, learnable IDX files written
here (the full run's accuracy, time and weights hash are measured once and stated in docs/metrics.md)."""

from __future__ import annotations

import gzip
import hashlib
import math
import struct

import numpy as np
import pytest
import torch

import ganzoo
import ganzoo_plugins.datasets as datasets
import ganzoo_plugins.feature_extractors as extractors
from ganzoo.metrics import ExtractorUnavailable, image_metrics
from ganzoo.metrics.evaluate import resolve_extractor

TINY = {"width": 4, "epochs": 3, "batch": 32, "max_lr": 1e-2, "flip": False, "seed": 0}


def idx_file(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def learnable(n: int, seed: int):
    """Class c: a bright 7x7 square at one of 10 places on a noisy background, so a tiny CNN learns it quickly."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):
        r, col = 2 + 7 * (c // 5) * 2, 1 + 5 * (c % 5)
        images[i, r:r + 7, col:col + 7] = 230
    return images, labels


@pytest.fixture
def fashion_dir(tmp_path, monkeypatch):
    folder = tmp_path / "fashion"
    folder.mkdir()
    sums = {}
    for prefix, n, seed in (("train", 300, 1), ("t10k", 100, 2)):
        images, labels = learnable(n, seed)
        for stem, blob in ((f"{prefix}-images-idx3-ubyte", idx_file(images)),
                           (f"{prefix}-labels-idx1-ubyte", idx_file(labels))):
            (folder / f"{stem}.gz").write_bytes(gzip.compress(blob))
            sums[stem] = hashlib.sha256(blob).hexdigest()
    monkeypatch.setitem(datasets.IDX_CONTENT_SHA256, "fashion-mnist", sums)
    monkeypatch.setitem(datasets.DEBIAN_DIRS, "fashion-mnist", tmp_path / "no-debian")
    monkeypatch.setattr(extractors, "FASHION_CNN_TRAINING", TINY)
    return folder


def test_trains_once_reports_accuracy_and_hash_then_loads_from_the_cache(fashion_dir, monkeypatch):
    ds = ganzoo.load_dataset("fashion-mnist", data_dir=fashion_dir, download=False)
    first = resolve_extractor("fashion-cnn", ds, torch.device("cpu"))
    assert first.accuracy > 0.9, "the tiny run learns the test split's classes"
    protocol = first.protocol
    assert protocol["training"] == TINY and protocol["test_accuracy"] == first.accuracy
    assert len(protocol["weights_sha256"]) == 64 and protocol["weights_sha256"][:12] in first.description
    assert f"test accuracy {first.accuracy:.2%}" in first.description
    cached = list((ganzoo.data.cache_dir() / "classifiers").glob("fashion-cnn-*.pt"))
    assert [p.name for p in cached] == [protocol["weights"]]

    monkeypatch.setattr(extractors, "train_fashion_cnn", lambda *a, **k: pytest.fail("retrained despite the cache"))
    second = resolve_extractor("fashion-cnn", ds, torch.device("cpu"))
    assert second.protocol["weights_sha256"] == protocol["weights_sha256"] and second.accuracy == first.accuracy
    x = ds.float_data(slice(0, 5))
    with torch.no_grad():
        assert torch.equal(first.features(x), second.features(x))
    by_path = resolve_extractor("fashion-cnn", ds, torch.device("cpu"), str(cached[0]))
    assert by_path.protocol["weights_sha256"] == protocol["weights_sha256"]


def test_another_training_configuration_is_another_cache_entry(fashion_dir, monkeypatch):
    ds = ganzoo.load_dataset("fashion-mnist", data_dir=fashion_dir, download=False)
    a = resolve_extractor("fashion-cnn", ds, torch.device("cpu"))
    monkeypatch.setattr(extractors, "FASHION_CNN_TRAINING", {**TINY, "seed": 1})
    b = resolve_extractor("fashion-cnn", ds, torch.device("cpu"))
    assert a.protocol["weights"] != b.protocol["weights"]
    assert a.protocol["weights_sha256"] != b.protocol["weights_sha256"]


def test_features_logits_and_metrics_on_them(fashion_dir):
    ds = ganzoo.load_dataset("fashion-mnist", data_dir=fashion_dir, download=False)
    ex = resolve_extractor("fashion-cnn", ds, torch.device("cpu"))
    real = ds.float_data()
    with torch.no_grad():
        feats, logits = ex.features_and_logits(real[:7])
    assert feats.shape == (7, 256) and logits.shape == (7, 10) and (feats >= 0).all(), "ReLU penultimate layer"
    m = image_metrics(real[:150], real[150:], ex)
    assert m["feature_extractor"] == "fashion-cnn" and m["feature_extractor_protocol"]["test_accuracy"] == ex.accuracy
    assert m["is_mean"] > 5, "10 balanced, well-separated classes: IS near 10"
    one_class = image_metrics(real[:150], real[150:][ds.labels[150:] == 3].repeat(10, 1, 1, 1), ex)
    assert one_class["is_mean"] < 1.5 and one_class["fid"] > 10 * max(m["fid"], 1e-3)
    assert math.isfinite(m["density"]) and m["recall"] > one_class["recall"]


def test_32_pixel_images_are_measured_at_28(fashion_dir):
    """A run at --image-size 32 gets the same network: its images are resized back to 28 first, and are classified
    as well as the 28-pixel originals."""
    ds = ganzoo.load_dataset("fashion-mnist", data_dir=fashion_dir, download=False)
    big = ganzoo.load_dataset("fashion-mnist", data_dir=fashion_dir, download=False, image_size=32)
    assert big.data.shape[-1] == 32
    ex = resolve_extractor("fashion-cnn", big, torch.device("cpu"))
    with torch.no_grad():
        at28 = (ex.logits(ds.float_data()).argmax(1) == ds.labels).double().mean()
        at32 = (ex.logits(big.float_data()).argmax(1) == big.labels).double().mean()
    assert at28 > 0.9 and at32 > 0.9, (at28, at32)


def test_refuses_other_datasets_in_one_line():
    with pytest.raises(ExtractorUnavailable) as info:
        resolve_extractor("fashion-cnn", ganzoo.load_dataset("digits"), torch.device("cpu"))
    assert "measures only it, not 'digits'" in str(info.value) and "\n" not in str(info.value)
