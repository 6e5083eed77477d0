"""The `ganzoo` command: run, list, plugins.

Every user error ends as one line on stderr and exit code 2 (`--debug` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Optional, Sequence

from rich.console import Console
from rich.table import Table

from ganzoo.errors import GanzooError, describe_os_error
from ganzoo.registry import KINDS, PLURALS, get_registry

EPILOG = "Docs: docs/usage.md (commands), docs/plugins.md (writing plugins), docs/api.md (Python API)."


class UsageError(GanzooError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line naming the problem and the fix, exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _number(kind: Callable, label: str, positive: bool = True, allow_zero: bool = False):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{label} must be a number, got {text!r}") from None
        if isinstance(value, float) and value != value:
            raise argparse.ArgumentTypeError(f"{label} must be a number, got {text!r}")
        if positive and (value < 0 or (value == 0 and not allow_zero)):
            raise argparse.ArgumentTypeError(f"{label} must be {'non-negative' if allow_zero else 'positive'}, got {text!r}")
        return value

    parse.__name__ = label
    return parse


positive_int = _number(int, "value")


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--dataset-shape must be C,H,W or D integers, got {text!r}") from None
    if len(shape) not in (1, 3) or any(v <= 0 for v in shape):
        raise argparse.ArgumentTypeError(f"--dataset-shape must be C,H,W or D positive integers, got {text!r}")
    return shape


def _precision_list(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in ("fp32", "tf32", "bf16", "fp16")]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"--precision takes a comma-separated list of fp32, tf32, bf16, fp16; got {text!r}")
    return values


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """`ganzoo run`'s options, generated from TrainConfig's fields (flag, help, kind and choices in their metadata),
    plus the CLI-only --resume, --from-previous, --restart and --quiet. Every default is None ("not given"), so
    --resume can tell what was passed and the config's own defaults apply exactly once."""
    from ganzoo.spec.config import cli_fields, flag_of

    for f in cli_fields():
        meta = f.metadata
        kind, flag, choices = meta.get("kind", "str"), flag_of(f), meta.get("choices")
        if flag == "MODEL":
            p.add_argument(f.name, nargs="?", help=meta["help"])
            continue
        options: dict = {"dest": f.name, "default": None, "help": meta["help"]}
        if kind == "bool":
            options["action"] = "store_true"
        elif kind == "list":
            options["action"] = "append" if meta.get("repeat") else "store"
            options["metavar"] = "NAME[:key=value,...]"
        else:
            options["type"] = _KINDS.get(kind, lambda label: str)(flag)
            if choices:
                options["choices"] = list(choices)
            else:
                options["metavar"] = _METAVARS.get(kind, f.name.split("_")[-1].upper())
        p.add_argument(flag, **options)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint (its settings "
                                                      "come from RUN_DIR/config.json; only --steps may be given)")
    p.add_argument("--from-previous", action="store_true",
                   help="with --resume: continue from checkpoint.prev.pt (the checkpoint before the last one)")
    p.add_argument("--restart", action="store_true",
                   help="start over: with --resume DIR, from step 0 with DIR's config.json; with --out DIR, a new run "
                        "in DIR. The old files are moved aside into DIR/.restarted-<time>/, never deleted")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")


_METAVARS = {"int": "N", "int0": "N", "float": "X", "float0": "X"}

_KINDS: dict = {
    "int": lambda label: _number(int, label),
    "int0": lambda label: _number(int, label, allow_zero=True),
    "float": lambda label: _number(float, label),
    "float0": lambda label: _number(float, label, allow_zero=True),
}


def _add_eval_arguments(p: argparse.ArgumentParser, samples_flag: str = "--eval-samples") -> None:
    p.add_argument(samples_flag, dest="eval_samples", type=_number(int, samples_flag),
                   help="generated samples per evaluation (default 2000 images, 2500 points)")
    p.add_argument("--feature-extractor", help="feature extractor for image metrics (default: inception when its "
                                               "weights are available, else classifier)")
    p.add_argument("--inception-weights", metavar="PATH",
                   help="FID InceptionV3 weights for --feature-extractor inception: pt_inception-2015-12-05-6726825d.pth "
                        "(pytorch-fid's release; docs/metrics.md says where to get it)")


