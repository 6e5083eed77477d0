"""pytest-benchmark suites: the trainer's step and both reference loops for every registered model, sampling, metrics.

    pytest benchmarks/ --benchmark-only --benchmark-json=bench.json && python benchmarks/table.py bench.json

Models come from the registry at collection time, so a newly installed plugin is benchmarked too; one that does not
build for the shape is skipped with the reason.
"""

from __future__ import annotations

import pytest
import torch

import ganzoo
from ganzoo.engine.precision import resolve_device, resolve_precision
from ganzoo.metrics import image_metrics, mode_metrics
from ganzoo.metrics.evaluate import resolve_extractor
from ganzoo.tools.bench import EAGER, TUNED, LoopReference, buildable_models, make_trainer_step

SHAPE = (3, 32, 32)
BATCH = 64
DEVICE = resolve_device("auto")
MODELS, SKIPPED = buildable_models(SHAPE)
ALL_MODELS = MODELS + [s["model"] for s in SKIPPED]


def _sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def _skip_unbuildable(model: str) -> None:
    for s in SKIPPED:
        if s["model"] == model:
            pytest.skip(f"{model} does not build for {SHAPE}: {s['reason']}")


def _data() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(512, *SHAPE) * 2 - 1


def _record(benchmark, peak_flops, precision, flops, n_critic, kind):
    median = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "kind": kind, "precision": precision, "shape": list(SHAPE), "batch_size": BATCH,
        "img_per_s": BATCH * n_critic / median, "flops_per_step": flops,
        "mfu": flops / median / peak_flops(precision),
    })


@pytest.mark.parametrize("model", ALL_MODELS)
def test_train_step(benchmark, model, peak_flops):
    _skip_unbuildable(model)
    precision = resolve_precision("auto", DEVICE)
    step, modules, flop_fn = make_trainer_step(model, SHAPE, precision, batch_size=BATCH, device=DEVICE, data=_data())
    for _ in range(3):
        step()

    def timed():
        step()
        _sync()

    benchmark.pedantic(timed, rounds=10, iterations=1, warmup_rounds=2)
    _record(benchmark, peak_flops, precision, flop_fn(), modules["n_critic"], "trainer")


@pytest.mark.parametrize("reference", [EAGER, TUNED])
@pytest.mark.parametrize("model", ALL_MODELS)
def test_reference_step(benchmark, model, reference, peak_flops):
    _skip_unbuildable(model)
    ref = LoopReference(model, SHAPE, _data().to(DEVICE), BATCH, DEVICE, 0, ganzoo.get_registry(),
                        tuned=reference == TUNED)
    for _ in range(3):
        ref.step()

    def timed():
        ref.step()
        _sync()

    benchmark.pedantic(timed, rounds=10, iterations=1, warmup_rounds=2)
    _record(benchmark, peak_flops, ref.precision, ref.count_flops(), ref.n_critic, reference)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_sampling(benchmark, model):
    _skip_unbuildable(model)
    gan = ganzoo.build(model, SHAPE)
    gan.generator.to(DEVICE)
    benchmark.pedantic(lambda: gan.sample(256), rounds=10, iterations=1, warmup_rounds=2)
    benchmark.extra_info["img_per_s"] = 256 / benchmark.stats.stats.median


def test_image_metrics(benchmark):
    ds = ganzoo.load_dataset("digits")
    extractor = resolve_extractor("classifier", ds, DEVICE)
    real, fake = ds.data[:1000], (torch.rand(1000, 1, 8, 8) * 2 - 1)
    benchmark.pedantic(lambda: image_metrics(real, fake, extractor), rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["samples"] = 1000


def test_mode_metrics(benchmark):
    ds = ganzoo.load_dataset("grid25")
    samples = ds.data[:2500]
    result = benchmark(mode_metrics, samples, ds.centers, ds.std)
    assert result["modes_captured"] == 25
