"""Prepared datasets: images decoded and resized once into a memory-mappable uint8 cache.

A prepared dataset is a folder holding ``images.u8`` (raw uint8, ``(N, H, W, C)``, one image after another, so a
sample is one contiguous read), ``labels.npy`` (int64, optional) and ``meta.json`` (shape, classes, content hash,
skipped files). ``ganzoo prepare`` writes one; ``folder:PATH`` writes one into the ganzoo cache, keyed by the
folder's file names, sizes and modification times, so a second run opens it instead of decoding again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch

from ganzoo.contract.types import Dataset
from ganzoo.data.memory import human_bytes
from ganzoo.data.tensors import resize_images
from ganzoo.errors import DataError

FORMAT, VERSION = "ganzoo-prepared", 1
META, IMAGES, LABELS = "meta.json", "images.u8", "labels.npy"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
CHUNK = 32  # images per decode task
HASH_BLOCK = 4 << 20  # bytes read per step when checking the content hash: a few MiB, never the whole file
FIX = "run `ganzoo prepare` again"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class PrepareReport:
    """What a prepare pass did: where the cache is, how many images it holds, which files were skipped and why."""

    path: Path
    shape: tuple[int, ...]  # (N, C, H, W)
    content_hash: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    decoded: bool = True  # False when an existing cache was reused

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape))


def skipped_line(skipped: list, total: int) -> str:
    """One line naming every skipped file and why (bad files are never dropped silently)."""
    names = "; ".join(f"{name} ({reason})" for name, reason in skipped)
    return f"skipped {len(skipped)} of {total:,} images that could not be read: {names}"


def notice(line: str) -> None:
    """Print a one-line warning on stderr (rank 0 only under torchrun)."""
    if os.environ.get("RANK", "0") == "0":
        print(f"ganzoo: warning: {line}", file=sys.stderr, flush=True)


# -- reading images ------------------------------------------------------------------------------------------------
def scan_images(root: Path) -> list[tuple[str, int, int]]:
    """(relative posix name, size, mtime_ns) of every PNG/JPEG under root, sorted by name: one stat per file."""
    found, stack = [], [("", str(root))]
    while stack:
        rel, path = stack.pop()
        with os.scandir(path) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    stack.append((f"{rel}{e.name}/", e.path))
                elif os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file():
                    st = e.stat()
                    found.append((f"{rel}{e.name}", st.st_size, st.st_mtime_ns))
    found.sort()
    return found


def list_images(root: Path) -> tuple[list[str], Optional[list[int]], list[str]]:
    """Relative names of the images under root in a stable order, with labels when every image sits in a class
    sub-folder (the sorted sub-folder names are the classes)."""
    names = [name for name, _, _ in scan_images(root)]
    if names and all("/" in name for name in names):
        tops = [name.split("/", 1)[0] for name in names]
        classes = sorted(set(tops))
        index = {c: i for i, c in enumerate(classes)}
        return names, [index[t] for t in tops], classes
    return names, None, []


def decode_image(path: Path, size: int) -> np.ndarray:
    """One image as (size, size, 3) uint8 RGB; raises on anything unreadable, including decompression bombs."""
    from PIL import Image

    with Image.open(path) as img:
        pixels = img.width * img.height
        if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
            raise DataError(f"decompression-bomb guard: {img.width}x{img.height} pixels exceeds PIL's limit")
        img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when the file is much larger
        img = img.convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(img, dtype=np.uint8)


def _decode_chunk(names: list[str], root: Path, size: int):
    good, keep, bad = [], [], []
    for i, name in enumerate(names):
        try:
            good.append(decode_image(root / name, size))
            keep.append(i)
        except Exception as exc:
            reason = str(exc).splitlines()[0][:120] if str(exc) else ""
            bad.append((name, f"{type(exc).__name__}: {reason}".rstrip(": ")))
    block = np.stack(good) if good else np.zeros((0, size, size, 3), np.uint8)
    return block, keep, bad


# -- writing a cache -----------------------------------------------------------------------------------------------
class _Writer:
    """Streams uint8 rows to a temporary folder and renames it into place only when complete."""

    def __init__(self, out: Path):
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        self.tmp.mkdir()
        try:
            self.file = open(self.tmp / IMAGES, "wb")
        except BaseException:  # the folder exists but nothing will ever remove it otherwise
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.digest = hashlib.sha256()
        self.count = 0

    def write(self, block: np.ndarray) -> None:
        data = np.ascontiguousarray(block, dtype=np.uint8)
        if data.size == 0:
            return
        self.file.write(memoryview(data.reshape(-1)))
        self.digest.update(memoryview(data.reshape(-1)))
        self.count += data.shape[0]

    def finish(self, row_shape: tuple[int, int, int], labels, meta: dict) -> PrepareReport:
        self.file.close()
        h, w, c = row_shape
        shape = (self.count, c, h, w)
        if labels is not None:
            labels = np.asarray(labels, dtype=np.int64)
            np.save(self.tmp / LABELS, labels)
        content_hash = _content_hash(shape, meta.get("classes", []), self.digest.digest(), labels)
        meta = {"format": FORMAT, "version": VERSION, "shape": list(shape), "layout": "NHWC", "dtype": "uint8",
                "labels": LABELS if labels is not None else None, "hash": content_hash, **meta}
        (self.tmp / META).write_text(json.dumps(meta, indent=1) + "\n")
        _swap_into_place(self.tmp, self.out)
        return PrepareReport(self.out, shape, content_hash, [tuple(s) for s in meta.get("skipped", [])])

    def abort(self) -> None:
        """Remove the temporary folder; never raises, so the error that caused the abort is the one reported."""
        with contextlib.suppress(OSError):  # flushing to a full disk fails again: the file is closed regardless
            self.file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _content_hash(shape, classes, image_digest: bytes, labels: Optional[np.ndarray]) -> str:
    """The cache's content hash: shape and classes, then the images' sha256, then the int64 labels (one formula for
    writing a cache and checking it)."""
    final = hashlib.sha256(json.dumps([list(shape), classes]).encode())
    final.update(image_digest)
    if labels is not None:
        final.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return final.hexdigest()


def _write_error(exc: OSError, out: Path, nbytes: int) -> DataError:
    """A failed write as one line naming the cache; a full disk also says how much space the images need."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        what = "no space left on the device" if exc.errno == errno.ENOSPC else "disk quota exceeded"
        return DataError(f"cannot write the prepared dataset {out}: {what}; its images need {human_bytes(nbytes)}, "
                         f"free that much space or pass --out on another disk")
    reason = " ".join((exc.strerror or str(exc) or type(exc).__name__).split())
    return DataError(f"cannot write the prepared dataset {out}: {reason}; pass --out on a writable disk")