def build_parser() -> Parser:
    parser = Parser(prog="ganzoo", description="A plugin-based GAN zoo with one shared trainer.", epilog=EPILOG)
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    run = sub.add_parser("run", help="train a model", description="Train a registered model (or a mix of components).")
    _add_run_arguments(run)

    lst = sub.add_parser("list", help="list registered models, components and datasets")
    lst.add_argument("kind", nargs="?", choices=list(PLURALS.values()), help="only this kind")

    sub.add_parser("plugins", help="show every plugin, its distribution and what it registered")

    ev = sub.add_parser("eval", help="measure a run's quality metrics", description="Load a run's checkpoint (EMA "
                        "generator when present), generate samples and measure them against the dataset.")
    ev.add_argument("run_dir", help="a run folder")
    _add_eval_arguments(ev, "--samples")
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    bn = sub.add_parser("bench", help="time training steps against eager and tuned-eager reference loops",
                        description="Time the trainer's full training step (D and G updates, the recipe's n_critic) "
                                    "per precision and compile setting, interleaved in rounds with a plain eager-fp32 "
                                    "loop and a tuned eager loop (autocast, channels-last, fused Adam) on the same "
                                    "modules; speedups are per-round ratios, reported as median and spread.")
    bn.add_argument("model", nargs="?", help="a registered model (or --all)")
    bn.add_argument("--all", action="store_true", help="every registered model that builds for the shape")
    bn.add_argument("--rounds", type=_number(int, "--rounds"), default=5,
                    help="interleaved timing rounds; spreads are over rounds (default 5)")
    bn.add_argument("--memory", choices=["on", "off"], default="on",
                    help="peak memory per setting, each in a fresh process (default on)")
    bn.add_argument("--peak-size", type=_number(int, "--peak-size"),
                    help="side of the matrix product that measures the FLOP/s peak (default 2048 CPU, 8192 GPU)")
    bn.add_argument("--dataset-shape", default="3,32,32", type=_shape, help="C,H,W of the synthetic data (default 3,32,32)")
    bn.add_argument("--batch-size", type=_number(int, "--batch-size"), default=64)
    bn.add_argument("--steps", type=_number(int, "--steps"), default=10, help="timed steps per setting per round (default 10)")
    bn.add_argument("--warmup", type=_number(int, "--warmup", allow_zero=True), default=5)
    bn.add_argument("--precision", type=_precision_list, help="comma-separated (default: every one the device supports)")
    bn.add_argument("--compile", choices=["off", "on", "both"], default="both")
    bn.add_argument("--device", default="auto")
    bn.add_argument("--channels-last", choices=["auto", "on", "off"], default="auto")
    bn.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    bn.add_argument("--out", help="also write the JSON to this file")

    rp = sub.add_parser("report", help="bench JSON, quality JSON and runs into a Markdown report and an HTML page")
    rp.add_argument("inputs", nargs="+", help="bench JSON files (ganzoo bench --out, --all), quality results JSON "
                                              "(benchmarks/quality.py) and run folders")
    rp.add_argument("--out", default="report.md", help="Markdown file; the HTML page goes beside it (default report.md)")

    pr = sub.add_parser("prepare", help="decode and resize a dataset once into a memory-mappable uint8 cache",
                        description="Decode and resize an image folder (PATH or folder:PATH; class sub-folders become "
                                    "labels) or a registered image dataset once, into a uint8 cache that runs read with "
                                    "--dataset PATH (in memory when it fits, streamed from disk when not). Unreadable "
                                    "images are skipped and named.")
    pr.add_argument("spec", help="an image folder, folder:PATH, or a registered image dataset (mnist, cifar10, ...)")
    pr.add_argument("--image-size", required=True, type=_number(int, "--image-size"), help="square size in pixels")
    pr.add_argument("--out", help="output folder (default ./NAME-SIZEpx)")
    pr.add_argument("--workers", type=_number(int, "--workers"), help="decoding threads (default: CPU cores, up to 8)")
    pr.add_argument("--data-dir", help="where a registered dataset's files are (as for `ganzoo run`)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")

    new = sub.add_parser("new-plugin", help="write a plugin package skeleton that installs and passes its tests")
    new.add_argument("name", help="the model name, e.g. hinge-gan (package ganzoo-NAME)")
    new.add_argument("--dir", help="where to write it (default ./ganzoo-NAME)")
    _add_use_parsers(sub)
    return parser


