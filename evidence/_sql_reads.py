"""The reads of the evidence store, in SQL: records by dataset, producer, type and window, pages with cursors, gate
counters, ingestion lag. `SqlReads` is the SQL implementation of `EvidenceReader` (evidence/_reader.py); `Store`
(evidence/_store.py) adds the schema and the writes."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Engine,
    Select,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
    union,
)

from evidence._bounds import time_error
from evidence._errors import UnknownEvidence
from evidence._record import EvidenceRecord, GateCounter, iso, no_collection, utc
from evidence._schema import evidence, gate_counters
from evidence._vocab import parse_time

_IN_CHUNK = 2000  # values in one IN list (SQLite allows 32,766 parameters a statement, PostgreSQL 65,535)


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


class SqlReads:
    """Reads of the evidence and gate counter tables through `engine`."""

    engine: Engine

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
            chunks = [{column: values[start : start + _IN_CHUNK]}
                      for column, values in (("dataset_urns", datasets), ("producer_urns", producers))
                      for start in range(0, len(values), _IN_CHUNK)]
            return _each_once((self.records(**chunk, types=types, since=since, until=until, ordered=False,
                                            arrived_by=arrived_by, payloads_of=payloads_of) for chunk in chunks),
                              ordered)
        if datasets and producers and self.dialect == "sqlite":
            # SQLite without statistics answered the OR of the two from the (type, event_time) index: every record
            # of the types in the window read and filtered, 268,000 for 1,000 datasets' 25,000 (2-4x the time).
            # Asked apart, each side is read from its own index (the type filter made unindexable on the datasets'
            # side, where SQLite would otherwise still prefer the type's index).
            # The datasets' side leaves out what the producers' side returns (a job's commits name both): the rows
            # are read either way, but not turned into records twice.
            theirs = self._where(datasets, [], types, since, until, arrived_by, payloads_of, by_dataset=True).where(
                or_(evidence.c.producer_urn.is_(None), evidence.c.producer_urn.not_in(producers)))
            return _each_once((self._fetch(stmt) for stmt in (
                theirs, self._where([], producers, types, since, until, arrived_by, payloads_of))), ordered)
        stmt = self._where(datasets, producers, types, since, until, arrived_by, payloads_of)
        if ordered:
            stmt = stmt.order_by(evidence.c.event_time, evidence.c.evidence_id)
        return self._fetch(stmt)

    def _where(self, datasets: list[str], producers: list[str], types: Iterable[str], since: datetime | None,
               until: datetime | None, arrived_by: datetime | None, payloads_of: Iterable[str] | None,
               by_dataset: bool = False) -> Select[Any]:
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
            kind: Any = evidence.c.type.concat("") if by_dataset else evidence.c.type  # `type || ''`: no index
            stmt = stmt.where(kind.in_(sorted(set(types))))
        if since:
            stmt = stmt.where(evidence.c.event_time >= utc(since))
        if until:
            stmt = stmt.where(evidence.c.event_time <= utc(until))
        if arrived_by:
            stmt = stmt.where(evidence.c.ingest_time <= utc(arrived_by))
        return stmt

    def _fetch(self, stmt: Select[Any]) -> list[EvidenceRecord]:
        make = _record_from_text if self.dialect == "sqlite" else _record
        with self.engine.connect() as conn, no_collection():
            return [make(r) for r in conn.execute(stmt).all()]

    def subject_page(self, column: str, since: datetime, now: datetime, after: str | None, limit: int) -> list[str]:
        """The first `limit` distinct datasets (`column` "dataset_urn") or producers ("producer_urn") after `after`,
        in URN order, of the records in [since, now], arrived by `now`, that name a dataset: a page of readiness
        subjects read in its column's index order, so a page costs its own subjects' records, not every record."""
        value: Any = evidence.c[column]
        if self.engine.dialect.name == "postgresql":  # code-point order, as Python sorts the configured ones
            value = value.collate("C")
        when: Any = evidence.c.event_time
        if self.dialect == "sqlite":
            # Unary + keeps SQLite off the (event_time, evidence_id) index, which it otherwise walks over every
            # record of the window (the writers' deploys included) to sort them for DISTINCT: 7,000 of 13,800 server
            # samples under the schedule bench's load. The subject column's own index, in URN order, stops at `limit`.
            when = type_coerce(literal_column("+evidence.event_time"), evidence.c.event_time.type)
        stmt = (select(value).where(when >= utc(since), when <= utc(now),
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
        only of `sources` when given (a detector pass asks about its incidents' sources). Backfills apart: see `Lags`.

        Computed by the database: a lag in whole microseconds per row, ranked per source by a window function, and
        only the ranks the figures need come back (at most three rows a source, and one count of its backfills).
        Python used to receive and parse every row that arrived in the window: hundreds of thousands under write
        load, which took /metrics past any scrape timeout (issue 13). Same figures as `Lags` over the same rows."""
        wanted = sorted(set(sources)) if sources is not None else None
        if wanted is not None and not wanted:
            return {}
        c = evidence.c
        where = [c.ingest_time > utc(now) - window, c.ingest_time <= utc(now)]
        if wanted is not None and len(wanted) <= 5000:  # beyond, one pass over the window beats a huge IN list
            where.append(c.source.in_(wanted))
        lag = self._lag_us()
        rows = select(c.source.label("source"), case((lag < 0, 0), else_=lag).label("lag")).where(*where).cte("lags")
        limit = None if backfill_after is None else backfill_after.total_seconds() * 1_000_000
        live = select(rows.c.source, rows.c.lag)
        if limit is not None:
            live = live.where(rows.c.lag <= limit)
        live_cte = live.cte("live")
        ranked = select(live_cte.c.source, live_cte.c.lag,
                        func.row_number().over(partition_by=live_cte.c.source, order_by=live_cte.c.lag).label("rank"),
                        func.count().over(partition_by=live_cte.c.source).label("n")).cte("ranked")
        # Nearest rank, as `percentile`: the ceil(n * pct / 100)-th smallest; the n-th is the max.
        picked = select(ranked.c.source, ranked.c.n, ranked.c.rank, ranked.c.lag).where(or_(
            ranked.c.rank == ranked.c.n, ranked.c.rank == (ranked.c.n * 50 + 99) // 100,
            ranked.c.rank == (ranked.c.n * 95 + 99) // 100))
        chosen = set(wanted) if wanted is not None else None
        figures: dict[str, dict[int, float]] = {}
        counts: dict[str, int] = {}
        backfills: dict[str, int] = {}
        with self.engine.connect() as conn:
            for source, n, rank, value in conn.execute(picked):
                counts[source] = int(n)
                figures.setdefault(source, {})[int(rank)] = int(value) / 1_000_000
            if limit is not None:
                late = select(rows.c.source, func.count()).where(rows.c.lag > limit).group_by(rows.c.source)
                backfills.update((source, int(n)) for source, n in conn.execute(late))
        out: dict[str, dict[str, Any]] = {}
        for source in sorted(set(counts) | set(backfills)):
            if chosen is not None and source not in chosen:
                continue
            n, at = counts.get(source, 0), figures.get(source, {})
            out[source] = {"count": n, "p50_s": round(at[-(-n * 50 // 100)], 3) if n else 0.0,
                           "p95_s": round(at[-(-n * 95 // 100)], 3) if n else 0.0,
                           "max_s": round(at[n], 3) if n else 0.0, "backfill": backfills.get(source, 0)}
        return out

    def _lag_us(self) -> Any:
        """ingest_time - event_time in whole microseconds, exactly (no float on the way)."""
        c = evidence.c
        if self.dialect == "postgresql":
            return cast(extract("epoch", c.ingest_time - c.event_time) * 1_000_000, BigInteger)
        # SQLite holds "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (evidence/_store.py _sqlite_time): whole seconds from
        # strftime('%s'), microseconds from the text.
        ingest, event = type_coerce(c.ingest_time, String), type_coerce(c.event_time, String)
        seconds = cast(func.strftime("%s", ingest), BigInteger) - cast(func.strftime("%s", event), BigInteger)
        return seconds * 1_000_000 + cast(func.substr(ingest, 21, 6), BigInteger) - cast(func.substr(event, 21, 6),
                                                                                            BigInteger)

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



def _each_once(reads: Iterable[list[EvidenceRecord]], ordered: bool) -> list[EvidenceRecord]:
    """The records of several reads, each once (a record can match by its dataset and by its producer), in
    (event_time, evidence_id) order when `ordered`."""
    found = {r.evidence_id: r for records in reads for r in records}
    out = list(found.values())
    return sorted(out, key=lambda r: (r.event_time, r.evidence_id)) if ordered else out


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

def _record_from_text(row: Any) -> EvidenceRecord:
    (evidence_id, source, source_ref, type_, dataset_urn, producer_urn, schema_id, sequence, event_time, ingest_time,
     deploy_ref, reason_code, field, run_id, traceparent, payload) = row
    return EvidenceRecord(evidence_id, source, source_ref, type_, _from_sqlite(event_time), _from_sqlite(ingest_time),
                          dataset_urn, producer_urn, schema_id, sequence, deploy_ref, reason_code, field, run_id,
                          traceparent, orjson.loads(payload))


def _from_sqlite(text: str) -> datetime:
    # What _sqlite_time and SQLAlchemy's SQLite DATETIME both write: "2026-03-10 10:20:00.000000", in UTC (a storage
    # format without an offset, not RFC 3339, hence not parse_time). The offset is appended, not set by .replace(): a
    # sixth of the time (two a record; a detector pass loads a hundred thousand), the same aware UTC datetime.
    return datetime.fromisoformat(text + "+00:00")


def _record(row: Any) -> EvidenceRecord:
    # Positional, not row._mapping: a detector pass loads hundreds of thousands of these.
    (evidence_id, source, source_ref, type_, dataset_urn, producer_urn, schema_id, sequence, event_time, ingest_time,
     deploy_ref, reason_code, field, run_id, traceparent, payload) = row
    return EvidenceRecord(evidence_id, source, source_ref, type_, event_time, ingest_time, dataset_urn, producer_urn,
                          schema_id, sequence, deploy_ref, reason_code, field, run_id, traceparent,
                          orjson.loads(payload))

def _counter(row: Any) -> GateCounter:
    values = dict(row._mapping)
    values["samples"] = tuple(orjson.loads(values["samples"]))
    return GateCounter(**values)
