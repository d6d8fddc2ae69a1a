"""Moments as people read them: a UTC timestamp, or how long ago (or how soon) it is."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(epoch: float | None, now: float | None = None) -> str:
    """"12 s ago", "in 5 min", "1.5 h ago"; "never" without a moment."""
    if not epoch:
        return "never"
    seconds = (time.time() if now is None else now) - epoch
    future = seconds < 0
    seconds = abs(seconds)
    text = (f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
            if seconds < 5400 else f"{seconds / 3600:.1f} h")
    return f"in {text}" if future else f"{text} ago"
