"""Detector passes shared by several processes on one PostgreSQL, through leases in the database.

Datasets fall into SHARDS shards by a hash of their URN. A pass takes a few shards at a time with
`SELECT ... FOR UPDATE SKIP LOCKED` on `detector_shards`: the row locks, held by the pass's transaction while it
evaluates and stores those datasets' incidents, are the leases. Another process skips locked shards and takes
the next free ones, so each dataset is evaluated by one process per pass and an incident is opened (and marked to
announce) by one process only. A process that dies mid-pass loses its connection, PostgreSQL rolls its transaction
back, and the shards it held are free again: the next pass (of any process) evaluates them. `passed_at` records the
clock of the pass that finished a shard, so a shard finished by one process is not evaluated again by another in
the same period. SQLite (one process, the embedded default) runs whole passes instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from detectors._detect import DetectionResult, DetectSettings, drift_summary, store_incidents
from detectors._drift import list_change_requests
from detectors._shards import SHARDS, shard_of
from evidence import Incident, Store, claim_shards, utc

BATCH = 8  # shards one claim takes: small enough that three processes share a pass, large enough to amortise it

Find = Callable[[frozenset[int]], tuple[list[Incident], list[dict[str, Any]]]]


def leased_pass(store: Store, now: datetime, settings: DetectSettings, find: Find, holder: str,
                period: timedelta = timedelta(0), batch: int = BATCH) -> DetectionResult:
    """One pass over the shards this process can take: claim `batch` due shards (none finished by a pass in
    [now - period, now], by any process), find and store their incidents, mark them finished, commit; again until
    none is left.
    `find(shards)` is find_incidents for those shards, here or in a worker process. Returns the union (what to
    announce in Slack is stored with the incidents that opened, evidence/_announcements.py)."""
    now = utc(now)
    total = DetectionResult()
    first = True
    while True:
        with claim_shards(store, now, period, batch) as claim:  # the lease store (evidence/_leases.py)
            claimed = claim.shards
            if not claimed:
                if first:  # no shard was due: the drift is the database's, not a shard's, so it is still told
                    total.drift = drift_summary(list_change_requests(store))
                return total
            found, findings = find(claimed)
            result = store_incidents(store, found, now, settings, findings if first else [], shards=claimed)
            claim.finish(holder)
        first = False
        total.incidents += result.incidents
        total.opened += result.opened
        total.resolved += result.resolved
        total.paused += result.paused
        total.config_findings += result.config_findings
        total.drift = result.drift  # every batch lists all open change requests
        total.shards = sorted({*total.shards, *claimed})


__all__ = ["BATCH", "SHARDS", "leased_pass", "shard_of"]
