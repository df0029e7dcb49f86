"""The bounded queue between emit() (any thread, must not wait) and the one worker thread.

A deque's append and popleft are atomic in CPython, so emit() takes no lock: it checks the length
and appends, which costs well under a microsecond. The bound can be overshot by at most one event
per thread emitting at the same instant, which keeps memory bounded all the same.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class EventQueue:
    def __init__(self, maxsize: int, batch_size: int) -> None:
        self.maxsize = maxsize
        self.batch_size = batch_size
        self._items: deque[Any] = deque()
        self.wake = threading.Event()  # set by emit() when a full batch is waiting, and by flush()
        self._idle = threading.Condition()
        self._busy = False
        self._flush_requests = 0

    def put(self, item: Any) -> bool:
        items = self._items
        if len(items) >= self.maxsize:
            return False
        items.append(item)
        if len(items) >= self.batch_size and not self.wake.is_set():
            self.wake.set()
        return True

    def __len__(self) -> int:
        return len(self._items)

    @property
    def flush_requested(self) -> bool:
        return self._flush_requests > 0

    def take(self, count: int) -> list[Any]:
        """Up to `count` of the oldest events. Call between begin_batch() and end_batch()."""
        items = self._items
        batch: list[Any] = []
        while len(batch) < count:
            try:
                batch.append(items.popleft())
            except IndexError:
                break
        return batch

    def begin_batch(self) -> None:
        # Marked busy before taking, so a flush() never sees "empty and idle" while a batch is out.
        with self._idle:
            self._busy = True

    def end_batch(self) -> None:
        with self._idle:
            self._busy = False
            if not self._items:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued event is delivered or dropped; False if `timeout` ran out first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            self._flush_requests += 1
        try:
            self.wake.set()
            with self._idle:
                while self._items or self._busy:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._idle.wait(min(remaining, 0.05))
                return True
        finally:
            with self._idle:
                self._flush_requests -= 1

    def reset_after_fork(self) -> None:
        """In a forked child: the parent still owns (and will send) what was queued at fork time."""
        self._items = deque()
        self.wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._flush_requests = 0
