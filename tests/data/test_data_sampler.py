"""make_sampler: uint8 -> [-1, 1] per batch, memory and stream modes with the same batches, exact resume, mirror,
global-batch semantics under data parallelism, automatic mode choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.data import BatchSampler, make_sampler
from ganzoo.data import samplers as sampler_mod
from ganzoo.data.prepared import open_prepared, prepare_folder
from ganzoo.errors import GanzooError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared set of 37 labelled 8x8 PNGs (3 classes): 37 is not a multiple of the batch, so epochs wrap."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(37):
        (root / f"c{i % 3}").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / f"c{i % 3}" / f"{i:03d}.png")
    out = tmp_path_factory.mktemp("prep") / "set"
    prepare_folder(root, 8, out, workers=2, progress=False)
    return out


def draw(sampler, n):
    return [sampler.next() for _ in range(n)]


def test_batches_are_floats_in_range_matching_the_stored_bytes(prepared):
    ds = open_prepared(prepared)
    s = make_sampler(ds, 8, seed=3, device="cpu", mode="memory")
    x, y = s.next()
    assert x.dtype == torch.float32 and x.shape == (8, 3, 8, 8) and y.dtype == torch.int64
    idx = s.state_dict()["permutation"][:8]
    assert torch.equal(x, ds.data[idx].float() / 127.5 - 1), "direct computation from the uint8 cache"
    assert torch.equal(y, ds.labels[idx])
    assert x.min() >= -1 and x.max() <= 1
    assert s.mode == "memory" and s.describe()["bytes_in_memory"] == 37 * 3 * 64


def test_stream_mode_yields_the_same_batches_as_memory_mode(prepared):
    ds = open_prepared(prepared)
    mem = make_sampler(ds, 8, seed=5, device="cpu", mode="memory", mirror=True)
    stream = make_sampler(ds, 8, seed=5, device="cpu", mode="stream", mirror=True, workers=2, prefetch=3)
    assert stream.mode == "stream"
    for (xm, ym), (xs, ys) in zip(draw(mem, 12), draw(stream, 12)):  # 12 x 8 > 2 epochs of 37
        assert torch.equal(xm, xs) and torch.equal(ym, ys)
    assert mem.epoch == stream.epoch == 2
    stream.close()


@pytest.mark.parametrize("mode", ["memory", "stream"])
@pytest.mark.parametrize("stop", [3, 4, 5])  # 4 full batches fit in an epoch of 37: stop before, at, after the wrap
def test_resume_is_bit_identical_across_an_epoch_boundary(prepared, mode, stop):
    ds = open_prepared(prepared)
    make = lambda: make_sampler(ds, 8, seed=11, device="cpu", mode=mode, mirror=True)
    straight = draw(make(), 9)
    first = make()
    draw(first, stop)
    state = first.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = draw(resumed, 9 - stop)
    for (a, ay), (b, by) in zip(straight[stop:], rest):
        assert torch.equal(a, b) and torch.equal(ay, by)


def test_a_checkpoint_moves_between_modes(prepared):
    ds = open_prepared(prepared)
    stream = make_sampler(ds, 8, seed=2, device="cpu", mode="stream")
    draw(stream, 6)
    mem = make_sampler(ds, 8, seed=2, device="cpu", mode="memory")
    mem.load_state_dict(stream.state_dict())
    assert torch.equal(mem.next()[0], stream.next()[0])


def test_mirror_flips_about_half_the_images_left_right(prepared):
    ds = open_prepared(prepared)
    plain = make_sampler(ds, 32, seed=1, device="cpu", mode="memory")
    mirrored = make_sampler(ds, 32, seed=1, device="cpu", mode="memory", mirror=True)
    flipped = 0
    for _ in range(5):
        (a, _), (b, _) = plain.next(), mirrored.next()
        same = (a == b).flatten(1).all(1)
        flip = (a.flip(3) == b).flatten(1).all(1)
        assert (same | flip).all(), "every image is either unchanged or exactly mirrored"
        flipped += int((flip & ~same).sum())
    assert 40 <= flipped <= 120  # 160 draws at p = 0.5
    assert "flip_generator" in mirrored.state_dict()


def test_two_ranks_together_see_exactly_one_process_batches(prepared):
    ds = open_prepared(prepared)
    for mode in ("memory", "stream"):
        one = make_sampler(ds, 8, seed=4, device="cpu", mode=mode, mirror=True)
        ranks = [make_sampler(ds, 8, seed=4, device="cpu", mode=mode, mirror=True, rank=r, world_size=2)
                 for r in range(2)]
        for _ in range(6):
            x, y = one.next()
            parts = [r.next() for r in ranks]
            assert parts[0][0].shape[0] == 4
            assert torch.equal(torch.cat([p[0] for p in parts]), x)
            assert torch.equal(torch.cat([p[1] for p in parts]), y)


def test_channels_last_is_honoured_and_values_do_not_change(prepared):
    ds = open_prepared(prepared)
    a, _ = make_sampler(ds, 8, seed=0, device="cpu", channels_last=True, mode="memory").next()
    b, _ = make_sampler(ds, 8, seed=0, device="cpu", channels_last=False, mode="stream").next()
    assert a.is_contiguous(memory_format=torch.channels_last) and b.is_contiguous()
    assert torch.equal(a, b)


def test_points_and_float_images_pass_through_and_labels_are_none_when_absent():
    ring = ganzoo.load_dataset("ring8")
    s = make_sampler(ring, 64, seed=0, device="cpu")
    x, y = s.next()
    assert x.shape == (64, 2) and torch.equal(x, ring.data[s.state_dict()["permutation"][:64]])
    assert y.dtype == torch.int64
    points = ganzoo.Dataset("pts", torch.randn(10, 3))
    assert make_sampler(points, 5, seed=0, device="cpu").next()[1] is None
    with pytest.raises(GanzooError, match="holds points; drop --mirror"):
        make_sampler(points, 5, seed=0, device="cpu", mirror=True)
    with pytest.raises(GanzooError, match="no prepared cache file to stream from"):
        make_sampler(points, 5, seed=0, device="cpu", mode="stream")


def test_legacy_batch_sampler_matches_the_new_sampler(prepared):
    ds = open_prepared(prepared)
    old = BatchSampler(ds.data.contiguous(), 8, seed=9)
    new = make_sampler(ds, 8, seed=9, device="cpu")
    for _ in range(7):
        assert torch.equal(old.next(), new.next()[0])
    assert old.state_dict()["cursor"] == new.state_dict()["cursor"] and old.epoch == new.epoch == 1


def test_auto_mode_streams_when_the_data_does_not_fit(prepared, monkeypatch):
    ds = open_prepared(prepared)
    nbytes = 37 * 3 * 64
    monkeypatch.setattr("ganzoo.data.memory.available_memory", lambda device: 10 * nbytes)
    assert make_sampler(ds, 8, seed=0, device="cpu").mode == "memory"
    monkeypatch.setattr("ganzoo.data.memory.available_memory", lambda device: nbytes)  # would fill half the memory
    s = make_sampler(ds, 8, seed=0, device="cpu")
    assert s.mode == "stream" and s.describe()["cache_hash"] == ds.info["cache"]["hash"]
    with pytest.raises(GanzooError, match=r"needs 7.10 KB but only 7.10 KB of RAM is available; stream it"):
        make_sampler(ds, 8, seed=0, device="cpu", mode="memory")
    with pytest.raises(GanzooError, match="not one of auto, memory, stream"):
        sampler_mod.choose_mode(ds, "cpu", "fast")


def test_batch_size_checks(prepared):
    ds = open_prepared(prepared)
    with pytest.raises(GanzooError, match="larger than the dataset"):
        make_sampler(ds, 64, seed=0, device="cpu")
    with pytest.raises(GanzooError, match="must be divisible by the 3 processes"):
        make_sampler(ds, 8, seed=0, device="cpu", world_size=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_memory_and_stream_agree(prepared):
    ds = open_prepared(prepared)
    mem = make_sampler(ds, 8, seed=7, device="cuda", mode="memory", mirror=True, channels_last=True)
    stream = make_sampler(ds, 8, seed=7, device="cuda", mode="stream", mirror=True, channels_last=True)
    for (a, ay), (b, by) in zip(draw(mem, 10), draw(stream, 10)):
        assert a.is_cuda and a.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(a, b) and torch.equal(ay, by)
