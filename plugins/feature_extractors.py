"""Built-in feature extractors for FID/KID/IS/precision/recall.

- ``classifier``: a small CNN trained on the dataset's own labelled training split (85%), evaluated on the held-out
  15%; cached under ``~/.cache/ganzoo/classifiers/`` keyed by dataset name and a hash of its data. Its test accuracy
  travels with every score it produces, so a reader knows how far to trust the features.
- ``inception``: the InceptionV3 of Heusel et al. 2017 as packaged by torch-fidelity (through torchmetrics), the
  field's standard for natural images. It needs ``torch-fidelity`` and its weights file (``--inception-weights PATH``
  or torch hub's cache); without them it says so and nothing falls back silently.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import torch
from torch import nn

import ganzoo
from ganzoo.checkpoint import load_checkpoint, save_checkpoint
from ganzoo.data import cache_dir
from ganzoo.metrics import ExtractorUnavailable, FeatureExtractor

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
    for step in range(steps):
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


def classifier_extractor(dataset, *, device, weights=None):
    """A CNN trained on the dataset's labels (cached); features are its 128-d penultimate layer."""
    if dataset.labels is None or dataset.kind != "image":
        raise ExtractorUnavailable(
            f"the classifier extractor needs a labelled image dataset and {dataset.name!r} has no labels; "
            f"use --feature-extractor inception with its weights"
        )
    key = _data_hash(dataset)
    path = Path(weights) if weights else cache_dir() / "classifiers" / f"{dataset.name.replace('/', '_')}-{key}.pt"
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
    model.description = (f"CNN trained on {dataset.name} labels, held-out accuracy {accuracy:.1%}, "
                         f"128-d features (cache {path.name})")
    model.accuracy = accuracy
    model.requires_grad_(False)
    return model


INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"


class InceptionFeatures(FeatureExtractor):
    """torch-fidelity's FID InceptionV3: 2048-d pool features and 1008-way logits, on 299x299 RGB uint8 input."""

    def __init__(self, weights_path: str):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                      feature_extractor_weights_path=weights_path)
        self.num_features = 2048
        self.name = "inception"
        self.description = "InceptionV3 (torch-fidelity FID weights), 2048-d pool3 features"

    @staticmethod
    def _to_uint8_rgb(x):
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def features(self, x):
        return self.net(self._to_uint8_rgb(x))[0].reshape(x.shape[0], -1)

    def logits(self, x):
        return self.net(self._to_uint8_rgb(x))[1].reshape(x.shape[0], -1)


def inception_extractor(dataset, *, device, weights=None):
    """InceptionV3 features; needs torch-fidelity and the FID weights file (never downloaded silently)."""
    if dataset.kind != "image":
        raise ExtractorUnavailable("the inception extractor works on images only")
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        raise ExtractorUnavailable(
            "the inception extractor needs torch-fidelity: `pip install torch-fidelity`, then give its FID weights "
            "with --inception-weights PATH"
        ) from None
    path = Path(weights) if weights else Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS
    if not path.is_file():
        raise ExtractorUnavailable(
            f"InceptionV3 weights not found at {path}; pass --inception-weights PATH ({INCEPTION_WEIGHTS})"
        )
    return InceptionFeatures(str(path)).to(device).eval()


@ganzoo.hookimpl
def register_feature_extractors(register):
    register("inception", inception_extractor, "InceptionV3 (torch-fidelity weights), the standard for natural images")
    register("classifier", classifier_extractor, "small CNN trained on the dataset's labels; accuracy reported")
