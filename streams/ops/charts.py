"""Inline SVG charts for the dashboard: no script, no external library, works offline.

`line_chart` draws one or more series over the last hour with a labelled y axis (with its
unit), a time axis (60 min ago to now) and a legend; colours follow the page's palette
through CSS classes, so the dark theme recolours them.
"""

from __future__ import annotations

import math
from html import escape

Series = dict[str, list[tuple[float, float]]]  # name -> (unix time, value), oldest first
SERIES_CLASSES = 6  # .s0 ... .s5 in base.html


def nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def line_chart(series: Series, *, now: float, unit: str, label: str,
               span_seconds: float = 3600, width: int = 420, height: int = 150) -> str:
    """An SVG chart of the series over the `span_seconds` before `now`."""
    left, right, top, bottom = 44, 8, 8, 34  # room for tick labels and the legend
    plot_w, plot_h = width - left - right, height - top - bottom
    shown = {name: [(t, v) for t, v in points if now - span_seconds <= t <= now]
             for name, points in series.items()}
    peak = max((v for points in shown.values() for _, v in points), default=0.0)
    y_top = nice_top(peak)

    def x(t: float) -> float:
        return left + plot_w * (1 - (now - t) / span_seconds)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_top)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" '
             f'preserveAspectRatio="xMidYMid meet" role="img" '
             f'aria-label="{escape(label)}: peak {_number(peak)} {escape(unit)}">'
             f'<title>{escape(label)}</title>']
    for fraction in (0, 0.5, 1):  # horizontal grid lines with their values
        value = y_top * fraction
        parts.append(f'<line class="grid-line" x1="{left}" x2="{width - right}" '
                     f'y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
                     f'<text class="tick" x="{left - 4}" y="{y(value) + 4:.1f}" '
                     f'text-anchor="end">{_number(value)}</text>')
    for minutes in (60, 45, 30, 15, 0):
        at = x(now - minutes * 60)
        text = "now" if minutes == 0 else f"-{minutes} min"
        anchor = "end" if minutes == 0 else "middle"  # "now" ends at the edge, not past it
        parts.append(f'<text class="tick" x="{at:.1f}" y="{top + plot_h + 13}" '
                     f'text-anchor="{anchor}">{text}</text>')
    parts.append(f'<text class="tick unit" x="4" y="{top + 4}" '
                 f'transform="rotate(90 4 {top + 4})">{escape(unit)}</text>')
    legend_x = left
    for index, (name, points) in enumerate(shown.items()):
        css = f"s{index % SERIES_CLASSES}"
        if len(points) >= 2:
            path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
            parts.append(f'<polyline class="line {css}" points="{path}"/>')
        elif points:
            t, v = points[0]
            parts.append(f'<circle class="dot {css}" cx="{x(t):.1f}" cy="{y(v):.1f}" r="2"/>')
        parts.append(f'<rect class="key {css}" x="{legend_x}" y="{height - 11}" width="10" '
                     f'height="3"/><text class="tick" x="{legend_x + 13}" '
                     f'y="{height - 7}">{escape(name)}</text>')
        legend_x += 18 + 7 * len(name)
    if not any(shown.values()):
        parts.append(f'<text class="tick" x="{left + plot_w / 2}" y="{top + plot_h / 2}" '
                     f'text-anchor="middle">no data yet</text>')
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: list[float], *, width: int = 240, height: int = 40,
              label: str = "") -> str:
    """A polyline of the values scaled to the box (an empty box when there are none)."""
    title = f"<title>{escape(label)}</title>" if label else ""
    if len(values) < 2:
        return (f'<svg class="spark" width="{width}" height="{height}" role="img" '
                f'aria-label="{escape(label)}: no data yet">{title}</svg>')
    top = max(max(values), 1e-9)
    step = width / (len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
                      for i, v in enumerate(values))
    return (f'<svg class="spark" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(label)}: peak {top:.1f}/s">{title}'
            f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" '
            f'points="{points}"/></svg>')
