"""The FID Inception path without the real weights: the same architecture with random weights saved to a file in
the published key layout, loaded the way a user's downloaded file is. Checks the resize against TF-1's formula,
shapes, batch independence, chunking, FID/KID/IS math against direct computations, weight-file errors and
`ganzoo eval --feature-extractor inception` end to end. What this cannot check (the real weights' numbers) is
said in docs/metrics.md."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.metrics.evaluate import resolve_extractor
from ganzoo.metrics.image import extract, frechet_distance, image_metrics, inception_score, kernel_distance
from ganzoo.metrics.inception import FIDInceptionV3, file_sha256, load_fid_weights, resize_bilinear_tf1

#: Conv weights at He et al.'s std sqrt(2 / fan_in) times this gain. torch's default conv init shrinks the signal
#: at every layer, so through Inception's 20 layers the features of any two images differed by ~1e-7 (relative):
#: only a bit-exact comparison could then see a preprocessing bug. With this gain they differ by ~10% across images.
CONV_GAIN = 1.2
#: What float32 reordering between batch sizes may change in features of size ~1 (measured: up to 1.1e-5).
RTOL, ATOL = 1e-4, 1e-4


def random_inception(input_size: int = 299, seed: int = 0) -> FIDInceptionV3:
    """Seeded, calibrated random weights (see CONV_GAIN) and random batch-norm statistics, so every parameter and
    buffer of the file matters and features depend clearly on the image."""
    torch.manual_seed(seed)
    net = FIDInceptionV3(input_size)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
                m.weight.mul_(CONV_GAIN)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
        torch.nn.init.normal_(net.fc.weight, 0, 1 / math.sqrt(2048), generator=g)
        net.fc.bias.normal_(0, 1, generator=g)
    return net.eval()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "random-inception.pth"
    torch.save(random_inception().state_dict(), path)
    return path


@pytest.fixture
def extractor(weights_file):
    """Exactly what `--feature-extractor inception --inception-weights F` builds (299-pixel input)."""
    return resolve_extractor("inception", ganzoo.load_dataset("digits"), torch.device("cpu"), str(weights_file))


@pytest.fixture
def small_extractor(weights_file):
    """The same network and weights at a 75-pixel input: 16x less CPU time for tests of logic, not of resolution."""
    from ganzoo_plugins.feature_extractors import InceptionFeatures

    net = FIDInceptionV3(input_size=75)
    return InceptionFeatures(net, weights_file, load_fid_weights(net, weights_file)).eval()


def images(n: int, channels: int = 3, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# -- resize ---------------------------------------------------------------------------------------------------------

def tf1_resize_direct(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF 1.x resize_bilinear, align_corners=False, written out pixel by pixel in float64."""
    h, w = img.shape
    out = np.empty((out_h, out_w))
    for i in range(out_h):
        y = i * h / out_h
        y0 = math.floor(y)
        y1, dy = min(y0 + 1, h - 1), y - y0
        for j in range(out_w):
            x = j * w / out_w
            x0 = math.floor(x)
            x1, dx = min(x0 + 1, w - 1), x - x0
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * dx
            bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * dx
            out[i, j] = top + (bottom - top) * dy
    return out


@pytest.mark.parametrize("src,dst", [((5, 7), (12, 9)), ((9, 11), (4, 5)), ((8, 8), (299, 299))])
def test_resize_matches_tf1_formula(src, dst):
    img = torch.randint(0, 256, (1, 1, *src), generator=torch.Generator().manual_seed(1)).float()
    ours = resize_bilinear_tf1(img, dst)[0, 0].double().numpy()
    np.testing.assert_allclose(ours, tf1_resize_direct(img[0, 0].double().numpy(), *dst), atol=1e-3)


def test_resize_is_not_torchs_half_pixel_bilinear():
    """Upscaling 2x, TF-1 puts every even output pixel exactly on an input pixel; torch's default does not."""
    img = torch.randint(0, 256, (1, 3, 6, 6), generator=torch.Generator().manual_seed(2)).float()
    ours = resize_bilinear_tf1(img, (12, 12))
    assert torch.equal(ours[..., ::2, ::2], img)
    half_pixel = torch.nn.functional.interpolate(img, size=(12, 12), mode="bilinear", align_corners=False)
    assert (ours - half_pixel).abs().max() > 1.0


