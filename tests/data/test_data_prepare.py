"""`ganzoo prepare` and folder caches: real PNG/JPEG files, class labels, bad files skipped and named, decoded once,
memory refused before allocating."""

from __future__ import annotations

import json
import struct
import sys
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.data import prepared as prepare
from ganzoo.errors import DataError


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header promises width x height pixels (a decompression bomb), with valid CRCs."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        png_chunk(b"IEND", b"")


def make_folder(root, n_per_class=4, classes=("cats", "dogs"), size=(20, 12)):
    rng = np.random.default_rng(1)
    pixels = {}
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n_per_class):
            arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            path = root / c / f"{i}.png"
            Image.fromarray(arr).save(path)
            pixels[f"{c}/{i}.png"] = arr
    Image.fromarray(np.full((30, 30, 3), 200, np.uint8)).save(root / classes[0] / "photo.jpg", quality=95)
    return pixels


def add_bad_files(root):
    good = (root / "cats" / "0.png").read_bytes()
    # corrupt chunk: flip a byte of the IHDR chunk's CRC
    corrupt = bytearray(good)
    corrupt[29] ^= 0xFF
    (root / "cats" / "corrupt.png").write_bytes(bytes(corrupt))
    (root / "dogs" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "dogs" / "bomb.png").write_bytes(bomb_png(60_000, 60_000))
    (root / "dogs" / "bigbomb.png").write_bytes(bomb_png(10_000, 10_000))  # within PIL's warning band
    (root / "dogs" / "notes.jpg").write_text("not an image")
    return {"cats/corrupt.png", "dogs/truncated.png", "dogs/bomb.png", "dogs/bigbomb.png", "dogs/notes.jpg"}


def test_prepare_folder_writes_uint8_rows_labels_and_a_content_hash(tmp_path):
    pixels = make_folder(tmp_path / "pics")
    report = prepare.prepare_folder(tmp_path / "pics", 16, tmp_path / "out", workers=2, progress=False)
    assert report.shape == (9, 3, 16, 16) and not report.skipped
    ds = prepare.open_prepared(tmp_path / "out")
    assert ds.data.dtype == torch.uint8 and ds.data.shape == (9, 3, 16, 16)
    assert ds.info["classes"] == ["cats", "dogs"]
    assert ds.labels.tolist() == [0] * 5 + [1] * 4  # cats/0-3.png, cats/photo.jpg, dogs/0-3.png
    expected = np.array(Image.fromarray(pixels["dogs/2.png"]).resize((16, 16), Image.Resampling.BICUBIC))
    assert torch.equal(ds.data[7], torch.from_numpy(expected).permute(2, 0, 1)), "the direct PIL computation"
    raw = (tmp_path / "out" / "images.u8").read_bytes()
    assert len(raw) == 9 * 16 * 16 * 3 and raw[7 * 768 : 8 * 768] == expected.tobytes(), "NHWC rows, one per image"
    again = prepare.prepare_folder(tmp_path / "pics", 16, tmp_path / "out2", workers=1, progress=False)
    assert again.content_hash == report.content_hash, "the hash depends on content, not on worker count"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "pics" / "dogs" / "9.png")
    third = prepare.prepare_folder(tmp_path / "pics", 16, tmp_path / "out3", progress=False)
    assert third.content_hash != report.content_hash


def test_bad_files_are_skipped_counted_and_named_in_one_line(tmp_path, capsys):
    make_folder(tmp_path / "pics")
    bad = add_bad_files(tmp_path / "pics")
    code = main(["prepare", str(tmp_path / "pics"), "--image-size", "8", "--out", str(tmp_path / "set"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [line for line in err.splitlines() if "skipped" in line]
    assert len(lines) == 1 and "skipped 5 of 14 images" in lines[0]
    for name in bad:
        assert name in lines[0]
    assert "DecompressionBomb" in lines[0] and "decompression-bomb guard" in lines[0]
    assert "prepared 9 images 3x8x8" in out
    meta = json.loads((tmp_path / "set" / "meta.json").read_text())
    assert {s[0] for s in meta["skipped"]} == bad and meta["shape"] == [9, 3, 8, 8]


def test_folder_dataset_is_decoded_once_and_again_when_the_folder_changes(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path / "pics")
    add_bad_files(tmp_path / "pics")
    first = ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8)
    assert "skipped 5 of 14 images" in capsys.readouterr().err
    calls = []
    real_decode = prepare.decode_image
    monkeypatch.setattr(prepare, "decode_image", lambda *a: calls.append(a) or real_decode(*a))
    second = ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8)
    assert calls == [], "the second load opened the cache instead of decoding"
    assert torch.equal(first.data, second.data) and first.info["cache"] == second.info["cache"]
    assert "skipped 5 of 14 images" in capsys.readouterr().err, "still named on every run, never silently"
    ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=12)
    assert calls, "another image size is another cache"
    calls.clear()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "pics" / "cats" / "0.png")
    changed = ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8)
    assert calls and changed.info["cache"]["hash"] != first.info["cache"]["hash"]