@contextmanager
def _writing(out: Path, nbytes: int):
    """A _Writer whose temporary folder is removed on every failure (Ctrl-C included), OS errors made one line."""
    writer = None
    try:
        writer = _Writer(out)
        yield writer
    except BaseException as exc:
        if writer is not None:
            writer.abort()
        if isinstance(exc, OSError):
            raise _write_error(exc, out, nbytes) from exc
        raise


def _swap_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        if not is_prepared(out):
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f"{out} exists and is not a ganzoo prepared dataset; choose another --out")
        old = out.parent / f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.replace(out, old)
        except OSError:  # another process swapped it first: keep theirs (same content)
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.replace(tmp, out)
    except OSError:  # another rank finished the same cache first; anything else is a real failure
        shutil.rmtree(tmp, ignore_errors=True)
        if not is_prepared(out):
            raise


def _check_disk(out: Path, nbytes: int) -> None:
    probe = out.parent if out.parent.exists() else Path(".")
    free = shutil.disk_usage(probe).free
    if nbytes > free:
        raise DataError(f"the prepared images need {human_bytes(nbytes)} but {probe} has {human_bytes(free)} free; "
                        f"use a smaller --image-size or another --out")


def _progress(total: int, label: str, show: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), transient=True, disable=not show, console=Console(stderr=True))


