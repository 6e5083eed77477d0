"""The `ganzoo` command (see ganzoo.cli.commands); every user error ends as one line on stderr and exit code 2."""

from ganzoo.cli.commands import main

__all__ = ["main"]