# -- commands ------------------------------------------------------------------------------------------------------
def _run_keys() -> tuple[str, ...]:
    from ganzoo.spec.config import cli_fields

    return tuple(f.name for f in cli_fields())


#: the TrainConfig fields `ganzoo run` takes (all of them)
RUN_KEYS = _run_keys()


def cmd_run(args, console: Console, err: Console) -> int:
    from ganzoo.spec.config import TrainConfig, cli_fields, flag_of
    from ganzoo.run.trainer import Trainer, resume

    show = not args.quiet
    say = (lambda line: err.print(f"[yellow]notice:[/] {line}", highlight=False, soft_wrap=True))
    if args.from_previous and not args.resume:
        raise UsageError("--from-previous goes with --resume RUN_DIR (it picks that run's checkpoint.prev.pt)")
    if args.resume:
        given = [flag_of(f) for f in cli_fields() if f.name != "steps" and getattr(args, f.name) is not None]
        if given:
            raise UsageError(f"--resume takes its settings from the run folder; drop {', '.join(given)}")
        if args.from_previous and args.restart:
            raise UsageError("--restart starts over from step 0 and --from-previous continues from an older "
                             "checkpoint; pass one of them")
        result = resume(Path(args.resume), steps=args.steps, progress=show, console=err,
                        from_previous=args.from_previous, restart=args.restart, notice=say)
    else:
        settings = {k: getattr(args, k) for k in RUN_KEYS if getattr(args, k) is not None}
        if args.restart and not settings.get("out"):
            raise UsageError("--restart needs the folder to start over in: --out DIR (or --resume DIR)")
        trainer = Trainer(TrainConfig(**settings), progress=show, console=err, restart=args.restart, notice=say)
        _problems_note(err)
        result = trainer.fit()
    from ganzoo.engine.distributed import finish

    finish()  # under torchrun: every rank leaves together; a no-op otherwise
    if os.environ.get("RANK", "0") != "0":  # rank 0 alone reports
        return 0
    if show:
        console.print(summary_table(result))
        if result.eval:
            console.print(eval_table(result.eval))
    else:
        console.print(str(result.run_dir))
    return 0


def dataset_row(dataset: dict) -> str:
    """`folder:/x (3, 64, 64) x 20,000, uint8 246 MB, memory (cache 1aee2dd4e6cc)` or `..., stream from 2.50 GB
    (2 workers, 4 batches ahead)`: what the data is and where batches come from."""
    from ganzoo.data.memory import human_bytes

    text = f"{dataset['name']} {tuple(dataset['shape'])} x {int(dataset.get('size', 0)):,}"
    mode = dataset.get("mode")
    if dataset.get("dtype"):
        text += f", {dataset['dtype']}"
        if mode != "stream" and dataset.get("bytes") is not None:
            text += f" {human_bytes(dataset['bytes'])}"
    if mode == "stream":
        text += f", stream from {human_bytes(dataset.get('bytes', 0))}"
        if dataset.get("workers") is not None:
            text += f" ({dataset['workers']} workers, {dataset.get('prefetch', '?')} batches ahead)"
    elif mode:
        text += f", {mode}"
        if dataset.get("cache_hash"):
            text += f" (cache {str(dataset['cache_hash'])[:12]})"
    if dataset.get("mirror"):
        text += ", x-flips"
    return text


