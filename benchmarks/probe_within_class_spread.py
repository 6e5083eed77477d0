"""Probe: does a class-conditional generator vary its images within a class as much as the data does?

stylegan2-ada-cond on the 8x8 digits scores label accuracy 1.00 with recall 0.02: one image per class. Shahbazi et
al. 2022 ("Collapse by Conditioning: Training Class-conditional GANs with Limited Data", ICLR) observe exactly this
for class-conditional StyleGAN2-ADA on small datasets (mode collapse within each class where the unconditional model
trains well) and expect it to fade as the images per class grow. The digits have ~180 images a class, Fashion-MNIST
6,000, so the same model on both tells the two causes apart: collapse by conditioning on limited data, or something in
the model at any data size.

For each finished run folder (the final EMA generator, eval mode: fixed noise): the spread within a class (the mean
over pixels of the std over 256 latents of one class's images, averaged over the classes), the same statistic over
the run's real training images of each class, and their ratio:

    python benchmarks/probe_within_class_spread.py RUN_DIR [RUN_DIR ...]
    # benchmarks/results/probe-within-class-spread.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from probe_stylegan2_latent import spread  # the fake side: 256 latents seeded 0 per class, the EMA G in eval mode

import ganzoo


def real_within_class(data, num_classes: int) -> float:
    """The fake side's statistic (probe_stylegan2_latent.spread) over each class's real images in [-1, 1]."""
    return sum(float(data.float_data(data.labels == k).std(0).mean()) for k in range(num_classes)) / num_classes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run folders of class-conditional models")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"# python benchmarks/probe_within_class_spread.py {' '.join(sys.argv[1:])}\n"
          "# columns: run, dataset, images per class (min), fake within-class spread, real within-class spread, ratio",
          flush=True)
    real_cache: dict[str, tuple[float, int]] = {}
    for run_dir in args.runs:
        train = json.loads((run_dir / "config.json").read_text())["train"]
        spec = train["dataset"]
        if spec not in real_cache:
            data = ganzoo.load_dataset(spec, image_size=train.get("image_size"), download=False)
            if data.labels is None:
                raise SystemExit(f"error: {run_dir}: dataset {spec!r} has no labels; this probe is for conditional runs")
            k = int(data.labels.max()) + 1
            per_class = int(torch.bincount(data.labels, minlength=k).min())
            if k != 10:
                raise SystemExit(f"error: {run_dir}: dataset {spec!r} has {k} classes; the probe measures 10")
            real_cache[spec] = (real_within_class(data, k), per_class)
        real, per_class = real_cache[spec]
        fake = spread(run_dir)
        print(f"{run_dir.name} {spec} {per_class} {fake:.3f} {real:.3f} {fake / real:.2f}", flush=True)


if __name__ == "__main__":
    main()