def prepare_folder(root: Path, image_size: int, out: Path, *, workers: Optional[int] = None,
                   progress: bool = True) -> PrepareReport:
    """Decode and resize every image under root once (threads: Pillow releases the GIL), write the cache."""
    start = time.perf_counter()
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist; check the path")
    files, labels, classes = list_images(root)
    if not files:
        raise DataError(f"no PNG or JPEG images found under {root}; point it at a folder of images")
    nbytes = len(files) * 3 * image_size * image_size
    _check_disk(out, nbytes)
    workers = workers or min(8, os.cpu_count() or 1)
    chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
    kept_labels, skipped = [], []
    with _writing(out, nbytes) as writer:
        with ThreadPoolExecutor(workers) as pool, _progress(len(files), f"decoding {root.name}", progress) as bar:
            task = bar.add_task(f"decoding {root.name} at {image_size}px", total=len(files))
            pending: deque = deque()
            todo = iter(range(len(chunks)))
            for k in todo:  # keep a bounded window of decode tasks in flight, consume them in order
                pending.append((k, pool.submit(_decode_chunk, chunks[k], root, image_size)))
                if len(pending) < 2 * workers:
                    continue
                _consume(pending.popleft(), writer, labels, kept_labels, skipped, bar, task, chunks)
            while pending:
                _consume(pending.popleft(), writer, labels, kept_labels, skipped, bar, task, chunks)
        if writer.count == 0:
            raise DataError(f"none of the {len(files)} images under {root} could be read: "
                            + skipped_line(skipped, len(files)))
        report = writer.finish((image_size, image_size, 3), kept_labels if labels is not None else None, {
            "source": str(root), "image_size": image_size, "classes": classes, "skipped": skipped,
            "files": len(files)})
    report.seconds = time.perf_counter() - start
    return report


def _consume(item, writer, labels, kept_labels, skipped, bar, task, chunks) -> None:
    k, future = item
    block, keep, bad = future.result()
    writer.write(block)
    skipped += bad
    if labels is not None:
        kept_labels += [labels[k * CHUNK + i] for i in keep]
    bar.advance(task, len(chunks[k]))


def prepare_tensor(images: torch.Tensor, labels: Optional[torch.Tensor], image_size: Optional[int], out: Path, *,
                   source: str, progress: bool = True, chunk: int = 256) -> PrepareReport:
    """Write an in-memory (N, C, H, W) dataset (uint8, or float in [-1, 1]) resized chunk by chunk."""

    start = time.perf_counter()
    n, c, h, w = images.shape
    size = image_size or h
    nbytes = n * c * size * size
    _check_disk(out, nbytes)
    with _writing(out, nbytes) as writer:
        with _progress(n, "writing", progress) as bar:
            task = bar.add_task(f"writing {source} at {size}px", total=n)
            for i in range(0, n, chunk):
                block = images[i : i + chunk]
                if block.dtype != torch.uint8:
                    block = block.float().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
                block = resize_images(block, size)
                writer.write(block.permute(0, 2, 3, 1).contiguous().numpy())
                bar.advance(task, block.shape[0])
        report = writer.finish((size, size, c), None if labels is None else labels.numpy(),
                               {"source": source, "image_size": size, "classes": [], "skipped": [], "files": n})
    report.seconds = time.perf_counter() - start
    return report


