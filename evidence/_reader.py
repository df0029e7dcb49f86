"""What a detector pass reads: the `EvidenceReader` protocol, which the SQL `Store` implements, and `MemoryReader`,
the same reads over records held in memory (replays, tests, a pass over a batch that never touched a database)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from evidence._record import EvidenceRecord, GateCounter, utc


class EvidenceReader(Protocol):
    """The reads of a detector pass. Same records, same answers, whichever implementation holds them."""

    def records(self, *, dataset_urns: Iterable[str] = (), producer_urns: Iterable[str] = (),
                types: Iterable[str] = (), since: datetime | None = None, until: datetime | None = None,
                ordered: bool = True, arrived_by: datetime | None = None,
                payloads_of: Iterable[str] | None = None) -> list[EvidenceRecord]: ...

    def get_many(self, evidence_ids: Iterable[str]) -> dict[str, EvidenceRecord]: ...

    def latest(self, producer_urn: str, type_: str, until: datetime) -> EvidenceRecord | None:
        """The producer's newest record of a type at or before `until`, however old."""
        ...

    def counters(self, dataset_urns: Iterable[str] = (), since: datetime | None = None,
                 until: datetime | None = None) -> list[GateCounter]: ...

    def ingestion_lag(self, now: datetime, window: timedelta = timedelta(minutes=5),
                      sources: Iterable[str] | None = None,
                      backfill_after: timedelta | None = None) -> dict[str, dict[str, Any]]: ...

    def visible_between(self, since: datetime, until: datetime, types: Iterable[str]) -> tuple[set[str], set[str]]:
        """(datasets, producers) of the records of `types` that became visible in (since, until]: that arrived
        then, or whose event time came then."""
        ...


class EvidenceSink(Protocol):
    """Where ingestion stores a batch (`ingest_events`): the SQL `Store`, or records held in memory."""

    def add_records(self, records: Sequence[EvidenceRecord]) -> set[str]:
        """Keep the records whose evidence ids are new; return those ids."""
        ...

    def payloads(self, evidence_ids: Iterable[str]) -> dict[str, Any]:
        """The kept payloads of these ids."""
        ...


class MemoryReader:
    """An `EvidenceReader` over records and gate counters in memory, answering as `Store` does (`payloads_of` is
    accepted and ignored: every record keeps its payload)."""

    def __init__(self, records: Iterable[EvidenceRecord] = (), counters: Iterable[GateCounter] = ()) -> None:
        self._records = {r.evidence_id: r for r in records}
        self._counters = sorted(counters, key=lambda c: c.key)

    def records(self, *, dataset_urns: Iterable[str] = (), producer_urns: Iterable[str] = (),
                types: Iterable[str] = (), since: datetime | None = None, until: datetime | None = None,
                ordered: bool = True, arrived_by: datetime | None = None,
                payloads_of: Iterable[str] | None = None) -> list[EvidenceRecord]:
        datasets, producers, wanted = set(dataset_urns), set(producer_urns), set(types)
        low, high, arrived = (utc(t) if t else None for t in (since, until, arrived_by))
        out = [r for r in self._records.values()
               if (not (datasets or producers) or r.dataset_urn in datasets or r.producer_urn in producers)
               and (not wanted or r.type in wanted) and (low is None or r.event_time >= low)
               and (high is None or r.event_time <= high) and (arrived is None or r.ingest_time <= arrived)]
        return sorted(out, key=lambda r: (r.event_time, r.evidence_id)) if ordered else out

    def get_many(self, evidence_ids: Iterable[str]) -> dict[str, EvidenceRecord]:
        return {i: self._records[i] for i in sorted(set(evidence_ids)) if i in self._records}

    def latest(self, producer_urn: str, type_: str, until: datetime) -> EvidenceRecord | None:
        high = utc(until)
        return max((r for r in self._records.values() if r.producer_urn == producer_urn and r.type == type_
                    and r.event_time <= high), key=lambda r: (r.event_time, r.evidence_id), default=None)

    def counters(self, dataset_urns: Iterable[str] = (), since: datetime | None = None,
                 until: datetime | None = None) -> list[GateCounter]:
        datasets = set(dataset_urns)
        low, high = (utc(t) if t else None for t in (since, until))
        return [c for c in self._counters if (not datasets or c.dataset_urn in datasets)
                and (low is None or c.bucket >= low) and (high is None or c.bucket <= high)]

    def ingestion_lag(self, now: datetime, window: timedelta = timedelta(minutes=5),
                      sources: Iterable[str] | None = None,
                      backfill_after: timedelta | None = None) -> dict[str, dict[str, Any]]:
        chosen = set(sources) if sources is not None else None
        start, end = utc(now) - window, utc(now)
        lags = Lags(backfill_after)
        for r in self._records.values():
            if start < r.ingest_time <= end and (chosen is None or r.source in chosen):
                lags.add(r.source, r.event_time, r.ingest_time)
        return lags.summary()


    def visible_between(self, since: datetime, until: datetime, types: Iterable[str]) -> tuple[set[str], set[str]]:
        wanted, low, high = set(types), utc(since), utc(until)
        seen = [r for r in self._records.values() if r.type in wanted
                and (low < r.ingest_time <= high or low < r.event_time <= high)]
        return {r.dataset_urn for r in seen if r.dataset_urn}, {r.producer_urn for r in seen if r.producer_urn}


class Lags:
    """Ingestion lags per source, as `ingestion_lag` reports them.

    Evidence that arrived more than `backfill_after` after its event time is a backfill (a replay, a history import),
    not a late live delivery: it is counted under `backfill` and left out of the percentiles, so replaying last year's
    events never makes today's evidence look stale. A source with only backfills has percentiles of 0."""

    def __init__(self, backfill_after: timedelta | None) -> None:
        self._limit = backfill_after.total_seconds() if backfill_after is not None else float("inf")
        self._lags: dict[str, list[float]] = {}
        self._backfills: dict[str, int] = {}

    def add(self, source: str, event_time: datetime, ingest_time: datetime) -> None:
        lag = max(0.0, (ingest_time - event_time).total_seconds())
        values = self._lags.setdefault(source, [])
        if lag > self._limit:
            self._backfills[source] = self._backfills.get(source, 0) + 1
        else:
            values.append(lag)

    def summary(self) -> dict[str, dict[str, Any]]:
        """count, p50/p95/max of the live lags and the backfill count of each source."""
        return {
            source: {"count": len(values), "p50_s": percentile(values, 50) if values else 0.0,
                     "p95_s": percentile(values, 95) if values else 0.0,
                     "max_s": round(max(values), 3) if values else 0.0, "backfill": self._backfills.get(source, 0)}
            for source, values in sorted(self._lags.items())
        }


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: deterministic, and an actual observed value."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return round(ordered[int(rank) - 1], 3)
