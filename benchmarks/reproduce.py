"""Moved into the product: PacGAN's 2-D tables (and GDPP's WGAN-GP row) are the built-in `pacgan-2d` suite.

    python benchmarks/reproduce.py [ganzoo suite run options]
    = ganzoo suite run pacgan-2d --out runs/pacgan-2d [options]

The committed benchmarks/results/reproduce-pacgan2d/ was made by this script's earlier version (git log -p
benchmarks/reproduce.py); the suite keeps its protocol (2,500 points, latents seeded 1,000,003 + seed, raw and EMA).
"""

import sys

from ganzoo.cli import main

raise SystemExit(main(["suite", "run", "pacgan-2d", "--out", "runs/pacgan-2d", *sys.argv[1:]]))
