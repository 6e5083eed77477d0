"""Every command's options, declared once as dataclass fields; the parsers are generated from them (`add_options`).

`ganzoo run` takes TrainConfig's fields (ganzoo.spec.config, shared with the Python API and config.json) plus
`RunCommand`'s CLI-only ones; every other command has its declaration here. Fields that several commands share
(`--device`, a run folder, `--seed`, `--no-ema`, `--json`, `--quiet`) are made by one function each, so their
flag, parsing and help cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ganzoo.registry import PLURALS
from ganzoo.spec.config import opt
from ganzoo.tools.bench_options import BenchOptions

#: a command option: the same declaration as TrainConfig's and BenchOptions' fields (ganzoo.spec.config.opt)
arg = opt


# -- fields several commands share -------------------------------------------------------------------------------------
def device_arg(default: str) -> Any:
    return arg(default, f"auto (cuda when present), cpu, cuda or cuda:N (default {default})")


def run_dir_arg() -> Any:
    return arg(None, "a run folder (ganzoo run --out)", positional=True)


def seed_arg() -> Any:
    return arg(None, "same seed, same output (default: random)", kind="int0")


def no_ema_arg() -> Any:
    return arg(False, "use the raw generator even when the run kept an EMA one", kind="bool")


def json_arg() -> Any:
    return arg(False, "print one JSON object instead of a table", kind="bool")


def quiet_arg(what: str) -> Any:
    return arg(False, what, kind="bool")


# -- the commands ------------------------------------------------------------------------------------------------------
@dataclass
class GlobalOptions:
    debug: bool = arg(False, "show tracebacks instead of one-line errors", kind="bool")
    version: bool = arg(False, "print the version and exit", kind="bool")


@dataclass
class RunCommand:
    """`ganzoo run`'s options beyond TrainConfig's: how to start (resume, restart) and what to show."""

    resume: Optional[str] = arg(None, "continue the run in RUN_DIR from its checkpoint (its settings come from "
                                      "RUN_DIR/config.json; only --steps may be given)", metavar="RUN_DIR")
    from_previous: bool = arg(False, "with --resume: continue from checkpoint.prev.pt (the checkpoint before the "
                                     "last one)", kind="bool")
    restart: bool = arg(False, "start over: with --resume DIR, from step 0 with DIR's config.json; with --out DIR, a "
                               "new run in DIR. The old files are moved aside into DIR/.restarted-<time>/, never "
                               "deleted", kind="bool")
    quiet: bool = quiet_arg("no progress bar or summary table")


@dataclass
class ListCommand:
    kind: Optional[str] = arg(None, "only this kind", positional=True, nargs="?", choices=tuple(PLURALS.values()))


@dataclass
class PluginsCommand:
    pass


@dataclass
class EvalCommand:
    run_dir: str = run_dir_arg()
    samples: Optional[int] = arg(None, "generated samples (default 2000 images, 2500 points)", kind="int")
    feature_extractor: Optional[str] = arg(None, "feature extractor for image metrics (default: the dataset-trained "
                                                 "classifier on a CPU; inception on a GPU when its weights are "
                                                 "available)")
    inception_weights: Optional[str] = arg(None, "FID InceptionV3 weights for --feature-extractor inception: "
                                                 "pt_inception-2015-12-05-6726825d.pth (pytorch-fid's release; "
                                                 "docs/metrics.md says where to get it)", metavar="PATH")
    json: bool = json_arg()


@dataclass
class BenchCommand(BenchOptions):
    """BenchOptions' fields (ganzoo.tools.bench_options: the Python API's declaration) plus the CLI's own."""

    all: bool = arg(False, "every registered model that builds for the shape", kind="bool")
    json: bool = json_arg()
    out: Optional[str] = arg(None, "also write the JSON to this file")


@dataclass
class ReportCommand:
    inputs: list = arg(None, "bench JSON files (ganzoo bench --out, --all), suite tables (DIR/table.json, "
                             "quality or modes) and run folders", positional=True, nargs="+")
    out: str = arg("report.md", "Markdown file; the HTML page goes beside it (default report.md)")


@dataclass
class PrepareCommand:
    spec: str = arg(None, "an image folder, folder:PATH, or a registered image dataset (mnist, cifar10, ...)",
                    positional=True)
    image_size: int = arg(None, "square size in pixels", kind="int", required=True)
    out: Optional[str] = arg(None, "output folder (default ./NAME-SIZEpx)")
    workers: Optional[int] = arg(None, "decoding threads (default: CPU cores, up to 8)", kind="int")
    data_dir: Optional[str] = arg(None, "where a registered dataset's files are (as for `ganzoo run`)")
    quiet: bool = quiet_arg("no progress bar")


@dataclass
class NewPluginCommand:
    name: str = arg(None, "the model name, e.g. hinge-gan (package ganzoo-NAME)", positional=True)
    dir: Optional[str] = arg(None, "where to write it (default ./ganzoo-NAME)")


@dataclass
class UseCommand:
    """What every command that uses a trained run's generator takes."""

    run_dir: str = run_dir_arg()
    seed: Optional[int] = seed_arg()
    device: str = device_arg("cpu")
    no_ema: bool = no_ema_arg()
    truncation: Optional[float] = arg(None, "the truncation trick: psi in [0, 1] towards the mean w for style-based "
                                            "generators (stylegan2), else a threshold on |z| (BigGAN's truncated "
                                            "normal)", kind="float0", metavar="PSI")


@dataclass
class SampleCommand(UseCommand):
    n: Optional[int] = arg(None, "how many (default 64)", flag="-n", kind="int")
    labels: Optional[list] = arg(None, "conditional runs: these classes, e.g. 3,3,7", kind="labels", group="which")
    per_class: Optional[int] = arg(None, "conditional runs: K samples of every class, one grid row per class",
                                   kind="int", metavar="K", group="which")
    out: str = arg(None, "grid.png, samples.npz or a folder DIR/", required=True)


