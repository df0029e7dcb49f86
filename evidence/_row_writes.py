"""How evidence rows are written: SQLite's multi-row INSERT straight through the driver, PostgreSQL's COPY in binary
format, into a temporary table before the writers' turn (_postgres_staged) or into evidence inside it
(_postgres_insert); the `Store` in evidence/_store.py calls these with its transaction."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
import psycopg
from psycopg import postgres
from psycopg._copy_base import format_row_binary  # what Copy.write_row calls; see copy_rows
from psycopg.abc import Transformer as RowAdapter
from psycopg.adapt import Transformer
from psycopg.pq import Format
from sqlalchemy import Connection, Dialect

from evidence._partitions import EVIDENCE_LOCK, MISSING_PARTITIONS, make_partitions, month_of, partition_name
from evidence._record import EvidenceRecord, utc
from evidence._schema import evidence
from evidence._sql_reads import _IN_CHUNK

_COLUMNS = [c.name for c in evidence.columns]
assert _COLUMNS == [
    "evidence_id", "source", "source_ref", "type", "dataset_urn", "producer_urn", "schema_id", "sequence",
    "event_time", "ingest_time", "deploy_ref", "reason_code", "field", "run_id", "traceparent", "payload",
], "update _sqlite_row with the evidence table"


def _row(r: EvidenceRecord) -> dict[str, Any]:
    return {
        "evidence_id": r.evidence_id, "source": r.source, "source_ref": r.source_ref, "type": r.type,
        "dataset_urn": r.dataset_urn, "producer_urn": r.producer_urn, "schema_id": r.schema_id,
        "sequence": r.sequence, "event_time": r.event_time, "ingest_time": r.ingest_time,
        "deploy_ref": r.deploy_ref, "reason_code": r.reason_code, "field": r.field, "run_id": r.run_id,
        "traceparent": r.traceparent, "payload": orjson.dumps(r.payload).decode(),
    }


_SQLITE_ROW = f"({', '.join('?' for _ in _COLUMNS)})"
_SQLITE_ROWS = 1000  # rows a statement at most: a batch of the API's


def _sqlite_insert(conn: Connection, records: Sequence[EvidenceRecord], payloads: Mapping[str, bytes]) -> None:
    """Insert the records, many rows a statement, straight through the driver.

    SQLAlchemy's per-value type processing cost a third of the batch time. One statement a batch, not executemany:
    the driver lets go of the GIL around each step, so executemany takes it back once a row, and while another
    request validated its batch in Python each of those hand-overs waited for the interpreter's switch interval
    (5 ms): the insert and the next batch's validation ran one after the other. One step a batch lets them overlap.
    """
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, sqlite3.Connection)
    # Bound values a statement: 32,766 by default since SQLite 3.32, 250,000 as Debian builds it, 999 before.
    rows = max(1, min(_SQLITE_ROWS, dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(_COLUMNS)))
    cursor = dbapi.cursor()
    try:
        for start in range(0, len(records), rows):
            chunk = records[start : start + rows]
            cursor.execute(_sqlite_statement(len(chunk)), [v for r in chunk for v in _sqlite_row(r, payloads)])
    finally:
        cursor.close()


@functools.lru_cache(maxsize=64)
def _sqlite_statement(rows: int) -> str:
    return (f"INSERT INTO evidence ({', '.join(_COLUMNS)}) VALUES {', '.join([_SQLITE_ROW] * rows)} "
            "ON CONFLICT (evidence_id) DO NOTHING")


# COPY's columns: the text ones first, then the number, the two times and the payload.
_COPY_TEXT = ("evidence_id", "source", "source_ref", "type", "dataset_urn", "producer_urn", "schema_id", "deploy_ref",
              "reason_code", "field", "run_id", "traceparent")
_COPY_COLUMNS = [*_COPY_TEXT, "sequence", "event_time", "ingest_time", "payload"]
assert sorted(_COPY_COLUMNS) == sorted(_COLUMNS), "update _COPY_TEXT and copy_rows with the evidence table"
_COPY = f"COPY evidence ({', '.join(_COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
# Each column's type as psycopg dumps it (the payload is text too: its JSON, decoded; psycopg's dumper for bytea, which
# would pass orjson's bytes through, is a Python call a row, and measured slower than decoding them).
_COPY_TYPES = [*(["text"] * len(_COPY_TEXT)), "int8", "timestamptz", "timestamptz", "text"]
# The binary file format's header (signature, flags, header extension length) and trailer
# (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format").
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"


def _copy_data(lines: Iterable[bytes]) -> bytes:
    """COPY's binary data for these rows (copy_rows' lines): one write, which psycopg sends in a few large chunks,
    not one a 32 KiB buffer of rows."""
    return b"".join([_COPY_HEADER, *lines, _COPY_TRAILER])


class CopyRow(NamedTuple):
    """A record's row in COPY's binary format, with the partition its event time falls in."""

    partition: str
    line: bytes


def _binary_rows() -> RowAdapter:
    """psycopg's adaptation of the COPY's columns, each to its type in binary."""
    transformer = Transformer()
    transformer.set_dumper_types([postgres.types[name].oid for name in _COPY_TYPES], Format.BINARY)
    return transformer


def copy_rows(records: Sequence[EvidenceRecord], payloads: Mapping[str, bytes]) -> dict[str, CopyRow]:
    """The records' rows for COPY by evidence id (the last record of an id wins, as in the lookup that follows).

    Binary rows formatted by psycopg's C row formatter (the one its Copy.write_row calls) before the writers' turn
    is taken, and sent in one write: nothing to escape, times as integers, no text for the server to parse. The
    Python text format this replaced cost 2.9 us a row, these 1.6 (benchmarks/ingest_bench.py's rows).
    """
    unique = {r.evidence_id: r for r in records}
    transformer = _binary_rows()  # one a batch: its caches are not shared between request threads
    months: dict[tuple[int, int], str] = {}
    out: dict[str, CopyRow] = {}
    for evidence_id, r in unique.items():
        event = r.event_time
        month = (event.year, event.month) if event.tzinfo is UTC else month_of(event)
        partition = months.get(month) or months.setdefault(month, partition_name(month))
        payload = payloads.get(evidence_id) or orjson.dumps(r.payload)
        line = bytearray()
        format_row_binary((evidence_id, r.source, r.source_ref, r.type, r.dataset_urn, r.producer_urn, r.schema_id,
                           r.deploy_ref, r.reason_code, r.field, r.run_id, r.traceparent, r.sequence, event,
                           r.ingest_time, payload.decode()), transformer, line)
        out[evidence_id] = CopyRow(partition, bytes(line))
    return out


# A writer's turn on PostgreSQL (the lock and the lookup's planner settings; see _postgres_insert), and the lookup.
WRITERS_TURN = ("SELECT pg_advisory_xact_lock(%s), set_config('enable_seqscan', 'off', true), "
                "set_config('enable_bitmapscan', 'off', true)")
STORED_IDS = "SELECT evidence_id FROM evidence WHERE evidence_id = ANY(string_to_array(%s, ','))"


def _postgres_insert(conn: Connection, rows: dict[str, CopyRow], own: bool) -> set[str]:
    """Store the rows (copy_rows) whose ids are new, with COPY, and return those ids.

    The table is partitioned by month of event_time, so its primary key is (evidence_id, event_time) and cannot
    stop the same id from being stored twice under two times (a conflicting re-send). Writers therefore take
    turns on one advisory lock for the length of their transaction: look the ids up (in every partition), make
    the months' partitions that are missing, COPY the rest. The answer is exact across API replicas, and the
    database's part of a batch of 1,000 is short enough (benchmarks/ingest_bench.py) that the turns cost little
    beside validation, which runs in parallel in each replica.
    """
    ids = list(rows)
    months = sorted({row.partition for row in rows.values()})
    # The ids as one text split in the database (psycopg dumps a list parameter a Python call an element); evidence
    # ids are ev_ and hex, never a comma, and partition names never look like them.
    chunks = [",".join(ids[start : start + _IN_CHUNK]) for start in range(0, len(ids), _IN_CHUNK)]
    if sum(chunk.count(",") for chunk in chunks) != len(ids) - len(chunks):
        raise ValueError("an evidence id holds a comma; ids are made by evidence_id_for (ev_ and hex)")
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, psycopg.Connection)
    # The transaction's BEGIN, the lock and the first ids with the months' missing partitions, in one round trip:
    # libpq's pipeline sends them together and the server still runs them in order, so the lookup's snapshot is
    # taken with the lock held. At a batch of 1,000 the round trips were most of the database's part, and each one
    # is a wait for the interpreter while other requests validate theirs (benchmarks/ingest_bench.py).
    # The lookup probes each month's primary key once an id, whatever the table's size or statistics: with them
    # still empty the planner chose a seq scan over every partition, and with seq scans off, a bitmap scan of the
    # whole (event_time, evidence_id) index and every heap page of the month (11 ms a batch at 35,000 rows against
    # 1.5 ms, growing with the month); with both off, the probes.
    with dbapi.pipeline(), dbapi.cursor() as lock, dbapi.cursor() as lookup:
        lock.execute(WRITERS_TURN, (EVIDENCE_LOCK,))
        lookup.execute(f"{STORED_IDS} UNION ALL {MISSING_PARTITIONS}", (chunks[0], months))
        found = [name for (name,) in lookup.fetchall()]
    missing = [name for name in found if not name.startswith("ev_")]
    have = {name for name in found if name.startswith("ev_")}
    for chunk in chunks[1:]:
        have.update(conn.exec_driver_sql(STORED_IDS, (chunk,)).scalars())
    if not own:  # the caller's transaction goes on: its later statements are planned as before
        conn.exec_driver_sql("SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN "
                             "('enable_seqscan', 'enable_bitmapscan')")
    new = [evidence_id for evidence_id in ids if evidence_id not in have]
    if not new:
        return set()
    # (Every record of a month without a partition is new: the batch's missing months are the new records'.)
    make_partitions(conn, missing)
    with dbapi.cursor() as cursor, cursor.copy(_COPY) as copy:
        copy.write(_copy_data(rows[evidence_id].line for evidence_id in new))
    return set(new)


def _sqlite_time(moment: datetime) -> str:
    """SQLAlchemy's own SQLite DATETIME text form, in UTC, so both write paths read back alike."""
    if moment.tzinfo is not UTC:  # records are built in UTC already; convert only what is not
        moment = utc(moment)
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" less its offset (evidence years have four digits: evidence/_bounds.py)
    return moment.isoformat(" ", "microseconds")[:26]


class _LastTime:
    """The text of the last time formatted: every record of a batch shares its ingest time (one object)."""

    def __init__(self) -> None:
        self._last: tuple[datetime, str] | None = None

    def __call__(self, moment: datetime) -> str:
        last = self._last  # one read: another thread may replace it meanwhile, never half of it
        if last is not None and last[0] == moment:
            return last[1]
        text = _sqlite_time(moment)
        self._last = (moment, text)
        return text


_ingest_time_text = _LastTime()


def _sqlite_row(r: EvidenceRecord, payloads: Mapping[str, bytes]) -> tuple[Any, ...]:
    # Column order of _COLUMNS; hot path of every ingested batch, so no intermediate dict.
    return (r.evidence_id, r.source, r.source_ref, r.type, r.dataset_urn, r.producer_urn, r.schema_id, r.sequence,
            _sqlite_time(r.event_time), _ingest_time_text(r.ingest_time), r.deploy_ref, r.reason_code, r.field,
            r.run_id, r.traceparent, (payloads.get(r.evidence_id) or orjson.dumps(r.payload)).decode())


# The staged way (Store.add_records' own transaction): the rows go by COPY into a temporary table of the
# connection first, outside the writers' turn, and the turn is then one statement that moves the new ones in.
STAGE = "rca_evidence_stage"


def _stage_table(dialect: Dialect) -> str:
    """The temporary table's DDL, its columns spelt out from the evidence table's. Not LIKE evidence: that would hold
    a lock on evidence from before the writers' turn to the commit, and a writer making a month's partition under
    the turn waits for it (a deadlock, found by tests/evidence/test_store.py's writers in several processes)."""
    columns = ", ".join(f"{c.name} {c.type.compile(dialect=dialect)}" for c in evidence.columns)
    return f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({columns}) ON COMMIT DELETE ROWS"


_STAGE_COPY = _COPY.replace("COPY evidence", f"COPY {STAGE}", 1)
_STAGE_COLUMNS = ", ".join(_COPY_COLUMNS)
# A probe of each month's primary key a staged id, as the lookup does (LIMIT 1 in a LATERAL keeps it a probe
# whatever the statistics of a temporary table the planner has none of). The staged table's scan can only be
# sequential, which seq scans off prices at 10^10: JIT is off too, or that price has PostgreSQL compile the
# statement, inlined and optimised, for 60-70 ms a batch (against 15 ms to run it).
STAGED_TURN = f"{WRITERS_TURN}, set_config('jit', 'off', true)"
STAGED_INSERT = (f"INSERT INTO evidence ({_STAGE_COLUMNS}) SELECT {_STAGE_COLUMNS} FROM {STAGE} s "
                 "LEFT JOIN LATERAL (SELECT 1 AS stored FROM evidence e WHERE e.evidence_id = s.evidence_id LIMIT 1) "
                 "AS had ON true WHERE had.stored IS NULL RETURNING evidence_id")


class NotStaged(Exception):
    """The staged way could not take the batch, which takes the turn the first way: a row's month has no partition
    (or lost it to retention), or the connection's staging table is gone (a session reset under it: DISCARD TEMP)."""


def _postgres_staged(conn: Connection, rows: dict[str, CopyRow]) -> set[str]:
    """Store the rows (copy_rows) whose ids are new and return those ids, committed: in the caller's fresh
    transaction, which this commits (the caller's own commit then has nothing to do).

    The exactness is _postgres_insert's (one advisory lock for every writer of evidence, held to the commit, the ids
    looked up under it), but what the database does before the turn is taken moved out of it: the COPY into a
    temporary table of this connection (no WAL, no index), sent while another writer holds
    the turn. The turn itself is one pipelined request, lock, INSERT ... SELECT of the staged rows whose ids no
    month holds, and COMMIT, with nothing for this process to do in between: a second request's turn can follow the
    first's commit at once, where it used to wait for its interpreter to send the lookup, then the COPY. Raises
    NotStaged (the transaction is then aborted) when a row's month has no partition or the staging table is gone.
    """
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, psycopg.Connection)
    info = conn.connection.info
    if not info.get(STAGE):
        info[STAGE] = True  # (taken off again by Store._add_staged if this transaction rolls back)
        dbapi.execute(_stage_table(conn.dialect))
    try:
        with dbapi.cursor() as cursor, cursor.copy(_STAGE_COPY) as copy:
            copy.write(_copy_data(row.line for row in rows.values()))
    except psycopg.errors.UndefinedTable as exc:
        raise NotStaged(str(exc)) from exc
    try:
        with dbapi.pipeline(), dbapi.cursor() as lock, dbapi.cursor() as insert:
            lock.execute(STAGED_TURN, (EVIDENCE_LOCK,))
            insert.execute(STAGED_INSERT)
            dbapi.commit()  # in the same round trip: the lock goes when the rows are in, not after another one
            return {evidence_id for (evidence_id,) in insert.fetchall()}
    except psycopg.errors.CheckViolation as exc:  # "no partition of relation "evidence" found for row"
        raise NotStaged(str(exc)) from exc
