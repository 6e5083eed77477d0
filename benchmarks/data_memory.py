"""Data memory and speed: uint8 storage, the folder cache, streaming beyond a memory budget.

    python benchmarks/data_memory.py --work /tmp/ganzoo-data [--images 20000] [--stream-gb 2.5] [--budget-gb 1]

Every measurement runs in a fresh subprocess (its own ru_maxrss) that loads the dataset, builds the sampler and
draws batches, as a run does before its first step; the trainer itself is not involved.
1. memory: folder:PATH of N 64x64 PNGs minus the same on 100 -> the data's bytes of peak RSS per stored value;
2. load time: first load of 100 images vs second load of N (cache hit, no decoding);
3. streaming: a prepared set of stream-gb GB under a budget of budget-gb GB -> mode chosen and RSS over steps;
4. draw time: stream vs memory batch draws of 64 at 3x32x32, interleaved rounds, next to a dcgan fp32 step;
5. whole runs (`--only run` for this part alone): `ganzoo prepare` on a folder of 25,000 generated 32x32 PNGs, then
   `ganzoo run dcgan --data-mode stream` on it, and on a generated prepared set of --run-gb GB (and, as the control,
   a few steps of the same in memory), each child's VmRSS/RssAnon/RssFile read from /proc/PID/status every 0.2 s
   next to the last step in its metrics.jsonl. No memory limit is enforced: `prlimit --as`/`--data` would count the
   prepared file's mapping (open_prepared maps it copy-on-write, though streaming reads it with preadv), and this
   machine offers no cgroup; the RSS trace is the evidence.
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
    import ganzoo.data.datasets
    from ganzoo.data import make_sampler

    torch.set_num_threads(1)
    ganzoo.data.memory.available_memory = lambda device: budget  # the memory this run is given
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


def make_pngs(folder: Path, n: int, size: int = 64) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.png"))) == n:
        return

    def one(i):
        rng = np.random.default_rng(i)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(n)))


def make_big_prepared(path: Path, gigabytes: float, size: int = 64) -> None:
    from ganzoo.data.prepared import _Writer, is_prepared

    if is_prepared(path):
        return
    n = int(gigabytes * 1e9 // (size * size * 3))
    writer = _Writer(path)
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (1024, size, size, 3), dtype=np.uint8)
    for i in range(0, n, 1024):
        writer.write(np.roll(block, i, axis=0)[: min(1024, n - i)])
    writer.finish((size, size, 3), None, {"source": "random", "image_size": size, "classes": [], "skipped": [],
                                          "files": n})


# -- whole runs under an RSS trace -------------------------------------------------------------------------------
def proc_memory(pid: int) -> dict:
    """VmRSS, RssAnon, RssFile (bytes) of a live process, {} once it is gone."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return out


def last_step(metrics: Path) -> int:
    try:
        lines = metrics.read_text().splitlines()
    except FileNotFoundError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line).get("step", 0))
        except ValueError:  # a line being written
            continue
    return 0


def traced_run(dataset: Path, out: Path, mode: str, steps: int, interval: float = 0.2) -> dict:
    """`ganzoo run dcgan` in a child process (1 thread), its memory sampled every `interval` s."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "ganzoo", "run", "dcgan", "--dataset", str(dataset), "--data-mode", mode,
           "--steps", str(steps), "--batch-size", "64", "--image-size", "32", "--device", "cpu", "--log-every", "5",
           "--out", str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trace = []
    while child.poll() is None:
        mem = proc_memory(child.pid)
        if mem:
            trace.append({"t": round(time.perf_counter() - t0, 2), "step": last_step(out / "metrics.jsonl"), **mem})
        time.sleep(interval)
    wall = time.perf_counter() - t0
    stdout, stderr = child.communicate()
    if child.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr[-3000:]}")
    config = json.loads((out / "config.json").read_text())
    return {"command": " ".join(["ganzoo", *cmd[3:]]), "mode": config["dataset"]["mode"],
            "precision": config["precision"], "set_bytes": config["dataset"]["bytes"],
            "bytes_in_memory": config["dataset"]["bytes_in_memory"], "images": config["dataset"]["size"],
            "steps": steps, "wall_s": wall, **summarize(trace, steps), "trace": trace}


def summarize(trace: list, steps: int) -> dict:
    """RSS while training: samples from the first logged step (5: models, optimisers and stream workers are up)
    until the last step is logged; after that the final checkpoint is serialised (a transient peak, reported apart)."""
    training = [r for r in trace if 5 <= r["step"] < steps]
    first, last = training[0], training[-1]
    return {"samples": len(trace), "training_samples": len(training),
            "steps_traced": [first["step"], last["step"]],
            "rss_start": first["VmRSS"], "rss_max": max(r["VmRSS"] for r in training), "rss_end": last["VmRSS"],
            "rss_min": min(r["VmRSS"] for r in training),
            "rss_growth": max(r["VmRSS"] for r in training) - first["VmRSS"],
            "rss_file_range": [min(r["RssFile"] for r in training), max(r["RssFile"] for r in training)],
            "rss_peak_with_final_checkpoint": max(r["VmRSS"] for r in trace)}


def run_section(work: Path, png_count: int, steps: int, big_gb: float, big_steps: int) -> dict:
    folder = work / f"png{png_count}-32"
    make_pngs(folder, png_count, size=32)
    prepared = work / f"prepared{png_count}-32"
    if not prepared.exists():
        subprocess.run([sys.executable, "-m", "ganzoo", "prepare", str(folder), "--image-size", "32", "--out",
                        str(prepared), "--workers", "1", "--quiet"], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    runs = {"pngs_stream": traced_run(prepared, work / "run-pngs-stream", "stream", steps)}
    big = work / f"big-32px-{big_gb:g}gb"
    make_big_prepared(big, big_gb, size=32)
    runs["big_stream"] = traced_run(big, work / "run-big-stream", "stream", big_steps)
    runs["big_memory"] = traced_run(big, work / "run-big-memory", "memory", 10)  # the control: the set in RSS
    return runs


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
    p.add_argument("--only", choices=["all", "run"], default="all", help="run: only the whole-run RSS traces (5.)")
    p.add_argument("--run-pngs", type=int, default=25000)
    p.add_argument("--run-steps", type=int, default=150)
    p.add_argument("--run-gb", type=float, default=1.0)
    p.add_argument("--run-big-steps", type=int, default=60)
    p.add_argument("--json", help="merge the results into this JSON file (keys replaced, others kept)")
    args = p.parse_args()
    work = Path(args.work)
    os.environ["GANZOO_CACHE"] = str(work / "cache")
    run_args = (work, args.run_pngs, args.run_steps, args.run_gb, args.run_big_steps)
    if args.only == "run":
        report = {"runs": run_section(*run_args)}
        save(report, args.json)
        return
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
    report["runs"] = run_section(*run_args)
    save(report, args.json)


def save(report: dict, path) -> None:
    if path:
        old = json.loads(Path(path).read_text()) if Path(path).exists() else {}
        Path(path).write_text(json.dumps({**old, **report}, indent=1) + "\n")
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "trace"} for k, v in report.get("runs", {}).items()}
    print(json.dumps({**{k: v for k, v in report.items() if k != "runs"}, "runs": summary}, indent=1))


if __name__ == "__main__":
    main()
