"""Datasets: bundled digits, the 2-D mixtures, and the file formats, written here in their real layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.data.download import fetch
from ganzoo.errors import DataError


def test_digits_are_bundled_and_scaled():
    ds = ganzoo.load_dataset("digits")
    assert ds.data.shape == (1797, 1, 8, 8) and ds.data.dtype == torch.float32
    assert ds.data.min() == -1 and ds.data.max() == 1
    assert sorted(ds.labels.unique().tolist()) == list(range(10))


def test_ring8_has_eight_distinct_modes_on_the_unit_circle():
    ds = ganzoo.load_dataset("ring8")
    assert ds.centers.shape == (8, 2) and ds.std == 0.01
    assert torch.allclose(ds.centers.norm(dim=1), torch.ones(8), atol=1e-6)
    assert torch.cdist(ds.centers, ds.centers).add(torch.eye(8)).min() > 0.7, "no centre is repeated"
    nearest = torch.cdist(ds.data, ds.centers).argmin(dim=1)
    assert torch.equal(nearest, ds.labels)
    assert (ds.data - ds.centers[ds.labels]).std().item() == pytest.approx(0.01, rel=0.05)


def test_grid25_centres_and_std():
    ds = ganzoo.load_dataset("grid25")
    assert ds.centers.shape == (25, 2) and ds.std == 0.05
    assert sorted(set(ds.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert (ds.data - ds.centers[ds.labels]).std().item() == pytest.approx(0.05, rel=0.05)


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory, n=12, compress=True, corrupt_images=None):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
    blobs = {"train-images-idx3-ubyte": idx_bytes(images), "train-labels-idx1-ubyte": idx_bytes(labels)}
    if corrupt_images is not None:
        blobs["train-images-idx3-ubyte"] = corrupt_images(blobs["train-images-idx3-ubyte"])
    for name, blob in blobs.items():
        if compress:
            (directory / f"{name}.gz").write_bytes(gzip.compress(blob))
        else:
            (directory / name).write_bytes(blob)
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_idx_datasets_read_real_format(tmp_path, compress):
    """MNIST (no decompressed sums known, so random content loads); Fashion-MNIST's checks: test_idx_datasets.py."""
    images, labels = write_mnist(tmp_path, compress=compress)
    ds = ganzoo.load_dataset("mnist", data_dir=tmp_path, download=False)
    assert ds.data.shape == (12, 1, 28, 28) and ds.data.dtype == torch.uint8, "stored as bytes, 1 per value"
    assert torch.equal(ds.data, torch.from_numpy(images).unsqueeze(1))
    assert torch.equal(ds.float_data(), torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1)
    assert ds.labels.tolist() == labels.tolist()


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    write_mnist(tmp_path, compress=False, corrupt_images=lambda b: b[:-100])
    with pytest.raises(DataError, match="header promises"):
        ganzoo.load_dataset("mnist", data_dir=tmp_path, download=False)


def test_idx_file_with_bad_magic_is_a_clear_error(tmp_path):
    write_mnist(tmp_path, compress=False, corrupt_images=lambda b: b"\x01\x02" + b[2:])
    with pytest.raises(DataError, match="not an IDX file"):
        ganzoo.load_dataset("mnist", data_dir=tmp_path, download=False)


def test_missing_files_without_download_name_the_folder(tmp_path):
    with pytest.raises(DataError, match="not found in"):
        ganzoo.load_dataset("mnist", data_dir=tmp_path, download=False)


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"training batch", b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}


def write_cifar_tarball(path, n=4, mangle=None):
    with tarfile.open(path, "w:gz") as tar:
        for i in range(1, 6):
            blob = pickle.dumps(cifar_batch(n, i), protocol=2)
            if mangle and i == 3:
                blob = mangle(blob)
            info = tarfile.TarInfo(f"cifar-10-batches-py/data_batch_{i}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_cifar10_reads_python_pickle_batches_from_the_tarball(tmp_path):
    write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz")
    ds = ganzoo.load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert ds.data.shape == (20, 3, 32, 32) and ds.labels.shape == (20,) and ds.data.dtype == torch.uint8
    first = cifar_batch(4, 1)[b"data"][0].reshape(3, 32, 32)
    assert torch.equal(ds.float_data(0), torch.from_numpy(first).float() / 127.5 - 1)


def test_cifar10_corrupt_batch_is_a_clear_error(tmp_path):
    write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz", mangle=lambda b: b[: len(b) // 2])
    with pytest.raises(DataError, match="data_batch_3 is corrupt"):
        ganzoo.load_dataset("cifar10", data_dir=tmp_path, download=False)


def test_cifar10_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz", mangle=lambda b: pickle.dumps(Evil()))
    with pytest.raises(DataError, match="refusing to load builtins.print"):
        ganzoo.load_dataset("cifar10", data_dir=tmp_path, download=False)


def test_image_folder_is_read_and_resized(tmp_path):
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (40, 30), (255, 0, 0)).save(folder / "a.png")
    Image.new("L", (20, 20), 0).save(folder / "sub" / "b.jpg")
    (folder / "notes.txt").write_text("not an image")
    ds = ganzoo.load_dataset(f"folder:{folder}", image_size=16)
    assert ds.data.shape == (2, 3, 16, 16) and ds.data.dtype == torch.uint8 and ds.labels is None
    red = ds.float_data(0)
    assert torch.equal(red[0], torch.ones(16, 16)) and torch.equal(red[1], -torch.ones(16, 16))


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no PNG or JPEG images"):
        ganzoo.load_dataset(f"folder:{tmp_path / 'empty'}")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not really a png")
    with pytest.raises(DataError, match=r"none of the 1 images .* x.png \(UnidentifiedImageError"):
        ganzoo.load_dataset(f"folder:{tmp_path / 'bad'}")
    with pytest.raises(DataError, match="does not exist"):
        ganzoo.load_dataset(f"folder:{tmp_path / 'nowhere'}")


def test_download_checks_sha256_and_discards_a_mismatch(tmp_path):
    source = tmp_path / "served.bin"
    source.write_bytes(b"payload" * 1000)
    good = hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "cache" / "file.bin"
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(source.as_uri(), target, "0" * 64, progress=False)
    assert not target.exists() and not target.with_name("file.bin.part").exists(), "the bad download was discarded"
    assert fetch(source.as_uri(), target, good, progress=False).read_bytes() == source.read_bytes()


def test_mnist_download_path_uses_fetch_and_checksums(tmp_path, monkeypatch):
    """The loader downloads missing files through fetch() with the published sums (served locally here)."""
    served = tmp_path / "served"
    images, labels = write_mnist(served)
    import ganzoo_plugins.datasets as builtin

    sums = {n: hashlib.sha256((served / n).read_bytes()).hexdigest() for n in builtin.MNIST_FILES["mnist"][1]}
    monkeypatch.setitem(builtin.MNIST_FILES, "mnist", (served.as_uri() + "/", sums))
    ds = ganzoo.load_dataset("mnist", data_dir=tmp_path / "dl")
    assert ds.data.shape == (12, 1, 28, 28)
    assert (tmp_path / "dl" / "train-images-idx3-ubyte.gz").exists()