def summary_table(result) -> Table:
    cfg = result.config
    hp = cfg["hyperparameters"]
    table = Table(title=f"ganzoo run {cfg['model']}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    rows = [
        ("components", ", ".join(f"{k}={v}" for k, v in cfg["components"].items())),
        ("dataset", dataset_row(cfg["dataset"])),
        ("device / precision", f"{cfg['device']} ({cfg['device_name']}) / {cfg['precision']}"
                               f"{', channels_last' if cfg['channels_last'] else ''}"
                               f"{', torch.compile' if cfg.get('compile') else ''}"),
        ("schedule", f"{result.step} steps, batch {hp['batch_size']}, n_critic {hp['n_critic']}, "
                     f"lr G {hp['lr_g']:g} D {hp['lr_d']:g}, {_betas(hp)}"
                     f"{', EMA ' + format(hp['ema_decay'], 'g') if hp['ema_decay'] else ''}"),
    ]
    extensions = _extensions_row(cfg.get("spec", {}))
    if extensions:
        rows.append(("extensions", extensions))
    m = result.last_metrics
    if m:
        rows.append(("final losses", f"D {m['loss_d']:.4f}  G {m['loss_g']:.4f}"))
    rows.append(("throughput", f"{result.images_per_second:,.0f} real img/s over {result.seconds:.1f} s "
                               f"(incl. sampling and checkpoints)"))
    rows.append(("run folder", str(result.run_dir)))
    rows += [("notice", n) for n in cfg.get("notices", [])]
    for k, v in rows:
        table.add_row(k, v)
    return table


def _extensions_row(spec: dict) -> str:
    """`regularizers r1(gamma=10, every=16); augment ada; constraints clip(bound=0.01)`: what runs beside the loss."""
    def label(c: dict) -> str:
        options = c.get("options") or {}
        return c["name"] + (f"({', '.join(f'{k}={v}' for k, v in options.items())})" if options else "")

    parts = []
    for key, title in (("regularizers", "regularizers"), ("schedules", "schedules"), ("constraints", "constraints")):
        if spec.get(key):
            parts.append(f"{title} {', '.join(label(c) for c in spec[key])}")
    if spec.get("augment"):
        parts.append(f"augment {label(spec['augment'])}")
    return "; ".join(parts)


def _betas(hp: dict) -> str:
    g, d = hp.get("betas_g", hp.get("betas")), hp.get("betas_d", hp.get("betas"))
    if g is None and d is None:
        return "no betas"
    if g == d:
        return f"betas {tuple(g)}"
    return f"betas G {tuple(g) if g is not None else '-'} D {tuple(d) if d is not None else '-'}"


METRIC_ROWS = [
    ("fid", "FID (lower is better)"), ("kid_mean", "KID mean"), ("kid_std", "KID std"),
    ("is_mean", "Inception Score mean"), ("is_std", "Inception Score std"), ("precision", "precision (k=3)"),
    ("recall", "recall (k=3)"), ("density", "density (k=5)"), ("coverage", "coverage (k=5)"),
    ("modes_captured", "modes captured"), ("high_quality_fraction", "high-quality samples"),
    ("reverse_kl", "reverse KL (modes)"),
]


