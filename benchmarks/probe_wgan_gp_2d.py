"""Probe: does wgan-gp's 2-D variant learn ring8 with WGAN-GP's own toy optimiser instead of GDPP's?

Trains the recipe's 2-D variant with one learning rate for both networks and a given penalty weight (EMA off),
and prints modes captured and the high-quality fraction of 2,500 samples every 1,000 steps, up to 4,000:

    python benchmarks/probe_wgan_gp_2d.py TAG DATASET LR GP_WEIGHT
    python benchmarks/probe_wgan_gp_2d.py lr1e-4_gp10 ring8 1e-4 10     # benchmarks/results/probe-wgan-gp-2d.txt
    python benchmarks/probe_wgan_gp_2d.py lr1e-4_gp0.1 ring8 1e-4 0.1
"""

from __future__ import annotations

import sys

import torch

import ganzoo
from ganzoo.metrics.modes import mode_metrics


def main(tag: str, dataset: str, lr: float, gp_weight: float) -> None:
    torch.set_num_threads(1)
    res = ganzoo.train(model="wgan-gp", dataset=dataset, steps=1, out=f"/tmp/probe-{tag}-{dataset}", progress=False,
                       lr=lr, no_recipe_regularizers=True, regularizers=[f"gp:weight={gp_weight}"], ema_decay=0,
                       log_every=1000)
    data = ganzoo.load_dataset(dataset)
    for stop in (1000, 2000, 3000, 4000):
        res = ganzoo.resume(res.run_dir, steps=stop)
        G = res.gan.generator.eval()
        with torch.no_grad():
            x = G(torch.randn(2500, res.gan.latent_dim))
        G.train()
        m = mode_metrics(x, data.centers, data.std)
        print(tag, dataset, stop, m["modes_captured"], round(m["high_quality_fraction"], 4), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
