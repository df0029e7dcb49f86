"""The finding half of a detector pass in a process of its own, so that detection keeps its schedule under load.

Inside `rca serve` the API's threads share one interpreter lock: with eight writers posting batches, a pass on
a thread of that process got a ninth of it and ran 5-10 times slower than idle (issue 13, measured by
benchmarks/schedule_bench.py). find_stored_incidents reads and computes only, so it runs in a worker process with its
own interpreter and database connection; the API process then writes the result in one short transaction
(detectors.store_incidents) under its own write lock. The clock still comes from the API: `now` is an argument.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from detectors import DetectSettings, FreshnessMemory, find_stored_incidents
from evidence import Incident, Store

log = logging.getLogger("rca.detect")
_STORES: dict[str, Store] = {}  # in the worker: one store (one connection pool) per database, kept between passes
# and what the last whole pass found, so the next evaluates only what can have changed (detectors/_incremental.py).
_MEMORIES: dict[str, FreshnessMemory] = {}

Found = tuple[list[Incident], list[dict[str, Any]]]


def _find(database_url: str, now: datetime, settings: DetectSettings, shards: frozenset[int] | None = None) -> Found:
    store = _STORES.get(database_url)
    if store is None:
        store = _STORES[database_url] = Store.open(database_url)
    findings: list[dict[str, Any]] = []
    memory = _MEMORIES.setdefault(database_url, FreshnessMemory()) if shards is None else None
    return find_stored_incidents(store, now, settings, findings, shards, memory), findings


def _exit_with(parent: int, every_s: float = 1.0) -> None:
    """In the worker: end when the process that started it is gone. Killed with SIGKILL (or by the kernel's OOM
    killer), an API process cannot stop its worker, which would wait on its queue forever: an `rca serve --workers
    N` supervisor starting a new API process each time would gather them."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="rca-exit-with-parent", daemon=True).start()


def separable(database_url: str) -> bool:
    """Whether another process can open the same database (not an in-memory SQLite)."""
    return not (database_url.startswith("sqlite") and ("///" not in database_url or database_url.endswith(":memory:")))


class DetectWorker:
    """One spawned worker process, started on first use and started again if it dies."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def find(self, now: datetime, settings: DetectSettings, shards: frozenset[int] | None = None) -> Found:
        with self._lock:  # one pass at a time: a scheduled pass and POST /v1/detect take turns
            try:
                return self._executor().submit(_find, self.database_url, now, settings, shards).result()
            except BrokenProcessPool:
                if self._closed:
                    raise
                log.error("the detector worker process died; starting a new one")
                self._pool = None
                return self._executor().submit(_find, self.database_url, now, settings, shards).result()

    def _executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("the detector worker is shut down")
        if self._pool is None:
            # spawn, not fork: the API process has threads (and maybe open connections) a fork would copy.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_exit_with, initargs=(os.getpid(),))
        return self._pool

    def close(self) -> None:
        """Stop at once: the worker only reads, so a pass cut short loses nothing (the next start redoes it)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            processes = list(getattr(pool, "_processes", {}).values())  # the executor has no terminate of its own
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(5)
