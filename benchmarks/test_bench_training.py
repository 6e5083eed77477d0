"""Training-step, sampling and metric benchmarks for the built-in models."""

from __future__ import annotations

import pytest
import torch

import ganzoo
from ganzoo.bench import count_flops
from ganzoo.config import TrainConfig
from ganzoo.evaluate import resolve_extractor
from ganzoo.metrics import image_metrics, mode_metrics
from ganzoo.precision import resolve_device
from ganzoo.trainer import Trainer

SHAPE = (3, 32, 32)
BATCH = 64


def make_trainer(model: str, precision: str = "auto") -> Trainer:
    data = torch.rand(512, *SHAPE) * 2 - 1
    return Trainer(TrainConfig(model=model, steps=1, batch_size=BATCH, precision=precision, out="/nonexistent"),
                   progress=False, dataset=ganzoo.Dataset("synthetic", data))


def _sync(trainer):
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)


@pytest.mark.parametrize("model", ["vanilla", "dcgan", "wgan-gp"])
def test_train_step(benchmark, model, peak_flops):
    trainer = make_trainer(model)
    for _ in range(3):
        trainer.step()

    def step():
        trainer.step()
        _sync(trainer)

    benchmark.pedantic(step, rounds=10, iterations=1, warmup_rounds=2)
    trainer._penalty_grad_via_backward = True
    flops = count_flops(trainer.train_step)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "precision": trainer.precision.name, "shape": list(SHAPE), "batch_size": BATCH,
        "img_per_s": BATCH * trainer.config.n_critic / median, "flops_per_step": flops,
        "mfu": flops / median / peak_flops(trainer.precision.name),
    })


@pytest.mark.parametrize("model", ["vanilla", "dcgan"])
def test_sampling(benchmark, model):
    trainer = make_trainer(model)
    benchmark.pedantic(lambda: trainer.sample(256), rounds=10, iterations=1, warmup_rounds=2)
    benchmark.extra_info["img_per_s"] = 256 / benchmark.stats.stats.median


def test_image_metrics(benchmark):
    ds = ganzoo.load_dataset("digits")
    extractor = resolve_extractor("classifier", ds, resolve_device("auto"))
    real, fake = ds.data[:1000], (torch.rand(1000, 1, 8, 8) * 2 - 1)
    benchmark.pedantic(lambda: image_metrics(real, fake, extractor), rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["samples"] = 1000


def test_mode_metrics(benchmark):
    ds = ganzoo.load_dataset("grid25")
    samples = ds.data[:2500]
    result = benchmark(mode_metrics, samples, ds.centers, ds.std)
    assert result["modes_captured"] == 25
