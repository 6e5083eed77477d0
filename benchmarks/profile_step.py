"""Where a training step's time goes: torch.profiler over 5 trainer steps, top ops by self CPU time.

    python benchmarks/profile_step.py dcgan [--precision bf16] [--shape 3,32,32] [--batch-size 64] [--reference tuned]
                                            [--by-shape]   # one row per op and input shape (per layer), ms per step
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

import ganzoo
from ganzoo.engine.precision import resolve_device
from ganzoo.tools.bench import LoopReference, make_trainer_step

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model")
parser.add_argument("--precision", default="bf16")
parser.add_argument("--shape", default="3,32,32")
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--reference", choices=["eager", "tuned"], help="profile a reference loop instead of the trainer")
parser.add_argument("--by-shape", action="store_true", help="group ops by input shape: which layer the time goes to")
args = parser.parse_args()
shape = tuple(int(v) for v in args.shape.split(","))
device = resolve_device("auto")
torch.manual_seed(0)
data = torch.rand(512, *shape) * 2 - 1
if args.reference:
    step = LoopReference(args.model, shape, data.to(device), args.batch_size, device, 0, ganzoo.get_registry(),
                         tuned=args.reference == "tuned").step
else:
    step, _, _ = make_trainer_step(args.model, shape, args.precision, batch_size=args.batch_size, device=device,
                                   data=data)
for _ in range(5):
    step()
activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
with profile(activities=activities, record_shapes=args.by_shape) as prof:
    for _ in range(5):
        step()
if args.by_shape:
    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    print(f"{'self CPU ms/step':>16}  {'calls/step':>10}  op and input shapes")
    for e in events[:25]:
        print(f"{e.self_cpu_time_total / 5e3:16.2f}  {e.count / 5:10.1f}  {e.key} {e.input_shapes}")
else:
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
