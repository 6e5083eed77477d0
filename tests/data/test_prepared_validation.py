"""Prepared caches are sealed: a tampered byte, a hand-edited meta.json field or a pickled labels.npy is a one-line
DataError naming the file and field, and a failed `ganzoo prepare` leaves no temporary folder behind."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import one_line_error
from test_data_prepare import make_folder

from ganzoo.cli import main
from ganzoo.data import prepared as prepare
from ganzoo.errors import DataError

N, C, H, W = 10, 1, 6, 6


def write_cache(tmp_path, labels=True):
    """A real cache written by prepare_tensor from random uint8 images (and labels 0..4); returns (path, images)."""
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (N, C, H, W), dtype=np.uint8))
    y = torch.arange(N) % 5 if labels else None
    out = tmp_path / "set"
    prepare.prepare_tensor(images, y, None, out, source="test", progress=False)
    return out, images


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert len(message.splitlines()) == 1, message
    return message


def edit_meta(cache, **changes):
    meta = json.loads((cache / "meta.json").read_text())
    meta.update(changes)
    (cache / "meta.json").write_text(json.dumps(meta))


def flip_byte(file, offset):
    raw = bytearray(file.read_bytes())
    raw[offset] ^= 0x01
    file.write_bytes(bytes(raw))


def test_a_good_cache_opens_with_the_data_written_and_the_hash_computed_directly(tmp_path):
    cache, images = write_cache(tmp_path)
    ds = prepare.open_prepared(cache)
    assert torch.equal(ds.data, images) and ds.labels.tolist() == [i % 5 for i in range(N)]
    assert ds.labels.dtype == torch.int64
    nhwc = images.permute(0, 2, 3, 1).contiguous().numpy().tobytes()
    direct = hashlib.sha256(json.dumps([[N, C, H, W], []]).encode() + hashlib.sha256(nhwc).digest()
                            + np.array([i % 5 for i in range(N)], "<i8").tobytes()).hexdigest()
    assert ds.info["cache"]["hash"] == direct == json.loads((cache / "meta.json").read_text())["hash"]
    assert is_mapped_from(ds.data, cache / "images.u8"), "memory-mapped, not loaded"


def is_mapped_from(tensor, file) -> bool:
    """Whether the tensor's memory lies in a mapping of `file` (Linux: /proc/self/maps names each mapped file)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("no /proc/self/maps on this platform")
    ptr = tensor.untyped_storage().data_ptr()
    for line in maps.read_text().splitlines():
        if line.endswith(str(file)):
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if start <= ptr < end:
                return True
    return False