def eval_table(metrics: dict) -> Table:
    how = f"{metrics.get('num_samples', '?')} samples"
    if "feature_extractor" in metrics:
        how += f", {metrics['feature_extractor']}: {metrics.get('feature_extractor_info', '')}"
    table = Table(title=f"quality at step {metrics.get('step', '?')}", caption=how, title_justify="left",
                  caption_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in METRIC_ROWS:
        if key in metrics:
            value = metrics[key]
            if key == "modes_captured":
                text = f"{value} / {metrics.get('modes_total', '?')}"
            elif key == "high_quality_fraction":
                text = f"{value:.1%}"
            else:
                text = f"{value:.4g}"
            table.add_row(label, text)
    return table


def cmd_eval(args, console: Console, err: Console) -> int:
    import json

    from ganzoo.use.evaluate import evaluate_run
    from ganzoo.store.folder import jsonable

    result = evaluate_run(Path(args.run_dir), samples=args.eval_samples, feature_extractor=args.feature_extractor,
                          weights=args.inception_weights)
    if args.json:
        print(json.dumps(jsonable(result)))
    else:
        console.print(eval_table(result))
    return 0


def bench_table(report: dict) -> Table:
    from ganzoo.tools.report import bench_rows, bench_title

    table = Table(title=f"ganzoo bench {bench_title(report)}", title_justify="left", caption_justify="left",
                  caption=f"torch {report['torch']}; {report['warmup']} warm-up steps per setting; speedups: median "
                          f"of per-round ratios (min-max over rounds); MFU = FLOP/s over the peak of the setting's "
                          f"precision; peak MB: {report.get('memory', {}).get('kind', 'not measured')}")
    header, rows = bench_rows(report)
    for col in header:
        table.add_column(col, justify="left" if col == "setting" else "right")
    for row in rows:
        table.add_row(*row)
    return table


def cmd_bench(args, console: Console, err: Console) -> int:
    import json

    from ganzoo.tools.bench import BenchOptions, bench, bench_zoo

    if bool(args.model) == bool(args.all):
        raise UsageError("name one model to bench, or pass --all for every registered model (not both)")
    compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    options = BenchOptions(model=args.model or "", shape=args.dataset_shape, batch_size=args.batch_size,
                           steps=args.steps, warmup=args.warmup, rounds=args.rounds, precisions=args.precision,
                           compile=compiles, device=args.device, channels_last=args.channels_last,
                           memory=args.memory == "on", peak_size=args.peak_size)
    quiet = args.json
    say = None if quiet else (lambda m: err.print(f"[dim]{m}[/]", highlight=False))
    report = bench_zoo(options, progress=say) if args.all else bench(options, progress=say)
    report["command"] = "ganzoo " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("ganzoo") else None
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    if args.json:
        print(text)
    else:
        for one in report.get("benches", [report]):
            console.print(bench_table(one))
            for r in one["results"]:
                for notice in r.get("notices", []):
                    err.print(f"[yellow]notice ({one['model']} {r['setting']}):[/] {notice}", highlight=False)
            for f in one.get("failed", []):
                err.print(f"[yellow]failed ({one['model']} {f['setting']}):[/] {f['error']}", highlight=False)
        for s in report.get("skipped", []):
            err.print(f"[yellow]skipped {s['model']}:[/] {s['reason']}", highlight=False)
    return 0


def cmd_report(args, console: Console, err: Console) -> int:
    from ganzoo.store.checkpoint import atomic_write_bytes
    from ganzoo.tools.report import build_report

    markdown, page, tables = build_report([Path(p) for p in args.inputs])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, markdown.encode())
    atomic_write_bytes(out.with_suffix(".html"), page.encode())
    for title, header, rows in tables:
        table = Table(title=title, title_justify="left")
        for h in header:
            table.add_column(h)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(f"wrote {out} and {out.with_suffix('.html')}")
    return 0


def _problems_note(err: Console) -> None:
    for line in get_registry().problems():
        err.print(f"[yellow]warning:[/] {line}", highlight=False)


def cmd_list(args, console: Console, err: Console) -> int:
    registry = get_registry()
    singular = {plural: kind for kind, plural in PLURALS.items()}
    kinds = [singular[args.kind]] if args.kind else list(KINDS)
    for kind in kinds:
        table = Table(title=PLURALS[kind], title_justify="left")
        table.add_column("name", style="bold cyan")
        table.add_column("description")
        table.add_column("from")
        for name in registry.names(kind):
            entry = registry.entries[kind][name]
            table.add_row(name, entry.description, f"{entry.distribution or entry.plugin}")
        console.print(table)
    _problems_note(err)
    return 0