def test_bit_exact_with_torch_fidelity_when_installed(weights_file):
    """With the optional `torch-fidelity` installed, its network and ours agree bit for bit on one weights file."""
    fidelity = pytest.importorskip("torch_fidelity")
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(resize_bilinear_tf1(x.float()),
                       interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(299, 299), align_corners=False))
    ref = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                               feature_extractor_weights_path=str(weights_file))
    ours = FIDInceptionV3()
    load_fid_weights(ours, weights_file)
    with torch.no_grad():
        for a, b in zip(ours.eval()(x), ref(x)):
            assert torch.equal(a, b)


# -- the network and the extractor -----------------------------------------------------------------------------------

def test_shapes_logits_and_protocol_at_299(extractor):
    """Grey digits-sized images are repeated to RGB and resized to 299; IS logits are pool3 @ W^T without the bias
    (the file's bias is random, so adding it would show)."""
    with torch.no_grad():
        feats, logits = extractor.features_and_logits(images(3, channels=1))
    assert feats.shape == (3, 2048) and logits.shape == (3, 1008)
    assert torch.isfinite(feats).all() and feats.std() > 0
    torch.testing.assert_close(logits, feats @ extractor.net.fc.weight.T)
    assert extractor.protocol["published_weights"] is False and "299x299" in extractor.protocol["resize"]
    assert "NOT the published FID weights" in extractor.description


def test_identical_features_in_two_batch_sizes(small_extractor):
    x = images(7, seed=11)
    with torch.no_grad():
        alone = small_extractor.features(x[:3])
        together = small_extractor.features(x)[:3]
    torch.testing.assert_close(alone, together, rtol=RTOL, atol=ATOL)


def beyond_tolerance(a: torch.Tensor, b: torch.Tensor) -> float:
    """How many times the largest difference exceeds the allowed one (> 1: a test with RTOL/ATOL would fail)."""
    return float(((a - b).abs() / (ATOL + RTOL * b.abs())).max())


def test_calibrated_random_features_differ_clearly_across_images(small_extractor):
    with torch.no_grad():
        feats = small_extractor.features(images(6, seed=13)).double()
    relative_spread = float(feats.std(0).mean() / feats.abs().mean())
    assert relative_spread > 0.02, f"features barely depend on the image ({relative_spread:.2g}): recalibrate"


def _half_pixel_resize(x, size):
    return torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)


@pytest.mark.parametrize("bug", ["torch half-pixel resize", "floor instead of round", "[0, 1] scaling of [-1, 1]"])
def test_a_wrong_preprocessing_changes_the_features_beyond_tolerance(small_extractor, monkeypatch, bug):
    """Each plausible preprocessing bug moves the features more than 10x past the tolerance allowed for batch
    independence."""
    import ganzoo.metrics.inception as inception

    x = images(4, seed=14)
    with torch.no_grad():
        right = small_extractor.features(x)
        if bug == "torch half-pixel resize":
            monkeypatch.setattr(inception, "resize_bilinear_tf1", _half_pixel_resize)
            wrong = small_extractor.features(x)
        elif bug == "floor instead of round":
            wrong = small_extractor.net(((x + 1) * 127.5).floor().expand(-1, 3, -1, -1))[0]
        else:
            wrong = small_extractor.net((x.clamp(0, 1) * 255).round().expand(-1, 3, -1, -1))[0]
    assert beyond_tolerance(wrong, right) > 10, bug


def test_uint8_conversion_is_the_standard_rounding(extractor):
    x = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 1.7]).view(1, 1, 2, 3)
    assert extractor.to_uint8_rgb(x).flatten(1)[0, :6].tolist() == [0, 0, 128, 191, 255, 255]


