"""Circuit breaker: opens after consecutive failures, half-opens later, one probe decides."""

from __future__ import annotations

from autopilot._circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only():
    clock = Clock()
    circuit = CircuitBreaker(3, 10.0, clock)
    circuit.record_failure()
    circuit.record_failure()
    circuit.record_success()  # a success in between resets the count
    circuit.record_failure()
    circuit.record_failure()
    assert circuit.state == CLOSED and circuit.allow()
    circuit.record_failure()
    assert circuit.state == OPEN and not circuit.allow()


def test_half_opens_after_the_reset_timeout_and_a_good_probe_closes_it():
    clock = Clock()
    circuit = CircuitBreaker(1, 10.0, clock)
    circuit.record_failure()
    clock.now = 9.9
    assert circuit.state == OPEN
    clock.now = 10.0
    assert circuit.state == HALF_OPEN and circuit.allow()
    circuit.record_success()
    assert circuit.state == CLOSED


def test_a_failed_probe_reopens_for_longer_up_to_a_cap():
    clock = Clock()
    circuit = CircuitBreaker(1, 10.0, clock)
    circuit.record_failure()
    waits = []
    for _ in range(6):
        opened = clock.now
        while circuit.state == OPEN:
            clock.now += 1.0
        waits.append(clock.now - opened)
        circuit.record_failure()  # the probe fails
    assert waits == [10.0, 20.0, 40.0, 80.0, 80.0, 80.0]
    while circuit.state == OPEN:
        clock.now += 1.0
    circuit.record_success()
    circuit.record_failure()
    opened = clock.now
    while circuit.state == OPEN:
        clock.now += 1.0
    assert clock.now - opened == 10.0  # a success resets the wait