def cmd_plugins(args, console: Console, err: Console) -> int:
    registry = get_registry()
    table = Table(title="ganzoo plugins (entry-point group 'ganzoo')", title_justify="left")
    for col in ("plugin", "module", "distribution", "version", "registered", "status"):
        table.add_column(col)
    for info in sorted(registry.plugins.values(), key=lambda i: i.name):
        by_kind: dict[str, list[str]] = {}
        for kind, name in info.registered:
            by_kind.setdefault(PLURALS[kind], []).append(name)
        registered = "; ".join(f"{k}: {', '.join(v)}" for k, v in by_kind.items()) or "-"
        status = "[green]ok[/]" if info.ok else f"[red]{len(info.errors)} problem(s), below[/]"
        table.add_row(info.name, info.module, info.distribution or "-", info.version or "-", registered, status)
    console.print(table)
    for line in registry.problems():
        console.print(f"[red]problem:[/] {line}", highlight=False, soft_wrap=True)
    selection = os.environ.get("GANZOO_PLUGINS")
    if selection is not None:
        console.print(f"GANZOO_PLUGINS={selection!r}: only these plugins were loaded")
    return 0


def cmd_new_plugin(args, console: Console, err: Console) -> int:
    from ganzoo.tools.scaffold import write_plugin

    root = write_plugin(args.name, Path(args.dir) if args.dir else None)
    console.print(f"wrote {root}/  next: cd {root} && pip install -e '.[test]' && pytest && ganzoo run {args.name}")
    return 0


def cmd_prepare(args, console: Console, err: Console) -> int:
    from ganzoo.data.prepared import run_prepare, skipped_line
    from ganzoo.data.memory import human_bytes

    report = run_prepare(args.spec, args.image_size, out=args.out, workers=args.workers, data_dir=args.data_dir,
                         progress=not args.quiet)
    n, c, h, w = report.shape
    if report.skipped:
        err.print(f"[yellow]warning:[/] {skipped_line(report.skipped, n + len(report.skipped))}", highlight=False,
                  soft_wrap=True)
    console.print(f"prepared {n:,} images {c}x{h}x{w} ({human_bytes(report.nbytes)}) in {report.seconds:.1f} s "
                  f"into {report.path} (hash {report.content_hash[:12]}); train on it with "
                  f"`ganzoo run MODEL --dataset {report.path}`", highlight=False, soft_wrap=True)
    return 0


COMMANDS = {"report": cmd_report, "bench": cmd_bench, "eval": cmd_eval, "run": cmd_run, "list": cmd_list, "plugins": cmd_plugins, "new-plugin": cmd_new_plugin, "prepare": cmd_prepare}


# -- using a trained run: sample, interpolate, export -----------------------------------------------------------------
def _labels(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--labels takes comma-separated class numbers, e.g. 3,3,7; got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"--labels takes non-negative class numbers, e.g. 3,3,7; got {text!r}")
    return values


def _add_use_parsers(sub) -> None:
    def common(p):
        p.add_argument("run_dir", help="a run folder (ganzoo run --out)")
        p.add_argument("--seed", type=_number(int, "--seed", allow_zero=True), help="same seed, same output (default: random)")
        p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
        p.add_argument("--no-ema", action="store_true", help="use the raw generator even when the run kept an EMA one")

    sp = sub.add_parser("sample", help="draw samples from a trained run", description="Draw samples from a run's "
                        "generator (EMA when kept): a PNG grid (.png), one PNG per sample (a folder: DIR/ or no "
                        "suffix) or float arrays (.npz); 2-D runs: a scatter plot (.png) or .npz.")
    common(sp)
    sp.add_argument("-n", type=_number(int, "-n"), help="how many (default 64)")
    which = sp.add_mutually_exclusive_group()
    which.add_argument("--labels", type=_labels, help="conditional runs: these classes, e.g. 3,3,7")
    which.add_argument("--per-class", type=_number(int, "--per-class"), metavar="K",
                       help="conditional runs: K samples of every class, one grid row per class")
    sp.add_argument("--out", required=True, help="grid.png, samples.npz or a folder DIR/")

    ip = sub.add_parser("interpolate", help="walk between random latents (slerp)", description="Spherical "
                        "interpolation between pairs of random latents, one walk per row (one class per row for "
                        "conditional runs): a PNG grid, an animated GIF, or .npz.")
    common(ip)
    ip.add_argument("--steps", type=_number(int, "--steps"), default=8, help="points per walk, ends included (default 8)")
    ip.add_argument("--rows", type=_number(int, "--rows"), help="walks (default 4; conditional runs: one per class)")
    ip.add_argument("--out", required=True, help="walk.png, walk.gif or walk.npz")

    ep = sub.add_parser("export", help="write the generator for use without ganzoo", description="Write the "
                        "generator (EMA when kept) as safetensors weights, TorchScript or ONNX, with PATH.json "
                        "describing its inputs and output.")
    ep.add_argument("run_dir", help="a run folder")
    ep.add_argument("--format", required=True, choices=["safetensors", "torchscript", "onnx"])
    ep.add_argument("--out", required=True, help="the file to write, e.g. generator.onnx")
    ep.add_argument("--no-ema", action="store_true", help="export the raw generator even when the run kept an EMA one")


