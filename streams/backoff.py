"""Waits between retries of a call to Kafka or Redis: short at first, never past a cap."""

from __future__ import annotations

from collections.abc import Iterator

FIRST_SECONDS = 0.5
MAX_SECONDS = 5.0  # back within this long of the infrastructure returning


def delays() -> Iterator[float]:
    """0.5, 1, 2, 4, 5, 5, ... seconds."""
    delay = FIRST_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, MAX_SECONDS)
