"""Golden trajectories: what every built-in model does in its first steps, recorded before the engine is reshaped.

A trajectory is the per-step losses (and regulariser terms) of a short fp32 CPU run through the public API, plus a
SHA-256 of the final weights (G, D, EMA) and optimiser moments. `python tests/engine/golden.py` rewrites
tests/engine/golden.json; `--add-missing` records only the cases it lacks (e.g. a new model) and keeps the others;
`--rerecord NAME ...` records named cases again after an intended change. Either notes this machine in the case
when it is another kind than the file's. tests/engine/test_golden.py replays every case and compares. Bitwise
equality holds on one CPU kind and torch version (the file, or the case, records both); elsewhere the losses are
compared with a tolerance and the hashes are skipped, because fp32 kernels legitimately differ between AVX-512 and
AMX machines.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

GOLDEN = Path(__file__).parent / "golden.json"
STEPS = 4

#: name -> train() settings beyond the common ones; every built-in model once at its defaults, then the cases that
#: reach the other paths of the step (lazy regulariser, augmentation with feedback, schedule, constraint, resume)
EXTRA_CASES: dict[str, dict[str, Any]] = {
    "gan-r1+lazy-r1": {"model": "gan-r1", "no_recipe_regularizers": True, "regularizers": ["r1:gamma=10,every=2"]},
    "dcgan+diffaugment": {"model": "dcgan", "augment": "diffaugment"},
    "dcgan+ada": {"model": "dcgan", "augment": "ada:target=0.6"},
    "dcgan+ema+schedule": {"model": "dcgan", "ema_decay": 0.9, "schedules": ["linear-decay"]},
    "vanilla+fresh-critic": {"model": "vanilla", "n_critic": 2},
}
RESUME_CASE = "dcgan+resume"


def _common(out: Path) -> dict[str, Any]:
    return dict(steps=STEPS, log_every=1, precision="fp32", device="cpu", seed=0, out=str(out),
                sample_every=10_000, checkpoint_every=10_000)


def model_names() -> list[str]:
    import ganzoo

    return sorted(ganzoo.list_models())


def cases() -> dict[str, dict[str, Any]]:
    return {**{m: {"model": m} for m in model_names()}, **EXTRA_CASES, RESUME_CASE: {"model": "dcgan"}}


def weights_hash(gan: Any, run_dir: Path) -> str:
    """SHA-256 over the saved networks, EMA and optimiser state tensors, in a fixed order."""
    from ganzoo.store.checkpoint import load_checkpoint

    state = load_checkpoint(run_dir / "checkpoint.pt")
    h = hashlib.sha256()

    def feed(prefix: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            h.update(prefix.encode())
            h.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                feed(f"{prefix}/{key}", value[key])
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                feed(f"{prefix}/{i}", item)

    for key in ("generator", "discriminator", "ema", "opt_g", "opt_d"):
        feed(key, state.get(key))
    return h.hexdigest()


def losses(run_dir: Path) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    keep = []
    for row in rows:
        if "loss_d" in row or "loss_g" in row:
            keep.append({k: v for k, v in row.items() if k == "step" or k.startswith(("loss_", "reg/", "augment/"))})
    return keep


def run_case(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    import ganzoo

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        common = _common(out)
        if name == RESUME_CASE:
            ganzoo.train(**{**common, **settings, "steps": STEPS // 2, "checkpoint_every": 1})
            result = ganzoo.resume(out, steps=STEPS)
        else:
            result = ganzoo.train(**{**common, **settings})
        return {"losses": losses(out), "weights": weights_hash(result.gan, out)}


def machine() -> dict[str, str]:
    """What decides fp32 kernel rounding: torch, its CPU capability, and the CPU's vendor and bf16/AMX units (two
    AVX512 machines, an Intel one with AMX and an AMD EPYC with AVX-512 bf16 only, differ at 1e-7 by step 1)."""
    return {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability(), **_cpu_kind()}


def _cpu_kind() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():  # the first processor's block
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    units = [f for f in ("amx_tile", "amx_bf16", "avx512_bf16", "avx512_fp16") if f in flags]
    return {"vendor": fields.get("vendor_id", ""), "units": ",".join(units)}


def record() -> dict[str, Any]:
    torch.set_num_threads(1)
    return {"machine": machine(), "threads": 1, "steps": STEPS,
            "cases": {name: {"settings": s, **run_case(name, s)} for name, s in cases().items()}}


def add_missing() -> dict[str, Any]:
    data = json.loads(GOLDEN.read_text())
    torch.set_num_threads(data["threads"])
    for name, s in cases().items():
        if name not in data["cases"]:
            data["cases"][name] = {"settings": s, **run_case(name, s)}
            if machine() != data["machine"]:  # compared bit for bit where this kind of machine replays it
                data["cases"][name]["machine"] = machine()
            print(f"recorded {name}", file=sys.stderr)
    return data


def rerecord(names: list[str]) -> dict[str, Any]:
    """Record `names` again, after an intended change to their math, on this machine (the case says which machine,
    so the other cases keep theirs and their bitwise comparison)."""
    data = json.loads(GOLDEN.read_text())
    torch.set_num_threads(data["threads"])
    for name in names:
        if name not in data["cases"]:
            raise SystemExit(f"no golden case {name!r}; the cases are {', '.join(sorted(data['cases']))}")
        s = data["cases"][name]["settings"]
        data["cases"][name] = {"settings": s, **run_case(name, s)}
        if machine() != data["machine"]:
            data["cases"][name]["machine"] = machine()
        print(f"recorded {name} again", file=sys.stderr)
    return data


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    if "--rerecord" in sys.argv[1:]:
        data = rerecord(sys.argv[sys.argv.index("--rerecord") + 1:])
    else:
        data = add_missing() if "--add-missing" in sys.argv[1:] else record()
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(data['cases'])} cases)", file=sys.stderr)
