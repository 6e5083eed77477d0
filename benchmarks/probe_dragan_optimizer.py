"""Probe: does dragan fail on the 8x8 digits because of its optimiser?

The authors' reference code (kodalinaveen3/DRAGAN, DRAGAN.ipynb: an MLP pair on MNIST) takes one D step per G step
(`for _ in range(1)`), lambda 10 and Adam(1e-4, betas 0.5/0.9); the `dragan` recipe has n_critic 1 and lambda 10 too,
but DCGAN's Adam(2e-4, betas 0.5/0.999). This trains the recipe both ways, 3 seeds of 2,000 steps on one thread,
and measures each final generator like the digits table (2,000 samples on the shipped digits classifier):

    python benchmarks/probe_dragan_optimizer.py   # benchmarks/results/probe-dragan-optimizer.txt

The betas are set by editing the run's config.json spec and restarting it (`ganzoo.resume(restart=True)` applies
an lr or betas edited there), as this probe was written before `--betas` existed. `ganzoo run dragan --lr 1e-4
--betas 0.5,0.9 --seed 0` is the same run: its FID, 1329.2776231089315, equals this probe's seed 0 to the last digit.
"""

from __future__ import annotations

import json
import shutil
import statistics

import torch

import ganzoo
from ganzoo.use.evaluate import evaluate_run

SETTINGS = {"recipe": None, "authors": {"lr": 1e-4, "betas": [0.5, 0.9]}}


def run(label: str, seed: int, out: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    ganzoo.train(model="dragan", dataset="digits", steps=1, seed=seed, out=out, precision="auto")
    if SETTINGS[label] is not None:
        with open(f"{out}/config.json") as f:
            config = json.load(f)
        for optimizer in ("optimizer_g", "optimizer_d"):
            config["spec"][optimizer]["options"].update(SETTINGS[label])
        with open(f"{out}/config.json", "w") as f:
            json.dump(config, f)
    ganzoo.resume(out, restart=True, steps=2000)
    return float(evaluate_run(out, samples=2000, feature_extractor="classifier")["fid"])


def main() -> None:
    torch.set_num_threads(1)
    print("# python benchmarks/probe_dragan_optimizer.py; columns: setting, seed, FID (2,000 samples, digits classifier)")
    for label in SETTINGS:
        fids = [run(label, seed, f"/tmp/probe-dragan-{label}-{seed}") for seed in (0, 1, 2)]
        for seed, fid in enumerate(fids):
            print(label, seed, f"{fid:.0f}", flush=True)
        print(label, "mean ± sd", f"{statistics.mean(fids):.0f} ± {statistics.stdev(fids):.0f}", flush=True)


if __name__ == "__main__":
    main()
