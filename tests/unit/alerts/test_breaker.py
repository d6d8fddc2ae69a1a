"""The circuit breaker's states on a fake clock: closed, open, half-open with one probe."""

from __future__ import annotations

from wirewatch.alerts.breaker import PROBE_WAIT_SECONDS, BreakerPolicy, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(failures_to_open=3, open_seconds=10,
                                        max_open_seconds=25), clock=clock)


def test_it_opens_after_the_failures_in_a_row_and_a_success_resets_the_count() -> None:
    clock = Clock()
    circuit = breaker(clock)
    circuit.failed("503")
    circuit.failed("503")
    circuit.succeeded()  # not in a row any more
    circuit.failed("503")
    circuit.failed("503")
    assert (circuit.state, circuit.admit()) == ("closed", 0.0)
    circuit.failed("timeout")
    assert circuit.state == "open" and circuit.last_error == "timeout"
    assert circuit.admit() == 10.0
    clock.now += 4
    assert circuit.admit() == 6.0


def test_half_open_lets_one_probe_through_and_its_outcome_decides() -> None:
    clock = Clock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.failed("503")
    clock.now += 10
    assert circuit.admit() == 0.0 and circuit.state == "half-open"  # the probe
    assert circuit.admit() == PROBE_WAIT_SECONDS  # everyone else waits for it
    circuit.failed("503")
    assert circuit.state == "open" and circuit.admit() == 20.0  # twice as long
    clock.now += 20
    assert circuit.admit() == 0.0
    circuit.failed("503")
    assert circuit.admit() == 25.0  # capped
    clock.now += 25
    assert circuit.admit() == 0.0
    circuit.succeeded()
    assert (circuit.state, circuit.admit()) == ("closed", 0.0)
    for _ in range(3):
        circuit.failed("503")
    assert circuit.admit() == 10.0  # a fresh outage starts from the first pause again
