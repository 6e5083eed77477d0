#!/usr/bin/env bash
# Regenerates every file in benchmarks/results/ that `ganzoo bench` and `ganzoo report` write (the quality and DDP
# files have their own scripts: benchmarks/quality.py, benchmarks/ddp_throughput.py). Run it on an otherwise idle
# machine from the repository root, with the project's virtual environment active; about 20 minutes on 2 cores.
#
#   bash benchmarks/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
R=benchmarks/results
export COLUMNS=200  # rich tables written to files keep their full width

# The zoo: every registered model x {fp32, bf16}, interleaved with both references, 5 rounds, on the digits shape
# (1x8x8) that the quality table (quality-digits.json) trains on, so speed and FID in the report describe one setting.
# (At 3x32x32 the full-width ResNets take seconds per step on 2 cores: the zoo would take hours.)
ganzoo bench --all --dataset-shape 1,8,8 --compile off --rounds 5 --steps 5 --out "$R/bench-cpu-zoo.json" \
  > "$R/bench-cpu-zoo.txt"

# The headline model alone, twice in a row: the two medians must agree within their stated spreads.
ganzoo bench dcgan --rounds 7 --steps 10 --out "$R/bench-cpu-dcgan.json" > "$R/bench-cpu-dcgan.txt"
ganzoo bench dcgan --rounds 7 --steps 10 --out "$R/bench-cpu-dcgan-repeat.json" > "$R/bench-cpu-dcgan-repeat.txt"
python benchmarks/agreement.py "$R/bench-cpu-dcgan.json" "$R/bench-cpu-dcgan-repeat.json" \
  > "$R/bench-cpu-dcgan-agreement.txt" || echo "the two dcgan runs disagree: see $R/bench-cpu-dcgan-agreement.txt" >&2

# One page: speed next to quality (the 3-seed digits table), Markdown and self-contained HTML.
ganzoo report "$R/bench-cpu-zoo.json" "$R/quality-digits.json" --out "$R/zoo-report.md" > /dev/null
