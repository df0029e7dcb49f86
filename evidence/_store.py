"""The evidence store: SQLite (WAL) by default, PostgreSQL when the URL says so; idempotent on (source, id)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    inspect,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite

from evidence import _migrate
from evidence._errors import ConfigError
from evidence._partitions import EVIDENCE_LOCK, MISSING_PARTITIONS, make_partitions, month_of, partition_name, prune
from evidence._record import EvidenceRecord, GateCounter, utc
from evidence._schema import evidence, gate_counters, service_health
from evidence._sql_reads import _IN_CHUNK, EvidencePage, EvidenceQuery, SqlReads, _counter

_COLUMNS = [c.name for c in evidence.columns]
assert _COLUMNS == [
    "evidence_id", "source", "source_ref", "type", "dataset_urn", "producer_urn", "schema_id", "sequence",
    "event_time", "ingest_time", "deploy_ref", "reason_code", "field", "run_id", "traceparent", "payload",
], "update _sqlite_row with the evidence table"


MIN_FREE_BYTES = 1024 * 1024  # below this on a SQLite database's disk, /healthz says the database cannot take writes


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=NORMAL is durable against a killed process
    # (the WAL is in the OS cache once COMMIT returns), which is the guarantee the API's 2xx makes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Evidence ids are hashes, so inserts land all over the primary-key B-tree: a 64 MiB page cache
    # (instead of 2 MiB) keeps those pages in memory and cuts insert time by a fifth (benchmarks/).
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Store(SqlReads):
    """Evidence, gate counters and (through `evidence._configs`) operator configuration."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # One writer at a time inside this process: SQLite would otherwise answer SQLITE_BUSY on
        # read-then-write transactions; on PostgreSQL it costs nothing measurable at our batch sizes.
        self._write_turns = _WriteTurns()

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(make_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------------------
    def upgrade(self) -> None:
        _migrate.upgrade(self.engine)

    def ensure_schema(self) -> None:
        """Upgrade an empty database; refuse to serve one whose schema is behind (that needs an operator)."""
        current, head = _migrate.current_revision(self.engine), _migrate.head_revision(self.engine)
        if current == head:
            return
        if current is None and not inspect(self.engine).get_table_names():
            self.upgrade()
            return
        raise ConfigError(
            f"The database {self.engine.url.render_as_string(hide_password=True)} is at schema revision "
            f"{current or 'none'} but this version needs {head}; run `rca db upgrade` first."
        )

    @contextmanager
    def writing(self, urgent: bool = False) -> Iterator[Connection]:
        """A write transaction, one at a time in this process (see _WriteTurns for `urgent`)."""
        with self._write_turns(urgent), self.engine.begin() as conn:
            if self.dialect == "sqlite":
                # Take SQLite's write lock up front: a deferred transaction that reads, then writes, fails with
                # SQLITE_BUSY (no waiting) when another process wrote in between, as two `rca gate consume`
                # processes on one file do. IMMEDIATE waits out busy_timeout instead, and makes the reads safe.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    # -- evidence ---------------------------------------------------------------------------------------
    def add_records(self, records: Sequence[EvidenceRecord], conn: Connection | None = None, *,
                    payloads: Mapping[str, bytes] | None = None) -> set[str]:
        """Insert records not stored yet; return the evidence ids that were new. `payloads` may hold, by evidence id,
        a record's payload already encoded by orjson (ingestion's validation makes it), to spare encoding it again.

        SQLite: looks the ids up first and inserts the rest with ON CONFLICT DO NOTHING, inside BEGIN IMMEDIATE, so
        the answer is exact. PostgreSQL: the same under an advisory lock, with COPY (see _postgres_insert), exact
        across API replicas too.
        """
        if not records:
            return set()
        if self.dialect == "postgresql":
            # The rows in COPY's format before the turn is taken: Python work that overlaps another request's part
            # in the database, instead of lengthening the turns every writer waits for.
            rows = copy_rows(records, payloads or {})
            if conn is None:
                with self.writing() as mine:
                    return _postgres_insert(mine, rows, own=True)
            return _postgres_insert(conn, rows, own=False)
        if conn is None:
            with self.writing() as mine:
                return self.add_records(records, mine, payloads=payloads)
        ids = [r.evidence_id for r in records]
        have: set[str] = set()
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            have.update(conn.execute(select(evidence.c.evidence_id).where(evidence.c.evidence_id.in_(chunk))).scalars())
        new = [r for r in records if r.evidence_id not in have]
        if new and self.dialect == "sqlite":
            _sqlite_insert(conn, new, payloads or {})
        elif new:
            conn.execute(self._insert(evidence).on_conflict_do_nothing(index_elements=["evidence_id"]),
                         [_row(r) for r in new])
        return {r.evidence_id for r in new}

    def add_encoded_records(self, records: Sequence[EvidenceRecord], payloads: Mapping[str, bytes]) -> set[str]:
        """add_records, with records' payloads already encoded by orjson (by evidence id; ingestion's validation
        makes them), to spare encoding them again."""
        return self.add_records(records, payloads=payloads)

    def prune(self, before: datetime) -> dict[str, object]:
        """Retention: drop the evidence whose event_time is before `before` (whole months on PostgreSQL, whose
        evidence is partitioned by month; rows on SQLite). Returns what went."""
        with self.writing() as conn:
            return prune(conn, self.dialect, utc(before))

    def check_writable(self, now: datetime) -> None:
        """Commit a one-row write: raises when the database cannot take writes (read-only, disk full, down).

        For a SQLite file its -wal and -shm files are checked first: SQLite maps the -shm file into memory, and
        one it cannot write has killed the process with SIGBUS rather than returning an error (issue 13).
        """
        database = self.engine.url.database if self.dialect == "sqlite" else None
        for path in [f"{database}-wal", f"{database}-shm"] if database and database != ":memory:" else []:
            if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
                raise ConfigError(f"{path} is not readable and writable by this process; give it the same owner and "
                                  f"permissions as {database}.")
        if database and database != ":memory:":
            # A full disk does not fail a one-row update SQLite can write into its reused WAL: look at the disk.
            free = shutil.disk_usage(Path(database).resolve().parent).free
            if free < MIN_FREE_BYTES:
                raise ConfigError(f"the disk holding {database} has {free} bytes free; free some space (ingestion "
                                  "fails with 'database or disk is full' when it runs out).")
        row = {"name": "healthz", "checked_at": now}
        stmt = self._insert(service_health).values(**row)
        with self.writing() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"checked_at": now}))

    # -- gate counters ----------------------------------------------------------------------------------
    def merge_counters(self, counters: Sequence[GateCounter], conn: Connection | None = None) -> None:
        if not counters:
            return
        if conn is None:
            with self.writing() as own:
                self.merge_counters(counters, own)
            return
        if self.dialect == "postgresql":
            # Read, merge, write must not interleave with another process's: a counter key new to both would be
            # inserted by one and overwritten by the other's upsert, losing its count. Two gate consumers (or API
            # replicas) take turns here; SQLite's BEGIN IMMEDIATE already serialises whole transactions.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_COUNTER_LOCK,))
        merged: dict[tuple[Any, ...], GateCounter] = {}
        for counter in counters:
            merged[counter.key] = merged[counter.key].merge(counter) if counter.key in merged else counter
        key_cols = tuple_(gate_counters.c.dataset_urn, gate_counters.c.producer_urn, gate_counters.c.schema_id,
                          gate_counters.c.reason_code, gate_counters.c.field, gate_counters.c.bucket)
        keys = list(merged)
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            stmt = select(gate_counters).where(key_cols.in_([tuple(k) for k in chunk]))
            if self.dialect == "postgresql":
                stmt = stmt.with_for_update()
            for row in conn.execute(stmt):
                existing = _counter(row)
                merged[existing.key] = merged[existing.key].merge(existing)
        rows = [_counter_row(c) for c in merged.values()]
        stmt = self._insert(gate_counters)
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.name for c in gate_counters.primary_key.columns],
            set_={name: stmt.excluded[name] for name in ("count", "first_time", "first_ref", "last_time", "last_ref",
                                                         "samples")},
        )
        conn.execute(stmt, rows)

