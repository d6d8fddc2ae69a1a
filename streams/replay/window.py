"""Moments as people type them: ISO 8601 times and dates, `now`, or an age such as 2h or 7d."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"(\d+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class MomentError(ValueError):
    """A time that cannot be read; the message says what to write instead."""


def parse_duration(text: str) -> timedelta | None:
    """`2h30m`, `7d`, `1w` as a timedelta; None when the text is not a duration."""
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return timedelta(seconds=sum(int(n) * _SECONDS[u] for n, u in parts))


def parse_moment(text: str, now: datetime) -> datetime:
    """A point in time: `now`, an age before `now` (`90m`, `2h`, `7d`, also `7d ago`), or an
    ISO 8601 date or time (UTC unless it carries an offset)."""
    cleaned = text.strip().lower().removesuffix("ago").strip()
    if cleaned == "now":
        return now
    age = parse_duration(cleaned)
    if age is not None:
        return now - age
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MomentError(f"{text!r} is not a time: write an ISO time such as 2026-11-20T08:00Z "
                          "or 2026-11-20, `now`, or an age such as 90m, 2h, 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
