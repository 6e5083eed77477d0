"""A run's settings: one dataclass that is the single source of truth for every option.

Each field carries its command-line flag, help and parser in its metadata; `ganzoo run`'s options are generated
from these fields (``add_arguments``), so the CLI, the Python API (``TrainConfig(**settings)``) and config.json
cannot drift apart. ``None`` means "the recipe's default"; the resolved values land in config.json.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Optional

from ganzoo.errors import GanzooError
from ganzoo.spec.runspec import valid_betas

#: settings whose resolved values a run's RunSpec holds (config.json stores them there, once)
RESOLVED_IN_SPEC = ("steps", "batch_size", "n_critic", "latent_dim", "ema_decay", "lr", "lr_g", "lr_d", "betas",
                    "generator_options", "discriminator_options", "loss_options")

#: the numeric precisions a run can train in (ganzoo.engine.precision makes their autocast and scaler)
PRECISIONS = ("fp32", "bf16", "fp16")


def opt(default: Any, help: str, *, flag: Optional[str] = None, kind: str = "str", choices: Optional[tuple] = None,
        repeat: bool = False, positional: bool = False, nargs: Optional[str] = None, metavar: Optional[str] = None,
        required: bool = False, group: Optional[str] = None) -> Any:
    """A settings field with its command-line description, so one declaration serves the Python API and the parser
    (ganzoo.cli generates the options from these fields). kind: int, int0, float, float0 (>= 0), str, bool, list
    (comma/ repeat), shape, precisions, labels; positional, nargs, metavar, required and a mutually exclusive
    `group` are for the parser only."""
    meta = {"help": help, "flag": flag, "kind": kind, "choices": choices, "repeat": repeat, "positional": positional,
            "nargs": nargs, "metavar": metavar, "required": required, "group": group}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    """A run's settings. ``None`` means "the recipe's default"; the resolved values land in config.json. Frozen:
    a changed setting is a new config (``dataclasses.replace``), so no code path alters a run's settings in place."""

    model: Optional[str] = opt(None, "a registered model (see `ganzoo list models`)", flag="model")
    generator: Optional[str] = opt(None, "use this registered generator instead of the recipe's")
    discriminator: Optional[str] = opt(None, "use this registered discriminator instead of the recipe's")
    loss: Optional[str] = opt(None, "use this registered loss instead of the recipe's")
    generator_options: Optional[list] = opt(None, "set a generator option over the recipe's, key=value[,...] "
                                                  "(repeatable), e.g. channel_max=512", flag="--generator-option",
                                            kind="list", repeat=True)
    discriminator_options: Optional[list] = opt(None, "set a discriminator option over the recipe's, key=value[,...] "
                                                      "(repeatable)", flag="--discriminator-option", kind="list",
                                                repeat=True)
    loss_options: Optional[list] = opt(None, "set a loss option over the recipe's, key=value[,...] (repeatable), "
                                             "e.g. codes=01", flag="--loss-option", kind="list", repeat=True)
    dataset: str = opt("digits", "a registered dataset, a folder of images, a `ganzoo prepare` cache, or folder:PATH "
                                 "(default: digits)")
    data_dir: Optional[str] = opt(None, "where dataset files are or are downloaded to (default ~/.cache/ganzoo/NAME)")
    image_size: Optional[int] = opt(None, "resize images to this square size", kind="int")
    data_mode: str = opt("auto", "where batches come from: memory (the whole dataset on the device), stream (read "
                                 "from the cache file by worker threads) or auto (memory when it fits)",
                         choices=("auto", "memory", "stream"))
    mirror: bool = opt(False, "flip half of every batch left-right (x-flip augmentation of the data)", kind="bool")
    steps: Optional[int] = opt(None, "generator updates (default: the recipe's)", kind="int")
    batch_size: Optional[int] = opt(None, "samples per batch (default: the recipe's); under torchrun the global "
                                          "batch, split over ranks", kind="int")
    lr: Optional[float] = opt(None, "learning rate of BOTH networks (removes a recipe's two-timescale rates; "
                                    "see --lr-g/--lr-d)", kind="float")
    lr_g: Optional[float] = opt(None, "generator learning rate (default: the recipe's)", kind="float")
    lr_d: Optional[float] = opt(None, "discriminator learning rate (default: the recipe's)", kind="float")
    betas: Optional[list] = opt(None, "Adam's betas of BOTH networks B1,B2, each in [0, 1), e.g. 0.5,0.9 (default: the "
                                      "recipe's)", kind="betas")
    n_critic: Optional[int] = opt(None, "discriminator updates per generator update", kind="int")
    latent_dim: Optional[int] = opt(None, "noise dimension", kind="int")
    ema_decay: Optional[float] = opt(None, "EMA decay of the generator, e.g. 0.999 (0 = off)", flag="--ema",
                                     kind="float0")
    regularizers: Optional[list] = opt(None, "add a regulariser NAME[:key=value,...] (repeatable), e.g. "
                                             "r1:gamma=10,every=16", flag="--regularizer", kind="list", repeat=True)
    no_recipe_regularizers: bool = opt(False, "drop the recipe's own regularisers", kind="bool")
    augment: Optional[str] = opt(None, "augmentation of every D input NAME[:key=value,...], e.g. diffaugment or "
                                       "ada:target=0.6 (none: off)")
    schedules: Optional[list] = opt(None, "add a schedule NAME[:key=value,...] (repeatable), e.g. linear-decay",
                                    flag="--schedule", kind="list", repeat=True)
    constraints: Optional[list] = opt(None, "add a constraint applied after an optimiser step NAME[:key=value,...] "
                                            "(repeatable), e.g. clip:bound=0.01 (see `ganzoo list constraints`)",
                                      flag="--constraint", kind="list", repeat=True)
    seed: int = opt(0, "random seed (default 0)", kind="int0")
    precision: str = opt("auto", "auto: bf16 where supported, fp16 on CUDA without bf16, else fp32",
                         choices=("auto", *PRECISIONS))
    device: str = opt("auto", "auto (cuda when present), cpu, cuda or cuda:N")
    channels_last: str = opt("auto", "channels-last memory format (auto: on for convolutional models)",
                             choices=("auto", "on", "off"))
    compile: bool = opt(False, "torch.compile the networks (falls back to eager with a notice where it cannot)",
                        kind="bool")
    sync_bn: bool = opt(False, "under torchrun: convert batch norm to SyncBatchNorm (statistics over the global batch)",
                        kind="bool")
    out: Optional[str] = opt(None, "run folder (default runs/MODEL-TIME)")
    sample_every: Optional[int] = opt(None, "write a sample grid every K steps", kind="int")
    log_every: int = opt(50, "log losses every K steps", kind="int")
    logger: str = opt("jsonl", "where numbers and sample grids go: jsonl (metrics.jsonl, always on) plus any "
                               "registered logger, comma-separated, e.g. jsonl,tensorboard (see `ganzoo list loggers`)")
    checkpoint_every: Optional[int] = opt(None, "checkpoint every K steps", kind="int")
    on_nan: str = opt("stop", "on non-finite losses: stop (keep the last good checkpoint) or skip that update",
                      choices=("stop", "skip"))
    eval_every: Optional[int] = opt(None, "measure quality metrics every K steps (and at the end) into metrics.jsonl",
                                    kind="int")
    eval_samples: Optional[int] = opt(None, "generated samples per evaluation (default 2000 images, 2500 points)",
                                      kind="int")
    feature_extractor: Optional[str] = opt(None, "feature extractor for image metrics (default: inception on a GPU "
                                                 "when its weights are available, else classifier)")
    inception_weights: Optional[str] = opt(None, "InceptionV3 FID weights file for --feature-extractor inception")

    def validate(self) -> TrainConfig:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            kind, flag = f.metadata.get("kind", "str"), flag_of(f)
            if kind in ("int", "int0"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (kind == "int" and value == 0):
                    raise GanzooError(f"{flag} must be a {'positive' if kind == 'int' else 'non-negative'} integer, "
                                      f"got {value!r}")
            elif kind in ("float", "float0"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                        or value < 0 or (kind == "float" and value == 0):
                    raise GanzooError(f"{flag} must be a {'positive' if kind == 'float' else 'non-negative'} number, "
                                      f"got {value!r}")
            elif kind == "bool":
                if not isinstance(value, bool):
                    raise GanzooError(f"{flag} must be true or false, got {value!r}")
            elif kind == "betas":
                if not valid_betas(value):
                    raise GanzooError(f"{flag} takes two numbers in [0, 1), e.g. 0.5,0.9; got {value!r}")
            elif kind == "list":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    what = "key=value[,...]" if f.name.endswith("_options") else "NAME[:key=value,...]"
                    raise GanzooError(f"{flag} takes {what} strings, got {value!r}")
            elif not isinstance(value, str):
                raise GanzooError(f"{flag} must be a string, got {value!r}")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise GanzooError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
        if self.ema_decay is not None and not (0.0 <= self.ema_decay < 1.0):
            raise GanzooError(f"--ema must be in [0, 1) (0 turns it off), got {self.ema_decay!r}")
        if not self.seed < 2**63:
            raise GanzooError(f"--seed must be below 2**63, got {self.seed!r}")
        if self.image_size is not None and self.image_size > 1024:
            raise GanzooError(f"--image-size {self.image_size} is too large; use at most 1024")
        if self.lr is not None and (self.lr_g is not None or self.lr_d is not None):
            raise GanzooError("--lr sets both learning rates; give either --lr or --lr-g/--lr-d, not both")
        return self

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> TrainConfig:
        """``TrainConfig(**settings)`` for the Python API: an unknown setting is a one-line GanzooError naming the
        closest known ones (not a bare TypeError), and every value is validated."""
        import difflib

        names = [f.name for f in fields(cls)]
        for key in settings:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=3)
                hint = f"did you mean {', '.join(close)}?" if close else "see ganzoo.TrainConfig's fields"
                raise GanzooError(f"unknown training setting {key!r}; {hint}")
        return cls(**settings).validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def settings_dict(self) -> dict[str, Any]:
        """config.json's "train": the run's settings without the numbers its "spec" holds resolved (steps, batch size,
        n_critic, latent dim, EMA decay, learning rates), so each value is stored once."""
        return {k: v for k, v in asdict(self).items() if k not in RESOLVED_IN_SPEC}

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """From config.json's "train" object: unknown keys are ignored (newer or older versions), missing keys take
        their defaults, and a null or wrong-typed value is a one-line error naming the key (a run is never
        silently continued with settings other than the ones it was started with)."""
        if not isinstance(data, dict):
            raise GanzooError(f"config.json's \"train\" must be an object, got {type(data).__name__}; restore the file")
        by_name = {f.name: f for f in fields(cls)}
        for key, value in data.items():
            f = by_name.get(key)
            if f is not None and value is None and f.default is not None and f.default is not MISSING:
                raise GanzooError(f"config.json: train.{key} is null but must be set (its default is {f.default!r}); "
                                  f"restore the file")
        config = cls(**{k: v for k, v in data.items() if k in by_name})
        try:
            return config.validate()
        except GanzooError as exc:
            raise GanzooError(f"config.json: {_bad_field(config, exc)}: {exc}; restore the file") from None


def _bad_field(config: TrainConfig, exc: GanzooError) -> str:
    """`train.steps` for the field a validation message names by its flag, so a hand edit's error names its key."""
    text = str(exc)
    for f in fields(config):
        if text.startswith(flag_of(f) + " "):
            return f"train.{f.name}"
    return "train"


def flag_of(f) -> str:
    flag = f.metadata.get("flag")
    if flag == "model":
        return "MODEL"
    return flag or "--" + f.name.replace("_", "-")


def cli_fields() -> list:
    """Fields that are `ganzoo run` options (all of them: one source of truth)."""
    return list(fields(TrainConfig))
