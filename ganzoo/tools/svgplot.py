"""Small inline-SVG charts for the HTML report: lines, bars with spread whiskers, a labelled scatter.

Hand-written so the report stays one self-contained file with no plotting dependency. Every chart takes plain
numbers and returns an `<svg>` string; axes are linear, with "nice" ticks.
"""

from __future__ import annotations

import html
import math
from typing import Optional

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
FONT = "font-family='sans-serif' font-size='11'"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high] (steps of 1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.floor(low / step) * step
    ticks, t = [], first
    while t <= high + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < high:
        ticks.append(round(t, 12))
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.2g}"
    return f"{v:.6g}"


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


class _Frame:
    """Maps data to pixels inside a plot area with margins, and draws the axes."""

    def __init__(self, width: int, height: int, xs: list[float], ys: list[float], left: int = 56,
                 right: int = 12, top: int = 24, bottom: int = 38, x_from_zero: bool = False,
                 y_from_zero: bool = False):
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = left, right, top, bottom
        xlo, xhi = (min(xs), max(xs)) if xs else (0.0, 1.0)
        ylo, yhi = (min(ys), max(ys)) if ys else (0.0, 1.0)
        if x_from_zero:
            xlo = min(xlo, 0.0)
        if y_from_zero:
            ylo = min(ylo, 0.0)
        self.xticks, self.yticks = nice_ticks(xlo, xhi), nice_ticks(ylo, yhi)
        self.xlo, self.xhi = self.xticks[0], self.xticks[-1]
        self.ylo, self.yhi = self.yticks[0], self.yticks[-1]

    def x(self, v: float) -> float:
        span = (self.xhi - self.xlo) or 1.0
        return self.left + (v - self.xlo) / span * (self.width - self.left - self.right)

    def y(self, v: float) -> float:
        span = (self.yhi - self.ylo) or 1.0
        return self.height - self.bottom - (v - self.ylo) / span * (self.height - self.top - self.bottom)

    def axes(self, title: str, xlabel: str, ylabel: str, xgrid: bool = True, ygrid: bool = True) -> list[str]:
        x0, x1 = self.left, self.width - self.right
        y0, y1 = self.height - self.bottom, self.top
        out = [f"<rect x='0' y='0' width='{self.width}' height='{self.height}' fill='white'/>",
               f"<text x='{self.width / 2:.1f}' y='15' text-anchor='middle' font-family='sans-serif' font-size='13' "
               f"font-weight='bold'>{_esc(title)}</text>"]
        if ygrid:
            for t in self.yticks:
                y = self.y(t)
                out.append(f"<line x1='{x0}' x2='{x1}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e5e5'/>")
                out.append(f"<text x='{x0 - 4}' y='{y + 4:.1f}' text-anchor='end' {FONT}>{_fmt(t)}</text>")
        if xgrid:
            for t in self.xticks:
                x = self.x(t)
                out.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{y0}' y2='{y1}' stroke='#e5e5e5'/>")
                out.append(f"<text x='{x:.1f}' y='{y0 + 14}' text-anchor='middle' {FONT}>{_fmt(t)}</text>")
        out.append(f"<line x1='{x0}' x2='{x1}' y1='{y0}' y2='{y0}' stroke='#333'/>")
        out.append(f"<line x1='{x0}' x2='{x0}' y1='{y0}' y2='{y1}' stroke='#333'/>")
        out.append(f"<text x='{(x0 + x1) / 2:.1f}' y='{y0 + 32}' text-anchor='middle' {FONT}>"
                   f"{_esc(xlabel)}</text>")
        out.append(f"<text transform='translate(12 {(y0 + y1) / 2:.1f}) rotate(-90)' text-anchor='middle' {FONT}>"
                   f"{_esc(ylabel)}</text>")
        return out


