"""Time budgets for hostile inputs: a generous multiple of a normal input's cost, capped.

A budget scales the time a normal ~3 KB input takes, measured in the same test on the same
machine, linearly up to the hostile input's size, multiplies it by a generous factor and caps
it at a few seconds. Linear work of any reasonable constant passes; catastrophic
backtracking or quadratic loops on a 1 MB input miss it by orders of magnitude.
"""

from __future__ import annotations

import signal
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

CAP_SECONDS = 5.0

T = TypeVar("T")


def median_seconds(run: Callable[[T], object], inputs: Sequence[T]) -> float:
    """The median time of `run` over the inputs (each run once, after one warm-up)."""
    run(inputs[0])
    times = []
    for item in inputs:
        started = time.perf_counter()
        run(item)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def budget(reference_seconds: float, reference_size: int, size: int, *, multiple: float,
           cap: float = CAP_SECONDS) -> float:
    """`multiple` times the reference scaled linearly to `size`, at most `cap` seconds."""
    return min(cap, multiple * reference_seconds * size / reference_size)


class Overrun(Exception):
    """Raised by the CPU-time alarm: the work was still running at its budget."""


def _overrun(signum: int, frame: object) -> None:
    raise Overrun


def within(run: Callable[[], T], limit: float) -> tuple[T | None, float | None]:
    """(result, seconds) of `run`, or (None, None) if it still ran after `limit` seconds of
    CPU time: a catastrophic case then costs its budget, not minutes. SIGVTALRM (not the
    SIGALRM pytest-timeout uses) interrupts it; Python code and the regular expression
    engine both check for signals while they run."""
    previous = signal.signal(signal.SIGVTALRM, _overrun)
    started = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_VIRTUAL, limit)
        result = run()
        return result, time.perf_counter() - started
    except Overrun:
        return None, None
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
