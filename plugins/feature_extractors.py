"""Built-in feature extractors for FID/KID/IS/precision/recall.

- ``classifier``: a small CNN trained on the dataset's own labelled training split (85%), evaluated on the held-out
  15%; cached under ``~/.cache/ganzoo/classifiers/`` keyed by dataset name and a hash of its data. Its test accuracy
  travels with every score it produces, so a reader knows how far to trust the features.
- ``fashion-cnn``: for Fashion-MNIST only, one fixed CNN trained once on the official train split and scored on the
  10,000 test images (Xiao et al. 2017), cached, its test accuracy and weights SHA-256 in every result, so numbers
  from different runs and machines share one feature space (the ``classifier`` retrains per dataset hash).
- ``inception``: the FID standard network (TF Inception-v3 as ported by pytorch-fid / torch-fidelity, see
  ``ganzoo.metrics.inception``), the field's standard for natural images. Needs only its weights file
  (``--inception-weights PATH`` or torch hub's cache); without it, it says so and nothing falls back silently.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Optional

import torch
from torch import nn

import ganzoo
from ganzoo.api import (
    PUBLISHED_SHA256_PREFIX,
    RESIZE,
    WEIGHT_FILE_NAMES,
    WEIGHTS_URL,
    ExtractorUnavailable,
    FeatureExtractor,
    FIDInceptionV3,
    cache_dir,
    load_checkpoint,
    load_fid_weights,
    save_checkpoint,
)
from ganzoo.errors import GanzooError

CLASSIFIER_VERSION = 1


class ClassifierFeatures(FeatureExtractor):
    """Three strided 3x3 conv layers, global average pooling, a 128-d feature layer and class logits."""

    def __init__(self, channels: int, num_classes: int, width: int = 32):
        super().__init__()
        self.num_features = 128
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(4 * width, self.num_features), nn.ReLU(),
        )
        self.head = nn.Linear(self.num_features, num_classes)

    def features(self, x):
        return self.body(x.float())

    def logits(self, x):
        return self.head(self.features(x))


def _data_hash(dataset) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{CLASSIFIER_VERSION}:{tuple(dataset.data.shape)}".encode())
    digest.update(dataset.data.detach().cpu().contiguous().numpy().tobytes())
    digest.update(dataset.labels.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def train_classifier(dataset, device, seed: int = 0):
    """Train on a fixed 85/15 split; returns (model, test accuracy). Leaves the global RNG as it found it."""
    with torch.random.fork_rng(devices=[device] if torch.device(device).type == "cuda" else []):
        return _train_classifier(dataset, device, seed)


def _train_classifier(dataset, device, seed):
    g = torch.Generator().manual_seed(seed)
    n = dataset.data.shape[0]
    order = torch.randperm(n, generator=g)
    n_test = max(1, int(0.15 * n))
    test_idx, train_idx = order[:n_test], order[n_test:]
    x, y = dataset.float_data().to(device), dataset.labels.long().to(device)  # uint8 images -> [-1, 1]
    num_classes = int(y.max().item()) + 1
    torch.manual_seed(seed)
    model = ClassifierFeatures(dataset.shape[0], num_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 128
    steps = int(min(3000, max(600, 4 * math.ceil(len(train_idx) / batch))))
    model.train()
    for _ in range(steps):
        idx = train_idx[torch.randint(len(train_idx), (batch,), generator=g)].to(device)
        loss = nn.functional.cross_entropy(model.logits(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model.logits(x[b.to(device)]).argmax(1) == y[b.to(device)]).sum().item()
                      for b in test_idx.split(1024))
    return model, correct / len(test_idx)


#: extractor weights that ship with ganzoo: trained once, so every machine measures in the same feature space (the same
#: training on another CPU kind rounds differently and gives other weights, hence other FIDs)
SHIPPED = Path(__file__).parent / "weights"


def _weights_file(name: str, weights: Optional[str]) -> tuple[Path, str]:
    """Where an extractor's weights come from: the path given, else the copy shipped with ganzoo, else the cache
    (where they are trained into when absent); and the words a result says about it."""
    if weights:
        return Path(weights), f"weights {Path(weights).name}"
    if (SHIPPED / name).is_file():
        return SHIPPED / name, f"shipped with ganzoo as {name}"
    return cache_dir() / "classifiers" / name, f"cache {name}"


def classifier_extractor(dataset, *, device, weights=None):
    """A CNN trained on the dataset's labels (cached); features are its 128-d penultimate layer."""
    if dataset.labels is None or dataset.kind != "image":
        raise ExtractorUnavailable(
            f"the classifier extractor needs a labelled image dataset and {dataset.name!r} has no labels; "
            f"use --feature-extractor inception with its weights"
        )
    key = _data_hash(dataset)
    path, source = _weights_file(f"{dataset.name.replace('/', '_')}-{key}.pt", weights)
    if path.exists():
        state = load_checkpoint(path)
        model = ClassifierFeatures(dataset.shape[0], int(state["num_classes"]))
        model.load_state_dict(state["model"])
        accuracy = float(state["accuracy"])
        model.to(device).eval()
    else:
        model, accuracy = train_classifier(dataset, device)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint({"model": model.state_dict(), "accuracy": accuracy, "num_classes": model.head.out_features,
                         "dataset": dataset.name, "data_hash": key}, path)
    model.name = "classifier"
    # the weights' content hash: classifiers trained on two machines differ (fp32 kernels), and so do their FIDs
    model.weights_sha256 = weights_sha256(model)
    model.description = (f"CNN trained on {dataset.name} labels, held-out accuracy {accuracy:.1%}, "
                         f"128-d features, weights sha256 {model.weights_sha256[:12]} ({source})")
    model.accuracy = accuracy
    model.requires_grad_(False)
    return model


