"""MNIST and Fashion-MNIST from IDX files (LeCun et al. 1998's format; Xiao et al. 2017), written here byte by byte:
where the files are looked for (--data-dir, ganzoo's cache, Debian's package folder), the split option, labels,
resizing, and the check of the decompressed content's SHA-256 (pointed at the small files written here)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import ganzoo
import ganzoo_plugins.datasets as builtin
from ganzoo.errors import DataError

PREFIX = {"train": "train", "test": "t10k"}


def idx_file(array: np.ndarray) -> bytes:
    """IDX: two zero bytes, type 0x08 (unsigned byte), the number of dimensions, each dimension as a big-endian
    uint32, then the values (magic 0x00000803 for 3-d images, 0x00000801 for 1-d labels)."""
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def split_arrays(split: str, n: int = 10):
    rng = np.random.default_rng({"train": 1, "test": 2}[split])
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_split(folder: Path, split: str, compress: bool = True, level: int = 9) -> dict[str, bytes]:
    """The split's two files; returns their decompressed bytes by file stem."""
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = split_arrays(split)
    blobs = {f"{PREFIX[split]}-images-idx3-ubyte": idx_file(images),
             f"{PREFIX[split]}-labels-idx1-ubyte": idx_file(labels)}
    for stem, blob in blobs.items():
        if compress:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(blob, compresslevel=level, mtime=0))
        else:
            (folder / stem).write_bytes(blob)
    return blobs


@pytest.fixture
def tables(monkeypatch, tmp_path):
    """Expected decompressed SHA-256s of the small files, and the Debian folder moved to an empty tmp folder."""
    sums = {}
    for split in PREFIX:
        for stem, blob in write_split(tmp_path / "reference", split).items():
            sums[stem] = hashlib.sha256(blob).hexdigest()
    monkeypatch.setitem(builtin.IDX_CONTENT_SHA256, "fashion-mnist", sums)
    monkeypatch.setitem(builtin.DEBIAN_DIRS, "fashion-mnist", tmp_path / "debian")
    return sums


def test_the_idx_header_written_here_is_the_published_layout():
    images, labels = split_arrays("train")
    assert idx_file(images)[:16] == bytes.fromhex("00000803" "0000000a" "0000001c" "0000001c")
    assert idx_file(labels)[:8] == bytes.fromhex("00000801" "0000000a")


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_both_splits_load_verified_from_gz_and_raw(tmp_path, tables, split, compress):
    write_split(tmp_path / "data", split, compress=compress)
    spec = "fashion-mnist" if split == "train" else "fashion-mnist:test"
    ds = ganzoo.load_dataset(spec, data_dir=tmp_path / "data", download=False)
    images, labels = split_arrays(split)
    assert ds.data.dtype == torch.uint8 and torch.equal(ds.data, torch.from_numpy(images).unsqueeze(1))
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == labels.tolist(), "labels for conditional models"
    assert ds.info["split"] == split and ds.info["verified"] is True
    assert f"{split} split" in ds.description and "28x28 grey" in ds.description
    assert "checksum-verified" in ds.description


def test_a_recompressed_archive_verifies_like_the_original(tmp_path, tables):
    """Debian recompresses the archives: other .gz bytes, the same decompressed content, so the same check passes."""
    write_split(tmp_path / "official", "train", level=9)
    write_split(tmp_path / "repacked", "train", level=1)
    stem = "train-images-idx3-ubyte.gz"
    assert (tmp_path / "official" / stem).read_bytes() != (tmp_path / "repacked" / stem).read_bytes()
    a = ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path / "official", download=False)
    b = ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path / "repacked", download=False)
    assert a.info["verified"] and b.info["verified"] and torch.equal(a.data, b.data)


def test_an_altered_byte_is_a_one_line_error_naming_the_file_and_the_fix(tmp_path, tables):
    write_split(tmp_path, "train", compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    blob = bytearray(path.read_bytes())
    blob[500] ^= 0xFF  # one pixel: header and size stay valid
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError) as info:
        ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert str(path) in message and "is not the published fashion-mnist" in message and "altered" in message
    assert "delete it so it is downloaded again" in message and "\n" not in message


@pytest.mark.parametrize("compress", [True, False])
def test_a_truncated_file_is_a_one_line_error(tmp_path, tables, compress):
    write_split(tmp_path, "train", compress=compress)
    path = tmp_path / ("train-labels-idx1-ubyte" + (".gz" if compress else ""))
    path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(DataError, match="truncated") as info:
        ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_files_in_the_debian_folder_are_found_and_their_fix_is_a_reinstall(tmp_path, tables):
    write_split(builtin.DEBIAN_DIRS["fashion-mnist"], "test")
    ds = ganzoo.load_dataset("fashion-mnist:test", data_dir=tmp_path / "empty", download=False)
    assert ds.info["verified"] and str(builtin.DEBIAN_DIRS["fashion-mnist"]) in ds.description
    path = builtin.DEBIAN_DIRS["fashion-mnist"] / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_file(np.zeros((10, 28, 28), dtype=np.uint8))))
    with pytest.raises(DataError, match="apt-get install --reinstall dataset-fashion-mnist"):
        ganzoo.load_dataset("fashion-mnist:test", data_dir=tmp_path / "empty", download=False)


