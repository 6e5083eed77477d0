"""Sizes that cannot fit are refused before anything is allocated (or, where only the allocator knows, as one
line with the fix): exit 2, no traceback, nothing written."""

from __future__ import annotations

import ganzoo
from ganzoo.cli.commands import main


def test_absurd_sample_counts_and_latent_sizes_are_one_line_errors(tmp_path, capsys):
    run = tmp_path / "run"
    ganzoo.train(model="vanilla", dataset="digits", steps=2, out=str(run), progress=False)
    assert main(["sample", str(run), "-n", str(10**10), "--out", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert "-n 10,000,000,000 samples of vanilla" in err and "RAM is available" in err and "Traceback" not in err
    assert main(["interpolate", str(run), "--rows", str(10**8), "--out", str(tmp_path / "w.png")]) == 2
    assert "--rows 100000000 x --steps 8" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "w.png").exists()
    assert main(["run", "vanilla", "--latent-dim", str(10**9), "--steps", "1", "--out", str(tmp_path / "big")]) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and "--latent-dim" in err and "internal error" not in err
    assert not (tmp_path / "big").exists()