@dataclass
class InterpolateCommand(UseCommand):
    steps: int = arg(8, "points per walk, ends included (default 8)", kind="int")
    rows: Optional[int] = arg(None, "walks (default 4; conditional runs: one per class)", kind="int")
    out: str = arg(None, "walk.png, walk.gif or walk.npz", required=True)


@dataclass
class ExportCommand:
    run_dir: str = arg(None, "a run folder", positional=True)
    format: str = arg(None, "the export format", choices=("safetensors", "torchscript", "onnx"), required=True)
    out: str = arg(None, "the file to write, e.g. generator.onnx", required=True)
    no_ema: bool = arg(False, "export the raw generator even when the run kept an EMA one", kind="bool")


@dataclass
class SuiteCommand:
    action: str = arg(None, "list, show (the runs and their estimated cost), run, status or table", positional=True,
                      choices=("list", "show", "run", "status", "table"))
    target: Optional[str] = arg(None, "a suite name or TOML file (show, run), or a suite folder (status, table)",
                                positional=True, nargs="?")
    out: Optional[str] = arg(None, "run: the suite folder (created, or continued when it exists)", metavar="DIR")
    executor: str = arg("local", "run: local worker processes, a Ray cluster (pip install 'ganzoo[ray]') or Slurm "
                                 "through submitit (pip install 'ganzoo[slurm]')", choices=("local", "ray", "slurm"))
    workers: Optional[int] = arg(None, "run: runs at once, one thread each (default: the CPU cores; speed suites 1)",
                                 kind="int")
    address: Optional[str] = arg(None, "run --executor ray: a cluster address or auto (default: a new local Ray)")
    gpus: float = arg(0.0, "run --executor ray|slurm: GPUs each run asks for (default 0)", kind="float0")
    partition: Optional[str] = arg(None, "run --executor slurm: the Slurm partition (default: the cluster's)")
    time_limit: int = arg(240, "run --executor slurm: minutes each run's job may take (default 240)", kind="int")
    retry_failed: bool = arg(False, "run: run failed runs again (they are skipped otherwise)", kind="bool")
    rerun_changed: bool = arg(False, "run: make again the runs whose model's recipe now resolves to other math "
                                     "(they are refused otherwise)", kind="bool")
    only: Optional[list] = arg(None, "show, run: a part of the suite, KEY=VALUE[,VALUE...] with KEY model, dataset, "
                                     "seed, label or id (repeatable; keys AND, values OR), e.g. --only dataset=ring8: "
                                     "a long suite runs in parts into one --out", kind="list", repeat=True,
                               metavar="KEY=VALUE[,VALUE]")
    timed_steps: int = arg(5, "show: the fewest steps timed per distinct model for the cost estimate, which "
                              "times at least a second of steps after half a second of warm-up (default 5; 0: no "
                              "estimate)", kind="int0")
    json: bool = json_arg()
    quiet: bool = quiet_arg("run: no live view, one line per finished run")


#: command -> (its declaration, help, description); `run` also takes every TrainConfig field
COMMANDS: dict[str, tuple[type, str, Optional[str]]] = {
    "run": (RunCommand, "train a model", "Train a registered model (or a mix of components)."),
    "list": (ListCommand, "list registered models, components and datasets", None),
    "plugins": (PluginsCommand, "show every plugin, its distribution and what it registered", None),
    "eval": (EvalCommand, "measure a run's quality metrics", "Load a run's checkpoint (EMA generator when present), "
             "generate samples and measure them against the dataset."),
    "bench": (BenchCommand, "time training steps against eager and tuned-eager reference loops",
              "Time the trainer's full training step (D and G updates, the recipe's n_critic) per precision and "
              "compile setting, interleaved in rounds with a plain eager-fp32 loop and a tuned eager loop (autocast, "
              "channels-last, fused Adam) on the same modules; speedups are per-round ratios, reported as median and "
              "spread."),
    "report": (ReportCommand, "bench JSON, quality JSON and runs into a Markdown report and an HTML page", None),
    "prepare": (PrepareCommand, "decode and resize a dataset once into a memory-mappable uint8 cache",
                "Decode and resize an image folder (PATH or folder:PATH; class sub-folders become labels) or a "
                "registered image dataset once, into a uint8 cache that runs read with --dataset PATH (in memory "
                "when it fits, streamed from disk when not). Unreadable images are skipped and named."),
    "new-plugin": (NewPluginCommand, "write a plugin package skeleton that installs and passes its tests", None),
    "sample": (SampleCommand, "draw samples from a trained run", "Draw samples from a run's generator (EMA when "
               "kept): a PNG grid (.png), one PNG per sample (a folder: DIR/ or no suffix) or float arrays (.npz); "
               "2-D runs: a scatter plot (.png) or .npz."),
    "interpolate": (InterpolateCommand, "walk between random latents (slerp)", "Spherical interpolation between "
                    "pairs of random latents, one walk per row (one class per row for conditional runs): a PNG grid, "
                    "an animated GIF, or .npz."),
    "suite": (SuiteCommand, "benchmark suites: list, show, run, status, table", "A suite is a TOML file (or a "
              "plugin's registered one) naming models, datasets, seeds, settings and an evaluation protocol; `suite "
              "run NAME --out DIR` trains and measures every run (resumable: finished runs are skipped, interrupted "
              "ones continue from their checkpoints) and writes DIR/table.md and DIR/table.json."),
    "export": (ExportCommand, "write the generator for use without ganzoo", "Write the generator (EMA when kept) as "
               "safetensors weights, TorchScript or ONNX, with PATH.json describing its inputs and output."),
}
