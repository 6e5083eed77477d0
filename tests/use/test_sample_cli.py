"""`ganzoo sample` and `ganzoo interpolate`: content of what they write, repeatability, classes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from use_runs import COND_CLASSES, COND_PLUGIN, train_vanilla, write_conditional_run

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.store.images import image_grid
from ganzoo.use.sampling import draw, generate, interpolate, slerp


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    return {"digits": train_vanilla(root / "digits"), "ring8": train_vanilla(root / "ring8", dataset="ring8")}


@pytest.fixture
def cond_run(plugin_dist, tmp_path):
    plugin_dist("ganzoo-cond", "ganzoo_cond", COND_PLUGIN)
    return write_conditional_run(tmp_path / "cond")


def test_sample_npz_holds_the_generator_output_for_the_seeded_latents(runs, tmp_path):
    assert main(["sample", str(runs["digits"]), "-n", "10", "--seed", "4", "--out", str(tmp_path / "a.npz")]) == 0
    data = np.load(tmp_path / "a.npz")
    assert data["samples"].shape == (10, 1, 8, 8) and data["samples"].dtype == np.float32
    assert data["latents"].shape == (10, 64) and "labels" not in data
    gan = ganzoo.load(runs["digits"])
    with torch.no_grad():
        direct = gan.generator(torch.from_numpy(data["latents"]))
    np.testing.assert_array_equal(data["samples"], direct.numpy())
    assert -1 <= data["samples"].min() and data["samples"].max() <= 1
    # same seed, same output; another seed, other output
    main(["sample", str(runs["digits"]), "-n", "10", "--seed", "4", "--out", str(tmp_path / "b.npz")])
    main(["sample", str(runs["digits"]), "-n", "10", "--seed", "5", "--out", str(tmp_path / "c.npz")])
    np.testing.assert_array_equal(np.load(tmp_path / "b.npz")["samples"], data["samples"])
    assert not np.array_equal(np.load(tmp_path / "c.npz")["samples"], data["samples"])


def test_sample_png_grid_and_folder_show_the_same_samples(runs, tmp_path):
    run = str(runs["digits"])
    assert main(["sample", run, "-n", "6", "--seed", "1", "--out", str(tmp_path / "grid.png")]) == 0
    assert main(["sample", run, "-n", "6", "--seed", "1", "--out", str(tmp_path / "each") + "/"]) == 0
    gan = ganzoo.load(runs["digits"])
    samples = generate(gan, *draw(gan, 6, seed=1))
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    np.testing.assert_array_equal(grid, np.asarray(image_grid(samples)))
    files = sorted((tmp_path / "each").glob("*.png"))
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(6)]
    first = np.asarray(Image.open(files[0]))
    assert first.shape == (8, 8) and first.dtype == np.uint8
    expected = ((samples[0, 0].clamp(-1, 1) + 1) * 127.5).round().numpy()
    np.testing.assert_array_equal(first, expected.astype(np.uint8))


def test_two_d_runs_write_points(runs, tmp_path):
    run = str(runs["ring8"])
    assert main(["sample", run, "-n", "300", "--seed", "2", "--out", str(tmp_path / "p.npz")]) == 0
    assert np.load(tmp_path / "p.npz")["samples"].shape == (300, 2)
    assert main(["sample", run, "-n", "300", "--out", str(tmp_path / "p.png")]) == 0
    assert Image.open(tmp_path / "p.png").size == (512, 512)
    assert main(["sample", run, "--out", str(tmp_path / "folder") + "/"]) == 2  # points are not pictures


def test_per_class_rows_and_labels(cond_run, tmp_path):
    assert main(["sample", str(cond_run), "--per-class", "4", "--seed", "0", "--out", str(tmp_path / "c.npz")]) == 0
    data = np.load(tmp_path / "c.npz")
    np.testing.assert_array_equal(data["labels"], np.repeat(np.arange(COND_CLASSES), 4))
    gan = ganzoo.load(cond_run)
    with torch.no_grad():
        direct = gan.generator(torch.from_numpy(data["latents"]), torch.from_numpy(data["labels"]))
    np.testing.assert_allclose(data["samples"], direct.numpy(), atol=0, rtol=0)
    # one grid row per class: the test generator makes class 0 dark, 1 grey, 2 bright
    main(["sample", str(cond_run), "--per-class", "4", "--seed", "0", "--out", str(tmp_path / "c.png")])
    grid = np.asarray(Image.open(tmp_path / "c.png"), dtype=float)
    band = grid.shape[0] // COND_CLASSES
    means = [grid[r * band:(r + 1) * band].mean() for r in range(COND_CLASSES)]
    assert means[0] < means[1] < means[2]
    assert main(["sample", str(cond_run), "--labels", "2,0,2", "--out", str(tmp_path / "l.npz")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "l.npz")["labels"], [2, 0, 2])


def test_bad_sample_requests_are_one_line_errors(runs, cond_run, tmp_path, capsys):
    run = str(runs["digits"])
    cases = [
        (["sample", run, "--labels", "1,2", "--out", str(tmp_path / "x.npz")], "unconditional"),
        (["sample", str(cond_run), "--labels", "0,5", "--out", str(tmp_path / "x.npz")], "out of range"),
        (["sample", str(cond_run), "--labels", "0,1", "-n", "3", "--out", str(tmp_path / "x.npz")], "does not match"),
        (["sample", run, "--out", str(tmp_path / "x.jpg")], "cannot tell what to write"),
        (["sample", run, "--labels", "a", "--out", str(tmp_path / "x.npz")], "--labels"),
        (["sample", run, "--labels", "1", "--per-class", "2", "--out", str(tmp_path / "x.npz")], "not allowed"),
        (["sample", str(tmp_path / "missing"), "--out", str(tmp_path / "x.npz")], "does not exist"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)


def test_slerp_matches_the_formula_and_keeps_equal_angles():
    torch.manual_seed(0)
    z0, z1 = torch.randn(3, 16), torch.randn(3, 16)
    t = torch.linspace(0, 1, 7)
    path = slerp(z0, z1, t)
    assert path.shape == (3, 7, 16)
    torch.testing.assert_close(path[:, 0], z0)
    torch.testing.assert_close(path[:, -1], z1)
    for i in range(3):  # direct computation, one pair at a time
        a, b = z0[i].double(), z1[i].double()
        omega = torch.arccos(torch.dot(a / a.norm(), b / b.norm()))
        for j, tj in enumerate(t.double()):
            expected = (torch.sin((1 - tj) * omega) * a + torch.sin(tj * omega) * b) / torch.sin(omega)
            torch.testing.assert_close(path[i, j].double(), expected, rtol=1e-5, atol=1e-5)
    # between ends of equal norm: the norm is kept and consecutive points are equal angles apart
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    path = slerp(z0, z1, t).double()
    norms = z0.norm(dim=1, keepdim=True).double().expand(3, 7)
    torch.testing.assert_close(path.norm(dim=2), norms, rtol=1e-5, atol=1e-5)
    unit = torch.nn.functional.normalize(path, dim=2)
    angles = torch.arccos((unit[:, 1:] * unit[:, :-1]).sum(2).clamp(-1, 1))
    torch.testing.assert_close(angles, angles[:, :1].expand_as(angles), rtol=1e-4, atol=1e-5)
    # a point on the unit circle rotates by equal steps
    quarter = slerp(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([0.5]))
    torch.testing.assert_close(quarter[0, 0], torch.tensor([0.5 ** 0.5, 0.5 ** 0.5]))
    same = slerp(z0[:1], z0[:1] * 2, torch.tensor([0.5]))  # parallel ends: linear, no division by zero
    torch.testing.assert_close(same[0, 0], z0[0] * 1.5)


def test_interpolate_grid_gif_and_classes(runs, cond_run, tmp_path):
    run = str(runs["digits"])
    assert main(["interpolate", run, "--steps", "5", "--rows", "3", "--seed", "9", "--out", str(tmp_path / "w.png")]
                ) == 0
    gan = ganzoo.load(runs["digits"])
    walk, labels = interpolate(gan, steps=5, rows=3, seed=9)
    assert walk.shape == (3, 5, 1, 8, 8) and labels is None
    grid = np.asarray(Image.open(tmp_path / "w.png"))
    np.testing.assert_array_equal(grid, np.asarray(image_grid(walk.reshape(15, 1, 8, 8), nrow=5)))
    assert main(["interpolate", run, "--steps", "4", "--rows", "2", "--seed", "9", "--out", str(tmp_path / "w.gif")]
                ) == 0
    gif = Image.open(tmp_path / "w.gif")
    assert gif.n_frames == 4 + 2  # forward, then back without repeating the ends
    # conditional: a row per class by default, each row one class
    assert main(["interpolate", str(cond_run), "--steps", "3", "--seed", "1", "--out", str(tmp_path / "c.npz")]) == 0
    data = np.load(tmp_path / "c.npz")
    assert data["walk"].shape == (COND_CLASSES, 3, 1, 4, 4)
    np.testing.assert_array_equal(data["labels"], np.arange(COND_CLASSES))
    row_means = data["walk"].reshape(COND_CLASSES, -1).mean(1)
    assert row_means[0] < row_means[1] < row_means[2]
    assert main(["interpolate", run, "--steps", "1", "--out", str(tmp_path / "x.png")]) == 2
