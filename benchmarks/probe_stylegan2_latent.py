"""Probe: why does stylegan2 fail on the 8x8 digits (FID near 1000, recall 0.02 in the digits table)?

Each setting changes one thing in the `stylegan2` recipe (or, last, takes StyleGAN2-ADA's official `cifar` config)
and trains 2,000 steps on one thread; the final EMA generator is measured like the digits table (2,000 samples on
the shipped digits classifier; FID, precision, recall), plus the spread of its images over z (the mean over pixels
of the standard deviation over 256 latents; `--real` prints the same statistic over the 1,797 real digits):

    python benchmarks/probe_stylegan2_latent.py [SETTING ...] [--seeds 0,1,2] [--model stylegan2-ada-cond]
    python benchmarks/probe_stylegan2_latent.py --real
    # benchmarks/results/probe-stylegan2-latent.txt

`--model` takes any of the stylegan2 family (default stylegan2). For the conditional model the spread is taken
within each class (256 latents per class, the mean over the 10 classes), beside the real digits' within-class spread
that `--real` prints too: a conditional G whose images do not vary within a class scores a low recall however
well its classes separate.

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

PL = "pl:weight=2,decay=0.01,every=4,separate=true"


def r1(gamma: float) -> str:
    """The recipe's lazy R1 (every 16 steps, its own optimiser step) with this gamma (the recipe's: 0.01)."""
    return f"r1:gamma={gamma},every=16,separate=true"


R1 = r1(0.01)
SETTINGS = {
    "recipe": {},
    "map-lr1": {"generator_options": ["mapping_lr_mul=1"]},
    "no-mixing": {"generator_options": ["mixing_prob=0"]},
    "no-pl": {"no_recipe_regularizers": True, "regularizers": [R1]},
    "cifar": {"generator_options": ["mapping_layers=2,mixing_prob=0"], "discriminator_options": ["mbstd_group=32"],
              "no_recipe_regularizers": True, "regularizers": [R1], "lr": 0.0025},
    "r1-gamma1": {"no_recipe_regularizers": True, "regularizers": [r1(1), PL]},
    "r1-gamma10": {"no_recipe_regularizers": True, "regularizers": [r1(10), PL]},
}


def spread(out: str) -> float:
    """Mean over pixels of the std over 256 latents of the EMA generator's images (eval mode: fixed noise); for a
    conditional G, the same within each of the 10 classes, averaged over them."""
    G = load(out).generator
    z = torch.randn(256, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        if not getattr(G, "conditional", False):
            return float(G(z).std(0).mean())
        return sum(float(G(z, torch.full((256,), k)).std(0).mean()) for k in range(10)) / 10


def real_spread(within_class: bool = False) -> float:
    """The same statistic over every real digit, scaled to [-1, 1] as the digits dataset is (0..16 -> -1..1), or
    within each class and averaged over the 10 classes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images).float() / 8.0 - 1.0
    if not within_class:
        return float(images.std(0).mean())
    labels = torch.from_numpy(digits.target)
    return sum(float(images[labels == k].std(0).mean()) for k in range(10)) / 10


MODELS = ("stylegan2", "stylegan2-ada", "stylegan2-ada-cond")


def run(setting: str, seed: int, model: str = "stylegan2") -> dict:
    out = f"/tmp/probe-{model}-{setting}-{seed}"
    shutil.rmtree(out, ignore_errors=True)
    ganzoo.train(model=model, dataset="digits", steps=2000, seed=seed, out=out, precision="auto",
                 **SETTINGS[setting])
    metrics = evaluate_run(out, samples=2000, feature_extractor="classifier")
    return {"fid": float(metrics["fid"]), "precision": float(metrics["precision"]),
            "recall": float(metrics["recall"]), "spread": spread(out)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings", nargs="*", help=f"any of {', '.join(SETTINGS)} (default: all)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--model", default="stylegan2", choices=MODELS)
    parser.add_argument("--real", action="store_true", help="print the real digits' spread over images and stop")
    args = parser.parse_args(argv)
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:  # argparse's choices refuse an empty nargs="*" list on Python 3.11, so the check is here
        parser.error(f"unknown setting {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    torch.set_num_threads(1)
    if args.real:
        print(f"real digits: image spread {real_spread():.3f}, within a class {real_spread(True):.3f}  "
              "# python benchmarks/probe_stylegan2_latent.py --real")
        return
    print(f"# python benchmarks/probe_stylegan2_latent.py {' '.join(sys.argv[1:])}; "
          f"model {args.model}; columns: setting, seed, FID, precision, recall, image spread over z"
          + (" within a class" if args.model.endswith("-cond") else ""), flush=True)
    for setting in args.settings or list(SETTINGS):
        for seed in (int(s) for s in args.seeds.split(",")):
            r = run(setting, seed, args.model)
            print(f"{setting} {seed} {r['fid']:.0f} {r['precision']:.2f} {r['recall']:.2f} {r['spread']:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
