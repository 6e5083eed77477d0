"""Prepared GPU check: the bench grid on one GPU inside a fixed time budget, written as JSON.

    python benchmarks/gpu_check.py --out gpu-results.json [--budget-s 280]

Grid: models vanilla, dcgan, wgan-gp; data 3x32x32 and 3x64x64; batch 64 and 256; fp32/bf16/fp16; compile off/on.
Each (model, shape, batch) group runs `ganzoo bench` once (eager fp32 reference + every precision x compile). Groups
run most important first (dcgan 3x64x64 batch 256, the issue's target, leads), the JSON is rewritten after every
group, and no group starts once the budget is spent, so the whole check ends in under 5 minutes on one GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ganzoo.bench import BenchOptions, bench

GROUPS = [(m, s, b) for s in ((3, 64, 64), (3, 32, 32)) for b in (256, 64) for m in ("dcgan", "wgan-gp", "vanilla")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-results.json")
    parser.add_argument("--budget-s", type=float, default=280.0)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run it on a GPU machine", file=sys.stderr)
        return 2
    start = time.perf_counter()
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "command": " ".join(sys.argv),
              "groups": [], "skipped": []}
    for model, shape, batch in GROUPS:
        elapsed = time.perf_counter() - start
        if elapsed > args.budget_s * 0.8:
            report["skipped"].append({"model": model, "shape": list(shape), "batch_size": batch,
                                      "why": f"time budget ({elapsed:.0f} of {args.budget_s:.0f} s spent)"})
            continue
        t0 = time.perf_counter()
        try:
            result = bench(BenchOptions(model=model, shape=shape, batch_size=batch, steps=args.steps, warmup=5,
                                        precisions=["fp32", "bf16", "fp16"], compile=[False, True], device="cuda"))
            result["seconds"] = time.perf_counter() - t0
            report["groups"].append(result)
            best = max(result["results"], key=lambda r: r["speedup_vs_eager"])
            print(f"{model} {shape} b{batch}: best {best['setting']} {best['speedup_vs_eager']:.2f}x eager, "
                  f"MFU {best['mfu']:.1%} ({time.perf_counter() - t0:.0f} s)", flush=True)
        except Exception as exc:  # record and go on: one failing group must not lose the others
            report["groups"].append({"model": model, "shape": list(shape), "batch_size": batch,
                                     "error": f"{type(exc).__name__}: {exc}"})
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