def test_large_batches_go_through_in_chunks(small_extractor):
    """Batch 500 (image_metrics' default) goes through the network 32 images at a time."""
    ex = small_extractor
    seen = []
    ex.net.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    x = images(500, seed=4)
    feats, logits = extract(ex, x, batch_size=500, logits=True)
    assert feats.shape == (500, 2048) and logits.shape == (500, 1008)
    assert max(seen) == 32 and sum(seen) == 500
    with torch.no_grad():
        torch.testing.assert_close(ex.features(x[123:126]).double(), feats[123:126], rtol=RTOL, atol=ATOL)


def test_fid_zero_on_identical_sets_and_growing_with_noise(small_extractor):
    extractor = small_extractor
    x = images(8, seed=12)
    noisy = [(x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))).clamp(-1, 1)
             for s in (0.25, 1.0)]
    base, *others = (extract(extractor, v) for v in (x, *noisy))
    trace = float(base.var(0).sum())
    assert abs(frechet_distance(base, base)) < 1e-9 * trace
    fids = [frechet_distance(base, f) for f in others]
    assert 0 < fids[0] < fids[1], fids


def test_is_finite_and_matches_direct_computation(extractor):
    logits = extract(extractor, images(4, seed=6), logits=True)[1]
    mean, _ = inception_score(logits, splits=1)
    p = torch.softmax(logits, 1).numpy()
    direct = math.exp(float((p * (np.log(p) - np.log(p.mean(0)))).sum(1).mean()))
    assert math.isfinite(mean) and mean >= 1.0 and mean == pytest.approx(direct, rel=1e-9)


# -- weight files -----------------------------------------------------------------------------------------------------

