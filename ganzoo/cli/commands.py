"""The `ganzoo` command: run, list, plugins.

Every user error ends as one line on stderr and exit code 2 (`--debug` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Callable, Optional, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ganzoo.cli.options import COMMANDS as DECLARATIONS
from ganzoo.cli.options import GlobalOptions
from ganzoo.cli.suite import cmd_suite
from ganzoo.cli.termination import TorchrunTermination
from ganzoo.errors import GanzooError, describe_lost_peer, describe_memory_error, describe_os_error, in_torchrun_job
from ganzoo.registry import KINDS, PLURALS, get_registry
from ganzoo.spec.config import TrainConfig, cli_fields, flag_of
from ganzoo.spec.runspec import valid_betas

EPILOG = "Docs: docs/usage.md (commands), docs/plugins.md (writing plugins), docs/api.md (Python API)."


class UsageError(GanzooError):
    pass


def refuse_run_file(out) -> None:
    """Stop an --out that would overwrite a run folder's own files (or the folder itself), symlinks resolved:
    exporting onto checkpoint.pt or reporting onto config.json would silently destroy the run."""
    from ganzoo.store.folder import is_run_file

    if out is not None and is_run_file(out):
        raise UsageError(f"--out {str(out)!r} is a run folder or one of its own files; write elsewhere, "
                         f"e.g. --out exports/{Path(str(out).rstrip('/')).name or 'out'}")


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
            sign = "non-negative" if allow_zero else "positive"
            raise argparse.ArgumentTypeError(f"{label} must be {sign}, got {text!r}")
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


def _betas_arg(label: str):
    def parse(text: str) -> list[float]:
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            values = []
        if not valid_betas(values):
            raise argparse.ArgumentTypeError(f"{label} takes two numbers in [0, 1), e.g. 0.5,0.9; got {text!r}")
        return values
    return parse


def _precision_list(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in ("fp32", "tf32", "bf16", "fp16")]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"--precision takes a comma-separated list of fp32, tf32, bf16, fp16; "
                                         f"got {text!r}")
    return values


def add_options(p: argparse.ArgumentParser, declaration: type, *, not_given_as_none: bool = False) -> None:
    """Add one argument per field of `declaration` (a TrainConfig or ganzoo.cli.options dataclass), from the
    field's metadata: flag, help, kind (its parser), choices, positional/nargs/metavar/required, and a mutually
    exclusive group. With `not_given_as_none` every default is None ("not given"), so `ganzoo run --resume` can tell
    what was passed and TrainConfig's own defaults apply exactly once."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for f in fields(declaration):
        meta = f.metadata
        kind, choices = meta.get("kind", "str"), meta.get("choices")
        default = None if not_given_as_none else (f.default if f.default is not MISSING else None)
        if meta.get("flag") == "model" or meta.get("positional"):
            options: dict = {"help": meta["help"], "nargs": "?" if meta.get("flag") == "model" else meta.get("nargs")}
            if choices:
                options["choices"] = list(choices)
            if options["nargs"] in ("?", "*"):
                options["default"] = default
            p.add_argument(f.name, **{k: v for k, v in options.items() if v is not None or k == "default"})
            continue
        flag = flag_of(f)
        options = {"dest": f.name, "default": default, "help": meta["help"]}
        if kind == "bool":
            options["action"] = "store_true"
            options["default"] = None if not_given_as_none else bool(default)
        elif kind == "list":
            options["action"] = "append" if meta.get("repeat") else "store"
            options["metavar"] = meta.get("metavar") or "NAME[:key=value,...]"
        else:
            options["type"] = _PARSERS.get(kind, lambda label: str)(flag)
            if choices:
                options["choices"] = list(choices)
            else:
                options["metavar"] = meta.get("metavar") or _METAVARS.get(kind, f.name.split("_")[-1].upper())
        if meta.get("required"):
            options["required"] = True
        target = p
        if meta.get("group"):
            if meta["group"] not in groups:
                groups[meta["group"]] = p.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        target.add_argument(flag, **options)


_METAVARS = {"int": "N", "int0": "N", "float": "X", "float0": "X", "shape": "C,H,W", "precisions": "LIST",
             "labels": "LIST", "betas": "B1,B2"}

