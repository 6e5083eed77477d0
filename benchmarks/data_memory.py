"""Data memory and speed: uint8 storage, the folder cache, streaming beyond a memory budget.

    python benchmarks/data_memory.py --work /tmp/ganzoo-data [--images 20000] [--stream-gb 2.5] [--budget-gb 1]

Every measurement runs in a fresh subprocess (its own ru_maxrss) that loads the dataset, builds the sampler and
draws batches, as a run does before its first step; the trainer itself is not involved.
1. memory: folder:PATH of N 64x64 PNGs minus the same on 100 -> the data's bytes of peak RSS per stored value;
2. load time: first load of 100 images vs second load of N (cache hit, no decoding);
3. streaming: a prepared set of stream-gb GB under a budget of budget-gb GB -> mode chosen and RSS over steps;
4. draw time: stream vs memory batch draws of 64 at 3x32x32, interleaved rounds, next to a dcgan fp32 step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def rss_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- children --------------------------------------------------------------------------------------------------
def child_load(spec: str, size: int, steps: int, mode: str) -> dict:
    import torch

    import ganzoo
    from ganzoo.data import make_sampler

    torch.set_num_threads(1)
    base = peak_rss()
    t0 = time.perf_counter()
    ds = ganzoo.load_dataset(spec, image_size=size)
    s = make_sampler(ds, 64, seed=1, device="cpu", channels_last=True, mode=mode)
    for _ in range(steps):
        s.next()
    seconds = time.perf_counter() - t0
    return {"spec": spec, "size": int(ds.data.shape[0]), "values": int(ds.data.numel()), "mode": s.mode,
            "seconds": seconds, "peak_rss": peak_rss(), "rss_before_load": base}


def child_stream(path: str, budget: int, steps: int) -> dict:
    import torch

    import ganzoo
    import ganzoo.data
    from ganzoo.data import make_sampler

    torch.set_num_threads(1)
    ganzoo.data.available_memory = lambda device: budget  # the memory this run is given
    ds = ganzoo.load_dataset(path)
    s = make_sampler(ds, 64, seed=1, device="cpu", channels_last=True, mirror=True)
    trace = []
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        x, _ = s.next()
        if step % (steps // 10) == 0:
            trace.append((step, rss_now()))
    return {"mode": s.mode, "bytes": s.describe()["bytes"], "budget": budget, "rss_trace": trace,
            "peak_rss": peak_rss(), "seconds": time.perf_counter() - t0, "steps": steps}


def child_draw(path: str, rounds: int, draws: int) -> dict:
    import torch

    import ganzoo
    from ganzoo.data import make_sampler

    torch.set_num_threads(2)
    ds = ganzoo.load_dataset(path)
    samplers = {m: make_sampler(ds, 64, seed=1, device="cpu", channels_last=True, mode=m) for m in ("memory", "stream")}
    gan = ganzoo.build("dcgan", (3, 32, 32))
    G, D = gan.generator.to(memory_format=torch.channels_last), gan.discriminator.to(memory_format=torch.channels_last)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def step(x):
        z = torch.randn(64, gan.latent_dim)
        fake = G(z)
        real_s, fake_s = D(x).flatten(), D(fake.detach()).flatten()
        loss_d = bce(real_s, torch.ones_like(real_s)) + bce(fake_s, torch.zeros_like(fake_s))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        g_s = D(fake).flatten()
        opt_g.zero_grad()
        bce(g_s, torch.ones_like(g_s)).backward()
        opt_g.step()

    for m in samplers:  # warm up
        for _ in range(3):
            step(samplers[m].next()[0])
    draw_ms = {m: [] for m in samplers}
    step_ms = {m: [] for m in samplers}
    for _ in range(rounds):
        for m, s in samplers.items():
            t = time.perf_counter()
            for _ in range(draws):
                s.next()
            draw_ms[m].append((time.perf_counter() - t) / draws * 1e3)
            t = time.perf_counter()
            for _ in range(3):
                step(s.next()[0])
            step_ms[m].append((time.perf_counter() - t) / 3 * 1e3)
    return {"draw_ms": draw_ms, "step_ms": step_ms}


# -- parent ----------------------------------------------------------------------------------------------------
def spawn(*args) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_pngs(folder: Path, n: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.png"))) == n:
        return

    def one(i):
        rng = np.random.default_rng(i)
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(n)))


def make_big_prepared(path: Path, gigabytes: float) -> None:
    from ganzoo.prepare import _Writer, is_prepared

    if is_prepared(path):
        return
    n = int(gigabytes * 1e9 // (64 * 64 * 3))
    writer = _Writer(path)
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (1024, 64, 64, 3), dtype=np.uint8)
    for i in range(0, n, 1024):
        writer.write(np.roll(block, i, axis=0)[: min(1024, n - i)])
    writer.finish((64, 64, 3), None, {"source": "random", "image_size": 64, "classes": [], "skipped": [], "files": n})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        if kind == "load":
            result = child_load(rest[0], int(rest[1]), int(rest[2]), rest[3])
        elif kind == "stream":
            result = child_stream(rest[0], int(rest[1]), int(rest[2]))
        else:
            result = child_draw(rest[0], int(rest[1]), int(rest[2]))
        print(json.dumps(result))
        return
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--stream-gb", type=float, default=2.5)
    p.add_argument("--budget-gb", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    work = Path(args.work)
    os.environ["GANZOO_CACHE"] = str(work / "cache")
    big, small = work / f"png{args.images}", work / "png100"
    make_pngs(big, args.images)
    make_pngs(small, 100)
    report = {}
    report["small_first"] = spawn("load", f"folder:{small}", 64, 5, "memory")
    report["big_first"] = spawn("load", f"folder:{big}", 64, 5, "memory")
    report["big_second"] = spawn("load", f"folder:{big}", 64, 5, "memory")
    report["small_second"] = spawn("load", f"folder:{small}", 64, 5, "memory")
    for key in ("big_first", "big_second"):
        b, s = report[key], report["small_first" if key == "big_first" else "small_second"]
        report[key + "_bytes_per_value"] = (b["peak_rss"] - s["peak_rss"]) / (b["values"] - s["values"])
    spawn("load", f"folder:{big}", 32, 1, "memory")  # the 32x32 cache for the draw timing
    cache32 = next((work / "cache" / "prepared").glob(f"png{args.images}-32px-*"))
    report["draw"] = spawn("draw", cache32, args.rounds, 50)
    make_big_prepared(work / "big-stream", args.stream_gb)
    report["stream"] = spawn("stream", work / "big-stream", int(args.budget_gb * 1e9), 500)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
