"""Built-in datasets: digits (no download), 2-D Gaussian mixtures, MNIST, Fashion-MNIST, CIFAR-10, image folders.

Image datasets come back as uint8 ``(N, C, H, W)`` tensors in 0..255 (digits, with its 17 grey levels, as float32 in
[-1, 1]); mixtures as ``(N, 2)`` points with their centres and standard deviation, for the mode-coverage metrics.
Image folders go through a prepared cache (see ganzoo.data.prepared), so only the first run decodes them.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import torch

import ganzoo
from ganzoo.api import cache_dir, cached_folder, fetch, open_prepared, resize_images
from ganzoo.errors import DataError

MIXTURE_SAMPLES = 100_000


# -- digits ------------------------------------------------------------------------------------------------------
def load_digits(request):
    """scikit-learn's bundled 1,797 8x8 handwritten digits (UCI), 17 grey levels scaled to [-1, 1]."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32)).unsqueeze(1) / 8.0 - 1.0  # 0..16 -> -1..1
    images = resize_images(images, request.image_size)
    return ganzoo.Dataset("digits", images, labels=torch.from_numpy(bunch.target).long(),
                          description="8x8 handwritten digits bundled with scikit-learn")


# -- 2-D Gaussian mixtures -----------------------------------------------------------------------------------------
def ring8_centers():
    """8 modes evenly spaced on the unit circle at angles 2*pi*k/8, k = 0..7 (Metz et al. 2017; Lin et al. 2018).

    Note that ``linspace(0, 2*pi, 8)`` would repeat a centre and leave only 7 distinct modes.
    """
    angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    return torch.stack([angles.cos(), angles.sin()], dim=1).float()


def grid25_centers():
    """25 modes on the grid (-4, -2, 0, 2, 4)^2 (Srivastava et al. 2017 VEEGAN; Lin et al. 2018 PacGAN)."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(axis, axis)


def _mixture(name, centers, std, seed, description):
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(len(centers), (MIXTURE_SAMPLES,), generator=g)
    points = centers[which] + std * torch.randn(MIXTURE_SAMPLES, 2, generator=g)
    return ganzoo.Dataset(name, points, labels=which, centers=centers, std=std, description=description)


def load_ring8(request):
    """Ring of 8 Gaussians, radius 1, std 0.01 (PacGAN, Lin et al. 2018)."""
    return _mixture("ring8", ring8_centers(), 0.01, request.seed, "8 Gaussians on a unit ring, std 0.01")


def load_grid25(request):
    """Grid of 25 Gaussians at (-4..4 step 2)^2, std 0.05 (VEEGAN, Srivastava et al. 2017; PacGAN)."""
    return _mixture("grid25", grid25_centers(), 0.05, request.seed, "5x5 grid of Gaussians, std 0.05")


# -- IDX files (MNIST, Fashion-MNIST) ------------------------------------------------------------------------------
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_SPLITS = {"train": "train", "test": "t10k"}  # split -> file-name prefix, as LeCun et al. 1998 named them
IDX_IMAGE_SIZE = 28

#: SHA-256 of the *decompressed* IDX files: the official .gz archives and recompressed copies (Debian's package
#: recompresses them) hold the same bytes once decompressed, so any of them verifies. The Fashion-MNIST values were
#: computed from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 (files in /usr/share/datasets/fashion-mnist,
#: 60,000 + 10,000 images, 6,000 per class in train, first training labels 9 0 0 3 0 2 7 2 5 5, as Xiao et al. 2017
#: describe it). No MNIST copy could be obtained on the project machines (no package ships it, no download), so
#: MNIST has no decompressed sums here: its files are only checked through the published archive sums below, and a
#: raw or recompressed copy loads as "content not verified" (said in the dataset's description and info).
IDX_CONTENT_SHA256 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "mnist": {},  # unverified: see above
}

MNIST_FILES = {
    # SHA-256 sums of the canonical .gz archives, as published by the mirrors that host them (downloads are checked
    # against these; only the training archives' sums are known to ganzoo, so only the train split downloads).
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        },
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
            "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        },
    ),
}

#: Folders of the Debian packages that ship the files (searched after --data-dir and ganzoo's cache).
DEBIAN_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
DEBIAN_PACKAGES = {"fashion-mnist": "dataset-fashion-mnist"}


def _idx_fix(path: Path, name: str = "") -> str:
    debian = DEBIAN_DIRS.get(name)
    if debian is not None and Path(path).parent == debian:
        return f"reinstall it with `apt-get install --reinstall {DEBIAN_PACKAGES[name]}`"
    return "delete it so it is downloaded again, or replace it with the official file"


def _idx_bytes(path: Path, fix: str) -> bytes:
    try:
        return gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path} ({exc}): it is truncated or corrupt; {fix}") from None


def _parse_idx(raw: bytes, path: Path, fix: str) -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number); {fix}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header; {fix}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(
            f"{path} holds {len(raw)} bytes but its header promises {expected} {dims}; the file is truncated or "
            f"corrupt: {fix}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (LeCun et al. 1998's format, optionally gzipped), checking its header against its size."""
    path = Path(path)
    fix = _idx_fix(path)
    return _parse_idx(_idx_bytes(path, fix), path, fix)


