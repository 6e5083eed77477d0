"""Built-in benchmark suites (ganzoo suite list): the digits quality table, PacGAN's 2-D tables and the zoo's speed
table, as TOML files beside this module, registered like any plugin's."""

from __future__ import annotations

from pathlib import Path

import ganzoo

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent / "suites"


@ganzoo.hookimpl
def register_suites(register):
    for path in sorted(HERE.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        register(data["name"], path, description=data.get("description", ""))
