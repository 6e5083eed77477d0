"""docs/architecture.md matches the code: every module of the core is in its table (and every row is a module), and
the layers it draws hold (the import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _documented() -> set[str]:
    """Module paths named in the table's first column, relative to ganzoo/ ("run/trainer.py", "ganzoo/api.py")."""
    names = set()
    for cell in re.findall(r"^\| `([^`]+)`", DOC, flags=re.M):
        for part in re.findall(r"[\w/]+\.py|[\w/]+/$", cell.replace("`, `", " ")):
            names.add(part.removeprefix("ganzoo/"))
    for cell in re.findall(r"^\| `([\w/]+\.py)`, `([\w/]+\.py)`", DOC, flags=re.M):
        names.update(cell)
    return names


def test_every_core_module_is_documented_and_every_row_exists():
    modules = {p.relative_to(ROOT / "ganzoo").as_posix() for p in (ROOT / "ganzoo").rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py")}
    documented = _documented()
    folders = {d for d in documented if d.endswith("/")}
    covered = {m for m in modules if any(m.startswith(f) for f in folders)} | (modules & documented)
    assert modules == covered, f"not in docs/architecture.md: {sorted(modules - covered)}"
    missing = {d for d in documented - folders if d not in modules and d not in ("__init__.py",)}
    assert not missing, f"documented but absent: {sorted(missing)}"


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed (pip install -e .[dev])")
def test_the_layers_hold():
    proc = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert proc.stdout.count("KEPT") == 3
