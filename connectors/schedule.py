"""When to poll a feed next: its own signals, clamped, with jitter and error backoff."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class ScheduleBounds:
    """Clamp for every computed interval, in seconds, and the jitter fraction."""

    min_seconds: float = 60.0
    max_seconds: float = 3600.0
    default_seconds: float = 300.0
    jitter: float = 0.1


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None


def success_interval(
    bounds: ScheduleBounds, *, fixed: float | None = None, cache_control: str | None = None,
    ttl_minutes: int | None = None,
) -> float:
    """Interval after a successful poll: fixed, else the feed's max-age or TTL, else default."""
    interval = bounds.default_seconds
    if fixed is not None:
        return fixed
    if cache_control and (match := _MAX_AGE.search(cache_control)):
        interval = float(match.group(1))
    elif ttl_minutes:
        interval = ttl_minutes * 60.0
    return clamp(interval, bounds)


def error_interval(bounds: ScheduleBounds, streak: int, retry_after: float | None) -> float:
    """Exponential backoff after `streak` consecutive errors, never beyond the max interval."""
    backoff = bounds.min_seconds * (2 ** min(max(0, streak - 1), 64))  # 2**1024 overflows float
    if retry_after is not None:
        backoff = max(backoff, retry_after)
    return clamp(backoff, bounds)


def clamp(interval: float, bounds: ScheduleBounds) -> float:
    return max(bounds.min_seconds, min(bounds.max_seconds, interval))


def with_jitter(interval: float, bounds: ScheduleBounds, rng: random.Random) -> float:
    """Spread polls so that feeds added together do not fire together."""
    return interval * (1.0 + rng.uniform(-bounds.jitter, bounds.jitter))
