"""GANZOO_PLUGINS naming no installed plugin is the error, not whatever the run misses next."""

from __future__ import annotations

import pytest
from conftest import one_line_error

from ganzoo.cli.commands import main
from ganzoo.registry import get_registry


def test_the_registry_names_a_selected_plugin_that_is_not_installed(monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", "nosuch_plugin")
    problem = get_registry().selection_problem()
    assert problem is not None and "'nosuch_plugin'" in problem and "GANZOO_PLUGINS" in problem


def test_a_misspelled_selection_suggests_the_close_match(monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", "vanila")
    assert "did you mean vanilla?" in get_registry().selection_problem()


def test_a_valid_selection_has_no_problem(monkeypatch):
    installed = sorted(get_registry().plugins)
    monkeypatch.setenv("GANZOO_PLUGINS", installed[0])
    from ganzoo.registry import reset_registry

    reset_registry()
    assert get_registry().selection_problem() is None


@pytest.mark.parametrize("argv", [["run", "vanilla", "--steps", "1"], ["list"]])
def test_run_and_list_refuse_an_unknown_selection_in_one_line(argv, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANZOO_PLUGINS", "nosuch_plugin")
    assert main(argv) == 2
    err = one_line_error(capsys, "installed: ", "vanilla")
    assert err.startswith("ganzoo: error: GANZOO_PLUGINS names 'nosuch_plugin'"), err