def test_published_layout_without_batch_counters_loads(weights_file, tmp_path):
    """Converted weight files may lack BatchNorm's num_batches_tracked and use torch's pre-1.6 (non-zip) format;
    such a file loads to the same network."""
    state = {k: v for k, v in torch.load(weights_file).items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "pt_inception-like.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    a, b = FIDInceptionV3(75), FIDInceptionV3(75)
    assert load_fid_weights(a, path) == file_sha256(path)
    load_fid_weights(b, weights_file)
    x = torch.randint(0, 256, (1, 3, 8, 8)).float()
    with torch.no_grad():
        assert torch.equal(a.eval()(x)[0], b.eval()(x)[0])


@pytest.mark.parametrize("content,expect", [
    ({"conv.weight": torch.zeros(1)}, "keys missing"),
    ("shape", "wrong shape"),
    (b"not a torch file", "cannot read InceptionV3 weights"),
])
def test_bad_weight_files_give_one_line_errors(tmp_path, weights_file, content, expect):
    path = tmp_path / "bad.pth"
    if content == "shape":
        state = torch.load(weights_file)
        state["fc.weight"] = torch.zeros(1000, 2048)
        torch.save(state, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ganzoo.GanzooError, match=expect) as info:
        load_fid_weights(FIDInceptionV3(75), path)
    assert "\n" not in str(info.value) and "pt_inception-2015-12-05" in str(info.value)


# -- the metric math the features feed ----------------------------------------------------------------------------------

def test_frechet_distance_matches_scipy_with_fewer_samples_than_features():
    g = np.random.default_rng(7)
    a, b = g.normal(size=(9, 20)), g.normal(0.3, 1.5, size=(12, 20))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    direct = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(direct, rel=1e-6)
    # the d x d route gives the same number
    big_a, big_b = g.normal(size=(40, 5)), g.normal(0.2, 1.1, size=(30, 5))
    s1, s2 = np.cov(big_a, rowvar=False), np.cov(big_b, rowvar=False)
    direct = ((big_a.mean(0) - big_b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(torch.from_numpy(big_a), torch.from_numpy(big_b)) == pytest.approx(direct, rel=1e-9)


def test_kid_and_is_agree_with_torchmetrics_under_the_same_seed():
    """Same subsets (a fresh generator and the global one give one stream per seed), same numbers."""
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance

    class Given(torch.nn.Module):  # torchmetrics "feature extractor" that passes precomputed rows through
        num_features = 16

        def forward(self, x):
            return x

    g = torch.Generator().manual_seed(8)
    a, b = torch.randn(60, 16, generator=g).double(), (torch.randn(50, 16, generator=g) * 1.3).double()
    kid = KernelInceptionDistance(feature=Given(), subsets=4, subset_size=20)
    kid.update(a, real=True)
    kid.update(b, real=False)
    torch.manual_seed(3)
    ref_mean, ref_std = kid.compute()
    assert kernel_distance(a, b, subsets=4, subset_size=20, seed=3) == pytest.approx((float(ref_mean), float(ref_std)))
    logits = torch.randn(50, 7, generator=g).double() * 3
    isc = InceptionScore(feature=Given(), splits=5)
    isc.update(logits)
    torch.manual_seed(4)
    ref_mean, ref_std = isc.compute()
    mean, std = inception_score(logits, splits=5, seed=4)
    # 50 rows in 5 splits: torchmetrics' chunk(5) and the reference's i*N//5 agree. torchmetrics' std has Bessel's
    # correction, the reference IS code's and torch-fidelity's (ours) does not: they differ by sqrt(5/4).
    assert mean == pytest.approx(float(ref_mean))
    assert std == pytest.approx(float(ref_std) * math.sqrt(4 / 5))


# -- end to end -------------------------------------------------------------------------------------------------------

def train_on_a_tiny_folder(tmp_path) -> str:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(9)
    for i in range(6):  # the fewest real images the metrics accept
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    assert main(["run", "vanilla", "--dataset", f"folder:{folder}", "--image-size", "8", "--batch-size", "6", "--steps", "20",
                 "--out", str(run), "--quiet"]) == 0
    return run


def eval_with_inception(run, weights_file, capsys) -> dict:
    capsys.readouterr()
    assert main(["eval", str(run), "--feature-extractor", "inception", "--inception-weights", str(weights_file),
                 "--samples", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["feature_extractor"] == "inception" and result["num_samples"] == 20 and result["num_real"] == 6
    protocol = result["feature_extractor_protocol"]
    assert protocol["weights_sha256"] == file_sha256(weights_file) and protocol["published_weights"] is False
    assert protocol["weights"] == weights_file.name and "TF1 bilinear" in protocol["resize"]
    for key in ("fid", "kid_mean", "is_mean", "precision", "recall", "density", "coverage"):
        assert math.isfinite(result[key]), key
    assert result["fid"] > 0 and result["is_mean"] >= 1.0
    assert json.loads((run / "eval.json").read_text())["fid"] == result["fid"]
    return result


def test_eval_command_with_inception_weights_end_to_end(tmp_path, weights_file, capsys, monkeypatch):
    """The whole CLI path (registry, weight loading, hashing, chunked extraction, metrics, eval.json) with the
    network at a 75-pixel input to stay fast on a CPU; the slow test below runs it at 299."""
    import ganzoo_plugins.feature_extractors as plugin

    monkeypatch.setattr(plugin, "FIDInceptionV3", lambda: FIDInceptionV3(input_size=75))
    result = eval_with_inception(train_on_a_tiny_folder(tmp_path), weights_file, capsys)
    assert "75x75" in result["feature_extractor_protocol"]["resize"], "the protocol names the resize really used"


@pytest.mark.slow
def test_eval_command_with_inception_weights_end_to_end_at_299(tmp_path, weights_file, capsys):
    result = eval_with_inception(train_on_a_tiny_folder(tmp_path), weights_file, capsys)
    assert "299x299" in result["feature_extractor_protocol"]["resize"]


def test_eval_with_a_wrong_weights_file_exits_2_with_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", "vanilla", "--steps", "2", "--out", str(run), "--quiet"]) == 0
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(3)}, bad)
    capsys.readouterr()
    assert main(["eval", str(run), "--feature-extractor", "inception", "--inception-weights", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not have the FID InceptionV3 layout" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_image_metrics_on_500_images_at_full_size(extractor):
    """The default evaluation batch at the real 299-pixel input (about a minute per 500 images on one core)."""
    x = images(500, seed=10)
    m = image_metrics(x[:250], x[250:], extractor)
    assert math.isfinite(m["fid"]) and m["num_samples"] == 250
