"""Built-in loggers: the run folder's metrics.jsonl and TensorBoard event files (optional extra)."""

from __future__ import annotations

from pathlib import Path

import ganzoo
from ganzoo.api import Logger, RunFolder, as_uint8, is_number
from ganzoo.errors import GanzooError


class JsonlLogger(Logger):
    """One JSON object per record in RUN/metrics.jsonl, exactly as `ganzoo run` always wrote it."""

    def __init__(self, run_dir: Path):
        self.run = RunFolder(Path(run_dir))

    def log_scalars(self, step, values):
        self.run.append_metrics({"step": step, **values})

    def log_eval(self, step, metrics):
        self.run.append_metrics({"step": step, "eval": dict(metrics)})


class TensorBoardLogger(Logger):
    """Scalars and sample pictures as TensorBoard events in RUN/tensorboard (`tensorboard --logdir RUN`)."""

    #: bookkeeping that TensorBoard records by itself (step, wall time)
    SKIP = ("step", "time")

    def __init__(self, run_dir: Path, start_step: int = 0, subdir: str = "tensorboard"):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GanzooError("--logger tensorboard needs the 'tensorboard' package; "
                              "pip install 'ganzoo[tensorboard]'") from None
        # On resume, hide events after the checkpoint step: they are logged again.
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / subdir),
                                    purge_step=start_step + 1 if start_step else None)

    def log_config(self, config):
        train = config.get("train", {})
        rows = "\n".join(f"| {k} | {v} |" for k, v in train.items())
        self.writer.add_text("config", f"model {config.get('model')}\n\n| setting | value |\n|---|---|\n{rows}", 0)

    def log_scalars(self, step, values):
        for tag, value in values.items():
            if tag not in self.SKIP and is_number(value):
                self.writer.add_scalar(tag, float(value), step)

    def log_images(self, step, tag, image):
        self.writer.add_image(tag, as_uint8(image), step, dataformats="CHW")

    def close(self):
        self.writer.close()


@ganzoo.hookimpl
def register_loggers(register):
    register("jsonl", JsonlLogger, "metrics.jsonl in the run folder (always on)")
    register("tensorboard", TensorBoardLogger,
             "TensorBoard event files in RUN/tensorboard (optional extra: tensorboard)")
