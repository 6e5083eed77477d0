"""Moved into the product: the digits quality table is the built-in `digits-quality` suite.

    python benchmarks/quality.py [ganzoo suite run options]
    = ganzoo suite run digits-quality --out runs/quality-digits [options]

The committed benchmarks/results/quality-digits.* were made by this script's earlier version (git log -p
benchmarks/quality.py), whose protocol the suite keeps: tests/suite/test_suite_run.py checks a suite's numbers
against training and measuring by hand, bit for bit.
"""

import sys

from ganzoo.cli import main

raise SystemExit(main(["suite", "run", "digits-quality", "--out", "runs/quality-digits", *sys.argv[1:]]))