def _find(directory: Path, stem: str):
    for candidate in (directory / stem, directory / (stem + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _idx_folders(request, name: str) -> list[Path]:
    """Where the files are looked for, in order: --data-dir (or the cache when none is given), ganzoo's cache, the
    Debian package's folder."""
    folders = [Path(request.data_dir), cache_dir() / name]
    if name in DEBIAN_DIRS:
        folders.append(Path(DEBIAN_DIRS[name]))
    return list(dict.fromkeys(folders))


def _idx_split(request, name: str) -> str:
    split = request.argument or "train"
    if split not in IDX_SPLITS:
        raise DataError(f"{name} has no split {split!r}; use --dataset {name}:train (the default) or {name}:test")
    return split


def _locate_idx(request, name: str, stems: list[str]) -> dict[str, Path]:
    """The first folder holding every file of the split (raw or .gz); else a download into --data-dir."""
    folders = _idx_folders(request, name)
    for folder in folders:
        found = {stem: _find(folder, stem) for stem in stems}
        if all(found.values()):
            return found
    base_url, archives = MNIST_FILES[name]
    where = ", ".join(str(f) for f in folders)
    package = (f", or install the Debian package {DEBIAN_PACKAGES[name]}" if name in DEBIAN_PACKAGES else "")
    if not all(stem + ".gz" in archives for stem in stems):
        raise DataError(f"{name}: {' and '.join(stems)} (.gz or raw) not found in {where}; ganzoo knows no published "
                        f"archive SHA-256 to download them with: put the files in --data-dir{package}")
    if not request.download:
        raise DataError(f"{name}: {' and '.join(stems)} (.gz or raw) not found in {where}; put the files there, "
                        f"allow downloads{package}")
    directory = Path(request.data_dir)
    return {stem: fetch(base_url + stem + ".gz", directory / (stem + ".gz"), archives[stem + ".gz"])
            for stem in stems}


def _read_verified(path: Path, stem: str, name: str) -> tuple[np.ndarray, bool]:
    """The IDX array and whether its content was verified (decompressed SHA-256, or the published archive's)."""
    fix = _idx_fix(path, name)
    raw = _idx_bytes(path, fix)
    expected = IDX_CONTENT_SHA256.get(name, {}).get(stem)
    if expected is not None:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected:
            raise DataError(f"{path} is not the published {name} {stem} (SHA-256 of its decompressed IDX content "
                            f"{actual[:12]}..., expected {expected[:12]}...): it is altered or truncated; {fix}")
        verified = True
    else:
        archive = MNIST_FILES.get(name, ("", {}))[1].get(stem + ".gz")
        verified = (path.suffix == ".gz" and archive is not None
                    and hashlib.sha256(path.read_bytes()).hexdigest() == archive)
    return _parse_idx(raw, path, fix), verified


def _load_idx_dataset(request, name):
    split = _idx_split(request, name)
    prefix = IDX_SPLITS[split]
    stems = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    paths = _locate_idx(request, name, stems)
    (images, images_ok), (labels, labels_ok) = (_read_verified(paths[s], s, name) for s in stems)
    if images.ndim != 3 or images.shape[1:] != (IDX_IMAGE_SIZE, IDX_IMAGE_SIZE) or images.dtype != np.uint8:
        raise DataError(f"{paths[stems[0]]} holds {images.dtype} images of shape {images.shape}, not 28x28 bytes; "
                        f"{_idx_fix(paths[stems[0]], name)}")
    if labels.ndim != 1 or len(images) != len(labels) or (len(labels) and int(labels.max()) > 9):
        raise DataError(f"{name}: images {images.shape} and labels {labels.shape} (0..9 expected) do not match; "
                        f"{_idx_fix(paths[stems[1]], name)}")
    tensor = resize_images(torch.from_numpy(np.array(images, dtype=np.uint8)).unsqueeze(1), request.image_size)
    size = tensor.shape[-1]
    shape = "28x28 grey" if size == IDX_IMAGE_SIZE else f"28x28 grey resized to {size}x{size} (bilinear, antialiased)"
    verified = images_ok and labels_ok
    trust = "checksum-verified" if verified else "content not verified (no published decompressed SHA-256 known)"
    folder = paths[stems[0]].parent
    return ganzoo.Dataset(
        name, tensor, labels=torch.from_numpy(labels.astype(np.int64)),
        description=f"{name} {split} split, {len(images):,} images, {shape}, from {folder}, {trust}",
        info={"split": split, "files": {s: str(paths[s]) for s in stems}, "verified": verified,
              "native_size": IDX_IMAGE_SIZE, "image_size": size},
    )


def load_mnist(request):
    """MNIST (LeCun et al. 1998): `mnist` or `mnist:test`, 10 classes, 28x28 (--image-size resizes). IDX files from
    --data-dir or ganzoo's cache, or downloaded (train split) and checked against the published archive sums."""
    return _load_idx_dataset(request, "mnist")


def load_fashion_mnist(request):
    """Fashion-MNIST (Xiao et al. 2017): `fashion-mnist` or `fashion-mnist:test`, 10 classes, 28x28 (--image-size
    resizes). IDX files from --data-dir, ganzoo's cache or Debian's dataset-fashion-mnist folder, or downloaded (train
    split); the decompressed content is checked against its SHA-256, so official and recompressed archives verify."""
    return _load_idx_dataset(request, "fashion-mnist")


# -- CIFAR-10 ------------------------------------------------------------------------------------------------------
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """CIFAR batches are pickled dicts of numpy arrays; refuse anything else so a file cannot run code."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_cifar_batch(blob: bytes, label: str):
    import io

    try:
        batch = _ArrayOnlyUnpickler(io.BytesIO(blob), encoding="bytes").load()
        data, labels = batch[b"data"], batch[b"labels"]
        data = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
    except Exception as exc:
        raise DataError(f"CIFAR-10 batch {label} is corrupt ({exc}); delete it so it is downloaded again") from None
    if len(labels) != len(data):
        raise DataError(f"CIFAR-10 batch {label} has {len(data)} images but {len(labels)} labels; it is corrupt")
    return data, np.asarray(labels, dtype=np.int64)


def load_cifar10(request):
    """CIFAR-10 training split (Krizhevsky 2009): the python pickle batches, extracted or in the original tarball."""
    directory = Path(request.data_dir)
    folder = directory / "cifar-10-batches-py"
    blobs = {}
    if folder.is_dir():
        for name in CIFAR10_BATCHES:
            if not (folder / name).exists():
                raise DataError(f"CIFAR-10: {folder / name} is missing; restore it or delete the folder to re-download")
            blobs[name] = (folder / name).read_bytes()
    else:
        archive = directory / "cifar-10-python.tar.gz"
        if not archive.exists():
            if not request.download:
                raise DataError(f"CIFAR-10 not found in {directory}; "
                                "put cifar-10-python.tar.gz there or allow downloads")
            fetch(CIFAR10_URL, archive, CIFAR10_SHA256)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for name in CIFAR10_BATCHES:
                    member = tar.extractfile(f"cifar-10-batches-py/{name}")
                    blobs[name] = member.read()
        except (tarfile.TarError, KeyError, OSError, EOFError) as exc:
            raise DataError(f"{archive} is truncated or corrupt ({exc}); delete it so it is downloaded again") from None
    parts = [_read_cifar_batch(blobs[name], name) for name in CIFAR10_BATCHES]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    tensor = resize_images(torch.from_numpy(images), request.image_size)
    return ganzoo.Dataset("cifar10", tensor, labels=torch.from_numpy(labels), description="CIFAR-10 training split")


# -- image folders -------------------------------------------------------------------------------------------------


def load_folder(request):
    """Every PNG/JPEG under a folder (`folder:PATH`), as RGB resized to --image-size (default 32), labelled by class
    sub-folder when every image sits in one. Decoded once into a cache keyed by the folder's content; unreadable
    files are skipped and named in one line."""
    if not request.argument:
        raise DataError("the folder dataset needs a path: use --dataset folder:PATH")
    return cached_folder(request.argument, request.image_size or 32, cache_dir() / "prepared")


def load_prepared(request):
    """A dataset written by `ganzoo prepare` (`prepared:PATH`, or just its PATH): memory-mapped uint8 images."""
    if not request.argument:
        raise DataError("the prepared dataset needs a path: use --dataset prepared:PATH (from `ganzoo prepare`)")
    dataset = open_prepared(request.argument)
    size = dataset.data.shape[-1]
    if request.image_size and request.image_size != size:
        raise DataError(f"{request.argument} was prepared at {size}px, not --image-size {request.image_size}; "
                        f"drop --image-size or prepare it again at that size")
    return dataset


@ganzoo.hookimpl
def register_datasets(register):
    register("digits", load_digits, "8x8 handwritten digits bundled with scikit-learn (no download)")
    register("ring8", load_ring8, "ring of 8 Gaussians, std 0.01 (PacGAN)")
    register("grid25", load_grid25, "5x5 grid of Gaussians, std 0.05 (VEEGAN, PacGAN)")
    register("mnist", load_mnist, "MNIST handwritten digits, 28x28, labels; mnist:test for the test split")
    register("fashion-mnist", load_fashion_mnist,
             "Fashion-MNIST, 28x28, labels; fashion-mnist:test for the test split (SHA-256 checked content)")
    register("cifar10", load_cifar10, "CIFAR-10, 3x32x32 (downloaded, SHA-256 checked)")
    register("folder", load_folder, "a folder of PNG/JPEG images: --dataset folder:PATH (decoded once, cached)")
    register("prepared", load_prepared, "a dataset written by `ganzoo prepare`: --dataset prepared:PATH")
