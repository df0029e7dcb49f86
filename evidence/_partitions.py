"""PostgreSQL's evidence table, partitioned by month of event_time: partitions made on demand, and retention.

A month's partition is created the first time a record of that month is written (under the ingest lock, see
evidence/_store.py), so nothing has to be scheduled ahead. Retention drops whole partitions: a month leaves the
store when all of it is older than the retention cut-off, at the cost of a catalogue change rather than of a
DELETE over millions of rows. On SQLite, pruning deletes the same rows (there are no partitions to drop).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, text

from evidence._schema import evidence

# "rca_evid": the advisory lock evidence writers (and pruning) take turns on for a transaction (evidence/_store.py).
EVIDENCE_LOCK = 0x7263615F65766964
_NAME = re.compile(r"^evidence_y(\d{4})m(\d{2})$")


def month_of(moment: datetime) -> tuple[int, int]:
    instant = moment.astimezone(UTC)
    return instant.year, instant.month


def partition_name(month: tuple[int, int]) -> str:
    return f"evidence_y{month[0]:04d}m{month[1]:02d}"


def _bounds(month: tuple[int, int]) -> tuple[datetime, datetime]:
    year, number = month
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def existing_partitions(conn: Connection) -> set[tuple[int, int]]:
    """The months that have a partition of `evidence` (empty when the table is not partitioned)."""
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'evidence'"))
    return {(int(m.group(1)), int(m.group(2))) for (name,) in rows if (m := _NAME.match(name))}


# The partition names of a text[] parameter that do not exist: a catalogue lookup, also part of ingestion's id lookup.
MISSING_PARTITIONS = "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL"


def create_partitions(conn: Connection, months: Iterable[tuple[int, int]]) -> None:
    """The partitions of these months, made where missing (their indexes follow the parent's). One catalogue
    lookup when they all exist, which is every batch but the first of a month."""
    names = sorted({partition_name(m) for m in months})
    make_partitions(conn, conn.exec_driver_sql(MISSING_PARTITIONS, (names,)).scalars().all())


def make_partitions(conn: Connection, missing: Iterable[str]) -> None:
    """Create these partitions (names from partition_name, found missing by MISSING_PARTITIONS)."""
    for name in sorted(set(missing)):
        match = _NAME.match(name)
        assert match is not None, name
        start, end = _bounds((int(match.group(1)), int(match.group(2))))
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF evidence "
                             f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")


def prune(conn: Connection, dialect: str, before: datetime) -> dict[str, object]:
    """Remove evidence whose event_time is before `before`: on PostgreSQL, the month partitions that end by then
    (a month partly inside the retention period stays whole); on SQLite, the rows. Returns what went."""
    if dialect == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (EVIDENCE_LOCK,))  # never under a writer's COPY
        dropped = []
        for month in sorted(existing_partitions(conn)):
            if _bounds(month)[1] <= before:
                name = partition_name(month)
                conn.exec_driver_sql(f"DROP TABLE {name}")
                dropped.append(name)
        return {"dropped_partitions": dropped}
    deleted = conn.execute(delete(evidence).where(evidence.c.event_time < before)).rowcount
    return {"deleted_records": deleted}


__all__ = ["EVIDENCE_LOCK", "MISSING_PARTITIONS", "create_partitions", "existing_partitions", "make_partitions",
           "month_of", "partition_name", "prune"]
