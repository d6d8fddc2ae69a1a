"""A circuit breaker per channel: a channel that keeps failing is paused and probed, not
hammered by every queued alert's retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}  # the metric's values
PROBE_WAIT_SECONDS = 1.0  # half-open: how often the others look whether the probe is done


@dataclass(frozen=True)
class BreakerPolicy:
    """When a channel's circuit opens, and how long it stays open before a probe."""

    failures_to_open: int = 5  # consecutive failed attempts (5xx, timeouts, refused)
    open_seconds: float = 30.0  # the first pause; doubled after each failed probe
    max_open_seconds: float = 600.0


class CircuitBreaker:
    """Closed: every attempt goes. After `failures_to_open` failures in a row, open: no
    attempt until the pause ends. Then half-open: one attempt (the probe) goes; its success
    closes the circuit, its failure opens it again for twice as long (up to the maximum).
    A channel that answers at all, even "too many requests" or "bad payload", is alive:
    only failures that say nothing about the message count."""

    def __init__(self, policy: BreakerPolicy = BreakerPolicy(), *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy, self.clock = policy, clock
        self.state = CLOSED
        self.failures = 0
        self.last_error = ""
        self._pause = policy.open_seconds
        self._reopens_at = 0.0
        self._probing = False

    def admit(self) -> float:
        """0.0: attempt now (in half-open, as the one probe); else seconds to wait first."""
        if self.state == CLOSED:
            return 0.0
        now = self.clock()
        if self.state == OPEN:
            if now < self._reopens_at:
                return self._reopens_at - now
            self.state = HALF_OPEN
        if self._probing:
            return PROBE_WAIT_SECONDS
        self._probing = True
        return 0.0

    def succeeded(self) -> None:
        """The channel answered: close the circuit and forget the failures."""
        self.state, self.failures, self._probing = CLOSED, 0, False
        self._pause = self.policy.open_seconds

    def failed(self, error: str) -> None:
        """An attempt failed in a way that says the channel is unwell."""
        self.failures += 1
        self.last_error = error
        if self.state == HALF_OPEN:  # the probe failed: pause for longer
            self._pause = min(self._pause * 2, self.policy.max_open_seconds)
            self._open()
        elif self.state == CLOSED and self.failures >= self.policy.failures_to_open:
            self._open()

    def _open(self) -> None:
        self.state, self._probing = OPEN, False
        self._reopens_at = self.clock() + self._pause
