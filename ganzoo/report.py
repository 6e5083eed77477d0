"""`ganzoo report`: bench JSON files and evaluated run folders into one Markdown report and an HTML page.

The HTML page carries the same tables plus each run's latest sample grid and 2-D plot, embedded as data URIs, so
it is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .errors import GanzooError
from .runfolder import RunFolder

IMAGE_KEYS = ["fid", "kid_mean", "is_mean", "precision", "recall", "density", "coverage"]
MODE_KEYS = ["modes_captured", "high_quality_fraction", "reverse_kl"]


def _fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "-"
    if key == "high_quality_fraction" and isinstance(value, (int, float)):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def load_inputs(paths: list[Path]) -> tuple[list[dict], list[dict]]:
    """Split inputs into bench reports and runs (folders, with their eval.json when present)."""
    benches, runs = [], []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            run = RunFolder(path)
            config = run.read_config()
            evaluation = json.loads((path / "eval.json").read_text()) if (path / "eval.json").exists() else None
            if evaluation is None:
                evals = [r["eval"] for r in run.read_metrics() if "eval" in r]
                evaluation = evals[-1] if evals else None
            grids = sorted(run.samples.glob("step_*.png"))
            runs.append({"path": path, "config": config, "eval": evaluation,
                         "grid": grids[-1] if grids else None,
                         "points": path / "eval_points.png" if (path / "eval_points.png").exists() else None})
        elif path.is_file():
            try:
                data = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise GanzooError(f"{path} is not JSON; pass bench JSON files (ganzoo bench --out) or run folders") from None
            if not isinstance(data, dict) or "results" not in data or "peak_flops" not in data:
                raise GanzooError(f"{path} is not a ganzoo bench result; pass bench JSON files or run folders")
            benches.append({"path": path, **data})
        else:
            raise GanzooError(f"{path} does not exist; pass bench JSON files or run folders")
    return benches, runs


def bench_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    header = ["setting", "img/s", "step ms (p10-p90)", "GFLOP/step", "MFU", "speedup vs eager"]
    rows = [[r["setting"], f"{r['img_per_s']:,.0f}", f"{r['step_ms']:.1f} ({r['step_ms_p10']:.1f}-{r['step_ms_p90']:.1f})",
             f"{r['flops_per_step'] / 1e9:.2f}", f"{r['mfu']:.1%}", f"{r['speedup_vs_eager']:.2f}x"]
            for r in report["results"]]
    return header, rows


def bench_title(report: dict) -> str:
    peaks = ", ".join(f"{k} {v / 1e9:,.0f} GFLOP/s" for k, v in report["peak_flops"].items())
    return (f"{report['model']} {tuple(report['shape'])}, batch {report['batch_size']}, n_critic {report['n_critic']} "
            f"on {report['device']} ({report['device_name']}, {report['threads']} threads); matmul peaks: {peaks}")


def run_rows(runs: list[dict]) -> tuple[list[str], list[list[str]]]:
    keys = [k for k in IMAGE_KEYS + MODE_KEYS if any(r["eval"] and k in r["eval"] for r in runs)]
    header = ["run", "model", "dataset", "steps", "precision", *keys, "measured with"]
    rows = []
    for r in runs:
        c, e = r["config"], r["eval"] or {}
        how = ": ".join(v for v in (e.get("feature_extractor"), e.get("feature_extractor_info")) if v)
        how = f"{e.get('num_samples', '?')} samples" + (f", {how}" if how else "") if e else "not evaluated"
        rows.append([r["path"].name, c["model"], c["dataset"]["name"], str(c["train"]["steps"]), c["precision"],
                     *[_fmt(e.get(k), k) for k in keys], how])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def build_report(paths: list[Path]) -> tuple[str, str, list[tuple[str, list[str], list[list[str]]]]]:
    """(markdown, html, tables) for the given inputs."""
    benches, runs = load_inputs(paths)
    tables = []
    for b in benches:
        tables.append((bench_title(b), *bench_rows(b)))
    if runs:
        tables.append(("quality", *run_rows(runs)))
    md = ["# ganzoo report", ""]
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>ganzoo report</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
            "img{image-rendering:pixelated;margin:4px;border:1px solid #ddd}</style></head><body>",
            "<h1>ganzoo report</h1>"]
    for title, header, rows in tables:
        md += [f"## {title}", "", markdown_table(header, rows), ""]
        page += [f"<h2>{html.escape(title)}</h2>", html_table(header, rows)]
    for b in benches:
        if b.get("command"):
            md += [f"Bench command: `{b['command']}`", ""]
    pictures = [r for r in runs if r["grid"] or r["points"]]
    if pictures:
        page.append("<h2>samples</h2>")
        md += ["## samples", ""]
        for r in pictures:
            for label, picture in (("samples", r["grid"]), ("points", r["points"])):
                if picture:
                    page.append(f"<figure><img src='{_data_uri(picture)}' alt='{html.escape(r['path'].name)}'>"
                                f"<figcaption>{html.escape(r['path'].name)}: {label}</figcaption></figure>")
                    md.append(f"![{r['path'].name} {label}]({picture.as_posix()})")
        md.append("")
    page.append("</body></html>")
    return "\n".join(md), "\n".join(page), tables
