"""`ganzoo report`: the zoo table with quality beside speed, readable columns, inline-SVG charts, a page a browser
draws (checked on a headless Chromium screenshot where one is installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ganzoo.cli.commands import main
from ganzoo.tools import svgplot
from ganzoo.tools.report import build_report, match_quality, zoo_rows

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[2]


def _row(setting, kind, precision, ms_rounds, eager_rounds, tuned_rounds, mem=50.0):
    from ganzoo.tools.bench import spread

    vs_e = [e / m for e, m in zip(eager_rounds, ms_rounds)]
    vs_t = [t / m for t, m in zip(tuned_rounds, ms_rounds)]
    med = sorted(ms_rounds)[len(ms_rounds) // 2]
    return {"setting": setting, "kind": kind, "precision": precision, "compile": False, "img_per_s": 64 / med * 1e3,
            "img_per_s_rounds": [64 / m * 1e3 for m in ms_rounds], "step_ms": med, "step_ms_p10": min(ms_rounds),
            "step_ms_p90": max(ms_rounds), "step_ms_rounds": ms_rounds, "step_ms_spread": spread(ms_rounds),
            "speedup_vs_eager": spread(vs_e)["median"], "speedup_vs_eager_spread": spread(vs_e),
            "speedup_vs_tuned_eager": spread(vs_t)["median"], "speedup_vs_tuned_eager_spread": spread(vs_t),
            "flops_per_step": 2.5e10, "mfu": 0.2, "peak_mem_mb": mem, "peak_mem_kind": "test memory"}


def _bench(model, factor=1.0):
    eager, tuned = [100.0 * factor, 110.0 * factor, 105.0 * factor], [50.0 * factor, 52.0 * factor, 49.0 * factor]
    rows = [_row("eager-fp32-reference", "reference", "fp32", eager, eager, tuned),
            _row("tuned-eager-reference", "reference", "bf16", tuned, eager, tuned),
            _row("fp32", "trainer", "fp32", [80.0 * factor, 81.0 * factor, 79.0 * factor], eager, tuned),
            _row("bf16", "trainer", "bf16", [40.0 * factor, 44.0 * factor, 41.0 * factor], eager, tuned)]
    return {"model": model, "shape": [3, 32, 32], "batch_size": 64, "n_critic": 1, "rounds": 3, "steps_per_round": 10,
            "device": "cpu", "device_name": "x86_64", "threads": 2, "torch": "2", "warmup": 5,
            "peak_flops": {"fp32": 3e11, "bf16": 2e12}, "results": rows}


QUALITY = {"command": "python benchmarks/quality.py", "results": [
    {"model": "dcgan", "dataset": "ring8", "modes_captured": 8, "train_precision": "bf16"},
    {"model": "dcgan", "dataset": "digits", "fid": 120.0, "kid_mean": 0.019, "is_mean": 7.3, "precision": 0.47,
     "train_precision": "bf16", "feature_extractor": "classifier"},
    {"model": "dcgan", "dataset": "digits", "fid": 90.0, "kid_mean": 0.011, "is_mean": 7.9, "precision": 0.6,
     "train_precision": "fp32", "feature_extractor": "classifier"},
    {"model": "vanilla", "dataset": "digits", "fid": 250.0, "kid_mean": 0.04, "is_mean": 7.2, "precision": 0.76,
     "train_precision": "bf16", "feature_extractor": "classifier"}]}


def _write_inputs(tmp_path):
    zoo = tmp_path / "zoo.json"
    zoo.write_text(json.dumps({"zoo": True, "shape": [3, 32, 32], "batch_size": 64, "peak_flops": {},
                               "benches": [_bench("dcgan"), _bench("vanilla", 0.25)],
                               "skipped": [{"model": "pacgan", "reason": "needs vector data"}]}))
    quality = tmp_path / "quality.json"
    quality.write_text(json.dumps(QUALITY))
    run = tmp_path / "runs" / "dcgan-demo"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"train": {"steps": 300}, "model": "dcgan",
                                                 "dataset": {"name": "digits"}, "precision": "bf16"}))
    metrics = [{"step": s, "loss_d": 1.4 - s / 1000, "loss_g": 0.7 + s / 1000, "img_per_s": 900.0}
               for s in range(50, 301, 50)]
    metrics += [{"step": 150, "eval": {"fid": 200.0, "precision": 0.3}},
                {"step": 300, "eval": {"fid": 150.0, "precision": 0.4}}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    return zoo, quality, run


def test_zoo_table_puts_quality_of_the_same_training_precision_beside_speed():
    benches = [_bench("dcgan"), _bench("vanilla", 0.25)]
    header, rows = zoo_rows(benches, QUALITY["results"])
    assert len(header) == len(set(header)), "no two columns share a name"
    assert "train precision" in header and "FID" in header and "precision" not in header
    by = {(r[0], r[1]): dict(zip(header, r)) for r in rows}
    assert len(rows) == 8
    assert by[("dcgan", "bf16")]["FID"] == "120" and by[("dcgan", "fp32")]["FID"] == "90"
    assert by[("dcgan", "bf16")]["quality on"].startswith("digits"), "image results (with an FID) preferred"
    assert by[("vanilla", "fp32")]["FID"] == "-", "no fp32 quality result for vanilla: none is borrowed"
    assert by[("dcgan", "eager-fp32-reference")]["FID"] == "-"
    # median of per-round ratios: eager rounds (100, 110, 105) / bf16 rounds (40, 44, 41) = 2.5, 2.5, 2.56
    assert by[("dcgan", "bf16")]["vs eager fp32"] == "2.50x (2.50-2.56)"  # a spread of 0.06: two decimals
    assert by[("dcgan", "bf16")]["step ms (round min-max)"] == "41 (40-44)"
    assert match_quality("dcgan", "fp16", QUALITY["results"]) is None


def test_svg_bars_scale_with_their_values_and_whiskers_span_the_spread():
    svg = svgplot.bar_chart([("a", 100.0, 90.0, 120.0), ("b", 300.0, 250.0, 310.0)], "speed", "img/s")
    root = ET.fromstring(svg)
    bars = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]
    widths = [float(b.get("width")) for b in bars]
    assert len(bars) == 2 and widths[1] / widths[0] == pytest.approx(3.0, rel=0.01)
    x0 = float(bars[0].get("x"))
    whiskers = [e for e in root.iter(f"{SVG}line") if e.get("class") == "whisker"]
    lo, hi = float(whiskers[1].get("x1")), float(whiskers[1].get("x2"))
    assert (lo - x0) / widths[1] == pytest.approx(250 / 300, rel=0.01) and (hi - x0) / widths[1] == pytest.approx(310 / 300, rel=0.01)


def test_svg_line_chart_maps_every_point_inside_the_axes():
    pts = [(0.0, 1.0), (50.0, 3.0), (100.0, 2.0)]
    root = ET.fromstring(svgplot.line_chart({"loss_d": pts}, "losses", "step", "loss", width=400, height=200))
    (line,) = list(root.iter(f"{SVG}polyline"))
    coords = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    assert len(coords) == 3
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    assert xs == sorted(xs) and 0 < min(xs) and max(xs) < 400
    assert ys[1] < ys[2] < ys[0], "larger values are drawn higher (smaller y)"
    ticks = svgplot.nice_ticks(0.13, 9.7)
    assert ticks[0] <= 0.13 and ticks[-1] >= 9.7 and len(ticks) <= 8


def test_svg_line_chart_keeps_a_legend_of_thirteen_models_inside_and_their_lines_distinct():
    """A digits suite charts 13 models per dataset: more names than one legend row and than the palette's colours."""
    names = ["vanilla", "minimax", "dcgan", "wgan-gp", "wgan", "sngan", "gan-r1", "pacgan", "acgan", "infogan",
             "sngan-resnet", "r3gan", "stylegan2-ada-cond"]
    series = {n: [(0.0, float(i)), (10.0, float(i + 1))] for i, n in enumerate(names)}
    root = ET.fromstring(svgplot.line_chart(series, "digits: FID", "step", "FID", width=420, height=240))
    width, height = float(root.get("width")), float(root.get("height"))
    labels = [e for e in root.iter(f"{SVG}text") if e.get("class") == "legend"]
    assert [e.text for e in labels] == names and height > 240  # rows were added for the legend
    for e in labels:  # about 7 px a character at the 11 px font, as the layout assumes
        assert float(e.get("x")) + 7 * len(e.text) <= width and float(e.get("y")) <= height, e.text
    assert len({float(e.get("y")) for e in labels}) > 1  # wrapped into rows
    lines = list(root.iter(f"{SVG}polyline"))
    assert len({(e.get("stroke"), e.get("stroke-dasharray")) for e in lines}) == len(names)
    axis_y = max(float(e.get("y1")) for e in root.iter(f"{SVG}line") if e.get("stroke") == "#333")
    assert all(float(e.get("y")) > axis_y + 32 for e in labels)  # below the x-axis and its label


