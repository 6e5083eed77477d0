"""The 0.1 module paths keep working until 0.3: the same module objects (so monkeypatches agree), the names that
moved elsewhere, a DeprecationWarning that names the importing line, and the public functions left in place."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import ganzoo
from ganzoo import compat


@pytest.mark.parametrize("old", sorted(compat.MOVED))
def test_an_old_path_is_the_new_module_itself(old):
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {compat.MOVED[old]}"):
        sys.modules.pop(old, None)
        module = importlib.import_module(old)
    assert module is importlib.import_module(compat.MOVED[old])


@pytest.mark.parametrize("old,names", sorted(compat.MOVED_NAMES.items()))
def test_names_that_moved_elsewhere_still_import_from_the_old_path(old, names):
    module = importlib.import_module(old)
    for name, (home, attr) in names.items():
        assert getattr(module, name) is getattr(importlib.import_module(home), attr), (old, name)


def test_importing_old_paths_keeps_the_public_functions():
    for old in ("ganzoo.build", "ganzoo.load", "ganzoo.evaluate"):
        importlib.import_module(old)
    assert callable(ganzoo.build) and callable(ganzoo.load) and ganzoo.build.__module__ == "ganzoo.engine.assemble"


def test_the_warning_points_at_the_importing_script(tmp_path):
    script = tmp_path / "old_script.py"
    script.write_text("import ganzoo.trainer\n")
    proc = subprocess.run([sys.executable, "-W", "default", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"{script}:1: DeprecationWarning: ganzoo.trainer moved to ganzoo.run.trainer" in proc.stderr
