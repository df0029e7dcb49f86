"""Ingestion: validate each item on its own, dedupe on (source, id), store the good ones in one transaction.

One bad item never costs the others: it gets a `rejected` result naming its id and field. An id sent again with
the same payload is a `duplicate` (a retry); with another payload it is a `conflict`: the first one stays.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from evidence._cdevents import cdevent_field, cdevent_identity, cdevent_to_envelope, is_cdevent
from evidence._envelope import parse_event_json
from evidence._errors import InvalidEvent, clip
from evidence._reader import EvidenceSink
from evidence._record import EvidenceRecord, evidence_id_for, record_from_event
from evidence._vocab import EventType, parse_utc

Status = Literal["accepted", "duplicate", "conflict", "rejected"]
log = logging.getLogger("rca.ingest")
# The message of an item that failed for a reason no validator named: a bug here, never the client's fault.
INTERNAL_ERROR = "could not be read because of an internal error (logged by the server); the other items are unaffected"


@dataclass(slots=True)
class ItemResult:
    position: int
    id: str | None
    source: str | None
    status: Status
    evidence_id: str | None = None
    field: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "source": self.source, "status": self.status}
        if self.evidence_id:
            out["evidence_id"] = self.evidence_id
        if self.status in ("rejected", "conflict"):
            out["field"] = self.field
            out["error"] = self.error
        return out


@dataclass
class IngestReport:
    results: list[ItemResult] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def accepted(self) -> int:
        return self.count("accepted")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    @property
    def conflicts(self) -> int:
        return self.count("conflict")

    def as_json(self) -> dict[str, Any]:
        counts = Counter([r.status for r in self.results])  # one pass, not one a status
        return {
            "accepted": counts["accepted"],
            "duplicate": counts["duplicate"],
            "conflict": counts["conflict"],
            "rejected": counts["rejected"],
            "results": [r.as_json() for r in self.results],
        }


def as_envelope(raw: Any, position: int | None = None) -> Any:
    """The item as an envelope v1 dict: a CDEvent (bare, or in its CloudEvents binding) is mapped, anything
    else is returned as it is for parse_event to judge."""
    if is_cdevent(raw):
        return cdevent_to_envelope(raw, position=position)
    return raw


def to_record(raw: Any, ingest_time: datetime | None, *, position: int | None = None,
              trust_ingesttime: bool = False) -> EvidenceRecord:
    """Validate one raw item (envelope v1, or a CDEvent carried in it) and build its evidence record.

    `ingest_time` None (replays only) means the event arrived at its own time.
    """
    return _read(raw, ingest_time, position, trust_ingesttime)[0]


def _read(raw: Any, ingest_time: datetime | None, position: int | None,
          trust_ingesttime: bool) -> tuple[EvidenceRecord, bytes | None]:
    """to_record, with the record's payload as JSON when validation made it on the way (else None)."""
    identity = None
    if is_cdevent(raw):
        identity = cdevent_identity(raw)
        raw = cdevent_to_envelope(raw, position=position)
    try:
        event, raw, text = parse_event_json(raw, position)
    except InvalidEvent as exc:
        if identity is None:
            raise
        raise InvalidEvent(exc.event_id, cdevent_field(exc.field), exc.reason, source=exc.source,
                           position=position) from None
    stamped = ingest_time if ingest_time is not None else event.time
    if stamped is None and not (trust_ingesttime and event.model_extra and "ingesttime" in event.model_extra):
        raise InvalidEvent(event.id, "time", "is required in a replay, which has no arrival time to stand in for it",
                           source=event.source, position=position)
    if trust_ingesttime and event.model_extra and "ingesttime" in event.model_extra:
        # Replays of scenario files say when each event arrived; the live API never trusts a producer's claim.
        try:
            stamped = parse_utc(str(event.model_extra["ingesttime"]))
        except ValueError as exc:
            raise InvalidEvent(event.id, "ingesttime", "must be an RFC 3339 timestamp with an offset",
                               source=event.source, position=position) from exc
    assert stamped is not None
    record = record_from_event(event, stamped, raw)
    if identity is not None:  # a CDEvent is identified by (context.source, context.id), as its spec says
        record = dataclasses.replace(record, evidence_id=evidence_id_for(*identity))
    return record, text if record.payload is raw else None  # (a payload marked "rca:time" is another dict)


