"""Every option of every command comes from one declaration (TrainConfig or ganzoo.cli.options): walking the
generated parsers finds no option that is not a declared field, and no declared field without its option."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from ganzoo.cli.commands import build_parser
from ganzoo.cli.options import COMMANDS, GlobalOptions
from ganzoo.spec.config import TrainConfig


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _declared(command: str) -> dict:
    declaration = COMMANDS[command][0]
    found = {f.name: f for f in fields(declaration)}
    if command == "run":
        found.update({f.name: f for f in fields(TrainConfig)})
    return found


def _options(parser: argparse.ArgumentParser) -> dict:
    return {a.dest: a for a in parser._actions if not isinstance(a, (argparse._HelpAction,
                                                                      argparse._SubParsersAction))}


def test_the_top_level_options_are_declared():
    assert set(_options(build_parser())) == {f.name for f in fields(GlobalOptions)}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_the_command_is_a_declared_field_and_says_its_help(command):
    parser = _subparsers(build_parser())[command]
    options, declared = _options(parser), _declared(command)
    assert set(options) == set(declared), f"hand-written: {set(options) - set(declared)}, " \
                                          f"missing: {set(declared) - set(options)}"
    for dest, action in options.items():
        assert action.help == declared[dest].metadata["help"], dest
        choices = declared[dest].metadata.get("choices")
        assert (list(choices) if choices else None) == (list(action.choices) if action.choices else None), dest


def test_every_command_has_a_declaration():
    assert set(_subparsers(build_parser())) == set(COMMANDS)


def test_shared_fields_parse_the_same_way_everywhere():
    commands = _subparsers(build_parser())
    for name in ("sample", "interpolate"):
        args = commands[name].parse_args(["RUN", "--out", "x.png", "--seed", "3", "--no-ema"])
        assert (args.run_dir, args.seed, args.no_ema, args.device) == ("RUN", 3, True, "cpu")
    assert commands["bench"].parse_args([]).device == "auto"
    assert commands["bench"].parse_args(["--dataset-shape", "1,8,8"]).shape == (1, 8, 8)
    # ganzoo bench's options are BenchOptions' fields (the Python API's declaration), not a copy of them
    from dataclasses import fields

    from ganzoo.tools.bench_options import BenchOptions

    parsed = vars(commands["bench"].parse_args([]))
    assert {f.name: f.default for f in fields(BenchOptions)} == {f.name: parsed[f.name] for f in fields(BenchOptions)}
