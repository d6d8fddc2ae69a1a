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


def expires_seconds(value: str | None, now: float) -> float | None:
    """Seconds until an Expires header's date (None when absent, invalid or past)."""
    if not value:
        return None
    try:
        remaining = parsedate_to_datetime(value.strip()).timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return remaining if remaining > 0 else None


def frequency_interval(published: list[float], now: float,
                       window_seconds: float = 7 * 86400) -> float | None:
    """Interval matching how often the feed publishes: the window over its items in it.

    A feed with 70 items in the last week is polled about every 2.4 hours at most, one with
    a single item once a week; the clamp to min/max applies afterwards.
    """
    recent = [stamp for stamp in published if now - window_seconds <= stamp <= now]
    if not recent:
        return None
    return window_seconds / len(recent)


def success_interval(
    bounds: ScheduleBounds, *, fixed: float | None = None, cache_control: str | None = None,
    expires: float | None = None, ttl_minutes: int | None = None,
    frequency: float | None = None,
) -> float:
    """Interval after a successful poll, clamped to the bounds.

    A fixed interval from the feeds file wins. Otherwise the feed's own freshness hint
    (Cache-Control max-age, then Expires, then RSS <ttl>) is a floor, never polled sooner,
    and its publishing frequency (or the default) sets the pace above that floor.
    """
    if fixed is not None:
        return clamp(fixed, bounds)
    hint: float | None = None
    if cache_control and (match := _MAX_AGE.search(cache_control)):
        hint = float(match.group(1))
    elif expires is not None:
        hint = expires
    elif ttl_minutes:
        hint = ttl_minutes * 60.0
    pace = frequency if frequency is not None else bounds.default_seconds
    return clamp(max(hint or 0.0, pace), bounds)


def error_interval(bounds: ScheduleBounds, streak: int, retry_after: float | None) -> float:
    """Exponential backoff after `streak` consecutive errors, never beyond the max interval."""
    backoff = bounds.min_seconds * (2 ** min(max(0, streak - 1), 64))  # 2**1024 overflows float
    if retry_after is not None:
        backoff = max(backoff, retry_after)
    return clamp(backoff, bounds)


def clamp(interval: float, bounds: ScheduleBounds) -> float:
    return max(bounds.min_seconds, min(bounds.max_seconds, interval))


def with_jitter(interval: float, bounds: ScheduleBounds, rng: random.Random) -> float:
    """Spread polls so that feeds added together do not fire together (never past max)."""
    return min(bounds.max_seconds, interval * (1.0 + rng.uniform(-bounds.jitter, bounds.jitter)))
