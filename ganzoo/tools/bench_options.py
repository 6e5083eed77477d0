"""What `ganzoo bench` measures, declared once: the Python API (``bench(BenchOptions(...))``) and the CLI's options
(generated from these fields by ganzoo.cli) are the same declaration. Kept free of torch so building the parser
stays cheap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ganzoo.spec.config import opt

COMPILES = {"off": [False], "on": [True], "both": [False, True]}


@dataclass
class BenchOptions:
    model: Optional[str] = opt(None, "a registered model (or --all)", positional=True, nargs="?")
    shape: tuple = opt((3, 32, 32), "C,H,W (or D) of the synthetic data (default 3,32,32)", flag="--dataset-shape",
                       kind="shape")
    batch_size: int = opt(64, "samples per batch (default 64)", kind="int")
    steps: int = opt(10, "timed steps per setting per round (default 10)", kind="int")
    warmup: int = opt(5, "untimed steps per setting before each round (default 5)", kind="int0")
    rounds: int = opt(5, "interleaved timing rounds; spreads are over rounds (default 5)", kind="int")
    precisions: Optional[list] = opt(None, "comma-separated fp32, tf32, bf16, fp16 (default: every one the device "
                                           "supports)", flag="--precision", kind="precisions")
    #: "off", "on" or "both" (the CLI's words), or a list of False/True/"cudagraphs" settings from Python
    compile: Any = opt("both", "time eager, compiled or both (default both)", choices=("off", "on", "both"))
    device: str = opt("auto", "auto (cuda when present), cpu, cuda or cuda:N (default auto)")
    seed: int = opt(0, "seed of the synthetic data and the networks (default 0)", kind="int0")
    channels_last: str = opt("auto", "channels-last memory format (auto: on for convolutional models)",
                             choices=("auto", "on", "off"))
    #: "on"/"off" (the CLI's words) or a bool: per-setting peak memory, each setting in a fresh child process
    memory: Any = opt("on", "peak memory per setting, each in a fresh process (default on)", choices=("on", "off"))
    peak_size: Optional[int] = opt(None, "side of the matrix product that measures the FLOP/s peak (default 2048 "
                                         "CPU, 8192 GPU)", kind="int")

    @property
    def compiles(self) -> list:
        """The compile settings to time: [False], [True], [False, True] or a list given from Python."""
        if self.compile is None:
            return COMPILES["both"]
        if isinstance(self.compile, str):
            return COMPILES[self.compile]
        return list(self.compile)

    @property
    def measures_memory(self) -> bool:
        return self.memory == "on" if isinstance(self.memory, str) else bool(self.memory)
