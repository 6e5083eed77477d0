"""Probe: why does stylegan2 nearly ignore z on the 8x8 digits (recall 0.02 in the digits table)?

Each setting changes one thing in the `stylegan2` recipe (or, last, takes StyleGAN2-ADA's official `cifar` config)
and trains 2,000 steps on one thread; the final EMA generator is measured like the digits table (2,000 samples on
the shipped digits classifier; FID, precision, recall), plus the spread of its images over z (the mean over pixels
of the standard deviation over 256 latents; the real digits' is 0.46):

    python benchmarks/probe_stylegan2_latent.py [SETTING ...] [--seeds 0,1,2]
    # benchmarks/results/probe-stylegan2-latent.txt

Settings: recipe; map-lr1 (the mapping network's lr multiplier 1 instead of 0.01); no-mixing (style mixing off);
no-pl (R1 only, no path-length term); cifar (2 mapping layers, no mixing, no path length, minibatch-std groups of
32, lr 0.0025, as StyleGAN2-ADA's train.py --cfg=cifar; its EMA of 500 kimg is not taken, 2,000 steps are 128 kimg);
r1-gamma1 and r1-gamma10 (R1's gamma 1 or 10 instead of 0.01, the rest the recipe's).
"""

from __future__ import annotations

import argparse
import shutil
import sys

import torch

import ganzoo
from ganzoo.use.evaluate import evaluate_run
from ganzoo.use.load import load

R1 = "r1:gamma=0.01,every=16,separate=true"
PL = "pl:weight=2,decay=0.01,every=4,separate=true"
SETTINGS = {
    "recipe": {},
    "map-lr1": {"generator_options": ["mapping_lr_mul=1"]},
    "no-mixing": {"generator_options": ["mixing_prob=0"]},
    "no-pl": {"no_recipe_regularizers": True, "regularizers": [R1]},
    "cifar": {"generator_options": ["mapping_layers=2,mixing_prob=0"], "discriminator_options": ["mbstd_group=32"],
              "no_recipe_regularizers": True, "regularizers": [R1], "lr": 0.0025},
    "r1-gamma1": {"no_recipe_regularizers": True, "regularizers": [R1.replace("0.01", "1"), PL]},
    "r1-gamma10": {"no_recipe_regularizers": True, "regularizers": [R1.replace("0.01", "10"), PL]},
}


def spread(out: str) -> float:
    """Mean over pixels of the std over 256 latents of the EMA generator's images (eval mode: fixed noise)."""
    G = load(out).generator
    z = torch.randn(256, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return float(G(z).std(0).mean())


def run(setting: str, seed: int) -> dict:
    out = f"/tmp/probe-stylegan2-{setting}-{seed}"
    shutil.rmtree(out, ignore_errors=True)
    ganzoo.train(model="stylegan2", dataset="digits", steps=2000, seed=seed, out=out, precision="auto",
                 **SETTINGS[setting])
    metrics = evaluate_run(out, samples=2000, feature_extractor="classifier")
    return {"fid": float(metrics["fid"]), "precision": float(metrics["precision"]),
            "recall": float(metrics["recall"]), "spread": spread(out)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"# python benchmarks/probe_stylegan2_latent.py {' '.join(sys.argv[1:])}; "
          "columns: setting, seed, FID, precision, recall, image spread over z", flush=True)
    for setting in args.settings:
        for seed in (int(s) for s in args.seeds.split(",")):
            r = run(setting, seed)
            print(f"{setting} {seed} {r['fid']:.0f} {r['precision']:.2f} {r['recall']:.2f} {r['spread']:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
