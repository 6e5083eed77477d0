"""Quality table on digits: every registered model, its recipe's default steps, N seeds, mean +- sd.

    python benchmarks/quality.py                               # every model, 3 seeds, two 1-thread workers
    python benchmarks/quality.py --models vanilla dcgan --seeds 3
    python benchmarks/quality.py --summarize-only              # rebuild the table from the run folders

Each (model, seed) trains in a worker process with one thread (two 1-thread processes use the 2 cores better than
one 2-thread process), then its generator (the EMA copy when the recipe keeps one) makes 2,000 samples from fixed
noise (seed 1,000,003 + training seed) that are measured on the digits classifier's 128-d features
(ganzoo.metrics.evaluate's extractor, trained once on the data's labels and cached): FID, KID (seeded subsets), IS,
precision/recall (k=3), density/coverage (k=5), plus the share of each class among the samples by the classifier's
predictions (conditional models get balanced labels, and the share of samples classified as their label). Beside
the scores: the real-vs-real floor, the same metrics between two disjoint random halves of the data.
Each run writes RUNS/<model>-seed<k>/quality.json as it finishes, so an interrupted table keeps what it measured.
Writes OUT/quality-<dataset>.json and .md (mean +- sd over seeds, the command, the commit, wall time).
The 2-D mixture tables (ring8, grid25) are benchmarks/reproduce.py's, on PacGAN's protocol.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent
SAMPLES = 2000
NOISE_SEED = 1_000_003
KID_SEED = 0
FLOOR_SEED = 0
METRICS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall", "density", "coverage",
           "class_share_min", "class_share_max", "label_accuracy", "train_seconds")


# -- measuring -----------------------------------------------------------------------------------------------------

def class_shares(predictions, num_classes: int) -> list[float]:
    """Share of each class among predicted labels (sums to 1)."""
    import torch

    counts = torch.bincount(predictions.reshape(-1).long(), minlength=num_classes)[:num_classes]
    return (counts.double() / max(1, predictions.numel())).tolist()


def predict(extractor, images, batch: int = 500):
    """The classifier's predicted class of each image."""
    from ganzoo.metrics.image import extract

    _, logits = extract(extractor, images, batch_size=batch, logits=True)
    return logits.argmax(1)


def num_classes_of(dataset) -> int:
    return int(getattr(dataset, "num_classes", None) or int(dataset.labels.max()) + 1)


