"""The evidence store: SQLite (WAL) by default, PostgreSQL when the URL says so; idempotent on (source, id)."""

from __future__ import annotations

import os
import shutil
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

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
from sqlalchemy.exc import DBAPIError

from evidence import _migrate
from evidence._errors import ConfigError
from evidence._partitions import prune
from evidence._record import EvidenceRecord, GateCounter, utc
from evidence._row_writes import (
    STAGE,
    CopyRow,
    NotStaged,
    _postgres_insert,
    _postgres_staged,
    _row,
    _sqlite_insert,
    copy_rows,
)
from evidence._schema import evidence, gate_counters, service_health
from evidence._sql_reads import EvidencePage, EvidenceQuery, SqlReads, _counter

# PostgreSQL ingestion's transactions at once in one process (Store._add_staged): one in the writers' turn, the
# others staging their rows or queued for the lock, the rest of the pool (10) left to readers and other writers.
_STAGED_WRITERS = 3
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
        # read-then-write transactions; on PostgreSQL it costs nothing measurable at our batch sizes. (PostgreSQL
        # ingestion, whose turns the database orders, goes its own way: _add_staged.)
        self._write_turns = _WriteTurns()
        self._staged_writers = threading.BoundedSemaphore(_STAGED_WRITERS)

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
                return self._add_staged(rows)
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

    def _add_staged(self, rows: dict[str, CopyRow]) -> set[str]:
        """PostgreSQL's rows in a transaction of their own: staged (_postgres_staged), or, for the first batch of a
        month (or one whose staging table a session reset dropped), the lookup and COPY under the turn
        (_postgres_insert), which make the month's partition.

        Not in this process's write turns: the advisory lock orders writers of evidence, in this process as across
        replicas, and a staged writer's COPY is meant to run while another holds the lock. At most
        _STAGED_WRITERS at once, so that ingestion never holds the whole connection pool."""
        try:
            with self._staged_writers:
                info: dict[Any, Any] | None = None
                try:
                    with self.engine.begin() as conn:
                        info = conn.connection.info
                        return _postgres_staged(conn, rows)
                except BaseException as exc:
                    if info is not None:
                        info.pop(STAGE, None)  # a rollback drops a temporary table made in its transaction
                    if not isinstance(exc, NotStaged):
                        raise
            with self.writing() as conn:
                return _postgres_insert(conn, rows, own=True)
        except psycopg.Error as exc:
            # The calls on the driver's connection (COPY, the pipelines) raise psycopg's own errors: raised as
            # SQLAlchemy's, a database down or read-only is told as such (503 from the API), as elsewhere.
            raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc

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


def _counter_row(c: GateCounter) -> dict[str, Any]:
    return {
        "dataset_urn": c.dataset_urn, "producer_urn": c.producer_urn, "schema_id": c.schema_id,
        "reason_code": c.reason_code, "field": c.field, "bucket": c.bucket, "count": c.count,
        "first_time": c.first_time, "first_ref": c.first_ref, "last_time": c.last_time, "last_ref": c.last_ref,
        "samples": orjson.dumps(list(c.samples)).decode(),
    }


__all__ = ["EvidencePage", "EvidenceQuery", "Store"]
