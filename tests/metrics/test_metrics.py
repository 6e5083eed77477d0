"""Quality metrics, each checked against a direct numpy/scipy computation, plus sanity on real data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import linalg

import ganzoo
from ganzoo.api import load_checkpoint
from ganzoo.cli.commands import main
from ganzoo.metrics import FeatureExtractor, density_coverage, image_metrics, mode_metrics, precision_recall
from ganzoo.metrics.evaluate import resolve_extractor


class FlattenFeatures(FeatureExtractor):
    """Features = the pixels themselves; logits = a fixed random projection (for IS)."""

    def __init__(self, dim, classes=5):
        super().__init__()
        self.num_features = dim
        self.name = "flatten"
        self.description = "raw pixels"
        self.proj = torch.nn.Linear(dim, classes)
        torch.nn.init.normal_(self.proj.weight, 0, 2.0, generator=torch.Generator().manual_seed(0))

    def features(self, x):
        return x.flatten(1).float()

    def logits(self, x):
        return self.proj(self.features(x))


def direct_fid(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def direct_kid(a, b):
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3
    m = a.shape[0]
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean())


def direct_is(logits):
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    marginal = p.mean(0)
    kl = (p * (np.log(p) - np.log(marginal))).sum(1).mean()
    return float(np.exp(kl))


def test_fid_kid_is_match_direct_computation():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 2, 3, generator=g) * 2 - 1
    fake = (torch.rand(300, 1, 2, 3, generator=g) * 1.6 - 0.5).clamp(-1, 1)
    ex = FlattenFeatures(6)
    m = image_metrics(real, fake, ex, kid_subsets=1, is_splits=1)
    a, b = real.flatten(1).double().numpy(), fake.flatten(1).double().numpy()
    assert m["fid"] == pytest.approx(direct_fid(a, b), rel=1e-3)
    assert m["kid_mean"] == pytest.approx(direct_kid(a, b), rel=1e-3, abs=1e-6)
    with torch.no_grad():
        assert m["is_mean"] == pytest.approx(direct_is(ex.logits(fake).double().numpy()), rel=1e-3)
    assert m["feature_extractor"] == "flatten" and m["num_samples"] == 300


def brute_balls(centres, points, k):
    radii = [sorted(np.linalg.norm(centres - c, axis=1))[k] for c in centres]
    return np.array([[np.linalg.norm(p - c) <= r for c, r in zip(centres, radii)] for p in points])


def test_precision_recall_density_coverage_match_brute_force():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(60, 3)), rng.normal(0.5, 1.2, size=(50, 3))
    inside_real = brute_balls(real, fake, 3)
    inside_fake = brute_balls(fake, real, 3)
    p, r = precision_recall(torch.from_numpy(real), torch.from_numpy(fake), k=3)
    assert p == pytest.approx(inside_real.any(1).mean()) and r == pytest.approx(inside_fake.any(1).mean())
    inside5 = brute_balls(real, fake, 5)
    d, c = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    assert d == pytest.approx(inside5.sum() / (5 * 50)) and c == pytest.approx(inside5.any(0).mean())


def test_mode_metrics_definitions():
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    std = 0.01
    one_mode = centres[2] + 0.5 * std * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    m = mode_metrics(one_mode, centres, std)
    assert m["modes_captured"] == 1 and m["high_quality_fraction"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(4))
    even = centres.repeat(625, 1)
    m = mode_metrics(even, centres, std)
    assert m["modes_captured"] == 4 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    far = torch.full((10, 2), 0.5)  # between modes: never high quality
    m = mode_metrics(far, centres, std)
    assert m["modes_captured"] == 0 and m["high_quality_fraction"] == 0.0 and math.isinf(m["reverse_kl"])
    mixed = torch.cat([centres[:1].repeat(3, 1), far[:1]])
    assert mode_metrics(mixed, centres, std)["high_quality_fraction"] == 0.75


def test_real_vs_real_fid_is_near_zero_and_far_below_noise():
    ds = ganzoo.load_dataset("digits")
    ex = resolve_extractor("classifier", ds, torch.device("cpu"))
    assert ex.accuracy > 0.9, "the classifier features are trustworthy on digits"
    assert "held-out accuracy" in ex.description
    # the weights are named by content (classifiers trained on two machines differ, and so do their FIDs)
    again = resolve_extractor("classifier", ds, torch.device("cpu"))
    assert f"weights sha256 {ex.weights_sha256[:12]}" in ex.description and again.weights_sha256 == ex.weights_sha256
    perm = torch.randperm(1797, generator=torch.Generator().manual_seed(0))
    a, b = ds.data[perm[:890]], ds.data[perm[890:1780]]
    same = image_metrics(a, b, ex)
    noise = image_metrics(a, torch.rand(890, 1, 8, 8) * 2 - 1, ex)
    one_digit = image_metrics(a, ds.data[ds.labels == 1][:178].repeat(5, 1, 1, 1), ex)
    assert same["fid"] < 0.05 * noise["fid"] and same["fid"] < 0.05 * one_digit["fid"]
    assert same["precision"] > 0.8 and same["recall"] > 0.8
    assert one_digit["recall"] < 0.3 and one_digit["is_mean"] < 1.5 < same["is_mean"]
    assert same["is_mean"] > 8, "10 balanced classes: IS near 10"


def test_classifier_extractor_is_cached_by_dataset_hash(tmp_path, monkeypatch):
    import ganzoo_plugins.feature_extractors as extractors

    monkeypatch.setattr(extractors, "SHIPPED", tmp_path / "nothing-shipped")  # the path a dataset without one takes
    ds = ganzoo.load_dataset("digits")
    first = resolve_extractor("classifier", ds, torch.device("cpu"))
    cached = list((tmp_path / "cache" / "classifiers").glob("digits-*.pt"))
    assert len(cached) == 1
    second = resolve_extractor("classifier", ds, torch.device("cpu"))
    assert second.accuracy == first.accuracy
    x = ds.data[:5]
    assert torch.equal(first.features(x), second.features(x))


def test_the_digits_classifier_ships_with_ganzoo_so_every_machine_measures_with_the_same_weights(tmp_path,
                                                                                                 monkeypatch):
    """Trained once (on another CPU kind the same training rounds differently and gives other weights, hence other
    FIDs): with an empty cache nothing is trained, and the features are the shipped network's."""
    import ganzoo_plugins.feature_extractors as extractors

    def no_training(*args, **kwargs):
        raise AssertionError("the shipped weights are used, nothing is trained")

    monkeypatch.setattr(extractors, "train_classifier", no_training)
    ds = ganzoo.load_dataset("digits")
    ex = resolve_extractor("classifier", ds, torch.device("cpu"))
    (shipped,) = sorted(extractors.SHIPPED.glob("digits-*.pt"))
    assert f"shipped with ganzoo as {shipped.name}" in ex.description
    assert not (tmp_path / "cache" / "classifiers").exists()
    state = load_checkpoint(shipped)
    net = extractors.ClassifierFeatures(1, int(state["num_classes"]))
    net.load_state_dict(state["model"])
    x = ds.data[:16]
    with torch.no_grad():
        assert torch.equal(ex.features(x), net.eval().features(x))


