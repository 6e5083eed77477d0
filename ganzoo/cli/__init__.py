"""The `ganzoo` command (see ganzoo.cli.commands); every user error ends as one line on stderr and exit code 2."""

from ganzoo.cli.commands import COMMANDS, Parser, UsageError, build_parser, eval_table, main, summary_table

__all__ = ["COMMANDS", "Parser", "UsageError", "build_parser", "eval_table", "main", "summary_table"]