def ingest_events(
    store: EvidenceSink,
    items: Sequence[Any],
    ingest_time: datetime | None,
    *,
    trust_ingesttime: bool = False,
    on_stored: Callable[[list[EvidenceRecord]], None] | None = None,
    fence: Callable[[str, str | None], tuple[str, str] | None] | None = None,
) -> IngestReport:
    """Validate, dedupe and store a batch; the report has one result per item, in order.

    `fence(source, dataset_urn)` says why an event is outside the sender's fence, as ("source" or "dataset",
    why), or None when it is inside: a refused item is rejected on its own, like any other bad item.
    """
    report = IngestReport()
    # The fence's answer by (source, dataset): a batch's events come from a few producers about a few datasets, and
    # a scoped token matches each against its glob patterns.
    refusals: dict[tuple[str, str | None], tuple[str, str] | None] = {}
    fresh: dict[str, EvidenceRecord] = {}
    payloads: dict[str, bytes] = {}  # the fresh records' payloads as JSON, where validation made it
    for position, raw in enumerate(items):
        try:
            record, text = _read(raw, ingest_time, position, trust_ingesttime)
        except InvalidEvent as exc:
            report.results.append(ItemResult(position, exc.event_id, exc.source, "rejected", field=exc.field,
                                             error=str(exc)))
            continue
        except Exception:  # a bug must cost this item only, never the batch (and it is logged to be fixed)
            log.exception("item %d of a batch could not be read", position)
            ident = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            source = raw.get("source") if isinstance(raw, dict) and isinstance(raw.get("source"), str) else None
            report.results.append(ItemResult(position, clip(ident), clip(source), "rejected",
                                             error=f"Event #{position}: {INTERNAL_ERROR}"))
            continue
        refusal = None
        if fence is not None:
            scope = (record.source, record.dataset_urn)
            if scope not in refusals:
                refusals[scope] = fence(*scope)
            refusal = refusals[scope]
        if refusal is not None:
            field = "source" if refusal[0] == "source" else "data.dataset_urn" if record.type == \
                EventType.COMMITTED else "subject"
            report.results.append(ItemResult(position, record.source_ref, record.source, "rejected", field=field,
                                             error=f"Event {record.source_ref!r} (source {record.source}): "
                                             f"{refusal[1]}"))
            continue
        status: Status = "accepted"
        if record.evidence_id in fresh:
            same = _canonical(fresh[record.evidence_id].payload) == _canonical(record.payload)
            status = "duplicate" if same else "conflict"
        result = ItemResult(position, record.source_ref, record.source, status, record.evidence_id)
        if status == "conflict":
            _conflicting(result, "earlier in this batch")
        if fresh.setdefault(record.evidence_id, record) is record and text is not None:
            payloads[record.evidence_id] = text
        report.results.append(result)
    # The SQL store takes the payloads' JSON made by validation; a sink in memory keeps the dicts and has no use for it.
    encoded = getattr(store, "add_encoded_records", None)
    stored: set[str] = encoded(list(fresh.values()), payloads) if encoded is not None else \
        store.add_records(list(fresh.values()))
    earlier = [r for r in report.results if r.status == "accepted" and r.evidence_id not in stored]
    kept = store.payloads([r.evidence_id for r in earlier if r.evidence_id]) if earlier else {}
    for result in earlier:  # stored by an earlier request: a retry, or the same id for something else
        assert result.evidence_id is not None
        same = _canonical(fresh[result.evidence_id].payload) == _canonical(kept.get(result.evidence_id))
        result.status = "duplicate" if same else "conflict"
        if not same:
            _conflicting(result, "before")
    if on_stored is not None and stored:
        on_stored([r for r in fresh.values() if r.evidence_id in stored])
    return report


def _canonical(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def _conflicting(result: ItemResult, when: str) -> None:
    result.field = "id"
    result.error = (f"Event {result.id!r} (source {result.source}) was sent {when} with another payload; the first "
                    f"one is kept (evidence {result.evidence_id}). An id names one event: send a new id for a new "
                    "event.")