#: kind -> (flag -> argparse type)
_PARSERS: dict = {
    "int": lambda label: _number(int, label),
    "int0": lambda label: _number(int, label, allow_zero=True),
    "float": lambda label: _number(float, label),
    "float0": lambda label: _number(float, label, allow_zero=True),
    "shape": lambda label: _shape,
    "betas": _betas_arg,
    "precisions": lambda label: _precision_list,
    "labels": lambda label: _labels,
}


def build_parser() -> Parser:
    """The `ganzoo` parser, generated: `run` from TrainConfig + RunCommand, every other command from its
    declaration in ganzoo.cli.options."""
    parser = Parser(prog="ganzoo", description="A plugin-based GAN zoo with one shared trainer.", epilog=EPILOG)
    add_options(parser, GlobalOptions)
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for name, (declaration, help, description) in DECLARATIONS.items():
        command = sub.add_parser(name, help=help, description=description or help[:1].upper() + help[1:] + ".")
        if name == "run":
            add_options(command, TrainConfig, not_given_as_none=True)
        add_options(command, declaration)
    return parser


# -- commands ------------------------------------------------------------------------------------------------------
#: the TrainConfig fields `ganzoo run` takes (all of them)
RUN_KEYS = tuple(f.name for f in fields(TrainConfig))


def cmd_run(args, console: Console, err: Console) -> int:
    refuse_bad_selection()
    from ganzoo.run.session import resume
    from ganzoo.run.trainer import Trainer
    from ganzoo.spec.config import TrainConfig, flag_of

    show = not args.quiet
    say = (lambda line: err.print(f"[yellow]notice:[/] {escape(str(line))}", highlight=False, soft_wrap=True))
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
        console.print(str(result.run_dir), markup=False, highlight=False)
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
    hp = result.hyperparameters
    table = Table(title=Text(f"ganzoo run {cfg['model']}"), show_header=False, title_justify="left")
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
    for k, v in rows:  # values hold user text (paths, names, notices): plain text, never markup
        table.add_row(k, Text(str(v)))
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
    ("kid_subset_size", "KID subset size"),
    ("is_mean", "Inception Score mean"), ("is_std", "Inception Score std"), ("precision", "precision (k=3)"),
    ("recall", "recall (k=3)"), ("density", "density (k=5)"), ("coverage", "coverage (k=5)"),
    ("modes_captured", "modes captured"), ("high_quality_fraction", "high-quality samples"),
    ("reverse_kl", "reverse KL (modes)"),
]


