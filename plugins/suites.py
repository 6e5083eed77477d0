"""Built-in benchmark suites (ganzoo suite list): the digits quality table, PacGAN's 2-D tables and the zoo's speed
table, as TOML files beside this module, registered like any plugin's."""

from __future__ import annotations

import tomllib
from pathlib import Path

import ganzoo

HERE = Path(__file__).resolve().parent / "suites"


@ganzoo.hookimpl
def register_suites(register):
    for path in sorted(HERE.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        register(data["name"], path, description=data.get("description", ""))