@pytest.mark.parametrize("offset", [0, N * C * H * W // 2, N * C * H * W - 1])
def test_a_flipped_image_byte_is_refused_naming_the_path_and_the_hash(tmp_path, offset):
    cache, _ = write_cache(tmp_path)
    flip_byte(cache / "images.u8", offset)
    with pytest.raises(DataError) as excinfo:
        prepare.open_prepared(cache)
    message = one_line(excinfo)
    assert str(cache) in message and "does not match the hash in meta.json" in message
    assert "run `ganzoo prepare` again" in message


def test_the_hash_is_read_in_blocks_and_still_catches_a_byte_in_the_last_partial_block(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "HASH_BLOCK", 7)  # 360 bytes: 51 full blocks and a partial one of 3
    cache, images = write_cache(tmp_path)
    reads = []
    real_open = open

    class Recorder:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def readinto(self, buffer):
            reads.append(len(buffer))
            return self.f.readinto(buffer)

    monkeypatch.setattr(prepare, "open", lambda *a, **k: Recorder(real_open(*a, **k)), raising=False)
    assert torch.equal(prepare.open_prepared(cache).data, images)
    assert reads and max(reads) == 7, "never the whole file at once"
    flip_byte(cache / "images.u8", N * C * H * W - 2)
    with pytest.raises(DataError, match="does not match the hash"):
        prepare.open_prepared(cache)


def test_a_changed_label_is_refused_by_the_hash(tmp_path):
    cache, _ = write_cache(tmp_path)
    labels = np.load(cache / "labels.npy")
    labels[3] = 4 if labels[3] != 4 else 0
    np.save(cache / "labels.npy", labels)
    with pytest.raises(DataError) as excinfo:
        prepare.open_prepared(cache)
    assert str(cache) in one_line(excinfo) and "hash" in str(excinfo.value)


def test_a_tampered_cache_stops_a_run_with_one_line_and_exit_2(tmp_path, capsys):
    cache, _ = write_cache(tmp_path, labels=False)
    flip_byte(cache / "images.u8", 17)
    code = main(["run", "vanilla", "--dataset", str(cache), "--steps", "1", "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    one_line_error(capsys, str(cache), "does not match the hash")


HASH = "0" * 64
BAD_FIELDS = [
    ("shape", "10x1x6x6", "'10x1x6x6'"),
    ("shape", [-10, 1, 6, 6], "[-10, 1, 6, 6]"),
    ("shape", [10, 1, 0, 6], "[10, 1, 0, 6]"),
    ("shape", [10.0, 1, 6, 6], "[10.0, 1, 6, 6]"),
    ("shape", [10, True, 6, 6], "[10, True, 6, 6]"),
    ("shape", [10, 1, 6], "[10, 1, 6]"),
    ("shape", None, "None"),
    ("dtype", "float32", "'float32'"),
    ("layout", "NCHW", "'NCHW'"),
    ("labels", "../x.npy", "'../x.npy'"),
    ("labels", "images.u8", "'images.u8'"),
    ("classes", "cats", "'cats'"),
    ("classes", [1, 2], "[1, 2]"),
    ("hash", "abc", "'abc'"),
    ("hash", 123, "123"),
    ("hash", "G" * 64, "'GGGG"),
    ("hash", HASH.upper() + "0", "'0000"),
    ("skipped", "a.png", "'a.png'"),
    ("skipped", [["a.png"]], "[['a.png']]"),
    ("files", "9", "'9'"),
]


@pytest.mark.parametrize("key,value,shown", BAD_FIELDS, ids=[f"{k}={v!r}" for k, v, _ in BAD_FIELDS])
def test_a_bad_meta_field_is_one_line_naming_the_file_the_field_and_the_value(tmp_path, key, value, shown):
    cache, _ = write_cache(tmp_path)
    (tmp_path / "x.npy").write_bytes(b"elsewhere")
    edit_meta(cache, **{key: value})
    with pytest.raises(DataError) as excinfo:
        prepare.open_prepared(cache)
    message = one_line(excinfo)
    assert str(cache / "meta.json") in message and f"field {key!r} is {shown}" in message, message
    assert "run `ganzoo prepare` again" in message


def test_a_meta_json_that_is_not_an_object_or_of_another_format_is_one_line(tmp_path):
    cache, _ = write_cache(tmp_path)
    (cache / "meta.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="holds a JSON list, expected an object"):
        prepare.open_prepared(cache)
    (cache / "meta.json").write_text(json.dumps({"format": "ganzoo-prepared", "version": "2\n"}))
    with pytest.raises(DataError) as excinfo:
        prepare.open_prepared(cache)
    assert "v'2\\n'" in one_line(excinfo)


class Planted:
    """Unpickling this object would create a file: proof that labels.npy was never unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_a_pickled_labels_file_is_refused_and_never_unpickled(tmp_path):
    cache, _ = write_cache(tmp_path)
    marker = tmp_path / "unpickled"
    np.save(cache / "labels.npy", np.array([Planted(marker)] * N, dtype=object), allow_pickle=True)
    with pytest.raises(DataError) as excinfo:
        prepare.open_prepared(cache)
    message = one_line(excinfo)
    assert str(cache / "labels.npy") in message and "pickle" in message and "run `ganzoo prepare` again" in message
    assert not marker.exists(), "the pickle ran"


@pytest.mark.parametrize("labels,classes,phrase", [
    (np.zeros(N, np.float64), [], "dtype float64, expected integers"),
    (np.array([0] * (N - 1) + [-1]), [], "hold -1, expected non-negative"),
    (np.array([0] * (N - 1) + [2]), ["cats", "dogs"], "hold 2, expected 0..1 (2 classes in meta.json)"),
    (np.zeros(N + 1, np.int64), [], "(11,) labels for 10 images"),
    (np.zeros((N, 1), np.int64), [], "(10, 1) labels for 10 images"),
    (None, [], "the labels are not a plain .npy array"),
])
def test_bad_labels_are_one_line_naming_the_labels_file(tmp_path, labels, classes, phrase):
    cache, _ = write_cache(tmp_path)
    if labels is None:
        (cache / "labels.npy").write_bytes(b"\x93NUMPY garbage")
    else:
        np.save(cache / "labels.npy", labels)
    edit_meta(cache, classes=classes)
    with pytest.raises(DataError) as excinfo:
        prepare.open_prepared(cache)
    message = one_line(excinfo)
    assert str(cache / "labels.npy") in message and phrase in message, message


def test_a_missing_labels_file_named_in_meta_is_one_line(tmp_path):
    cache, _ = write_cache(tmp_path)
    (cache / "labels.npy").unlink()
    with pytest.raises(DataError) as excinfo:
        prepare.open_prepared(cache)
    assert "is missing but field 'labels'" in one_line(excinfo)


def test_labels_within_the_classes_open(tmp_path):
    """The range check is not over-strict: labels 0..len(classes)-1 open (the hash then decides)."""
    out = tmp_path / "set"
    images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    prepare.prepare_tensor(images, torch.tensor([0, 1, 1, 0]), None, out, source="t", progress=False)
    assert prepare.open_prepared(out).labels.tolist() == [0, 1, 1, 0]
    with pytest.raises(DataError, match="hash"):  # classes are part of the hash: renaming them is tampering too
        edit_meta(out, classes=["a", "b"])
        prepare.open_prepared(out)


# -- failed writes -------------------------------------------------------------------------------------------------
class FailingFile:
    """The writer's images file, failing as a full (or read-only) disk does, on write or on the flush at close."""

    def __init__(self, real, on, exc):
        self.real, self.on, self.exc = real, on, exc

    def write(self, data):
        if self.on == "write":
            raise self.exc
        return self.real.write(data)

    def close(self):
        self.real.close()
        if self.on == "close":
            raise self.exc


def fail_writes(monkeypatch, on="write", exc=None):
    exc = exc or OSError(errno.ENOSPC, "No space left on device")
    real_init = prepare._Writer.__init__

    def init(self, out):
        real_init(self, out)
        self.file = FailingFile(self.file, on, exc)

    monkeypatch.setattr(prepare._Writer, "__init__", init)


def leftovers(parent, name="set"):
    return list(parent.glob(f".{name}.tmp-*"))


@pytest.mark.parametrize("on", ["write", "close"])
def test_a_full_disk_while_writing_leaves_no_temporary_folder_and_says_the_space_needed(tmp_path, monkeypatch, on):
    fail_writes(monkeypatch, on)
    images = torch.zeros(100, 1, 28, 28, dtype=torch.uint8)
    with pytest.raises(DataError) as excinfo:
        prepare.prepare_tensor(images, None, None, tmp_path / "set", source="t", progress=False)
    message = one_line(excinfo)
    assert str(tmp_path / "set") in message and "no space left" in message
    assert "78.40 KB" in message, "100 x 1 x 28 x 28 bytes"
    assert not leftovers(tmp_path) and not (tmp_path / "set").exists()


def test_a_full_disk_through_ganzoo_prepare_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path / "pics")
    fail_writes(monkeypatch)
    code = main(["prepare", str(tmp_path / "pics"), "--image-size", "8", "--out", str(tmp_path / "set"), "--quiet"])
    assert code == 2
    one_line_error(capsys, str(tmp_path / "set"), "no space left", "1.73 KB")  # 9 images x 3 x 8 x 8 bytes
    assert not leftovers(tmp_path) and not (tmp_path / "set").exists()


def test_a_read_only_disk_when_finishing_leaves_no_temporary_folder(tmp_path, monkeypatch):
    def read_only(file, arr, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(file))

    monkeypatch.setattr(prepare.np, "save", read_only)
    make_folder(tmp_path / "pics")
    with pytest.raises(DataError) as excinfo:
        prepare.prepare_folder(tmp_path / "pics", 8, tmp_path / "set", workers=1, progress=False)
    message = one_line(excinfo)
    assert str(tmp_path / "set") in message and "Read-only file system" in message and "--out" in message
    assert not leftovers(tmp_path) and not (tmp_path / "set").exists()


def test_a_failure_opening_the_images_file_removes_the_folder_just_made(tmp_path, monkeypatch):
    def denied(*a, **k):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(prepare, "open", denied, raising=False)
    with pytest.raises(DataError, match="Permission denied"):
        prepare.prepare_tensor(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), None, None, tmp_path / "set", source="t",
                               progress=False)
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("how", ["tensor", "folder"])
def test_ctrl_c_while_writing_removes_the_temporary_folder_and_propagates(tmp_path, monkeypatch, how):
    fail_writes(monkeypatch, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        if how == "tensor":
            prepare.prepare_tensor(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), None, None, tmp_path / "set",
                                   source="t", progress=False)
        else:
            make_folder(tmp_path / "pics")
            prepare.prepare_folder(tmp_path / "pics", 8, tmp_path / "set", workers=1, progress=False)
    assert not leftovers(tmp_path) and not (tmp_path / "set").exists()
