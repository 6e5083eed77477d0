"""`ganzoo report`: bench results, quality results and run folders into one Markdown report and one HTML page.

Inputs are told apart by content: a bench JSON (`ganzoo bench --out`), a zoo bench JSON (`ganzoo bench --all`),
a quality-results JSON (`{"results": [{"model", "dataset", "fid", ...}]}`: a suite's table.json, quality or modes) or
a run folder.
The zoo table puts one row per model x setting with speed, spread, memory, FLOPs, MFU, both speedups and, where
quality results are given, FID/KID/IS. The HTML page adds inline-SVG charts (speed bars with their spread, speed vs
quality, a suite's convergence curves, each run's loss curves and eval metrics over steps) and the sample grids as
data URIs: one file.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Optional

from ganzoo.errors import GanzooError
from ganzoo.metrics.protocol import card_text
from ganzoo.store.folder import RunFolder
from ganzoo.tools import svgplot

IMAGE_KEYS = ["fid", "kid_mean", "is_mean", "precision", "recall", "density", "coverage"]
MODE_KEYS = ["modes_captured", "high_quality_fraction", "reverse_kl"]
#: Column names a reader understands; "precision" of a k-NN metric is never confused with training precision.
READABLE = {"fid": "FID", "kid_mean": "KID", "is_mean": "IS", "precision": "k-NN precision", "recall": "k-NN recall",
            "density": "density", "coverage": "coverage", "modes_captured": "modes captured",
            "high_quality_fraction": "high-quality samples", "reverse_kl": "reverse KL"}


def _fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "-"
    if key == "high_quality_fraction" and isinstance(value, (int, float)):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _spread_text(row: dict, key: str) -> str:
    """'2.4x (2.2-2.6)' from a bench row's `<key>` and `<key>_spread` (min-max over rounds); '-' when absent."""
    from ganzoo.tools.bench import format_spread

    if row.get(key) is None:
        return "-"
    s = row.get(f"{key}_spread")
    if not s:
        return f"{row[key]:.2f}x"
    return format_spread(row[key], s["min"], s["max"])


def _step_ms_text(row: dict) -> str:
    from ganzoo.tools.bench import decimals_for

    s = row.get("step_ms_spread")
    if s:
        d = decimals_for(s["max"] - s["min"]) if s["max"] > s["min"] else 1
        return f"{row['step_ms']:.{d}f} ({s['min']:.{d}f}-{s['max']:.{d}f})"
    return f"{row['step_ms']:.1f} ({row['step_ms_p10']:.1f}-{row['step_ms_p90']:.1f})"


# -- inputs ----------------------------------------------------------------------------------------------------------
def _is_bench(data: Any) -> bool:
    return isinstance(data, dict) and "results" in data and "peak_flops" in data


def _is_quality(data: Any) -> bool:
    results = data.get("results") if isinstance(data, dict) else None
    return (isinstance(results, list) and bool(results) and "peak_flops" not in data
            and all(isinstance(r, dict) and "model" in r and "dataset" in r for r in results))


def load_inputs(paths: list[Path]) -> tuple[list[dict], list[dict], list[dict]]:
    """(bench reports, quality records, runs) from bench/zoo/quality JSON files and run folders."""
    benches, quality, runs = [], [], []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            run = RunFolder(path)
            config = run.read_config()
            metrics = run.read_metrics()
            evaluation = json.loads((path / "eval.json").read_text()) if (path / "eval.json").exists() else None
            if evaluation is None:
                evals = [r["eval"] for r in metrics if "eval" in r]
                evaluation = evals[-1] if evals else None
            grids = sorted(run.samples.glob("step_*.png"))
            runs.append({"path": path, "config": config, "eval": evaluation, "metrics": metrics,
                         "grid": grids[-1] if grids else None,
                         "points": path / "eval_points.png" if (path / "eval_points.png").exists() else None})
        elif path.is_file():
            try:
                data = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise GanzooError(f"{path} is not JSON; pass bench or quality JSON files, or run folders") from None
            if isinstance(data, dict) and data.get("zoo") and isinstance(data.get("benches"), list):
                benches += [{"path": path, "skipped": data.get("skipped", []), **b} for b in data["benches"]]
                if not data["benches"]:
                    benches.append({"path": path, "skipped": data.get("skipped", []), "results": []})
            elif _is_bench(data):
                benches.append({"path": path, **data})
            elif _is_quality(data):
                quality += [{**r, "source": path.name} for r in data["results"]]
            else:
                raise GanzooError(f"{path} is not a ganzoo bench result or quality results file; pass bench JSON "
                                  f"(ganzoo bench --out), a suite table.json (ganzoo suite table) or run folders")
        else:
            raise GanzooError(f"{path} does not exist; pass bench or quality JSON files, or run folders")
    return benches, quality, runs