def eval_table(metrics: dict) -> Table:
    from ganzoo.metrics.protocol import card_text

    if "protocol" in metrics:
        how = "protocol: " + card_text(metrics["protocol"])
    else:  # a record from before protocol cards
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

    from ganzoo.store.folder import jsonable
    from ganzoo.use.evaluate import evaluate_run

    result = evaluate_run(Path(args.run_dir), samples=args.samples, feature_extractor=args.feature_extractor,
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


def lazy_cost_lines(report: dict) -> list[str]:
    """One line per trainer setting: what a step with each lazy regulariser costs against a plain step."""
    lines = []
    for row in report.get("results", []):
        lazy = row.get("lazy")
        if not lazy or row.get("kind") != "trainer" or not lazy.get("plain_step_ms"):
            continue
        parts = [f"{name} (every {lazy['every'][name]}): {d['x_plain']:.1f}x over {d['steps']} steps"
                 for name, d in lazy["due"].items() if d.get("x_plain")]
        if parts:
            lines.append(f"{row['setting']}: a plain step {lazy['plain_step_ms']:.3g} ms; a step with " +
                         ", ".join(parts) + f"; FLOPs averaged over {report.get('flops_averaged_over_steps')} steps")
    return lines


def cmd_bench(args, console: Console, err: Console) -> int:
    import json

    from ganzoo.tools.bench import BenchOptions, bench, bench_zoo

    if bool(args.model) == bool(args.all):
        raise UsageError("name one model to bench, or pass --all for every registered model (not both)")
    options = BenchOptions(**{f.name: getattr(args, f.name) for f in fields(BenchOptions)})
    options.model = options.model or ""
    quiet = args.json
    say = None if quiet else (lambda m: err.print(f"[dim]{escape(str(m))}[/]", highlight=False))
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
            for line in lazy_cost_lines(one):
                console.print(line, markup=False, highlight=False)
            for r in one["results"]:
                for notice in r.get("notices", []):
                    err.print(f"[yellow]notice ({escape(str(one['model']))} {escape(str(r['setting']))}):[/] "
                              f"{escape(str(notice))}", highlight=False)
            for f in one.get("failed", []):
                err.print(f"[yellow]failed ({escape(str(one['model']))} {escape(str(f['setting']))}):[/] "
                          f"{escape(str(f['error']))}", highlight=False)
        for s in report.get("skipped", []):
            err.print(f"[yellow]skipped {escape(str(s['model']))}:[/] {escape(str(s['reason']))}", highlight=False)
    return 0


def cmd_report(args, console: Console, err: Console) -> int:
    refuse_run_file(args.out)
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
    console.print(f"wrote {out} and {out.with_suffix('.html')}", markup=False, highlight=False)
    return 0


def refuse_bad_selection() -> None:
    """GANZOO_PLUGINS naming no installed plugin is the user's error: say so before anything else fails for it."""
    problem = get_registry().selection_problem()
    if problem:
        raise UsageError(problem)


def _problems_note(err: Console) -> None:
    for line in get_registry().problems():
        err.print(f"[yellow]warning:[/] {escape(str(line))}", highlight=False)


def cmd_list(args, console: Console, err: Console) -> int:
    refuse_bad_selection()
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
            table.add_row(Text(name), Text(str(entry.description)), Text(f"{entry.distribution or entry.plugin}"))
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
        table.add_row(*(Text(str(v)) for v in (info.name, info.module, info.distribution or "-", info.version or "-",
                                                registered)), status)
    console.print(table)
    for line in registry.problems():
        console.print(f"[red]problem:[/] {escape(str(line))}", highlight=False, soft_wrap=True)
    selection = os.environ.get("GANZOO_PLUGINS")
    if selection is not None:
        console.print(f"GANZOO_PLUGINS={selection!r}: only these plugins were loaded", markup=False, highlight=False)
    return 0


def cmd_new_plugin(args, console: Console, err: Console) -> int:
    from ganzoo.tools.scaffold import write_plugin

    root = write_plugin(args.name, Path(args.dir) if args.dir else None)
    console.print(f"wrote {root}/  next: cd {root} && pip install -e '.[test]' && pytest && ganzoo run {args.name}",
                  markup=False, highlight=False)
    return 0


def cmd_prepare(args, console: Console, err: Console) -> int:
    from ganzoo.data.memory import human_bytes
    from ganzoo.data.prepared import run_prepare, skipped_line

    report = run_prepare(args.spec, args.image_size, out=args.out, workers=args.workers, data_dir=args.data_dir,
                         progress=not args.quiet)
    n, c, h, w = report.shape
    if report.skipped:
        err.print(f"[yellow]warning:[/] {escape(skipped_line(report.skipped, n + len(report.skipped)))}",
                  highlight=False, soft_wrap=True)
    console.print(f"prepared {n:,} images {c}x{h}x{w} ({human_bytes(report.nbytes)}) in {report.seconds:.1f} s "
                  f"into {report.path} (hash {report.content_hash[:12]}); train on it with "
                  f"`ganzoo run MODEL --dataset {report.path}`", markup=False, highlight=False, soft_wrap=True)
    return 0


COMMANDS = {"report": cmd_report, "bench": cmd_bench, "eval": cmd_eval, "run": cmd_run, "list": cmd_list,
            "plugins": cmd_plugins, "new-plugin": cmd_new_plugin, "prepare": cmd_prepare}


# -- using a trained run: sample, interpolate, export -----------------------------------------------------------------
def _labels(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--labels takes comma-separated class numbers, e.g. 3,3,7; "
                                         f"got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"--labels takes non-negative class numbers, e.g. 3,3,7; got {text!r}")
    return values


def cmd_sample(args, console: Console, err: Console) -> int:
    refuse_run_file(args.out)
    from ganzoo.use.load import load
    from ganzoo.use.sampling import draw, generate, per_class_labels, write_samples

    gan = load(args.run_dir, device=args.device, ema=not args.no_ema)
    labels, nrow = args.labels, None
    if args.per_class:
        labels, nrow = per_class_labels(gan, args.per_class), args.per_class
    z, y = draw(gan, args.n, labels, args.seed, args.truncation)
    out = write_samples(generate(gan, z, y, args.truncation), args.out, nrow=nrow, latents=z, labels=y)
    console.print(f"wrote {len(z)} samples of {gan.name} ({gan.loaded_from['weights']} weights, step "
                  f"{gan.loaded_from['step']}) to {out}", markup=False, highlight=False)
    return 0


def cmd_interpolate(args, console: Console, err: Console) -> int:
    refuse_run_file(args.out)
    from ganzoo.use.load import load
    from ganzoo.use.sampling import interpolate, write_walk

    gan = load(args.run_dir, device=args.device, ema=not args.no_ema)
    walk, labels = interpolate(gan, steps=args.steps, rows=args.rows, seed=args.seed, truncation=args.truncation)
    out = write_walk(walk, args.out, labels)
    console.print(f"wrote {walk.shape[0]} walks of {walk.shape[1]} steps to {out}", markup=False, highlight=False)
    return 0


def cmd_export(args, console: Console, err: Console) -> int:
    refuse_run_file(args.out)
    refuse_run_file(f"{args.out}.json")  # the description written beside it: --out RUN/eval -> RUN/eval.json
    from ganzoo.use.export import export
    from ganzoo.use.load import load

    gan = load(args.run_dir, ema=not args.no_ema)
    out = export(gan, args.out, args.format)
    console.print(f"wrote {out} and {out.name}.json ({args.format}, {gan.loaded_from['weights']} weights)",
                  markup=False, highlight=False)
    return 0


COMMANDS.update({"sample": cmd_sample, "interpolate": cmd_interpolate, "export": cmd_export, "suite": cmd_suite})


def _run_dir_of(argv: Sequence[str]) -> Optional[str]:
    """The run folder a `ganzoo run` command line names (--resume DIR or --out DIR), for messages after a failure."""
    for flag in ("--resume", "--out"):
        if flag in argv[:-1]:
            return argv[argv.index(flag) + 1]
        given = next((a for a in argv if a.startswith(flag + "=")), None)
        if given:
            return given.split("=", 1)[1]
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    # Piped output (files, CI logs) gets wide tables instead of rich's 80-column default.
    console = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    termination = TorchrunTermination().install()  # a survivor of a torchrun job prints its line before it stops
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
        if in_torchrun_job() and os.environ.get("RANK", "0") != "0" and getattr(exc, "exit_code", 2) == 130:
            return exc.exit_code  # rank 0 says it once
        if debug:
            traceback.print_exc()
        err.print(f"[bold red]ganzoo: error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        if not in_torchrun_job() or os.environ.get("RANK", "0") == "0":  # a torchrun job says it once, on rank 0
            err.print("ganzoo: interrupted", highlight=False)
        return 130
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if debug:
            traceback.print_exc()
        message = describe_lost_peer(exc, _run_dir_of(argv)) or (
            describe_os_error(exc) if isinstance(exc, OSError) else describe_memory_error(exc))
        if message is not None:  # disk full, read-only, permissions, out of memory, a lost peer: the user can fix it
            err.print(f"[bold red]ganzoo: error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            return 2
        err.print(
            f"[bold red]ganzoo: internal error:[/] {escape(type(exc).__name__)}: "
            f"{escape(str(exc).splitlines()[0]) if str(exc) else ''} "
            f"(rerun with --debug for the traceback and report it)", highlight=False, soft_wrap=True)
        return 1
    finally:  # one frame, not a wrapper: the step stays at most five frames below the command line
        termination.exiting = True
        import torch.distributed as dist

        try:
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
        finally:
            termination.restore()


if __name__ == "__main__":
    raise SystemExit(main())