def _svg(width: int, height: int, parts: list[str], label: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img' aria-label='{_esc(label)}'>" + "".join(parts) + "</svg>")


#: Line styles once the palette's colours are used up: every series of a chart stays distinguishable
DASHES = ["", "6,3", "2,2", "8,3,2,3"]
LEGEND_ROW = 14


def _legend_rows(names: list[str], left: int, right_edge: int) -> list[list[tuple[str, int, int]]]:
    """(name, index, x) per legend entry, wrapped into rows that fit between `left` and `right_edge`."""
    rows: list[list[tuple[str, int, int]]] = [[]]
    x = left
    for i, name in enumerate(names):
        w = 28 + 7 * len(name)  # swatch, gaps and about 7 px per character at the 11 px font
        if rows[-1] and x + w > right_edge:
            rows.append([])
            x = left
        rows[-1].append((name, i, x))
        x += w
    return rows


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str,
               width: int = 420, height: int = 240) -> str:
    """One polyline per named series of (x, y) points, with a legend below the axes (as many rows as the names
    need; colours, then dash patterns, tell the series apart); non-finite points are dropped."""
    clean = {k: [(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)] for k, pts in series.items()}
    clean = {k: v for k, v in clean.items() if v}
    xs = [x for pts in clean.values() for x, _ in pts]
    ys = [y for pts in clean.values() for _, y in pts]
    rows = _legend_rows(list(clean), 56, width - 12) if clean else []
    extra = LEGEND_ROW * len(rows)
    f = _Frame(width, height + extra, xs, ys, bottom=38 + extra)
    parts = f.axes(title, xlabel, ylabel)
    n = len(PALETTE)
    for i, (name, pts) in enumerate(clean.items()):
        color, dash = PALETTE[i % n], DASHES[(i // n) % len(DASHES)]
        style = f" stroke-dasharray='{dash}'" if dash else ""
        coords = " ".join(f"{f.x(x):.1f},{f.y(y):.1f}" for x, y in pts)
        if len(pts) == 1:
            parts.append(f"<circle cx='{f.x(pts[0][0]):.1f}' cy='{f.y(pts[0][1]):.1f}' r='3' fill='{color}' "
                         f"data-series='{_esc(name)}'/>")
        else:
            parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='1.6'{style} points='{coords}' "
                         f"data-series='{_esc(name)}'/>")
    for r, row in enumerate(rows):
        y = height + 10 + LEGEND_ROW * r  # below the x-axis label, in the rows added for the legend
        for name, i, x in row:
            dash = DASHES[(i // n) % len(DASHES)]
            style = f" stroke-dasharray='{dash}'" if dash else ""
            parts.append(f"<line x1='{x}' x2='{x + 16}' y1='{y - 4}' y2='{y - 4}' stroke='{PALETTE[i % n]}' "
                         f"stroke-width='2'{style}/><text x='{x + 20}' y='{y}' {FONT} class='legend'>"
                         f"{_esc(name)}</text>")
    return _svg(width, height + extra, parts, title)


def bar_chart(bars: list[tuple[str, float, Optional[float], Optional[float]]], title: str, xlabel: str,
              width: int = 640, bar_height: int = 18) -> str:
    """Horizontal bars (label, value, low, high) from zero, each with a whisker over its low-high spread."""
    left = 12 + 6 * max((len(b[0]) for b in bars), default=4)
    height = 24 + 38 + bar_height * 1.5 * max(len(bars), 1)
    values = [v for b in bars for v in (b[1], b[2], b[3]) if v is not None and math.isfinite(v)]
    f = _Frame(width, int(height), values, [0.0, 1.0], left=left, x_from_zero=True)
    parts = f.axes(title, xlabel, "", ygrid=False)
    for i, (label, value, low, high) in enumerate(bars):
        y = f.top + 6 + i * bar_height * 1.5
        color = PALETTE[i % len(PALETTE)]
        parts.append(f"<text x='{left - 4}' y='{y + bar_height * 0.7:.1f}' text-anchor='end' {FONT}>"
                     f"{_esc(label)}</text>")
        parts.append(f"<rect class='bar' x='{f.x(0):.1f}' y='{y:.1f}' width='{max(f.x(value) - f.x(0), 0):.1f}' "
                     f"height='{bar_height}' fill='{color}' fill-opacity='0.75' data-value='{value:.6g}'/>")
        if low is not None and high is not None:
            mid = y + bar_height / 2
            parts.append(f"<line class='whisker' x1='{f.x(low):.1f}' x2='{f.x(high):.1f}' y1='{mid:.1f}' "
                         f"y2='{mid:.1f}' stroke='#111' stroke-width='1.5'/>")
            for end in (low, high):
                parts.append(f"<line x1='{f.x(end):.1f}' x2='{f.x(end):.1f}' y1='{mid - 4:.1f}' y2='{mid + 4:.1f}' "
                             f"stroke='#111' stroke-width='1.5'/>")
    return _svg(width, int(height), parts, title)


def scatter(points: list[tuple[str, float, float]], title: str, xlabel: str, ylabel: str,
            width: int = 520, height: int = 320) -> str:
    """Labelled points (label, x, y)."""
    pts = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    f = _Frame(width, height, [p[1] for p in pts], [p[2] for p in pts], right=40)
    parts = f.axes(title, xlabel, ylabel)
    for i, (label, x, y) in enumerate(pts):
        color = PALETTE[i % len(PALETTE)]
        parts.append(f"<circle class='point' cx='{f.x(x):.1f}' cy='{f.y(y):.1f}' r='5' fill='{color}'/>"
                     f"<text x='{f.x(x) + 7:.1f}' y='{f.y(y) - 6:.1f}' {FONT}>{_esc(label)}</text>")
    return _svg(width, height, parts, title)