# -- tables -----------------------------------------------------------------------------------------------------------
BENCH_HEADER = ["setting", "train precision", "img/s", "step ms (round min-max)", "peak MB", "GFLOP/step", "MFU",
                "vs eager fp32", "vs tuned eager"]


def bench_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    rows = []
    for r in report["results"]:
        mem = r.get("peak_mem_mb")
        rows.append([r["setting"], r.get("precision", "-"), f"{r['img_per_s']:,.0f}", _step_ms_text(r),
                     f"{mem:,.0f}" if mem is not None else "-", f"{r['flops_per_step'] / 1e9:.2f}", f"{r['mfu']:.1%}",
                     _spread_text(r, "speedup_vs_eager"), _spread_text(r, "speedup_vs_tuned_eager")])
    return BENCH_HEADER, rows


def bench_title(report: dict) -> str:
    peaks = ", ".join(f"{k} {v / 1e9:,.0f} GFLOP/s" for k, v in report["peak_flops"].items())
    rounds = f"{report['rounds']} interleaved rounds of {report['steps_per_round']} steps" if "rounds" in report \
        else f"{report.get('steps_timed', '?')} steps, one run per setting"
    return (f"{report['model']} {tuple(report['shape'])}, batch {report['batch_size']}, n_critic {report['n_critic']} "
            f"on {report['device']} ({report['device_name']}, {report['threads']} threads), {rounds}; "
            f"matmul peaks: {peaks}")


def match_quality(model: str, precision: str, quality: list[dict]) -> Optional[dict]:
    """The first quality record of `model` trained in `precision` (records without a training precision match any),
    preferring image results (with an FID)."""
    candidates = [q for q in quality if q["model"] == model and q.get("train_precision", precision) == precision]
    with_fid = [q for q in candidates if q.get("fid") is not None]
    return (with_fid or candidates or [None])[0]


ZOO_HEADER = ["model", "setting", "train precision", "img/s", "step ms (round min-max)", "peak MB", "GFLOP/step",
              "MFU", "vs eager fp32", "vs tuned eager"]
QUALITY_HEADER = ["quality on", "FID", "KID", "IS"]


def zoo_rows(benches: list[dict], quality: list[dict]) -> tuple[list[str], list[list[str]]]:
    """One row per model x setting over every bench; FID/KID/IS beside the trainer's rows when quality is given."""
    header = ZOO_HEADER + (QUALITY_HEADER if quality else [])
    rows = []
    for b in benches:
        for r in b["results"]:
            _, (cells,) = bench_rows({"results": [r]})
            row = [b["model"], *cells]
            if quality:
                q = (match_quality(b["model"], r.get("precision", ""), quality)
                     if r.get("kind", "trainer") == "trainer" and not r["setting"].endswith("reference") else None)
                row += ([f"{q['dataset']}, {q.get('feature_extractor') or 'mode metrics'}",
                         _fmt(q.get("fid")), _fmt(q.get("kid_mean")), _fmt(q.get("is_mean"))] if q else ["-"] * 4)
            rows.append(row)
    return header, rows


