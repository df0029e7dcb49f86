"""Leases on the detector's shards (`detector_shards`), for passes shared by several processes on one PostgreSQL
(detectors/_leases.py says how a pass uses them). The row locks of `SELECT ... FOR UPDATE SKIP LOCKED`, held by the
claim's transaction, are the leases: another process skips locked shards, and a process that dies loses its
connection, so PostgreSQL rolls back and the shards are free again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, or_, select, update

from evidence._record import utc
from evidence._schema import detector_shards
from evidence._store import Store


@dataclass
class ShardClaim:
    """Shards claimed in one transaction: `shards` (empty when none was due); `finish` marks them passed at the
    claim's clock before the transaction commits."""

    shards: frozenset[int]
    now: datetime
    _conn: Connection

    def finish(self, holder: str) -> None:
        self._conn.execute(update(detector_shards).where(detector_shards.c.shard.in_(sorted(self.shards)))
                           .values(passed_at=self.now, passed_by=holder[:128]))


@contextmanager
def claim_shards(store: Store, now: datetime, period: timedelta, batch: int) -> Iterator[ShardClaim]:
    """Up to `batch` due shards (never passed, passed before [now - period, now], or at a later clock: a replay
    going back), locked until the block ends; its transaction commits when the block ends without an error."""
    now = utc(now)
    with store.engine.connect() as conn, conn.begin():
        passed = detector_shards.c.passed_at
        due = or_(passed.is_(None), passed < now - period, passed > now)
        claimed = frozenset(conn.execute(
            select(detector_shards.c.shard).where(due).order_by(detector_shards.c.shard).limit(batch)
            .with_for_update(skip_locked=True)).scalars())
        yield ShardClaim(claimed, now, conn)