def test_data_dir_then_ganzoo_cache_then_debian_folder(tmp_path, tables):
    """A bad copy further down the search order is never read when an earlier folder holds the split."""
    debian = builtin.DEBIAN_DIRS["fashion-mnist"]
    write_split(debian, "train")
    (debian / "train-images-idx3-ubyte.gz").write_bytes(b"broken")
    write_split(builtin.cache_dir() / "fashion-mnist", "train")
    from_cache = ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path / "empty", download=False)
    assert str(builtin.cache_dir() / "fashion-mnist") in from_cache.description
    (builtin.cache_dir() / "fashion-mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"broken")
    write_split(tmp_path / "mine", "train", compress=False)
    mine = ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path / "mine", download=False)
    assert str(tmp_path / "mine") in mine.description and mine.info["verified"]


def test_missing_files_name_every_folder_searched_and_the_package(tmp_path, tables):
    with pytest.raises(DataError) as info:
        ganzoo.load_dataset("fashion-mnist:test", data_dir=tmp_path / "nowhere", download=True)
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message and str(builtin.DEBIAN_DIRS["fashion-mnist"]) in message
    assert "no published archive SHA-256" in message and "dataset-fashion-mnist" in message
    assert "\n" not in message


def test_unknown_split_is_a_one_line_error(tmp_path, tables):
    with pytest.raises(DataError, match=r"no split 'valid'; use --dataset fashion-mnist:train .* fashion-mnist:test"):
        ganzoo.load_dataset("fashion-mnist:valid", data_dir=tmp_path, download=False)


def test_image_size_32_resizes_and_says_so(tmp_path, tables):
    write_split(tmp_path, "train")
    ds = ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path, download=False, image_size=32)
    assert ds.data.shape == (10, 1, 32, 32) and ds.info["image_size"] == 32 and ds.info["native_size"] == 28
    assert "28x28 grey resized to 32x32 (bilinear, antialiased)" in ds.description


def test_mnist_without_published_content_sums_says_unverified(tmp_path, monkeypatch):
    """No decompressed MNIST sums are known (see plugins/datasets.py): a raw copy loads but says so; the official
    archive verifies through its published archive sum (pointed at the small file here)."""
    assert builtin.IDX_CONTENT_SHA256["mnist"] == {}
    blobs = write_split(tmp_path / "raw", "train", compress=False)
    raw = ganzoo.load_dataset("mnist", data_dir=tmp_path / "raw", download=False)
    assert raw.info["verified"] is False and "content not verified" in raw.description
    write_split(tmp_path / "gz", "train")
    sums = {f"{s}.gz": hashlib.sha256((tmp_path / "gz" / f"{s}.gz").read_bytes()).hexdigest() for s in blobs}
    monkeypatch.setitem(builtin.MNIST_FILES, "mnist", ("file:///unused/", sums))
    archived = ganzoo.load_dataset("mnist", data_dir=tmp_path / "gz", download=False)
    assert archived.info["verified"] is True and torch.equal(archived.data, raw.data)


def test_download_goes_through_fetch_and_then_verifies_content(tmp_path, monkeypatch, tables):
    served = tmp_path / "served"
    write_split(served, "train")
    sums = {n: hashlib.sha256((served / n).read_bytes()).hexdigest() for n in builtin.MNIST_FILES["fashion-mnist"][1]}
    monkeypatch.setitem(builtin.MNIST_FILES, "fashion-mnist", (served.as_uri() + "/", sums))
    ds = ganzoo.load_dataset("fashion-mnist", data_dir=tmp_path / "dl")
    assert ds.info["verified"] and (tmp_path / "dl" / "train-images-idx3-ubyte.gz").exists()


REAL = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (REAL / "train-labels-idx1-ubyte.gz").exists(), reason="Debian's dataset-fashion-mnist absent")
def test_the_real_debian_files_verify_and_hold_what_xiao_et_al_describe():
    """Only where the package is installed: 60,000 + 10,000 images, 6,000 per class, first labels 9 0 0 3 0 2 7 2 5 5
    (Xiao et al. 2017)."""
    train = ganzoo.load_dataset("fashion-mnist", download=False)
    assert train.data.shape == (60000, 1, 28, 28) and train.info["verified"]
    assert train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    test = ganzoo.load_dataset("fashion-mnist:test", download=False)
    assert test.data.shape == (10000, 1, 28, 28) and test.info["verified"]
