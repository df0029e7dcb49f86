"""Circuit breaker on submission: stop knocking on a door that stays shut.

closed --(N consecutive failed attempts)--> open --(reset timeout)--> half_open
half_open --(probe succeeds)--> closed;  half_open --(probe fails)--> open (timeout doubles, capped)
Only the worker thread calls it, so it needs no lock; the clock is injected for tests.
"""

from __future__ import annotations

from typing import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int, reset_timeout: float, clock: Callable[[], float]) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._open_for = reset_timeout
        self._state = CLOSED

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self._open_for:
            self._state = HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May an attempt go out now? In half-open, exactly one probe does until it reports back."""
        return self.state != OPEN

    def record_success(self) -> None:
        self._failures = 0
        self._open_for = self.reset_timeout
        self._state = CLOSED

    def record_failure(self) -> None:
        if self.state == HALF_OPEN:
            # The probe failed: wait longer before the next one, so a long outage costs few probes.
            self._open_for = min(self._open_for * 2, self.reset_timeout * 8)
            self._trip()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._trip()

    def _trip(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._failures = 0