# -- Fashion-MNIST: one fixed network for every run, trained on the official train split ----------------------------
FASHION_CNN_VERSION = 1
#: The full training run. Measured on the project's 2-core machine at 1 thread: see docs/metrics.md (time, test
#: accuracy on the 10,000 test images, weights SHA-256). Tests replace it by a tiny configuration.
FASHION_CNN_TRAINING = {"width": 16, "epochs": 10, "batch": 128, "max_lr": 2e-3, "flip": True, "seed": 0}
FASHION_CNN_MIN_ACCURACY = 0.92
FASHION_CNN_SIZE = 28


class FashionCNN(FeatureExtractor):
    """conv-BN-ReLU (w) / max-pool / conv-BN-ReLU (2w) / max-pool / conv-BN-ReLU (4w) at 28, 14 and 7 pixels, a
    256-d ReLU feature layer and a 10-way head behind dropout 0.3 (a VGG-style net of the kind Xiao et al. 2017's
    benchmark lists near 92-93%). Inputs are grey images in [-1, 1]; other sizes are resized to 28x28 (bilinear,
    antialiased, as ganzoo resizes datasets), so runs at --image-size 32 are measured by the same network."""

    def __init__(self, width: int = 16, num_classes: int = 10):
        super().__init__()
        self.num_features = 256

        def block(i, o):
            return [nn.Conv2d(i, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.body = nn.Sequential(*block(1, width), nn.MaxPool2d(2), *block(width, 2 * width), nn.MaxPool2d(2),
                                  *block(2 * width, 4 * width), nn.Flatten(),
                                  nn.Linear(4 * width * 7 * 7, self.num_features), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.num_features, num_classes))

    @staticmethod
    def to_input(x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise GanzooError(f"the fashion-cnn extractor needs grey images (N, 1, H, W), got {tuple(x.shape)}")
        x = x.float()
        if x.shape[-2:] != (FASHION_CNN_SIZE, FASHION_CNN_SIZE):
            x = nn.functional.interpolate(x, size=(FASHION_CNN_SIZE, FASHION_CNN_SIZE), mode="bilinear",
                                          antialias=True, align_corners=False)
        return x

    def features(self, x):
        return self.body(self.to_input(x))

    def logits(self, x):
        return self.head(self.features(x))

    def features_and_logits(self, x):
        f = self.features(x)
        return f, self.head(f)


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 of the state dict's names, shapes and bytes (independent of the file format it is stored in)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def train_fashion_cnn(train, test, config: dict, device="cpu"):
    """Adam with a one-cycle learning rate, random horizontal flips, on the whole train split; returns (model, test
    accuracy). Leaves the global RNG as it found it."""
    with torch.random.fork_rng(devices=[device] if torch.device(device).type == "cuda" else []):
        torch.manual_seed(config["seed"])
        g = torch.Generator().manual_seed(config["seed"])
        x, y = train.float_data(), train.labels.long()
        model = FashionCNN(config["width"]).to(device)
        batch, n = config["batch"], x.shape[0]
        steps = max(1, config["epochs"] * (n // batch))
        opt = torch.optim.Adam(model.parameters(), lr=config["max_lr"])
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config["max_lr"], total_steps=steps)
        model.train()
        step = 0
        while step < steps:
            order = torch.randperm(n, generator=g)
            for i in range(n // batch):
                if step == steps:
                    break
                idx = order[i * batch:(i + 1) * batch]
                xb = x[idx]
                if config["flip"]:  # clothes are left-right symmetric; the test images are not flipped
                    xb = torch.where((torch.rand(len(idx), generator=g) < 0.5).view(-1, 1, 1, 1), xb.flip(3), xb)
                loss = nn.functional.cross_entropy(model.logits(xb.to(device)), y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
                step += 1
        model.eval()
        with torch.no_grad():
            xt, yt = test.float_data(), test.labels.long()
            correct = sum((model.logits(xt[i:i + 1000].to(device)).argmax(1).cpu() == yt[i:i + 1000]).sum().item()
                          for i in range(0, len(xt), 1000))
    return model, correct / len(xt)


def _fashion_splits(dataset):
    """Train and test splits at 28x28, from the folder the run's dataset came from (or the usual search)."""
    files = (dataset.info or {}).get("files") or {}
    folder = Path(next(iter(files.values()))).parent if files else None
    train = ganzoo.load_dataset("fashion-mnist", data_dir=folder, download=False)
    test = ganzoo.load_dataset("fashion-mnist:test", data_dir=folder, download=False)
    return train, test


def fashion_cnn_extractor(dataset, *, device, weights=None):
    """The Fashion-MNIST CNN (FashionCNN): trained once on the train split, cached, test accuracy and weights hash
    in every result; FID/KID/PRDC on its 256-d penultimate features, IS on its 10 class logits."""
    if dataset.name != "fashion-mnist" or dataset.kind != "image":
        raise ExtractorUnavailable(f"the fashion-cnn extractor is trained on Fashion-MNIST and measures only it, not "
                                   f"{dataset.name!r}; use --feature-extractor classifier or inception")
    config = dict(FASHION_CNN_TRAINING)
    if weights:
        path, source = _weights_file("", weights)
    else:
        train, test = _fashion_splits(dataset)
        digest = hashlib.sha256(f"v{FASHION_CNN_VERSION}:{sorted(config.items())}".encode())
        for part in (train.data, train.labels, test.data, test.labels):
            digest.update(part.contiguous().numpy().tobytes())
        path, source = _weights_file(f"fashion-cnn-v{FASHION_CNN_VERSION}-{digest.hexdigest()[:16]}.pt", None)
    if path.exists():
        state = load_checkpoint(path)
        config, accuracy = dict(state["config"]), float(state["accuracy"])
        model = FashionCNN(int(config["width"]))
        model.load_state_dict(state["model"])
    elif weights:
        raise ExtractorUnavailable(f"fashion-cnn weights not found at {path}; drop the weights path to train them")
    else:
        model, accuracy = train_fashion_cnn(train, test, config, device)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint({"model": model.state_dict(), "accuracy": accuracy, "config": config,
                         "version": FASHION_CNN_VERSION}, path)
    model = model.to(device).eval().requires_grad_(False)
    sha = weights_sha256(model)
    model.name = "fashion-cnn"
    model.accuracy = accuracy
    model.protocol = {
        "network": f"FashionCNN v{FASHION_CNN_VERSION} (width {config['width']}), trained on the Fashion-MNIST "
                   f"train split (Xiao et al. 2017)",
        "training": dict(config),
        "test_accuracy": accuracy,
        "weights_sha256": sha,
        "weights": path.name,
        "input": "grey [-1, 1]; other sizes resized to 28x28 (bilinear, antialiased)",
        "features": "256-d penultimate layer (FID, KID, precision/recall, density/coverage)",
        "is_logits": "10 class logits",
    }
    low = "" if accuracy >= FASHION_CNN_MIN_ACCURACY else f", BELOW the {FASHION_CNN_MIN_ACCURACY:.0%} target"
    model.description = (f"CNN trained on the Fashion-MNIST train split, test accuracy {accuracy:.2%}{low}, 256-d "
                         f"features, weights sha256 {sha[:12]} ({source})")
    return model


class InceptionFeatures(FeatureExtractor):
    """The FID standard network on generator output: [-1, 1] floats -> uint8 RGB (grey repeated) -> Inception.

    Images go through the network `chunk` at a time (a 299x299 Inception pass holds ~30 MB of activations per image),
    so any batch size works and a sample's features do not depend on which batch it came in.
    """

    def __init__(self, net: FIDInceptionV3, weights_path: Path, sha256: str, chunk: int = 32):
        super().__init__()
        self.net = net
        self.chunk = chunk
        self.num_features = net.num_features
        self.name = "inception"
        published = sha256.startswith(PUBLISHED_SHA256_PREFIX)
        self.protocol = {
            "network": "TF Inception-v3 2015-12-05 (pytorch-fid / torch-fidelity port)",
            "weights": weights_path.name,
            "weights_sha256": sha256,
            "published_weights": published,
            "input": "generator output [-1, 1] -> round((x + 1) * 127.5) uint8 RGB, grey repeated to 3 channels",
            "resize": f"{RESIZE} to {net.input_size}x{net.input_size}",
            "normalise": "(x - 128) / 128",
            "features": "pool3, 2048-d (FID, KID, precision/recall, density/coverage)",
            "is_logits": "pool3 @ fc.weight.T, 1008 classes, no bias (as the reference IS code)",
        }
        trust = ("the published FID weights" if published else
                 "NOT the published FID weights: numbers are not comparable with papers")
        self.description = (f"TF Inception-v3 FID network, {weights_path.name} (sha256 {sha256[:12]}, {trust}), "
                            f"pool3 2048-d, TF1 bilinear resize to {net.input_size}")

    @staticmethod
    def to_uint8_rgb(x: torch.Tensor) -> torch.Tensor:
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        if x.shape[1] == 1:
            return x.expand(-1, 3, -1, -1)
        if x.shape[1] != 3:
            raise GanzooError(f"the inception extractor needs 1- or 3-channel images, got {x.shape[1]} channels")
        return x

    def features_and_logits(self, x):
        parts = [self.net(self.to_uint8_rgb(c)) for c in x.split(self.chunk)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def features(self, x):
        return self.features_and_logits(x)[0]

    def logits(self, x):
        return self.features_and_logits(x)[1]


def find_inception_weights() -> Optional[Path]:
    """The weights file in torch hub's cache under either published name (pytorch-fid's or torch-fidelity's)."""
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    return next((folder / n for n in WEIGHT_FILE_NAMES if (folder / n).is_file()), None)


def inception_extractor(dataset, *, device, weights=None):
    """The FID InceptionV3 with a local weights file (never downloaded silently; see docs/metrics.md)."""
    if dataset.kind != "image":
        raise ExtractorUnavailable("the inception extractor works on images only")
    path = Path(weights) if weights else find_inception_weights()
    if path is None or not path.is_file():
        where = path or Path(torch.hub.get_dir()) / "checkpoints" / WEIGHT_FILE_NAMES[0]
        raise ExtractorUnavailable(
            f"InceptionV3 weights not found at {where}; download {WEIGHTS_URL} and pass --inception-weights PATH"
        )
    net = FIDInceptionV3()
    sha256 = load_fid_weights(net, path)
    return InceptionFeatures(net, path, sha256).to(device).eval().requires_grad_(False)


@ganzoo.hookimpl
def register_feature_extractors(register):
    register("inception", inception_extractor,
             "FID InceptionV3 (pt_inception-2015-12-05 weights), the standard for natural images")
    register("classifier", classifier_extractor, "small CNN trained on the dataset's labels; accuracy reported")
    register("fashion-cnn", fashion_cnn_extractor,
             "Fashion-MNIST only: one CNN trained on its train split (test accuracy and weights hash reported)")
