"""Downloads with a progress bar and a SHA-256 check; a file that does not match is discarded."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from ganzoo.errors import DataError


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, path: Path, sha256: str, *, progress: bool = True) -> Path:
    """Download `url` to `path` unless a file with the right checksum is already there.

    The download goes to `path.part` and is renamed only after its checksum matches, so an interrupted or
    tampered download never looks like a good file.
    """
    path = Path(path)
    if path.exists():
        if sha256_of(path) == sha256:
            return path
        raise DataError(
            f"{path} exists but its SHA-256 does not match the published sum; delete it to download it again"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            _copy_with_progress(response, out, total, path.name, progress)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        raise DataError(
            f"could not download {url} ({exc}); download it by hand into {path.parent} or pass --data-dir"
        ) from exc
    actual = sha256_of(part)
    if actual != sha256:
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {url}: got {actual[:12]}..., expected {sha256[:12]}...; "
            f"the file was discarded, try again or fetch it by hand"
        )
    os.replace(part, path)
    return path


def _copy_with_progress(src, dst, total, label, show) -> None:
    if not show:
        while block := src.read(1 << 16):
            dst.write(block)
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  transient=True) as bar:
        task = bar.add_task(f"downloading {label}", total=total)
        while block := src.read(1 << 16):
            dst.write(block)
            bar.advance(task, len(block))
