"""wirewatch.connectors.schedule: poll intervals after success and error, Retry-After, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate

import pytest
from wirewatch.connectors.schedule import (
    ScheduleBounds,
    clamp,
    error_interval,
    expires_seconds,
    frequency_interval,
    retry_after_seconds,
    success_interval,
    with_jitter,
)

NOW = 1_800_000_000.0
BOUNDS = ScheduleBounds(min_seconds=60.0, max_seconds=3600.0, default_seconds=300.0, jitter=0.1)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, 300.0, id="default"),
        pytest.param({"fixed": 90.0}, 90.0, id="fixed"),
        pytest.param({"fixed": 90.0, "cache_control": "max-age=900", "ttl_minutes": 30}, 90.0,
                     id="fixed-beats-everything"),
        pytest.param({"cache_control": "public, max-age=900"}, 900.0, id="max-age"),
        pytest.param({"cache_control": "MAX-AGE = 1200, must-revalidate"}, 1200.0,
                     id="max-age-case-and-spaces"),
        pytest.param({"cache_control": "max-age=900", "ttl_minutes": 30}, 900.0,
                     id="max-age-beats-ttl"),
        pytest.param({"cache_control": "no-cache", "ttl_minutes": 30}, 1800.0,
                     id="ttl-when-no-max-age"),
        pytest.param({"cache_control": "s-maxage=900"}, 300.0, id="s-maxage-ignored"),
        pytest.param({"ttl_minutes": 15}, 900.0, id="ttl"),
        pytest.param({"ttl_minutes": 0}, 300.0, id="ttl-zero-means-default"),
        pytest.param({"cache_control": ""}, 300.0, id="empty-cache-control"),
        pytest.param({"cache_control": "max-age=0"}, 300.0, id="max-age-zero-is-no-floor"),
        pytest.param({"cache_control": "max-age=5"}, 300.0, id="short-max-age-keeps-pace"),
        pytest.param({"cache_control": "max-age=5", "frequency": 10.0}, 60.0,
                     id="fast-feed-clamped-to-min"),
        pytest.param({"frequency": 1200.0}, 1200.0, id="frequency-sets-pace"),
        pytest.param({"frequency": 120.0, "cache_control": "max-age=900"}, 900.0,
                     id="max-age-is-a-floor-under-frequency"),
        pytest.param({"expires": 1500.0}, 1500.0, id="expires"),
        pytest.param({"expires": 1500.0, "cache_control": "max-age=600"}, 600.0,
                     id="max-age-beats-expires"),
        pytest.param({"fixed": 5.0}, 60.0, id="fixed-clamped-to-min"),
        pytest.param({"cache_control": "max-age=86400"}, 3600.0, id="max-age-clamped-to-max"),
        pytest.param({"ttl_minutes": 1440}, 3600.0, id="ttl-clamped-to-max"),
        pytest.param({"cache_control": "max-age=-5"}, 300.0, id="negative-max-age-ignored"),
    ],
)
def test_success_interval(kwargs: dict[str, object], expected: float) -> None:
    assert success_interval(BOUNDS, **kwargs) == expected  # type: ignore[arg-type]


def test_success_interval_default_is_clamped() -> None:
    bounds = ScheduleBounds(min_seconds=600.0, max_seconds=3600.0, default_seconds=10.0)
    assert success_interval(bounds) == 600.0


@pytest.mark.parametrize(
    ("streak", "retry_after", "expected"),
    [
        pytest.param(0, None, 60.0, id="streak-0"),
        pytest.param(1, None, 60.0, id="streak-1-is-min"),
        pytest.param(2, None, 120.0, id="streak-2-doubles"),
        pytest.param(3, None, 240.0, id="streak-3"),
        pytest.param(6, None, 1920.0, id="streak-6"),
        pytest.param(7, None, 3600.0, id="streak-7-clamped-to-max"),
        pytest.param(50, None, 3600.0, id="streak-50"),
        pytest.param(1025, None, 3600.0, id="streak-beyond-float-range"),
        pytest.param(10**6, None, 3600.0, id="streak-huge"),
        pytest.param(1, 600.0, 600.0, id="retry-after-longer-than-backoff"),
        pytest.param(4, 30.0, 480.0, id="retry-after-shorter-than-backoff"),
        pytest.param(1, 10.0, 60.0, id="retry-after-below-min"),
        pytest.param(1, -100.0, 60.0, id="retry-after-in-past"),
        pytest.param(1, 86400.0, 3600.0, id="retry-after-clamped-to-max"),
    ],
)
def test_error_interval(streak: int, retry_after: float | None, expected: float) -> None:
    assert error_interval(BOUNDS, streak, retry_after) == expected


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("120", 120.0, id="seconds"),
        pytest.param("  30 ", 30.0, id="seconds-padded"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param(format_datetime(datetime(2026, 3, 2, 12, 5, tzinfo=UTC), usegmt=True),
                     300.0, id="http-date-future"),
        pytest.param("Mon, 02 Mar 2026 11:59:00 GMT", -60.0, id="http-date-past"),
        pytest.param("Mon, 02 Mar 2026 13:00:00 +0100", 0.0, id="date-with-offset"),
        pytest.param("soon", None, id="garbage-word"),
        pytest.param("-5", None, id="negative"),
        pytest.param("1.5", None, id="fraction"),
        pytest.param("12abc", None, id="digits-then-garbage"),
        pytest.param("Mon, 99 Foo 2026", None, id="garbage-date"),
        pytest.param("\u00b2", None, id="superscript-digit"),
        pytest.param("\u0663", None, id="arabic-indic-digit"),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        pytest.param(10.0, 60.0, id="below-min"),
        pytest.param(60.0, 60.0, id="at-min"),
        pytest.param(500.0, 500.0, id="inside"),
        pytest.param(3600.0, 3600.0, id="at-max"),
        pytest.param(1e9, 3600.0, id="above-max"),
    ],
)
def test_clamp(interval: float, expected: float) -> None:
    assert clamp(interval, BOUNDS) == expected


@pytest.mark.parametrize(
    ("interval", "jitter"),
    [
        pytest.param(300.0, 0.1, id="ten-percent"),
        pytest.param(60.0, 0.5, id="fifty-percent"),
        pytest.param(1800.0, 0.01, id="one-percent"),
    ],
)
def test_with_jitter_within_bounds_and_spread(interval: float, jitter: float) -> None:
    bounds = ScheduleBounds(jitter=jitter)
    rng = random.Random(1234)
    values = [with_jitter(interval, bounds, rng) for _ in range(500)]
    assert all(interval * (1 - jitter) <= v <= interval * (1 + jitter) for v in values)
    assert min(values) < interval < max(values)  # actually spread on both sides
    assert max(values) - min(values) > interval * jitter  # uses a good part of the range


def test_with_jitter_zero_is_identity() -> None:
    rng = random.Random(7)
    assert {with_jitter(300.0, ScheduleBounds(jitter=0.0), rng) for _ in range(20)} == {300.0}


def test_with_jitter_deterministic_for_a_seed() -> None:
    first = [with_jitter(300.0, BOUNDS, random.Random(42)) for _ in range(3)]
    assert len(set(first)) == 1


def test_with_jitter_never_exceeds_max() -> None:
    rng = random.Random(3)
    bounds = ScheduleBounds(jitter=0.5)
    assert max(with_jitter(bounds.max_seconds, bounds, rng) for _ in range(200)) == \
        bounds.max_seconds


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        pytest.param([], None, id="no-dates"),
        pytest.param([NOW - 86400 * 30], None, id="only-old-items"),
        pytest.param([NOW - 3600 * i for i in range(7)], 7 * 86400 / 7, id="seven-this-week"),
        pytest.param([NOW + 3600], None, id="future-items-ignored"),
    ],
)
def test_frequency_interval(stamps: list[float], expected: float | None) -> None:
    assert frequency_interval(stamps, NOW) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("garbage", None, id="invalid"),
        pytest.param(formatdate(NOW + 600, usegmt=True), 600.0, id="future"),
        pytest.param(formatdate(NOW - 600, usegmt=True), None, id="past"),
    ],
)
def test_expires_seconds(header: str | None, expected: float | None) -> None:
    assert expires_seconds(header, NOW) == expected
