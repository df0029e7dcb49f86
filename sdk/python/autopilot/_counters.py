"""`signals_dropped` counters: every event the SDK gives up on is counted under one reason."""

from __future__ import annotations

import threading

QUEUE_FULL = "queue_full"  # emit() found the bounded queue full
TIMEOUT = "timeout"  # not delivered within its retry budget, its maximum age, or the shutdown deadline
CIRCUIT_OPEN = "circuit_open"  # the circuit breaker was open when its batch was due
KILLED = "killed"  # the control plane killed or disabled this producer
REJECTED = "rejected"  # the service answered 4xx, or rejected the item, or it could not be encoded

DROP_REASONS = (QUEUE_FULL, TIMEOUT, CIRCUIT_OPEN, KILLED, REJECTED)


class SignalCounters:
    """Counters by drop reason, plus how many events the service took (accepted or duplicate).

    Drops are the slow path (the host is already in trouble), so a lock is affordable and keeps
    the counts exact under concurrent emit() calls; `delivered` is only written by the worker.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self.delivered = 0

    def drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self._dropped[reason] += count

    def dropped(self) -> dict[str, int]:
        with self._lock:
            return dict(self._dropped)

    def header_value(self) -> str:
        """Cumulative drops as `queue_full=0,timeout=2,...`, for the optional export header."""
        return ",".join(f"{reason}={count}" for reason, count in self.dropped().items())

    def reset_after_fork(self) -> None:
        """A forked child counts its own drops; the parent's lock may be held by a dead thread."""
        self._lock = threading.Lock()
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self.delivered = 0
