"""Reproduce the 2-D mixture tables (PacGAN, VEEGAN, GDPP) on their protocol, N seeds per (model, dataset).

Each run trains with the recipe's 2-D variant (vanilla/pacgan: PacGAN's networks and optimiser, simultaneous
updates; wgan-gp: GDPP's synthetic protocol, compared with GDPP Table 1's WGAN-GP row) and is evaluated every K
steps on 2,500 generated samples: modes captured, high-quality fraction (within 3 std of a mode)
and reverse KL, for the raw generator (as the paper) and an EMA of it (0.999, reported beside; it does not change
training). Runs go to worker processes with one thread each (two 1-thread processes use 2 cores best); every
evaluation is appended to RESULTS/runs/*.jsonl as it happens, so an interrupted table keeps what it measured.

    python benchmarks/reproduce.py --seeds 3 --steps 40000 --eval-every 2000 --jobs 2
    python benchmarks/reproduce.py --summarize-only     # rebuild the table from the run files
    python benchmarks/reproduce.py --seeds 3 --steps 400000 --eval-every 2000 --jobs 2 --resume
                                                        # continue every run from its checkpoint to the paper's
                                                        # 400k steps (any number of pieces; equals one straight run)
    python benchmarks/reproduce.py --models wgan-gp --seeds 3 --steps 25000 --eval-every 1000 --jobs 1 --out DIR
                                                        # GDPP's WGAN-GP row (25k iterations)

Writes RESULTS/pacgan2d.json and RESULTS/pacgan2d.md (mean +- standard error over seeds, next to the papers' rows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "reproduce-pacgan2d"

#: Published 2-D results shown beside a (model, dataset) row: (source, its row, modes, high-quality %, reverse KL or
#: None, training iterations). PacGAN (Lin et al. 2018) Table 1: mean over 10 runs, 400k iterations. VEEGAN
#: (Srivastava et al. 2017) Table 1: mean over 5 runs, its own networks. GDPP (Elfeki et al. 2019) Table 1: 5 runs
#: of 25k iterations (networks in the authors' gdppgan_Synthetic.py); its first four rows are VEEGAN's.
PUBLISHED = {
    ("vanilla", "ring8"): [("PacGAN T1", "GAN", 6.3, 98.2, 0.45, "400k"), ("VEEGAN T1", "GAN", 1, 99.3, None, "-")],
    ("pacgan2", "ring8"): [("PacGAN T1", "PacGAN2", 7.9, 95.6, 0.07, "400k")],
    ("pacgan3", "ring8"): [("PacGAN T1", "PacGAN3", 7.8, 97.7, 0.10, "400k")],
    ("pacgan", "ring8"): [("PacGAN T1", "PacGAN4", 7.8, 95.9, 0.07, "400k")],
    ("wgan-gp", "ring8"): [("GDPP T1", "WGAN-GP", 6.8, 59.6, None, "25k")],
    ("vanilla", "grid25"): [("PacGAN T1", "GAN", 17.3, 94.8, 0.70, "400k"), ("VEEGAN T1", "GAN", 3.3, 0.5, None, "-")],
    ("pacgan2", "grid25"): [("PacGAN T1", "PacGAN2", 23.8, 91.3, 0.13, "400k")],
    ("pacgan3", "grid25"): [("PacGAN T1", "PacGAN3", 24.6, 94.2, 0.06, "400k")],
    ("pacgan", "grid25"): [("PacGAN T1", "PacGAN4", 24.8, 93.6, 0.04, "400k")],
    ("wgan-gp", "grid25"): [("GDPP T1", "WGAN-GP", 24.2, 28.7, None, "25k")],
}
#: Rows of those tables with no ganzoo model, printed for context: (source, row, ring8 modes, ring8 HQ %, grid25
#: modes, grid25 HQ %).
CONTEXT = [
    ("VEEGAN T1", "ALI", 2.8, 0.13, 15.8, 1.6),
    ("VEEGAN T1", "Unrolled GAN", 7.6, 35.6, 23.6, 16.0),
    ("VEEGAN T1", "VEEGAN", 8.0, 52.9, 24.6, 40.0),
    ("GDPP T1", "GDPP-GAN", 8.0, 71.7, 24.8, 68.5),
]
SOURCES = ("PacGAN T1: Lin et al. 2018, Table 1 (10 runs, 400k iterations). VEEGAN T1: Srivastava et al. 2017, "
           "Table 1 (5 runs; read from the authors' project page, akashgit/VEEGAN tab.png). GDPP T1: Elfeki et al. "
           "2019, Table 1 (arXiv v1; 5 runs of 25k iterations with the networks of the authors' "
           "gdppgan_Synthetic.py; its GAN/ALI/Unrolled/VEEGAN rows "
           "are VEEGAN's). All evaluate 2,500 samples, high quality within 3 std. The ring code of VEEGAN/GDPP "
           "places its 8 centres with linspace(0, 2pi, 8), so the first and last coincide up to float rounding "
           "(7 distinct places; their evaluator can still count 8 modes, since samples there split between the two "
           "near-equal centres), unlike PacGAN's ring and ours.")


def _published_text(entries) -> str:
    if not entries:
        return "-"
    parts = []
    for source, row, modes, hq, rkl, steps in entries:
        parts.append(f"{source} {row}: {modes} / {hq}" + (f" / {rkl}" if rkl is not None else "") + f" ({steps})")
    return "<br>".join(parts)


def _open_trainer(job: dict, run_dir: Path, progress):
    """A new run in `run_dir`, or (``job["resume"]`` and a checkpoint there) the run continued from it to
    ``job["steps"]``: its saved spec, optimiser moments, EMA, sampler and noise state, so a continued run equals an
    uninterrupted one (tested; for recipes whose schedules do not depend on the total steps, as the 2-D ones). The
    trainer evaluates through `progress` at every log point (= every ``--eval-every`` steps) and checkpoints right
    after. Refused with one line: continuing to fewer steps than the checkpoint's, and ``--resume`` of a run whose
    evaluations exist without a checkpoint (it would be started over, losing them)."""
    from ganzoo.errors import GanzooError
    from ganzoo.run.session import continue_run
    from ganzoo.run.trainer import Trainer
    from ganzoo.spec.config import TrainConfig
    from ganzoo.store.folder import RunFolder

    every, path = job["eval_every"], Path(job["path"])
    if job.get("resume") and RunFolder(run_dir).has_checkpoint():
        points = dict(log_every=every, checkpoint_every=every, sample_every=max(job["steps"], every))
        try:  # config.json is rewritten to say what the continued run is (steps, log/checkpoint points)
            return continue_run(run_dir, steps=job["steps"], overrides=points, progress=progress, finished_ok=True)
        except GanzooError as exc:
            raise SystemExit(f"{exc} (--steps {job['steps']})") from None
    if job.get("resume") and path.exists() and read_run(path)[1]:
        raise SystemExit(f"{path} has evaluations but {run_dir} has no checkpoint to continue from (runs made before "
                         f"reproduce.py kept checkpoints); move the file aside or run without --resume")
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)  # a run folder without a checkpoint (or without --resume) is started over
    cfg = TrainConfig(model=job["model"], dataset=job["dataset"], seed=job["seed"], steps=job["steps"],
                      precision=job["precision"], device="cpu", ema_decay=0.999, out=str(run_dir),
                      log_every=every, checkpoint_every=every, sample_every=max(job["steps"], every))
    return Trainer(cfg, progress=progress)


def run_one(job: dict) -> dict:
    """Train one (model, dataset, seed) with the trainer and append an evaluation line every `eval_every` steps; the
    run folder RESULTS/runs/<name>/ keeps a checkpoint from each evaluation, so ``--resume`` continues the run (to a
    larger ``--steps`` too) and the finished run works with ``ganzoo sample``/``ganzoo eval``."""
    import torch

    torch.set_num_threads(1)
    from ganzoo.metrics.modes import mode_metrics

    path = Path(job["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    eval_noise_seed = 1_000_003 + job["seed"]
    final: dict = {}
    state: dict = {}

    def evaluate(step: int) -> dict:
        trainer = state["trainer"]
        record = {"step": step, "seconds": round(state["offset"] + time.perf_counter() - state["start"], 2)}
        for label, net in (("raw", trainer.gan.generator), ("ema", trainer.update.ema.shadow)):
            gen = torch.Generator().manual_seed(eval_noise_seed)
            z = torch.randn(2500, trainer.spec.latent_dim, generator=gen)
            was = net.training
            net.eval()
            with torch.no_grad():
                samples = net(z).float()
            net.train(was)
            record[label] = mode_metrics(samples, trainer.dataset.centers, trainer.dataset.std)
            final[label] = samples
        return record

    def on_event(event: dict) -> None:
        if event["event"] == "log":  # log points are the evaluation points; the checkpoint follows
            state["file"].write(json.dumps(evaluate(event["step"])) + "\n")
            state["file"].flush()

    trainer = state["trainer"] = _open_trainer(job, path.with_suffix(""), on_event)
    try:
        kept, commands = [], []  # a continued run keeps its evaluations up to its checkpoint, their seconds and
        if trainer.start_step and path.exists():  # the commands that made them
            before, evals = read_run(path)
            kept = [e for e in evals if e["step"] <= trainer.start_step]
            commands = list((before or {}).get("commands", []))
        if job.get("command") and job["command"] not in commands:
            commands.append(job["command"])
        header = {"model": job["model"], "dataset": job["dataset"], "seed": job["seed"], "steps": job["steps"],
                  "precision": job["precision"], "spec": trainer.spec.to_dict(), "commands": commands}
        state["offset"] = kept[-1]["seconds"] if kept else 0.0
        state["start"] = time.perf_counter()
        with open(path, "w") as f:
            state["file"] = f
            for record in [{"header": header}, *kept]:
                f.write(json.dumps(record) + "\n")
            f.flush()
            if trainer.start_step < job["steps"]:
                trainer.fit()  # closes the trainer (and releases the folder's lock) however it ends
            else:
                evaluate(trainer.start_step)  # already there: evaluate the checkpoint for the plot
    finally:
        trainer.close()
    # the final raw samples as a scatter plot over the real data and the mode centres (the paper's figures)
    from ganzoo.store.images import save_samples

    data = trainer.dataset
    save_samples(final["raw"], path.with_suffix(".png"), real=data.data[:2500], centers=data.centers)
    return {"path": str(path), "seconds": time.perf_counter() - state["start"]}


def read_run(path: Path) -> tuple[dict, list[dict]]:
    header, evals = {}, []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut off by an interrupted run
        if "header" in record:
            header = record["header"]
        else:
            evals.append(record)
    return header, evals


def mean_se(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    m = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return m, se


def summarize(results: Path, command: str, wall: float | None = None) -> dict:
    groups: dict[tuple, list] = {}
    for path in sorted((results / "runs").glob("*.jsonl")):
        header, evals = read_run(path)
        if not header or not evals:
            continue
        groups.setdefault((header["model"], header["dataset"]), []).append((header, evals))
    rows, made_by = [], []
    for runs in groups.values():
        for header, _ in runs:
            made_by += [c for c in header.get("commands", []) if c not in made_by]
    for (model, dataset), runs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        complete = [(h, e) for h, e in runs if e[-1]["step"] == h["steps"]]
        row = {"model": model, "dataset": dataset, "seeds_total": len(runs), "seeds_complete": len(complete),
               "steps": runs[0][0]["steps"], "seconds_per_run": statistics.fmean(e[-1]["seconds"] for _, e in complete)
               if complete else None}
        for which in ("raw", "ema"):
            finals = [e[-1][which] for _, e in complete]
            for key in ("modes_captured", "high_quality_fraction", "reverse_kl"):
                row[f"{which}_{key}"] = mean_se([f[key] for f in finals])
        row["curve"] = {str(e["step"]): e["raw"]["high_quality_fraction"] for e in runs[0][1]}
        row["published"] = PUBLISHED.get((model, dataset))
        rows.append(row)
    summary = {"command": command, "made_by": made_by, "commit": _git("rev-parse", "--short", "HEAD"),
               "dirty": bool(_git("status", "--porcelain")),
               "machine": f"{platform.machine()} {os.cpu_count()} cores", "wall_seconds": wall, "rows": rows}
    (results / "pacgan2d.json").write_text(json.dumps(summary, indent=1) + "\n")
    (results / "pacgan2d.md").write_text(markdown(summary))
    return summary


def _fmt(pair: tuple, scale: float = 1.0, digits: int = 1) -> str:
    m, se = pair
    if m != m:
        return "-"
    return f"{m * scale:.{digits}f}" + ("" if se != se else f" ± {se * scale:.{digits}f}")


def markdown(summary: dict) -> str:
    lines = [
        "# The 2-D mixture tables (PacGAN, VEEGAN, GDPP) reproduced with ganzoo",
        "",
        *([f"Commands that made the runs: {', '.join(f'`{c}`' for c in summary['made_by'])}  "]
          if summary.get("made_by") else []),
        f"{'Summarised by' if summary.get('made_by') else 'Command'}: `{summary['command']}`  ",
        f"Commit: {summary['commit']}{' (with uncommitted changes)' if summary['dirty'] else ''}; "
        f"machine: {summary['machine']}; wall time of the whole table: "
        f"{'%.0f s' % summary['wall_seconds'] if summary['wall_seconds'] else 'n/a (summarised from run files)'}.",
        "",
        "Protocol: 2,500 samples from the final generator; high quality = within 3 std of the nearest centre; a mode "
        "is captured when it is the nearest centre of >= 1 high-quality sample; reverse KL = KL(generated mode "
        "histogram || uniform). Mean ± standard error over seeds. Raw = the generator itself (as the paper); "
        "EMA = an exponential moving average of it (decay 0.999), reported beside.",
        "",
        "| dataset | model | seeds | steps | modes (raw) | HQ % (raw) | reverse KL (raw) | modes (EMA) | HQ % (EMA) "
        "| reverse KL (EMA) | published: modes / HQ % / rKL (iterations) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        pub_text = _published_text(r["published"])
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['seeds_complete']}/{r['seeds_total']} | {r['steps']} | "
            f"{_fmt(r['raw_modes_captured'])} | {_fmt(r['raw_high_quality_fraction'], 100)} | "
            f"{_fmt(r['raw_reverse_kl'], 1, 3)} | {_fmt(r['ema_modes_captured'])} | "
            f"{_fmt(r['ema_high_quality_fraction'], 100)} | {_fmt(r['ema_reverse_kl'], 1, 3)} | {pub_text} |")
    lines += ["", "Published rows with no ganzoo model, for context (modes / HQ %):", "",
              "| source | row | ring8 | grid25 |", "|---|---|---|---|"]
    lines += [f"| {src} | {row} | {rm} / {rh} | {gm} / {gh} |" for src, row, rm, rh, gm, gh in CONTEXT]
    lines += ["", f"Sources: {SOURCES}", "",
              "Convergence (raw high-quality fraction of the first seed at each evaluation) is in pacgan2d.json "
              "(`curve`) and every evaluation of every run in runs/*.jsonl.", ""]
    return "\n".join(lines)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="vanilla,pacgan")
    p.add_argument("--datasets", default="ring8,grid25")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=40_000)
    p.add_argument("--eval-every", type=int, default=2_000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--summarize-only", action="store_true")
    p.add_argument("--resume", action="store_true",
                   help="continue each run from its checkpoint in OUT/runs/<name>/ (to --steps; a larger --steps "
                        "extends it) instead of starting over")
    args = p.parse_args(argv)
    command = "python benchmarks/reproduce.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.summarize_only:
        print(markdown(summarize(args.out, command)))
        return 0
    (args.out / "runs").mkdir(parents=True, exist_ok=True)
    jobs = [dict(model=m, dataset=d, seed=s, steps=args.steps, eval_every=args.eval_every, precision=args.precision,
                 resume=args.resume, path=str(args.out / "runs" / f"{d}-{m}-seed{s}.jsonl"), command=command)
            for s in range(args.seeds) for d in args.datasets.split(",") for m in args.models.split(",")]
    os.environ["OMP_NUM_THREADS"] = "1"
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for done in pool.map(run_one, jobs):
            print(f"done {done['path']} in {done['seconds']:.0f} s", flush=True)
            summarize(args.out, command, None)
    print(markdown(summarize(args.out, command, time.perf_counter() - start)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