def test_a_damaged_folder_cache_is_made_again_from_the_folder(tmp_path, capsys):
    make_folder(tmp_path / "pics")
    first = ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8)
    images = first.info["cache"]["file"]
    del first
    with open(images, "r+b") as f:  # one flipped byte in ganzoo's own cache
        f.seek(7)
        byte = f.read(1)
        f.seek(7)
        f.write(bytes([byte[0] ^ 0xFF]))
    capsys.readouterr()
    again = ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8)
    err = capsys.readouterr().err
    assert "does not match the hash" in err and "preparing it again from" in err
    fresh = prepare.prepare_folder(tmp_path / "pics", 8, tmp_path / "fresh", progress=False)
    assert torch.equal(again.data, ganzoo.load_dataset(str(fresh.path)).data), "rebuilt from the intact folder"


def test_prepared_sets_are_accepted_as_a_path_or_prepared_path(tmp_path):
    make_folder(tmp_path / "pics")
    main(["prepare", f"folder:{tmp_path / 'pics'}", "--image-size", "8", "--out", str(tmp_path / "set"), "--quiet"])
    by_path = ganzoo.load_dataset(str(tmp_path / "set"))
    by_name = ganzoo.load_dataset(f"prepared:{tmp_path / 'set'}", image_size=8)
    assert torch.equal(by_path.data, by_name.data) and by_path.labels.tolist() == by_name.labels.tolist()
    with pytest.raises(DataError, match="prepared at 8px, not --image-size 16"):
        ganzoo.load_dataset(f"prepared:{tmp_path / 'set'}", image_size=16)
    with open(tmp_path / "set" / "images.u8", "r+b") as f:
        f.truncate(100)
    with pytest.raises(DataError, match="truncated, run `ganzoo prepare` again"):
        ganzoo.load_dataset(str(tmp_path / "set"))
    assert main(["prepare", str(tmp_path / "pics"), "--image-size", "8", "--out", str(tmp_path / "pics")]) == 2


def test_prepare_a_registered_dataset_keeps_labels_and_resizes(tmp_path):
    from test_datasets import write_mnist

    images, labels = write_mnist(tmp_path / "mnist")
    assert main(["prepare", "mnist", "--data-dir", str(tmp_path / "mnist"), "--image-size", "14",
                 "--out", str(tmp_path / "m14"), "--quiet"]) == 0
    ds = ganzoo.load_dataset(str(tmp_path / "m14"))
    assert ds.data.shape == (12, 1, 14, 14) and ds.labels.tolist() == labels.tolist()
    direct = torch.nn.functional.interpolate(torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1, size=(14, 14),
                                             mode="bilinear", antialias=True, align_corners=False)
    direct = direct.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    assert torch.equal(ds.data, direct)


def test_an_image_size_that_cannot_fit_is_refused_before_allocating(tmp_path, monkeypatch):
    from test_datasets import write_mnist

    write_mnist(tmp_path)
    monkeypatch.setattr("ganzoo.data.memory.available_memory", lambda device: 8_000_000)
    allocations = []
    real_empty = torch.empty
    monkeypatch.setattr(torch, "empty", lambda *a, **k: allocations.append(a) or real_empty(*a, **k))
    with pytest.raises(DataError, match=r"resizing 12 images to 1x1024x1024 needs 12.58 MB but only 8.00 MB of RAM"):
        ganzoo.load_dataset("mnist", data_dir=tmp_path, download=False, image_size=1024)
    assert not any(a and a[0] == (12, 1, 1024, 1024) for a in allocations)
    monkeypatch.setattr(prepare.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    make_folder(tmp_path / "pics")
    with pytest.raises(DataError, match=r"need 28.31 MB but .* has 1.00 KB free"):
        prepare.prepare_folder(tmp_path / "pics", 1024, tmp_path / "big", progress=False)
    assert not (tmp_path / "big").exists()


def test_a_folder_of_only_bad_images_is_a_clear_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(bomb_png(70_000, 70_000))
    assert main(["prepare", str(tmp_path / "bad"), "--image-size", "8", "--out", str(tmp_path / "o")]) == 2
    with pytest.raises(DataError, match=r"none of the 1 images .* a.png \(DecompressionBombError"):
        prepare.prepare_folder(tmp_path / "bad", 8, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.tmp-*")), "no half-written cache left"


@pytest.mark.skipif(sys.platform != "linux", reason="file names of arbitrary bytes are a Linux file system's")
def test_a_folder_with_a_non_utf8_file_name_and_a_symlink_loop_is_read(tmp_path):
    import os

    make_folder(tmp_path / "pics", n_per_class=2)
    before = ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8).data.shape[0]
    cats = tmp_path / "pics" / "cats"
    os.link(cats / sorted(os.listdir(cats))[0], os.fsencode(cats) + b"/bad\xff\xfe.png")  # bytes, not UTF-8
    os.symlink("..", cats / "loop")  # a directory link back up: never followed
    dataset = ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8)
    assert dataset.data.shape[0] == before + 1 and dataset.info["skipped"] == []
    assert torch.equal(dataset.data, ganzoo.load_dataset(f"folder:{tmp_path / 'pics'}", image_size=8).data)