# -- opening a cache -----------------------------------------------------------------------------------------------
def is_prepared(path) -> bool:
    path = Path(path).expanduser()
    if path.name == META:
        path = path.parent
    try:
        return json.loads((path / META).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def open_prepared(path, *, name: Optional[str] = None) -> Dataset:
    """A prepared dataset as a Dataset whose images are memory-mapped, not read: nothing is loaded yet. Every field of
    meta.json is checked, and the content hash verified (images.u8 read sequentially), before anything is mapped."""
    path = Path(path).expanduser()
    if path.name == META:
        path = path.parent
    meta = _read_meta(path)
    n, c, h, w = shape = _check_meta(meta, path)
    images = path / IMAGES
    _check_size(images, shape)
    labels = _load_labels(path / LABELS, n, meta.get("classes", [])) if meta.get("labels") else None
    _check_content(path, meta, shape, labels)
    # Copy-on-write mapping: a writable tensor without a copy; pages are read only when a sample is touched.
    rows = np.memmap(images, dtype=np.uint8, mode="c", shape=(n, h, w, c))
    data = torch.from_numpy(rows).permute(0, 3, 1, 2)  # (N, C, H, W) view, channels-last strides
    info = {"cache": {"path": str(path), "file": str(images), "hash": meta["hash"], "layout": "NHWC"},
            "source": meta.get("source"), "classes": meta.get("classes", []),
            "skipped": [tuple(s) for s in meta.get("skipped", [])], "files": meta.get("files", n)}
    return Dataset(name or f"prepared:{path}", data, labels=None if labels is None else torch.from_numpy(labels),
                   info=info, description=f"{n:,} images {c}x{h}x{w} prepared from {meta.get('source')}")


def _shown(value) -> str:
    """A found value quoted for a one-line message, cut short so a huge field cannot flood the terminal."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad_field(file: Path, key: str, value, expected: str) -> DataError:
    """One line: the file and field, what it holds, what it should hold, and the fix."""
    return DataError(f"{file}: field {key!r} is {_shown(value)}, expected {expected}; the cache is damaged or was "
                     f"edited, {FIX}")


def _is_int(value) -> bool:
    """A JSON integer (bool is an int in Python but never a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _read_meta(path: Path) -> dict:
    """meta.json as a dict; a missing, unreadable or non-object file is a DataError, never a raw exception."""
    try:
        meta = json.loads((path / META).read_text())
    except FileNotFoundError:
        raise DataError(f"{path} is not a prepared dataset (no {META}); create one with `ganzoo prepare`") from None
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{path / META} is unreadable ({reason}); {FIX}") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path / META} holds a JSON {type(meta).__name__}, expected an object; {FIX}")
    return meta


def _check_meta(meta: dict, path: Path) -> tuple[int, int, int, int]:
    """Every field open_prepared relies on, checked before any file is touched; returns the shape (N, C, H, W)."""
    file = path / META
    _check_format(meta, path)
    shape = _check_shape(meta, file)
    _check_layout(meta, file)
    _check_labels_field(meta, file)
    _check_classes(meta, file)
    _check_hash_field(meta, file)
    _check_skipped(meta, file)
    return shape


def _check_format(meta: dict, path: Path) -> None:
    """Another format or version would be read with the wrong layout: refuse it by name."""
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DataError(f"{path} holds format {_shown(meta.get('format'))} v{_shown(meta.get('version'))}; this "
                        f"ganzoo reads {FORMAT} v{VERSION}, {FIX}")


def _check_shape(meta: dict, file: Path) -> tuple[int, int, int, int]:
    """The shape sizes the memory map: four positive integers, nothing else."""
    shape = meta.get("shape")
    if not (isinstance(shape, list) and len(shape) == 4 and all(_is_int(v) and v > 0 for v in shape)):
        raise _bad_field(file, "shape", shape, "a list of 4 positive integers [N, C, H, W]")
    return tuple(shape)


def _check_layout(meta: dict, file: Path) -> None:
    """The map is raw uint8 NHWC rows; any other promise would be misread."""
    if meta.get("layout") != "NHWC":
        raise _bad_field(file, "layout", meta.get("layout"), "'NHWC'")
    if meta.get("dtype") != "uint8":
        raise _bad_field(file, "dtype", meta.get("dtype"), "'uint8'")


def _check_labels_field(meta: dict, file: Path) -> None:
    """Labels live in the cache's own labels.npy: any other name could point outside the folder."""
    if meta.get("labels") not in (None, LABELS):
        raise _bad_field(file, "labels", meta.get("labels"), f"{LABELS!r} or null")


def _check_classes(meta: dict, file: Path) -> None:
    """Class names feed the hash and bound the labels: a list of strings."""
    classes = meta.get("classes", [])
    if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise _bad_field(file, "classes", classes, "a list of class names (strings)")


def _check_hash_field(meta: dict, file: Path) -> None:
    """The content hash is a sha256 hex digest; anything else can never match and hides what went wrong."""
    value = meta.get("hash")
    if not (isinstance(value, str) and _HEX64.fullmatch(value)):
        raise _bad_field(file, "hash", value, "a sha256 hex digest (64 characters 0-9a-f)")


def _check_skipped(meta: dict, file: Path) -> None:
    """Skipped files are named on every run: [name, reason] string pairs, and a file count that is an integer."""
    skipped = meta.get("skipped", [])
    if not (isinstance(skipped, list) and all(isinstance(s, list) and len(s) == 2
                                              and all(isinstance(x, str) for x in s) for s in skipped)):
        raise _bad_field(file, "skipped", skipped, "a list of [file name, reason] pairs")
    if "files" in meta and not (_is_int(meta["files"]) and meta["files"] >= 0):
        raise _bad_field(file, "files", meta["files"], "a non-negative integer")


def _check_size(images: Path, shape: tuple[int, int, int, int]) -> None:
    """images.u8 must hold exactly N*C*H*W bytes, or the map would read past it or miss rows."""
    n, c, h, w = shape
    expected = n * c * h * w
    actual = images.stat().st_size if images.exists() else -1
    if actual != expected:
        raise DataError(f"{images} holds {actual} bytes but {META} promises {expected}; the cache is truncated, {FIX}")


def _load_labels(file: Path, n: int, classes: list) -> np.ndarray:
    """labels.npy as int64, without unpickling (a pickle runs code): n integer labels in 0..len(classes)-1."""
    try:
        labels = np.load(file, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{file} is missing but field 'labels' of {META} names it; {FIX}") from None
    except (OSError, ValueError, EOFError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise DataError(f"{file}: the labels are not a plain .npy array ({reason}); {FIX}") from None
    if not isinstance(labels, np.ndarray):  # an .npz archive
        labels.close()
        raise DataError(f"{file}: the labels are an .npz archive, expected one .npy array; {FIX}")
    if labels.dtype.kind not in "iu":
        raise DataError(f"{file}: the labels have dtype {labels.dtype}, expected integers (int64); {FIX}")
    if labels.shape != (n,):
        raise DataError(f"{file} has {labels.shape} labels for {n} images; {FIX}")
    _check_label_range(file, labels, classes)
    return labels.astype(np.int64)


def _check_label_range(file: Path, labels: np.ndarray, classes: list) -> None:
    """A label indexes a class (conditional models embed it): never negative, below len(classes) when named."""
    low, high = int(labels.min()), int(labels.max())
    top = len(classes) - 1 if classes else np.iinfo(np.int64).max
    if low < 0 or high > top:
        bad = low if low < 0 else high
        expected = f"0..{top} ({len(classes)} classes in {META})" if classes else "non-negative int64"
        raise DataError(f"{file}: the labels hold {bad}, expected {expected}; {FIX}")


def _image_digest(images: Path) -> bytes:
    """sha256 of images.u8 read HASH_BLOCK bytes at a time: constant memory however large the cache is."""
    digest, buffer = hashlib.sha256(), memoryview(bytearray(HASH_BLOCK))
    with open(images, "rb", buffering=0) as f:
        while size := f.readinto(buffer):
            digest.update(buffer[:size])
    return digest.digest()


def _check_content(path: Path, meta: dict, shape: tuple[int, int, int, int], labels: Optional[np.ndarray]) -> None:
    """A flipped byte must not be trained on: recompute the hash `ganzoo prepare` wrote and compare."""
    found = _content_hash(shape, meta.get("classes", []), _image_digest(path / IMAGES), labels)
    if found != meta["hash"]:
        raise DataError(f"{path}: its content does not match the hash in {META} ({IMAGES} or {LABELS} changed after "
                        f"`ganzoo prepare` wrote it); {FIX}")


# -- folder:PATH through the cache ---------------------------------------------------------------------------------
def folder_key(entries: Iterable[tuple[str, int, int]], image_size: int) -> str:
    """Content key of a folder: every image's relative name, size and mtime (scan_images), plus the target size."""
    digest = hashlib.sha256(f"{FORMAT}-v{VERSION}|{image_size}|".encode())
    # surrogateescape: a file name that is not UTF-8 (bytes the OS allows) keys by its bytes instead of failing
    digest.update("\n".join(f"{name}\0{size}\0{mtime}" for name, size, mtime in entries).encode("utf-8",
                                                                                                "surrogateescape"))
    return digest.hexdigest()[:20]


def cached_folder(root, image_size: int, cache_root: Path, *, workers: Optional[int] = None,
                  progress: Optional[bool] = None) -> Dataset:
    """folder:PATH: open the cache for this folder's exact content, preparing it first when there is none."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist; check the path in --dataset folder:PATH")
    entries = scan_images(root)
    if not entries:
        raise DataError(f"no PNG or JPEG images found under {root}; point folder:PATH at a folder of images")
    out = cache_root / f"{root.name or 'root'}-{image_size}px-{folder_key(entries, image_size)}"
    show = sys.stderr.isatty() if progress is None else progress
    if not is_prepared(out):
        prepare_folder(root, image_size, out, workers=workers, progress=show)
    try:
        dataset = open_prepared(out, name=f"folder:{root}")
    except DataError as exc:  # a damaged cache of ganzoo's own: made again from the folder, which is intact
        notice(f"{exc}; preparing it again from {root}")
        prepare_folder(root, image_size, out, workers=workers, progress=show)
        dataset = open_prepared(out, name=f"folder:{root}")
    if dataset.info["skipped"]:
        notice(skipped_line(dataset.info["skipped"], dataset.info["files"]))
    return dataset


# -- `ganzoo prepare` ----------------------------------------------------------------------------------------------
def run_prepare(spec: str, image_size: int, *, out: Optional[str] = None, workers: Optional[int] = None,
                data_dir: Optional[str] = None, progress: bool = True) -> PrepareReport:
    """Prepare SPEC: an image folder (PATH or folder:PATH) or a registered image dataset (e.g. mnist, cifar10)."""
    from ganzoo.data.datasets import load_dataset, parse_dataset_spec

    name, arg = parse_dataset_spec(spec)
    folder = arg if name == "folder" else (spec if Path(spec).expanduser().is_dir() else None)
    if folder is not None:
        root = Path(folder).expanduser()
        target = Path(out) if out else Path(f"{root.resolve().name}-{image_size}px")
        return prepare_folder(root, image_size, target, workers=workers, progress=progress)
    dataset = load_dataset(spec, data_dir=Path(data_dir) if data_dir else None)
    if dataset.data.ndim != 4:
        raise DataError(f"dataset {spec!r} holds points, not images; nothing to prepare (it is small: use it directly)")
    target = Path(out) if out else Path(f"{spec.replace(':', '-').replace('/', '_')}-{image_size}px")
    return prepare_tensor(dataset.data, dataset.labels, image_size, target, source=spec, progress=progress)
