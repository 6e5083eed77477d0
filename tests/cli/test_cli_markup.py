"""User text (folder names, error messages) is printed as given, never interpreted as Rich markup."""

from __future__ import annotations

from pathlib import Path

from conftest import one_line_error

from ganzoo.cli.commands import main


def test_a_run_folder_with_markup_characters_is_printed_as_given(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "vanilla", "--steps", "1", "--out", "runs/[/x]", "--quiet"])
    out = capsys.readouterr().out.strip()
    assert code == 0
    assert out.endswith("runs/[/x]"), out
    assert (Path(out) / "config.json").is_file(), out


def test_an_error_naming_a_markup_like_folder_quotes_it_as_given(tmp_path, capsys):
    folder = tmp_path / "[red]x"
    code = main(["run", "--resume", str(folder)])
    assert code == 2
    err = one_line_error(capsys, "[red]x")
    assert str(folder) in err, err


def test_the_run_summary_names_a_markup_like_folder_as_given(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "vanilla", "--steps", "1", "--out", "runs/[red]x"]) == 0
    out = capsys.readouterr().out
    assert "runs/[red]x" in out, out


def test_the_progress_bar_shows_a_markup_like_name_as_given():
    import io

    from rich.console import Console

    from ganzoo.run.progress import RichProgress

    buffer = io.StringIO()
    bar = RichProgress("[/x]", 2, console=Console(file=buffer, force_terminal=True, width=100))
    bar({"event": "start", "total": 2, "step": 0})
    bar({"event": "stop"})
    assert "[/x]" in buffer.getvalue()
