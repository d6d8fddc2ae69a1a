"""Inline SVG charts for the dashboard: no script, no external library, works offline."""

from __future__ import annotations

from html import escape


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
