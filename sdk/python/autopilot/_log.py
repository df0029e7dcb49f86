"""Log a problem once, not once per event: a host with a dead backend must not drown in our logs."""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("autopilot")


class ProblemLog:
    """The first report of a problem is a warning; repeats are debug until the problem clears."""

    def __init__(self) -> None:
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def report(self, key: str, message: str, *args: Any) -> None:
        with self._lock:
            first = key not in self._active
            self._active.add(key)
        logger.log(logging.WARNING if first else logging.DEBUG, message, *args)

    def clear(self, key: str, message: str = "", *args: Any) -> None:
        with self._lock:
            was_active = key in self._active
            self._active.discard(key)
        if was_active and message:
            logger.info(message, *args)

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()