def run_rows(runs: list[dict]) -> tuple[list[str], list[list[str]]]:
    keys = [k for k in IMAGE_KEYS + MODE_KEYS if any(r["eval"] and k in r["eval"] for r in runs)]
    header = ["run", "model", "dataset", "steps", "train precision", *[READABLE[k] for k in keys], "protocol"]
    rows = []
    for r in runs:
        c, e = r["config"], r["eval"] or {}
        if isinstance(e.get("protocol"), dict):
            how = card_text(e["protocol"])
        else:  # measured before protocol cards
            how = ": ".join(v for v in (e.get("feature_extractor"), e.get("feature_extractor_info")) if v)
            how = f"{e.get('num_samples', '?')} samples" + (f", {how}" if how else "") if e else "not evaluated"
        rows.append([r["path"].name, c.get("model", "?"), c.get("dataset", {}).get("name", "?"),
                     str(c.get("spec", {}).get("steps", c.get("train", {}).get("steps", "?"))),
                     str(c.get("precision", "?")),
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


# -- charts -----------------------------------------------------------------------------------------------------------
def speed_bars(benches: list[dict]) -> Optional[str]:
    """img/s per model x setting, whiskers over the per-round min-max."""
    bars = []
    for b in benches:
        for r in b["results"]:
            rounds = r.get("img_per_s_rounds") or []
            bars.append((f"{b['model']} {r['setting']}", r["img_per_s"], min(rounds) if rounds else None,
                         max(rounds) if rounds else None))
    if not bars:
        return None
    return svgplot.bar_chart(bars, "training speed (whiskers: min-max over rounds)", "images per second")


def speed_quality_scatter(benches: list[dict], quality: list[dict]) -> Optional[str]:
    points = []
    for b in benches:
        for r in b["results"]:
            if r.get("kind", "trainer") != "trainer" or r["setting"].endswith("reference"):
                continue
            q = match_quality(b["model"], r.get("precision", ""), quality)
            if q and isinstance(q.get("fid"), (int, float)):
                points.append((f"{b['model']} {r['setting']}", r["img_per_s"], float(q["fid"])))
    if not points:
        return None
    return svgplot.scatter(points, "speed vs quality (lower FID is better)", "images per second", "FID")


def run_charts(run: dict) -> list[str]:
    """Loss curves and every numeric eval metric over steps, from the run's metrics.jsonl."""
    metrics = run.get("metrics") or []
    charts = []
    losses = {k: [(m["step"], m[k]) for m in metrics if isinstance(m.get(k), (int, float)) and "step" in m]
              for k in ("loss_d", "loss_g")}
    if any(losses.values()):
        charts.append(svgplot.line_chart({k: v for k, v in losses.items() if v}, f"{run['path'].name}: losses",
                                         "step", "loss"))
    evals = [(m["step"], m["eval"]) for m in metrics if isinstance(m.get("eval"), dict) and "step" in m]
    keys = [k for k in IMAGE_KEYS + MODE_KEYS if any(isinstance(e.get(k), (int, float)) for _, e in evals)]
    for k in keys:
        pts = [(s, float(e[k])) for s, e in evals if isinstance(e.get(k), (int, float))]
        charts.append(svgplot.line_chart({READABLE[k]: pts}, f"{run['path'].name}: {READABLE[k]}", "step",
                                         READABLE[k], width=300, height=200))
    return charts


def convergence_charts(quality: list[dict]) -> list[str]:
    """One chart per dataset and metric: each row's mean over seeds at every evaluation point (a suite's
    table.json carries them as ``curve``)."""
    groups: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for q in quality:
        curve, metric = q.get("curve"), q.get("curve_metric")
        if not isinstance(curve, dict) or len(curve) < 2 or metric not in READABLE:
            continue
        series = groups.setdefault((q["dataset"], metric), {})
        name = q["model"] if q["model"] not in series else f"{q['model']} ({q.get('source', '?')})"  # two tables
        series[name] = [(float(s), float(v)) for s, v in curve.items()]
    return [svgplot.line_chart(series, f"{dataset}: {READABLE[metric]} over training (mean over seeds)", "step",
                               READABLE[metric]) for (dataset, metric), series in groups.items()]


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}"
         "td:first-child{text-align:left}"
         "th{background:#f3f3f3}svg{margin:6px;border:1px solid #eee}.charts{display:flex;flex-wrap:wrap}"
         "img{image-rendering:pixelated;margin:4px;border:1px solid #ddd}")