def test_classifier_refuses_unlabelled_data():
    ds = ganzoo.load_dataset("ring8")
    with pytest.raises(ganzoo.GanzooError, match="needs a labelled image dataset"):
        resolve_extractor("classifier", ds, torch.device("cpu"))


def test_inception_without_weights_says_so_and_does_not_fall_back(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vanilla", "--steps", "2", "--out", str(out), "--quiet"]) == 0
    code = main(["eval", str(out), "--feature-extractor", "inception", "--inception-weights", str(tmp_path / "none.pth")])
    err = capsys.readouterr().err
    assert code == 2 and ("torch-fidelity" in err or "weights not found" in err)


def test_eval_command_json_and_eval_every(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vanilla", "--steps", "20", "--eval-every", "10", "--eval-samples", "300", "--out", str(out),
                 "--quiet"]) == 0
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval" in r]
    assert [r["step"] for r in evals] == [10, 20] and evals[0]["eval"]["num_samples"] == 300
    capsys.readouterr()
    assert main(["eval", str(out), "--samples", "400", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall", "density", "coverage",
                "feature_extractor", "num_samples"):
        assert key in result
    assert result["num_samples"] == 400 and result["feature_extractor"] == "classifier"
    assert json.loads((out / "eval.json").read_text())["fid"] == result["fid"]


def test_eval_on_a_mixture_reports_modes_and_plots(tmp_path, capsys):
    out = tmp_path / "ring"
    assert main(["run", "vanilla", "--dataset", "ring8", "--steps", "5", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"modes_captured", "high_quality_fraction", "reverse_kl"} <= set(result)
    assert result["modes_total"] == 8 and result["num_samples"] == 2500
    assert (out / "eval_points.png").exists()


def test_eval_during_training_leaves_training_identical(tmp_path):
    """Evaluation draws from its own RNG: a run with --eval-every ends with the same weights as one without."""
    finals = []
    for name, every in (("a", None), ("b", 3)):
        result = ganzoo.train(model="vanilla", steps=6, device="cpu", precision="fp32", eval_every=every,
                              eval_samples=200, out=str(tmp_path / name))
        finals.append(torch.cat([p.flatten() for p in result.gan.generator.parameters()]))
    assert torch.equal(finals[0], finals[1])