def test_report_has_charts_tables_and_readable_columns(tmp_path):
    zoo, quality, run = _write_inputs(tmp_path)
    md, page, tables = build_report([zoo, quality, run])
    titles = [t[0] for t in tables]
    assert titles[0] == "zoo: speed and quality" and "runs: quality" in titles
    run_header = {t[0]: t[1] for t in tables}["runs: quality"]
    assert "train precision" in run_header and "k-NN precision" in run_header and "precision" not in run_header
    assert "skipped pacgan: needs vector data" in md
    svgs = [s + "</svg>" for s in page.split("</svg>")[:-1]]
    svgs = [s[s.index("<svg"):] for s in svgs]
    for s in svgs:
        ET.fromstring(s)  # every chart is well-formed XML
    labels = [ET.fromstring(s).get("aria-label") for s in svgs]
    assert any(lab.startswith("training speed") for lab in labels)
    assert any(lab.startswith("speed vs quality") for lab in labels)
    assert "dcgan-demo: losses" in labels and "dcgan-demo: FID" in labels and "dcgan-demo: k-NN precision" in labels
    scatter = ET.fromstring(svgs[labels.index("speed vs quality (lower FID is better)")])
    assert len([c for c in scatter.iter(f"{SVG}circle") if c.get("class") == "point"]) == 3  # dcgan x2, vanilla bf16
    assert "http" not in page.replace("http://www.w3.org/2000/svg", ""), "the page loads nothing from elsewhere"


