"""The evidence store: SQLite (WAL) by default, PostgreSQL when the URL says so; idempotent on (source, id)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    String,
    and_,
    case,
    create_engine,
    event,
    func,
    inspect,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite

from evidence import _migrate
from evidence._bounds import time_error
from evidence._errors import ConfigError, UnknownEvidence
from evidence._partitions import EVIDENCE_LOCK, create_partitions, month_of, prune
from evidence._reader import Lags
from evidence._record import EvidenceRecord, GateCounter, iso, utc
from evidence._schema import evidence, gate_counters, service_health
from evidence._vocab import parse_time

_COLUMNS = [c.name for c in evidence.columns]
assert _COLUMNS == [
    "evidence_id", "source", "source_ref", "type", "dataset_urn", "producer_urn", "schema_id", "sequence",
    "event_time", "ingest_time", "deploy_ref", "reason_code", "field", "run_id", "traceparent", "payload",
], "update _sqlite_row with the evidence table"


_IN_CHUNK = 2000  # values in one IN list (SQLite allows 32,766 parameters a statement, PostgreSQL 65,535)
MIN_FREE_BYTES = 1024 * 1024  # below this on a SQLite database's disk, /healthz says the database cannot take writes


@dataclass(frozen=True)
class EvidenceQuery:
    dataset_urn: str | None = None
    producer_urn: str | None = None
    types: tuple[str, ...] = ()
    since: datetime | None = None  # event_time >= since
    until: datetime | None = None  # event_time < until
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class EvidencePage:
    records: list[EvidenceRecord]
    next_cursor: str | None


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


class Store:
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

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _select(self, payload: Any = None) -> Select[Any]:
        """SELECT of the evidence columns. On SQLite the two times come back as the stored text and are parsed
        with datetime.fromisoformat: SQLAlchemy's own DATETIME processing took half of loading a record."""
        text = self.dialect == "sqlite"
        return select(*(payload if c.name == "payload" and payload is not None
                        else type_coerce(c, String) if text and c.name in ("event_time", "ingest_time") else c
                        for c in evidence.columns))

    def _record(self, row: Any) -> EvidenceRecord:
        return _record_from_text(row) if self.dialect == "sqlite" else _record(row)

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
    def add_records(self, records: Sequence[EvidenceRecord], conn: Connection | None = None) -> set[str]:
        """Insert records not stored yet; return the evidence ids that were new.

        SQLite: looks the ids up first and inserts the rest with ON CONFLICT DO NOTHING, inside BEGIN IMMEDIATE, so
        the answer is exact. PostgreSQL: the same under an advisory lock, with COPY (see _postgres_insert), exact
        across API replicas too.
        """
        if not records:
            return set()
        if conn is None:
            with self.writing() as own:
                return self.add_records(records, own)
        if self.dialect == "postgresql":
            return _postgres_insert(conn, records)
        ids = [r.evidence_id for r in records]
        have: set[str] = set()
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            have.update(conn.execute(select(evidence.c.evidence_id).where(evidence.c.evidence_id.in_(chunk))).scalars())
        new = [r for r in records if r.evidence_id not in have]
        if new and self.dialect == "sqlite":
            # Straight to the driver: SQLAlchemy's per-value type processing cost a third of the batch time.
            conn.exec_driver_sql(_SQLITE_INSERT, [_sqlite_row(r) for r in new])
        elif new:
            conn.execute(self._insert(evidence).on_conflict_do_nothing(index_elements=["evidence_id"]),
                         [_row(r) for r in new])
        return {r.evidence_id for r in new}

    def prune(self, before: datetime) -> dict[str, object]:
        """Retention: drop the evidence whose event_time is before `before` (whole months on PostgreSQL, whose
        evidence is partitioned by month; rows on SQLite). Returns what went."""
        with self.writing() as conn:
            return prune(conn, self.dialect, utc(before))

    def get(self, evidence_id: str) -> EvidenceRecord:
        found = self.get_many([evidence_id])
        if evidence_id not in found:
            raise UnknownEvidence(evidence_id)
        return found[evidence_id]

    def get_many(self, evidence_ids: Iterable[str]) -> dict[str, EvidenceRecord]:
        ids = sorted(set(evidence_ids))
        out: dict[str, EvidenceRecord] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for row in conn.execute(self._select().where(evidence.c.evidence_id.in_(chunk))):
                    record = self._record(row)
                    out[record.evidence_id] = record
        return out

    def payloads(self, evidence_ids: Iterable[str]) -> dict[str, Any]:
        """The stored payloads of these ids (what was sent), without building whole records."""
        ids = sorted(set(evidence_ids))
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                stmt = select(evidence.c.evidence_id, evidence.c.payload).where(
                    evidence.c.evidence_id.in_(ids[start : start + 500]))
                out.update((evidence_id, orjson.loads(payload)) for evidence_id, payload in conn.execute(stmt))
        return out

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

    def by_source_ref(self, source_refs: Iterable[str]) -> list[EvidenceRecord]:
        refs = sorted(set(source_refs))
        with self.engine.connect() as conn:
            rows = conn.execute(self._select().where(evidence.c.source_ref.in_(refs))).all()
        return sorted((self._record(r) for r in rows), key=lambda r: (r.event_time, r.evidence_id))

    def page(self, query: EvidenceQuery) -> EvidencePage:
        stmt = self._select()
        if query.dataset_urn:
            stmt = stmt.where(evidence.c.dataset_urn == query.dataset_urn)
        if query.producer_urn:
            stmt = stmt.where(evidence.c.producer_urn == query.producer_urn)
        if query.types:
            stmt = stmt.where(evidence.c.type.in_(query.types))
        if query.since:
            stmt = stmt.where(evidence.c.event_time >= utc(query.since))
        if query.until:
            stmt = stmt.where(evidence.c.event_time < utc(query.until))
        if query.cursor:
            after_time, after_id = decode_cursor(query.cursor)
            stmt = stmt.where(
                or_(evidence.c.event_time > after_time,
                    and_(evidence.c.event_time == after_time, evidence.c.evidence_id > after_id))
            )
        stmt = stmt.order_by(evidence.c.event_time, evidence.c.evidence_id).limit(query.limit + 1)
        with self.engine.connect() as conn:
            records = [self._record(r) for r in conn.execute(stmt)]
        more = len(records) > query.limit
        records = records[: query.limit]
        cursor = encode_cursor(records[-1]) if more and records else None
        return EvidencePage(records, cursor)

    def records(
        self,
        *,
        dataset_urns: Iterable[str] = (),
        producer_urns: Iterable[str] = (),
        types: Iterable[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        ordered: bool = True,
        arrived_by: datetime | None = None,
        payloads_of: Iterable[str] | None = None,
    ) -> list[EvidenceRecord]:
        """Everything about these datasets or producers in a window, in (event_time, evidence_id) order
        (or in no particular order, for callers that sort what they need and skip the database's sort).
        `arrived_by`: only records ingested by then. `payloads_of`: only records of these types carry their
        payload (the others an empty one), for callers that read no other payload and load many records.

        Many datasets or producers are asked in chunks, each an index lookup: a detector pass over 10,000
        policies reads their own records, not every record of the types it wants (under write load those were
        mostly other producers' deploys, and the pass slowed with the load, issue 13)."""
        datasets, producers = sorted(set(dataset_urns)), sorted(set(producer_urns))
        if len(datasets) + len(producers) > _IN_CHUNK:
            found: dict[str, EvidenceRecord] = {}
            for column, values in (("dataset_urns", datasets), ("producer_urns", producers)):
                for start in range(0, len(values), _IN_CHUNK):
                    chunk = {column: values[start : start + _IN_CHUNK]}
                    for record in self.records(**chunk, types=types, since=since, until=until, ordered=False,
                                               arrived_by=arrived_by, payloads_of=payloads_of):
                        found[record.evidence_id] = record
            out = list(found.values())
            return sorted(out, key=lambda r: (r.event_time, r.evidence_id)) if ordered else out
        who = []
        if datasets:
            who.append(evidence.c.dataset_urn.in_(datasets))
        if producers:
            who.append(evidence.c.producer_urn.in_(producers))
        payload = None if payloads_of is None else case(
            (evidence.c.type.in_(sorted(set(payloads_of))), evidence.c.payload), else_=literal("{}"))
        stmt = self._select(payload)
        if who:
            stmt = stmt.where(or_(*who))
        if types:
            stmt = stmt.where(evidence.c.type.in_(sorted(set(types))))
        if since:
            stmt = stmt.where(evidence.c.event_time >= utc(since))
        if until:
            stmt = stmt.where(evidence.c.event_time <= utc(until))
        if arrived_by:
            stmt = stmt.where(evidence.c.ingest_time <= utc(arrived_by))
        if ordered:
            stmt = stmt.order_by(evidence.c.event_time, evidence.c.evidence_id)
        with self.engine.connect() as conn:
            return [self._record(r) for r in conn.execute(stmt).all()]

    def subject_page(self, column: str, since: datetime, now: datetime, after: str | None, limit: int) -> list[str]:
        """The first `limit` distinct datasets (`column` "dataset_urn") or producers ("producer_urn") after `after`,
        in URN order, of the records in [since, now], arrived by `now`, that name a dataset: a page of readiness
        subjects read in its column's index order, so a page costs its own subjects' records, not every record."""
        value: Any = evidence.c[column]
        if self.engine.dialect.name == "postgresql":  # code-point order, as Python sorts the configured ones
            value = value.collate("C")
        stmt = (select(value).where(evidence.c.event_time >= utc(since), evidence.c.event_time <= utc(now),
                                    evidence.c.ingest_time <= utc(now), evidence.c.dataset_urn.is_not(None),
                                    evidence.c[column].is_not(None))
                .distinct().order_by(value).limit(limit))
        if after is not None:
            stmt = stmt.where(value > after)
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def latest(self, producer_urn: str, type_: str, until: datetime) -> EvidenceRecord | None:
        """The producer's newest record of a type at or before `until`, however old."""
        stmt = (self._select().where(evidence.c.producer_urn == producer_urn, evidence.c.type == type_,
                                       evidence.c.event_time <= utc(until))
                .order_by(evidence.c.event_time.desc(), evidence.c.evidence_id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return self._record(row) if row is not None else None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(evidence)).scalar_one())

    def ingestion_lag(self, now: datetime, window: timedelta = timedelta(minutes=5),
                      sources: Iterable[str] | None = None,
                      backfill_after: timedelta | None = None) -> dict[str, dict[str, Any]]:
        """p50/p95 of ingest_time - event_time per source over the trailing window (gate records included);
        only of `sources` when given (a detector pass asks about its incidents' sources, not every row that
        arrived in the window: under write load that was most of a pass). Backfills apart: see `Lags`."""
        stmt = select(evidence.c.source, evidence.c.event_time, evidence.c.ingest_time).where(
            evidence.c.ingest_time > utc(now) - window, evidence.c.ingest_time <= utc(now)
        )
        wanted = sorted(set(sources)) if sources is not None else None
        if wanted is not None and not wanted:
            return {}
        if wanted is not None and len(wanted) <= 5000:  # beyond, one pass over the window beats a huge IN list
            stmt = stmt.where(evidence.c.source.in_(wanted))
        chosen = set(wanted) if wanted is not None else None
        lags = Lags(backfill_after)
        with self.engine.connect() as conn:
            for source, event_time, ingest_time in conn.execute(stmt):
                if chosen is None or source in chosen:
                    lags.add(source, event_time, ingest_time)
        return lags.summary()

    def visible_between(self, since: datetime, until: datetime, types: Iterable[str]) -> tuple[set[str], set[str]]:
        """(datasets, producers) of the records of `types` that became visible in (since, until]: that arrived
        then, or whose event time came then (what an incremental detector pass re-evaluates)."""
        c, kinds = evidence.c, set(types)
        wanted = sorted(kinds)
        # Two index range scans (ingest_time; type then event_time), not one OR that reads the whole table.
        # (The type is filtered here, not in SQL, where it made SQLite prefer the type index for the first.)
        arrived = select(c.dataset_urn, c.producer_urn, c.type).where(c.ingest_time > utc(since),
                                                                      c.ingest_time <= utc(until))
        came_due = select(c.dataset_urn, c.producer_urn, c.type).where(c.type.in_(wanted), c.event_time > utc(since),
                                                                       c.event_time <= utc(until))
        with self.engine.connect() as conn:
            pairs = [(d, p) for d, p, kind in conn.execute(union(arrived, came_due)) if kind in kinds]
        return {d for d, _ in pairs if d}, {p for _, p in pairs if p}

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

    def counters(self, dataset_urns: Iterable[str] = (), since: datetime | None = None,
                 until: datetime | None = None) -> list[GateCounter]:
        stmt = select(gate_counters)
        datasets = sorted(set(dataset_urns))
        if datasets:
            stmt = stmt.where(gate_counters.c.dataset_urn.in_(datasets))
        if since:
            stmt = stmt.where(gate_counters.c.bucket >= utc(since))
        if until:
            stmt = stmt.where(gate_counters.c.bucket <= utc(until))
        with self.engine.connect() as conn:
            return sorted((_counter(r) for r in conn.execute(stmt)), key=lambda c: c.key)


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


def encode_cursor(record: EvidenceRecord) -> str:
    return base64.urlsafe_b64encode(f"{iso(record.event_time)}|{record.evidence_id}".encode()).decode()


_EVIDENCE_ID = re.compile(r"^ev_[0-9a-f]{24}$")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (event time, evidence id) a cursor continues after; ValueError for anything this server did not issue."""
    try:
        moment, evidence_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        when = parse_time(moment)
        if time_error(when) is not None or not _EVIDENCE_ID.match(evidence_id):
            raise ValueError(cursor)
        return utc(when), evidence_id
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"cursor {cursor[:100]!r} is not one this server issued; start again without it") from exc


def _row(r: EvidenceRecord) -> dict[str, Any]:
    return {
        "evidence_id": r.evidence_id, "source": r.source, "source_ref": r.source_ref, "type": r.type,
        "dataset_urn": r.dataset_urn, "producer_urn": r.producer_urn, "schema_id": r.schema_id,
        "sequence": r.sequence, "event_time": r.event_time, "ingest_time": r.ingest_time,
        "deploy_ref": r.deploy_ref, "reason_code": r.reason_code, "field": r.field, "run_id": r.run_id,
        "traceparent": r.traceparent, "payload": orjson.dumps(r.payload).decode(),
    }


_SQLITE_INSERT = (
    f"INSERT INTO evidence ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
    "ON CONFLICT (evidence_id) DO NOTHING"
)


_COPY = f"COPY evidence ({', '.join(_COLUMNS)}) FROM STDIN"


def _postgres_insert(conn: Connection, records: Sequence[EvidenceRecord]) -> set[str]:
    """Store the records whose ids are new, with COPY, and return those ids.

    The table is partitioned by month of event_time, so its primary key is (evidence_id, event_time) and cannot
    stop the same id from being stored twice under two times (a conflicting re-send). Writers therefore take
    turns on one advisory lock for the length of their transaction: look the ids up (in every partition), make
    the months' partitions that are missing, COPY the rest. The answer is exact across API replicas, and the
    database's part of a batch of 1,000 is short enough (benchmarks/ingest_bench.py) that the turns cost little
    beside validation, which runs in parallel in each replica.
    """
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (EVIDENCE_LOCK,))
    unique = list({r.evidence_id: r for r in records}.values())
    have: set[str] = set()
    # Index lookups even while the table's statistics are still empty (a seq scan over every partition, else).
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    ids = [r.evidence_id for r in unique]
    for start in range(0, len(ids), _IN_CHUNK):
        have.update(conn.exec_driver_sql("SELECT evidence_id FROM evidence WHERE evidence_id = ANY(%s)",
                                         (ids[start : start + _IN_CHUNK],)).scalars())
    conn.exec_driver_sql("SET LOCAL enable_seqscan = DEFAULT")
    new = [r for r in unique if r.evidence_id not in have]
    if not new:
        return set()
    create_partitions(conn, {month_of(r.event_time) for r in new})
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(_COPY) as copy:  # type: ignore[union-attr]
        for r in new:
            copy.write_row((r.evidence_id, r.source, r.source_ref, r.type, r.dataset_urn, r.producer_urn, r.schema_id,
                            r.sequence, r.event_time, r.ingest_time, r.deploy_ref, r.reason_code, r.field, r.run_id,
                            r.traceparent, orjson.dumps(r.payload).decode()))
    return {r.evidence_id for r in new}


def _sqlite_time(moment: datetime) -> str:
    """SQLAlchemy's own SQLite DATETIME text form, in UTC, so both write paths read back alike."""
    if moment.tzinfo is not UTC:  # records are built in UTC already; convert only what is not
        moment = utc(moment)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_row(r: EvidenceRecord) -> tuple[Any, ...]:
    # Column order of _COLUMNS; hot path of every ingested batch, so no intermediate dict.
    return (r.evidence_id, r.source, r.source_ref, r.type, r.dataset_urn, r.producer_urn, r.schema_id, r.sequence,
            _sqlite_time(r.event_time), _sqlite_time(r.ingest_time), r.deploy_ref, r.reason_code, r.field, r.run_id,
            r.traceparent, orjson.dumps(r.payload).decode())


def _record_from_text(row: Any) -> EvidenceRecord:
    (evidence_id, source, source_ref, type_, dataset_urn, producer_urn, schema_id, sequence, event_time, ingest_time,
     deploy_ref, reason_code, field, run_id, traceparent, payload) = row
    return EvidenceRecord(evidence_id, source, source_ref, type_, _from_sqlite(event_time), _from_sqlite(ingest_time),
                          dataset_urn, producer_urn, schema_id, sequence, deploy_ref, reason_code, field, run_id,
                          traceparent, orjson.loads(payload))


def _from_sqlite(text: str) -> datetime:
    # What _sqlite_time and SQLAlchemy's SQLite DATETIME both write: "2026-03-10 10:20:00.000000", in UTC (a storage
    # format without an offset, not RFC 3339, hence not parse_time).
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _record(row: Any) -> EvidenceRecord:
    # Positional, not row._mapping: a detector pass loads hundreds of thousands of these.
    (evidence_id, source, source_ref, type_, dataset_urn, producer_urn, schema_id, sequence, event_time, ingest_time,
     deploy_ref, reason_code, field, run_id, traceparent, payload) = row
    return EvidenceRecord(evidence_id, source, source_ref, type_, event_time, ingest_time, dataset_urn, producer_urn,
                          schema_id, sequence, deploy_ref, reason_code, field, run_id, traceparent,
                          orjson.loads(payload))


def _counter_row(c: GateCounter) -> dict[str, Any]:
    return {
        "dataset_urn": c.dataset_urn, "producer_urn": c.producer_urn, "schema_id": c.schema_id,
        "reason_code": c.reason_code, "field": c.field, "bucket": c.bucket, "count": c.count,
        "first_time": c.first_time, "first_ref": c.first_ref, "last_time": c.last_time, "last_ref": c.last_ref,
        "samples": orjson.dumps(list(c.samples)).decode(),
    }


def _counter(row: Any) -> GateCounter:
    values = dict(row._mapping)
    values["samples"] = tuple(orjson.loads(values["samples"]))
    return GateCounter(**values)


__all__ = ["EvidencePage", "EvidenceQuery", "Store"]