def cmd_sample(args, console: Console, err: Console) -> int:
    from ganzoo.use.load import load
    from ganzoo.use.sampling import draw, generate, per_class_labels, write_samples

    gan = load(args.run_dir, device=args.device, ema=not args.no_ema)
    labels, nrow = args.labels, None
    if args.per_class:
        labels, nrow = per_class_labels(gan, args.per_class), args.per_class
    z, y = draw(gan, args.n, labels, args.seed)
    out = write_samples(generate(gan, z, y), args.out, nrow=nrow, latents=z, labels=y)
    console.print(f"wrote {len(z)} samples of {gan.name} ({gan.loaded_from['weights']} weights, step "
                  f"{gan.loaded_from['step']}) to {out}", highlight=False)
    return 0


def cmd_interpolate(args, console: Console, err: Console) -> int:
    from ganzoo.use.load import load
    from ganzoo.use.sampling import interpolate, write_walk

    gan = load(args.run_dir, device=args.device, ema=not args.no_ema)
    walk, labels = interpolate(gan, steps=args.steps, rows=args.rows, seed=args.seed)
    out = write_walk(walk, args.out, labels)
    console.print(f"wrote {walk.shape[0]} walks of {walk.shape[1]} steps to {out}", highlight=False)
    return 0


def cmd_export(args, console: Console, err: Console) -> int:
    from ganzoo.use.export import export
    from ganzoo.use.load import load

    gan = load(args.run_dir, ema=not args.no_ema)
    out = export(gan, args.out, args.format)
    console.print(f"wrote {out} and {out.name}.json ({args.format}, {gan.loaded_from['weights']} weights)", highlight=False)
    return 0


COMMANDS.update({"sample": cmd_sample, "interpolate": cmd_interpolate, "export": cmd_export})


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    # Piped output (files, CI logs) gets wide tables instead of rich's 80-column default.
    console = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    try:
        args = build_parser().parse_args(argv)
        if args.version:
            from ganzoo.version import __version__

            console.print(f"ganzoo {__version__}")
            return 0
        if not args.command:
            build_parser().print_help()
            return 2
        return COMMANDS[args.command](args, console, err)
    except GanzooError as exc:
        if os.environ.get("RANK", "0") != "0" and getattr(exc, "exit_code", 2) == 130:
            return exc.exit_code  # rank 0 says it once
        if debug:
            traceback.print_exc()
        err.print(f"[bold red]ganzoo: error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("ganzoo: interrupted", highlight=False)
        return 130
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if debug:
            traceback.print_exc()
        message = describe_os_error(exc) if isinstance(exc, OSError) else None
        if message is not None:  # disk full, read-only, permissions, a file where a folder goes: the user can fix it
            err.print(f"[bold red]ganzoo: error:[/] {message}", highlight=False, soft_wrap=True)
            return 2
        err.print(
            f"[bold red]ganzoo: internal error:[/] {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            f"(rerun with --debug for the traceback and report it)", highlight=False, soft_wrap=True)
        return 1
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