def test_report_reads_the_committed_bench_and_quality_results(tmp_path, capsys):
    inputs = [ROOT / "benchmarks/results/bench-cpu-dcgan.json", ROOT / "benchmarks/results/quality-cpu.json"]
    out = tmp_path / "r" / "report.md"
    assert main(["report", *map(str, inputs), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| dcgan | bf16 | bf16 |" in text and "vs tuned eager" in text
    assert out.with_suffix(".html").exists()


def _screenshot(page: Path, png: Path) -> None:
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))))
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", "--window-size=1000,1400", page.as_uri()],
                   capture_output=True, timeout=120, check=True)


@pytest.mark.skipif(not any(map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
                    reason="no headless browser installed (Debian: apt-get install chromium)")
def test_html_report_renders_in_a_browser_as_a_page_with_content(tmp_path):
    from PIL import Image, ImageStat

    zoo, quality, run = _write_inputs(tmp_path)
    out = tmp_path / "report.md"
    assert main(["report", str(zoo), str(quality), str(run), "--out", str(out)]) == 0
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>")
    _screenshot(out.with_suffix(".html"), tmp_path / "report.png")
    _screenshot(blank, tmp_path / "blank.png")
    variance = {name: sum(ImageStat.Stat(Image.open(tmp_path / f"{name}.png").convert("L")).var)
                for name in ("report", "blank")}
    assert variance["blank"] < 1.0, "control: a blank page has no pixel variance"
    assert variance["report"] > 200, variance
    # the charts are at the top of the page: its upper part holds coloured pixels (bars), not only text
    top = Image.open(tmp_path / "report.png").convert("RGB").crop((0, 0, 1000, 700))
    raw = top.tobytes()
    colours = {(raw[i] // 32, raw[i + 1] // 32, raw[i + 2] // 32) for i in range(0, len(raw), 3)}
    assert len(colours) > 8