class _WriteTurns:
    """Turns at writing, in the order they were asked for, except that an urgent one goes first.

    threading.Lock hands itself to whichever waiter wins the race, so under a stream of ingestion batches a
    detector pass waiting to write its incidents could wait for any number of them (issue 13). Here a writer waits
    only for those that asked before it, and an urgent one (a pass's single short transaction, which decides what
    on-call sees) only for the writer in progress.
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._queue: deque[object] = deque()
        self._held = False

    @contextmanager
    def __call__(self, urgent: bool = False) -> Iterator[None]:
        me = object()
        with self._turn:
            (self._queue.appendleft if urgent else self._queue.append)(me)
            self._turn.wait_for(lambda: not self._held and self._queue[0] is me)
            self._queue.popleft()
            self._held = True
        try:
            yield
        finally:
            with self._turn:
                self._held = False
                self._turn.notify_all()


_COUNTER_LOCK = 0x7263615F67617465  # "rca_gate": the advisory lock around counter merges on PostgreSQL


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


# COPY's columns: the text ones first (escaped alike), then the number, the two times and the payload.
_COPY_TEXT = ("evidence_id", "source", "source_ref", "type", "dataset_urn", "producer_urn", "schema_id", "deploy_ref",
              "reason_code", "field", "run_id", "traceparent")
assert sorted([*_COPY_TEXT, "sequence", "event_time", "ingest_time", "payload"]) == sorted(_COLUMNS), \
    "update _COPY_TEXT and copy_row with the evidence table"
_COPY = f"COPY evidence ({', '.join(_COPY_TEXT)}, sequence, event_time, ingest_time, payload) FROM STDIN"
_NULL = "\\N"
# What COPY's text format escapes (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format").
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


class CopyRow(NamedTuple):
    """A record's row in COPY's text format, with the partition its event time falls in."""

    partition: str
    line: bytes


def copy_rows(records: Sequence[EvidenceRecord], payloads: Mapping[str, bytes]) -> dict[str, CopyRow]:
    """The records' rows for COPY by evidence id (the last record of an id wins, as in the lookup that follows).

    psycopg's write_row formats the same text a value at a time while the COPY is open, under the writers' turn;
    these lines are made before it, and go in one write. Records are built in UTC (the times' text has its offset).
    """
    unique = {r.evidence_id: r for r in records}
    ingest: tuple[datetime, str] | None = None  # a batch's records share one ingest time
    months: dict[tuple[int, int], str] = {}
    out: dict[str, CopyRow] = {}
    for evidence_id, r in unique.items():
        if ingest is None or ingest[0] is not r.ingest_time:
            ingest = (r.ingest_time, r.ingest_time.isoformat())
        event = r.event_time
        month = (event.year, event.month) if event.tzinfo is UTC else month_of(event)
        partition = months.get(month) or months.setdefault(month, partition_name(month))
        out[evidence_id] = CopyRow(partition, copy_row(r, ingest[1], payloads.get(evidence_id)))
    return out


def copy_row(r: EvidenceRecord, ingest_time: str, payload: bytes | None = None) -> bytes:
    """One record's line of COPY text (columns as in _COPY); `payload` is its payload as orjson encodes it, if made."""
    texts = (r.evidence_id, r.source, r.source_ref, r.type, r.dataset_urn, r.producer_urn, r.schema_id, r.deploy_ref,
             r.reason_code, r.field, r.run_id, r.traceparent)
    if _COPY_SPECIAL.search("".join(filter(None, texts))) is None:  # the common case: nothing to escape
        head = "\t".join([_NULL if v is None else v for v in texts])
    else:
        head = "\t".join([_NULL if v is None else v.translate(_COPY_ESCAPE) for v in texts])
    sequence = _NULL if r.sequence is None else str(r.sequence)
    # orjson escapes every control character inside JSON strings, so only its backslashes need doubling.
    payload = (payload or orjson.dumps(r.payload)).replace(b"\\", b"\\\\")
    return f"{head}\t{sequence}\t{r.event_time.isoformat()}\t{ingest_time}\t".encode() + payload + b"\n"


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
    data = b"".join([rows[evidence_id].line for evidence_id in new])
    with dbapi.cursor() as cursor, cursor.copy(_COPY) as copy:
        copy.write(data)  # one write: psycopg sends it in a few large chunks, not one a 32 KiB buffer of rows
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


def _counter_row(c: GateCounter) -> dict[str, Any]:
    return {
        "dataset_urn": c.dataset_urn, "producer_urn": c.producer_urn, "schema_id": c.schema_id,
        "reason_code": c.reason_code, "field": c.field, "bucket": c.bucket, "count": c.count,
        "first_time": c.first_time, "first_ref": c.first_ref, "last_time": c.last_time, "last_ref": c.last_ref,
        "samples": orjson.dumps(list(c.samples)).decode(),
    }


__all__ = ["EvidencePage", "EvidenceQuery", "Store"]
