"""Where a training step's time goes: torch.profiler over 5 trainer steps, top ops by self CPU time.

    python benchmarks/profile_step.py dcgan [--precision bf16] [--shape 3,32,32] [--batch-size 64]
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

import ganzoo
from ganzoo.config import TrainConfig
from ganzoo.trainer import Trainer

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model")
parser.add_argument("--precision", default="bf16")
parser.add_argument("--shape", default="3,32,32")
parser.add_argument("--batch-size", type=int, default=64)
args = parser.parse_args()
shape = tuple(int(v) for v in args.shape.split(","))
data = ganzoo.Dataset("synthetic", torch.rand(512, *shape) * 2 - 1)
trainer = Trainer(TrainConfig(model=args.model, steps=1, batch_size=args.batch_size, precision=args.precision,
                              out="/nonexistent"), dataset=data, progress=False)
for _ in range(5):
    trainer.step()
with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])) as prof:
    for _ in range(5):
        trainer.step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
