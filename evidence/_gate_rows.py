"""What the contract gate's intake keeps besides evidence: the Kafka offsets it has seen per partition and the drift
change requests with the records they hold. The one place that SQL is written; detectors/_intake.py decides, inside
the batch's one transaction (`conn`), what goes in."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select

from evidence._offsets import add_offsets
from evidence._schema import change_requests, gate_offsets, held_records
from evidence._store import Store

Partition = tuple[str, int]
# The connection of a `store.writing()` block: a batch's one transaction, passed to these functions.
Transaction = Connection


def offset_ranges(conn: Connection, store: Store, partitions: Iterable[Partition]) -> dict[Partition, list[Any]]:
    """The offset ranges seen so far on each partition; on PostgreSQL their rows stay locked until the batch
    commits, so two intakes of one partition cannot both take the same record as new."""
    found: dict[Partition, list[Any]] = {}
    for topic, partition in partitions:
        stmt = select(gate_offsets.c.ranges).where(gate_offsets.c.topic == topic, gate_offsets.c.partition == partition)
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        found[(topic, partition)] = [tuple(r) for r in orjson.loads(row[0])] if row else []
    return found


def mark_offsets(conn: Connection, store: Store, offsets: dict[Partition, list[int]]) -> None:
    """Add these offsets to each partition's seen ranges."""
    for (topic, partition), seen in sorted(offsets.items()):
        row = conn.execute(select(gate_offsets.c.ranges).where(gate_offsets.c.topic == topic,
                                                               gate_offsets.c.partition == partition)).first()
        current = [tuple(r) for r in orjson.loads(row[0])] if row else []
        merged = orjson.dumps(add_offsets(current, seen)).decode()
        stmt = store._insert(gate_offsets).values(topic=topic, partition=partition, ranges=merged)
        conn.execute(stmt.on_conflict_do_update(index_elements=["topic", "partition"], set_={"ranges": merged}))


@dataclass(frozen=True)
class ChangeRequestRow:
    """A drift change request's row (the change_requests table's columns), as intake reads and writes it."""

    id: str
    topic: str
    schema_id: str
    reason_code: str
    status: str
    proposal: str  # JSON: the resolution rule it proposes
    detail: str  # JSON: candidates, header hints
    first_seen_time: datetime
    first_seen_ref: str
    last_seen_time: datetime
    held: int
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_note: str | None = None


def find_change_request(conn: Connection, cr_id: str) -> ChangeRequestRow | None:
    row = conn.execute(select(change_requests).where(change_requests.c.id == cr_id)).first()
    return None if row is None else ChangeRequestRow(**row._mapping)


def write_change_request(conn: Connection, row: ChangeRequestRow, new: bool) -> None:
    """Insert a change request intake opened (`new`), or write what it extended (held count, first and last seen)."""
    if new:
        conn.execute(change_requests.insert().values(**dataclasses.asdict(row)))
        return
    conn.execute(change_requests.update().where(change_requests.c.id == row.id).values(
        held=row.held, first_seen_time=row.first_seen_time, first_seen_ref=row.first_seen_ref,
        last_seen_time=row.last_seen_time))


def is_held(conn: Connection, cr_id: str, source_ref: str) -> bool:
    return conn.execute(select(held_records.c.source_ref).where(
        held_records.c.change_request_id == cr_id, held_records.c.source_ref == source_ref)).first() is not None


def hold_record(conn: Connection, cr_id: str, source_ref: str, record: dict[str, Any]) -> None:
    """Keep a record (its wire form) for re-resolution once its change request is approved."""
    conn.execute(held_records.insert().values(change_request_id=cr_id, source_ref=source_ref,
                                              record=orjson.dumps(record, default=str).decode()))
