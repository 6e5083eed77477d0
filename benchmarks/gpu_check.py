"""Prepared GPU check: the zoo bench on one CUDA GPU inside a stated time budget, one JSON file per group.

    python benchmarks/gpu_check.py --out-dir benchmarks/results/gpu [--budget-s 540] [--rounds 5] [--memory off]

Settings per group: fp32, tf32 (fp32 tensors, TF32 matmuls/convolutions), bf16, fp16 (with the gradient scaler),
each eager, torch.compile'd and compiled with CUDA graphs (inductor "reduce-overhead"; a setting whose step does
not allow graphs falls back to eager with a notice in its row), interleaved in rounds with the eager-fp32 and
tuned-eager reference loops (`ganzoo bench`). Groups are every registered model that builds for the shape x
(3x64x64, 3x32x32) x batch (256, 64), most important first (dcgan 3x64x64 batch 256 leads). A group's JSON is written
as soon as it finishes; no group starts once 80% of the budget is spent, and `summary.json` lists what ran, what
was skipped and why. Nothing here has run on a GPU yet (no GPU machine was available): see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import torch

from ganzoo.tools.bench import CUDAGRAPHS, BenchOptions, bench, buildable_models

SHAPES = ((3, 64, 64), (3, 32, 32))
BATCHES = (256, 64)
PRECISIONS = ["fp32", "tf32", "bf16", "fp16"]
COMPILES = [False, True, CUDAGRAPHS]


def groups() -> list[tuple[str, tuple[int, ...], int]]:
    out = []
    for shape in SHAPES:
        models, _ = buildable_models(shape)
        models.sort(key=lambda m: (m != "dcgan", m))  # the target first
        out += [(m, shape, b) for b in BATCHES for m in models]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="benchmarks/results/gpu")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget of the whole check")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per setting per round")
    parser.add_argument("--memory", choices=["on", "off"], default="on")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run it on a GPU machine", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    summary = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "command": " ".join(sys.argv),
               "budget_s": args.budget_s, "files": [], "errors": [], "skipped": []}
    peaks: dict[str, float] = {}
    for model, shape, batch in groups():
        elapsed = time.perf_counter() - start
        name = f"bench-{model}-{'x'.join(map(str, shape))}-b{batch}.json"
        if elapsed > args.budget_s * 0.8:
            summary["skipped"].append({"model": model, "shape": list(shape), "batch_size": batch,
                                       "why": f"time budget ({elapsed:.0f} of {args.budget_s:.0f} s spent)"})
            continue
        t0 = time.perf_counter()
        try:
            result = bench(BenchOptions(model=model, shape=shape, batch_size=batch, steps=args.steps, warmup=5,
                                        rounds=args.rounds, precisions=PRECISIONS, compile=COMPILES, device="cuda",
                                        memory=args.memory == "on"), peaks=peaks)
        except Exception as exc:  # record and go on: one failing group must not lose the others
            summary["errors"].append({"model": model, "shape": list(shape), "batch_size": batch,
                                      "error": f"{type(exc).__name__}: {exc}",
                                      "traceback": traceback.format_exc(limit=5)})
        else:
            result["seconds"] = time.perf_counter() - t0
            result["command"] = summary["command"]
            (out_dir / name).write_text(json.dumps(result, indent=2) + "\n")
            summary["files"].append(name)
            best = max(result["results"], key=lambda r: r["speedup_vs_tuned_eager"])
            print(f"{model} {shape} b{batch}: best {best['setting']} {best['speedup_vs_tuned_eager']:.2f}x tuned eager, "
                  f"{best['speedup_vs_eager']:.2f}x eager, MFU {best['mfu']:.1%} ({result['seconds']:.0f} s)", flush=True)
        summary["elapsed_s"] = time.perf_counter() - start
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    summary["elapsed_s"] = time.perf_counter() - start
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