def measure(gan, dataset, extractor, *, samples: int = SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Image metrics of `samples` generated images against the whole dataset, and their class shares."""
    import torch

    from ganzoo.metrics import image_metrics

    k = num_classes_of(dataset)
    noise = torch.Generator().manual_seed(NOISE_SEED + seed)
    labels = torch.arange(samples) % gan.num_classes if gan.conditional else None
    fake = gan.sample(samples, labels=labels, generator=noise)
    real = dataset.float_data()
    result = image_metrics(real, fake, extractor, seed=KID_SEED)
    predicted = predict(extractor, fake)
    shares = class_shares(predicted, k)
    result.update(class_shares=shares, class_share_min=min(shares), class_share_max=max(shares))
    if labels is not None:
        result["label_accuracy"] = float((predicted == labels).double().mean())
    return result


def real_floor(dataset, extractor, seed: int = FLOOR_SEED) -> dict[str, Any]:
    """The same metrics between two disjoint random halves of the data: what a perfect generator could reach at
    this sample size (FID and KID are biased upward at small n, so this floor is itself above 0)."""
    import torch

    from ganzoo.metrics import image_metrics

    real = dataset.float_data()
    order = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))
    half = real.shape[0] // 2
    a, b = real[order[:half]], real[order[half: 2 * half]]
    result = image_metrics(a, b, extractor, seed=KID_SEED)
    shares = class_shares(predict(extractor, b), num_classes_of(dataset))
    result.update(class_shares=shares, class_share_min=min(shares), class_share_max=max(shares),
                  halves=[int(a.shape[0]), int(b.shape[0])])
    return result


def load_extractor(dataset_name: str):
    import torch

    import ganzoo
    from ganzoo.metrics.evaluate import resolve_extractor

    dataset = ganzoo.load_dataset(dataset_name)
    if dataset.kind != "image" or dataset.labels is None:
        raise SystemExit(f"quality.py needs a labelled image dataset (digits, mnist, ...); {dataset_name!r} is not "
                         f"one (the 2-D mixtures are benchmarks/reproduce.py's)")
    return dataset, resolve_extractor("classifier", dataset, torch.device("cpu"))


def run_one(job: dict) -> dict:
    """Train one (model, seed) in this 1-thread process, measure it, write quality.json into its run folder."""
    import torch

    torch.set_num_threads(1)
    import ganzoo

    path = Path(job["path"])
    record: dict[str, Any] = {"model": job["model"], "seed": job["seed"], "dataset": job["dataset"],
                              "command": job.get("command")}
    try:
        start = time.perf_counter()
        result = ganzoo.train(model=job["model"], dataset=job["dataset"], seed=job["seed"], steps=job["steps"],
                              out=str(path), device="cpu", precision=job["precision"], progress=False)
        record.update(steps=result.step, train_seconds=round(time.perf_counter() - start, 1),
                      train_precision=result.config.get("precision"))
        dataset, extractor = load_extractor(job["dataset"])
        gan = ganzoo.load(path)
        record["weights"] = gan.loaded_from["weights"]
        record["conditional"] = bool(gan.conditional)
        record.update(measure(gan, dataset, extractor, samples=job["samples"], seed=job["seed"]))
    except Exception as exc:  # one failing model is a row that says so, not a lost table
        record["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
        record["traceback"] = traceback.format_exc()
    path.mkdir(parents=True, exist_ok=True)
    (path / "quality.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    return record


# -- summarising ---------------------------------------------------------------------------------------------------

def mean_sd(values: list[Any]) -> tuple[Optional[float], Optional[float]]:
    """Mean and sample standard deviation (None where undefined: no values, or one for the sd)."""
    values = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarize_rows(records: list[dict]) -> list[dict]:
    """One row per model: mean (``fid``) and sd (``fid_sd``) over its successful seeds of every metric, per-class
    shares averaged. The flat means keep the file readable by ``ganzoo report`` (its "results" list)."""
    rows = []
    for model in sorted({r["model"] for r in records}):
        runs = sorted((r for r in records if r["model"] == model), key=lambda r: r["seed"])
        ok = [r for r in runs if "error" not in r]
        row: dict[str, Any] = {"model": model, "dataset": runs[0]["dataset"], "seeds": [r["seed"] for r in ok],
                               "seeds_total": len(runs),
                               "errors": {str(r["seed"]): r["error"] for r in runs if "error" in r}}
        if ok:
            row.update(steps=ok[0]["steps"], conditional=ok[0].get("conditional", False),
                       weights=ok[0].get("weights"), train_precision=ok[0].get("train_precision"))
            for key in METRICS:
                row[key], row[f"{key}_sd"] = mean_sd([r.get(key) for r in ok])
            row["class_shares"] = [statistics.fmean(s) for s in zip(*(r["class_shares"] for r in ok))]
        rows.append(row)
    return rows


def read_records(runs: Path) -> list[dict]:
    out = []
    for path in sorted(runs.glob("*/quality.json")):
        try:
            out.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            continue
    return out


def _f(row: dict, key: str, digits: int = 3) -> str:
    """row[key] ± row[key_sd] to `digits` significant digits (the sd to 2; left out where undefined)."""
    m, sd = row.get(key), row.get(f"{key}_sd")
    if m is None or m != m:
        return "-"
    text = f"{m:.0f}" if abs(m) >= 10 ** digits else f"{m:.{digits}g}"
    return text + ("" if sd is None or sd != sd else f" ± {sd:.0f}" if abs(sd) >= 100 else f" ± {sd:.2g}")


def markdown(summary: dict) -> str:
    floor = summary["floor"]
    lines = [
        f"# Quality on {summary['dataset']}: every model, {summary['samples']} samples, mean ± sd over seeds",
        "",
        "Commands that made the runs in this table: "
        + "; ".join(f"`{c}`" for c in summary.get("commands") or [summary["command"]]) + "  ",
        f"Summarised by: `{summary['command']}`  ",
        f"Commit: {summary['commit']}{' (with uncommitted changes)' if summary['dirty'] else ''}; machine: "
        f"{summary['machine']}, torch {summary['torch']}; wall time: "
        f"{'%.0f s' % summary['wall_seconds'] if summary.get('wall_seconds') else 'n/a (summarised from run files)'}.",
        "",
        f"Features: {summary['extractor']}. Each model trains for its recipe's default steps (or --steps) with "
        f"the trainer's default settings, then its generator (EMA when the recipe keeps one) makes "
        f"{summary['samples']} images from fixed noise; they are compared with all {summary['num_real']} real "
        f"images. KID: the polynomial-kernel MMD² of Binkowski et al. on these unnormalised features "
        f"(large numbers; seeded subsets). Class shares: the share of each digit among the samples by the "
        f"classifier (0.1 each when balanced); conditional models get balanced labels, and 'label acc.' is the "
        f"share classified as the label asked for.",
        "",
        f"Real-vs-real floor: the same metrics between two disjoint random halves of the data "
        f"({floor['halves'][0]} vs {floor['halves'][1]} images). FID is biased upward at small sample sizes and KID "
        f"is unbiased but noisy, so a model's score is read against this floor, not against 0.",
        "",
        "| model | seeds | steps | FID | KID | IS | precision | recall | density | coverage | class share "
        "min–max | label acc. | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| **real vs real (floor)** | - | - | {_f(floor, 'fid')} | {_f(floor, 'kid_mean')} | "
        f"{_f(floor, 'is_mean')} | {_f(floor, 'precision')} | {_f(floor, 'recall')} | {_f(floor, 'density')} | "
        f"{_f(floor, 'coverage')} | {_f(floor, 'class_share_min')} – {_f(floor, 'class_share_max')} | - | - |",
    ]
    for r in summary["results"]:
        if not r["seeds"]:
            lines.append(f"| {r['model']} | 0/{r['seeds_total']} | - | failed: "
                         f"{next(iter(r['errors'].values()))} |||||||||")
            continue
        shares = f"{_f(r, 'class_share_min')} – {_f(r, 'class_share_max')}"
        lines.append(
            f"| {r['model']}{' (cond.)' if r['conditional'] else ''} | {len(r['seeds'])}/{r['seeds_total']} | "
            f"{r['steps']} | {_f(r, 'fid')} | {_f(r, 'kid_mean')} | {_f(r, 'is_mean')} | "
            f"{_f(r, 'precision')} | {_f(r, 'recall')} | {_f(r, 'density')} | {_f(r, 'coverage')} | {shares} | "
            f"{_f(r, 'label_accuracy')} | {_f(r, 'train_seconds', 2)} |")
    k = len(floor["class_shares"])
    lines += ["", "Per-class shares among the samples (mean over seeds), by the classifier:", "",
              "| model | " + " | ".join(str(c) for c in range(k)) + " |", "|---" * (k + 1) + "|",
              "| real (half) | " + " | ".join(f"{s:.3f}" for s in floor["class_shares"]) + " |"]
    for r in summary["results"]:
        if r["seeds"]:
            lines.append(f"| {r['model']} | " + " | ".join(f"{s:.3f}" for s in r["class_shares"]) + " |")
    failed = {r["model"]: r["errors"] for r in summary["results"] if r["errors"]}
    if failed:
        lines += ["", "Failed runs (traceback in the run folder's quality.json):", ""]
        lines += [f"- {m} seed {s}: {e}" for m, errs in failed.items() for s, e in errs.items()]
    precisions = sorted({str(r.get("train_precision")) for r in summary["results"] if r["seeds"]})
    lines += ["", f"Training precision: {', '.join(precisions) or '-'}; CPU, one thread per run. Run folders: "
              f"`{summary['runs']}`.", ""]
    return "\n".join(lines)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def summarize(args, command: str, wall: Optional[float], floor: dict, extractor_text: str, num_real: int) -> dict:
    import torch

    summary = {
        "dataset": args.dataset, "command": command, "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "torch": torch.__version__,
        "wall_seconds": wall, "samples": args.samples, "num_real": num_real, "extractor": extractor_text,
        "runs": str(args.runs), "floor": floor,
    }
    records = read_records(args.runs)
    # one table may gather runs made by several invocations (e.g. slow models added later): name each command
    summary["commands"] = sorted({r.get("command") or "(not recorded: a run from before commands were kept)"
                                  for r in records}) or [command]
    summary["results"] = summarize_rows(records)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"quality-{args.dataset}"
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    stem.with_suffix(".md").write_text(markdown(summary))
    return summary


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", help="default: every registered model")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, help="default: each recipe's own steps")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--samples", type=int, default=SAMPLES)
    p.add_argument("--precision", default="auto", help="training precision (default: the trainer's default)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes, one thread each")
    p.add_argument("--out", type=Path, default=ROOT / "results")
    p.add_argument("--runs", type=Path, help="run folders (default: runs/quality-DATASET)")
    p.add_argument("--summarize-only", action="store_true")
    args = p.parse_args(argv)
    args.runs = args.runs or Path("runs") / f"quality-{args.dataset}"
    command = "python benchmarks/quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    import ganzoo

    models = args.models or ganzoo.list_models()
    unknown = [m for m in models if m not in ganzoo.list_models()]
    if unknown:
        raise SystemExit(f"unknown model {unknown[0]!r}; registered: {', '.join(ganzoo.list_models())}")
    if args.seeds < 1 or args.samples < 20:
        raise SystemExit("--seeds must be >= 1 and --samples >= 20")
    # Train (or load) the classifier once here, so the workers read it from the cache instead of racing to train it.
    dataset, extractor = load_extractor(args.dataset)
    floor = real_floor(dataset, extractor)
    info = extractor.description
    if args.summarize_only:
        print(markdown(summarize(args, command, None, floor, info, len(dataset.data))))
        return 0
    jobs = [dict(model=m, seed=s, dataset=args.dataset, steps=args.steps, precision=args.precision,
                 samples=args.samples, path=str(args.runs / f"{m}-seed{s}"), command=command)
            for s in range(args.seeds) for m in models]
    busy = [j["path"] for j in jobs if Path(j["path"]).exists()]
    if busy:
        raise SystemExit(f"{busy[0]} already exists: choose another --runs, remove it, or --summarize-only")
    start = time.perf_counter()
    # spawn: fresh 1-thread interpreters (forking after torch has run its thread pool can hang the children)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for record in pool.map(run_one, jobs):
            state = record.get("error") or f"FID {record['fid']:.3f} in {record['train_seconds']:.0f} s"
            print(f"{record['model']} seed {record['seed']}: {state}", flush=True)
            summarize(args, command, None, floor, info, len(dataset.data))
    print(markdown(summarize(args, command, time.perf_counter() - start, floor, info, len(dataset.data))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