def build_report(paths: list[Path]) -> tuple[str, str, list[tuple[str, list[str], list[list[str]]]]]:
    """(markdown, html, tables) for the given inputs."""
    benches, quality, runs = load_inputs(paths)
    tables = []
    if benches:
        tables.append(("zoo: speed" + (" and quality" if quality else ""), *zoo_rows(benches, quality)))
    for b in benches:
        if b["results"]:
            tables.append((bench_title(b), *bench_rows(b)))
    if runs:
        tables.append(("runs: quality", *run_rows(runs)))
    if quality and not benches:
        keys = [k for k in IMAGE_KEYS + MODE_KEYS if any(k in q for q in quality)]
        tables.append(("quality results", ["model", "dataset", "train precision", *[READABLE[k] for k in keys]],
                       [[q["model"], q["dataset"], str(q.get("train_precision", "-")),
                         *[_fmt(q.get(k), k) for k in keys]]
                        for q in quality]))
    skipped = {(s["model"], s["reason"]) for b in benches for s in b.get("skipped", [])}
    md = ["# ganzoo report", ""]
    page = [f"<!doctype html><html><head><meta charset='utf-8'><title>ganzoo report</title><style>{STYLE}</style>"
            "</head><body>", "<h1>ganzoo report</h1>"]
    charts = [c for c in (speed_bars(benches), speed_quality_scatter(benches, quality)) if c]
    if charts:
        page += ["<h2>speed and quality</h2><div class='charts'>", *charts, "</div>"]
    convergence = convergence_charts(quality)
    if convergence:
        page += ["<h2>convergence</h2><div class='charts'>", *convergence, "</div>"]
    for title, header, rows in tables:
        md += [f"## {title}", "", markdown_table(header, rows), ""]
        page += [f"<h2>{html.escape(title)}</h2>", html_table(header, rows)]
    notes = []
    if benches:
        notes.append("Speedups: median of per-round ratios over interleaved rounds, with the min-max over rounds; "
                     "eager fp32 = pytorch/examples' loop, tuned eager = the same loop with autocast, channels-last, "
                     "fused Adam and no per-step .item().")
        kinds = {r.get("peak_mem_kind") for b in benches for r in b["results"] if r.get("peak_mem_kind")}
        notes += [f"peak MB: {k}." for k in sorted(kinds)]
    notes += [f"skipped {m}: {why}" for m, why in sorted(skipped)]
    notes += [f"{b['model']} {f['setting']} failed and is not in the tables: {f['error']}"
              for b in benches for f in b.get("failed", [])]
    notes += [f"Bench command: `{b['command']}`" for b in benches if b.get("command")]
    if notes:
        md += [*(f"- {n}" for n in notes), ""]
        page.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    for r in runs:
        run_svgs = run_charts(r)
        pictures = [(label, p) for label, p in (("samples", r["grid"]), ("points", r["points"])) if p]
        if not run_svgs and not pictures:
            continue
        page += [f"<h2>run {html.escape(r['path'].name)}</h2><div class='charts'>", *run_svgs]
        for label, picture in pictures:
            page.append(f"<figure><img src='{_data_uri(picture)}' alt='{html.escape(r['path'].name)} {label}'>"
                        f"<figcaption>{html.escape(r['path'].name)}: {label}</figcaption></figure>")
            md.append(f"![{r['path'].name} {label}]({picture.as_posix()})")
        page.append("</div>")
    if runs:
        md += ["", "Loss curves and eval metrics over steps are in the HTML page.", ""]
    if convergence:
        md += ["", "Convergence curves (each row's headline metric over training) are in the HTML page.", ""]
    page.append("</body></html>")
    return "\n".join(md), "\n".join(page), tables
