"""Ingestion endpoints: envelope v1 CloudEvents, OpenLineage RunEvents, CDEvents; and reading evidence back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from evidence import EVENT_TYPES, EvidenceRecord, InvalidEvent, iso
from evidence._configs import LINEAGE, Configs
from evidence._ingest import IngestReport, as_envelope, ingest_events
from evidence._openlineage import map_run_event
from evidence._store import EvidenceQuery
from evidence._tokens import Token
from rca._auth import ReaderDep, WriterDep, check_sources
from rca._errors import ApiError, JSONBody

router = APIRouter()

_SINGLE = "application/cloudevents+json"
_BATCH = "application/cloudevents-batch+json"
_JSON = "application/json"

_EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "description": "One envelope v1 CloudEvent (application/cloudevents+json), or a JSON array of them "
        "(application/cloudevents-batch+json). application/json takes either. CDEvents service.deployed events "
        "are accepted too and mapped to DeploymentEvent. Schema: sdk/spec/envelope.schema.json.",
        "content": {
            _SINGLE: {"schema": {"type": "object"}},
            _BATCH: {"schema": {"type": "array", "items": {"type": "object"}}},
            _JSON: {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}},
        },
    }
}


async def read_json(request: Request, accepted: tuple[str, ...]) -> Any:
    """The body as JSON, after the content type (415) and size (413) checks, with a JSON error body."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type {media or '(none)'!r} is not accepted here; send {' or '.join(accepted)}.")
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"The body is {declared} bytes; the limit is {limit}. "
                       "Send smaller batches.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "payload_too_large", f"The body exceeds {limit} bytes; send smaller batches.")
    try:
        return media, orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {exc}") from None


def _store_batch(request: Request, items: list[Any], token: Token | None = None) -> IngestReport:
    state = request.app.state
    max_items: int = state.settings.max_batch_items
    if len(items) > max_items:
        raise ApiError(413, "batch_too_large", f"The batch has {len(items)} events; the limit is {max_items}.")

    def may_write(source: str) -> str | None:
        if token is None or token.may_write(source):
            return None
        return f"token {token.name!r} may write {', '.join(token.producers) or 'no producers'}, not {source}"

    report = ingest_events(state.store, items, state.clock(), on_stored=state.on_stored, may_write=may_write)
    state.metrics.ingested("events", {"accepted": report.accepted, "duplicate": report.duplicates,
                                      "rejected": report.rejected})
    return report


@router.post("/v1/events", openapi_extra=_EVENTS_BODY, tags=["ingestion"],
             summary="Send envelope v1 evidence: one event or a batch")
async def post_events(request: Request, token: WriterDep) -> JSONBody:
    media, body = await read_json(request, (_SINGLE, _BATCH, _JSON))
    single = isinstance(body, dict)
    if media == _SINGLE and not single:
        raise ApiError(400, "bad_request", "application/cloudevents+json carries one event object; send a batch "
                       "as application/cloudevents-batch+json.")
    if media == _BATCH and not isinstance(body, list):
        raise ApiError(400, "bad_request", "application/cloudevents-batch+json carries a JSON array of events.")
    if not single and not isinstance(body, list):
        raise ApiError(400, "bad_request", "The body must be an event object or an array of events.")
    items = [body] if single else body
    sources = [source for i in items if (source := _source_of(i))]
    if sources and not any(token.may_write(s) for s in sources):
        check_sources(token, sources)  # nothing this token may write: 403 naming the sources
    # Otherwise a foreign event is rejected on its own, like any bad item, and the rest are stored.
    report = await run_in_threadpool(_store_batch, request, items, token)
    status = 422 if single and report.rejected else 200
    return JSONBody(report.as_json(), status)


def _source_of(item: Any) -> str | None:
    """The producer an item speaks for, as ingestion will read it (CDEvents mapped the same way)."""
    try:
        envelope = as_envelope(item)
    except InvalidEvent:
        return None
    source = envelope.get("source") if isinstance(envelope, dict) else None
    return source if isinstance(source, str) else None


@router.post("/api/v1/lineage", tags=["ingestion"], summary="Send an OpenLineage RunEvent (Marquez-compatible path)")
async def post_lineage(request: Request, token: WriterDep) -> JSONBody:
    _, body = await read_json(request, (_JSON,))
    mapped = map_run_event(body, naming=request.app.state.openlineage_naming)  # InvalidEvent -> 422 naming the field
    check_sources(token, sorted({e["source"] for e in mapped.events}))
    report = await run_in_threadpool(_store_batch, request, mapped.events, token)
    if report.rejected:
        first = next(r for r in report.results if r.status == "rejected")
        raise ApiError(422, "invalid_event", first.error or "rejected", field=first.field, **report.as_json())
    state = request.app.state
    configs = Configs(state.store)
    for edge in mapped.lineage:
        await run_in_threadpool(configs.put, LINEAGE, edge, state.clock())
    return JSONBody({**report.as_json(), "mapped": [{"id": e["id"], "type": e["type"]} for e in mapped.events],
                           "lineage": [e.model_dump() for e in mapped.lineage]})


def record_json(record: EvidenceRecord, with_payload: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "evidence_id": record.evidence_id, "source": record.source, "source_ref": record.source_ref,
        "type": record.type, "dataset_urn": record.dataset_urn, "producer_urn": record.producer_urn,
        "schema_id": record.schema_id, "sequence": record.sequence, "event_time": iso(record.event_time),
        "ingest_time": iso(record.ingest_time), "deploy_ref": record.deploy_ref, "reason_code": record.reason_code,
        "field": record.field, "run_id": record.run_id, "traceparent": record.traceparent,
    }
    if with_payload:
        out["payload"] = record.payload
    return out


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ApiError(422, "invalid_request", f"'{name}' must carry an offset, e.g. 2026-01-19T02:15:00-05:00",
                       field=name)
    return value


@router.get("/v1/evidence", tags=["evidence"], summary="Evidence by dataset, producer, type and time window")
def list_evidence(
    request: Request,
    _: ReaderDep,
    dataset_urn: str | None = None,
    producer_urn: str | None = None,
    type: Annotated[list[str] | None, Query(description=f"any of {', '.join(EVENT_TYPES)}, GateObservation")] = None,
    since: Annotated[datetime | None, Query(description="event_time >= since (RFC 3339)")] = None,
    until: Annotated[datetime | None, Query(description="event_time < until (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    payload: bool = True,
) -> dict[str, Any]:
    query = EvidenceQuery(dataset_urn, producer_urn, tuple(type or ()), _aware(since, "since"),
                          _aware(until, "until"), limit, cursor)
    try:
        page = request.app.state.store.page(query)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", str(exc), field="cursor") from None
    return {"items": [record_json(r, payload) for r in page.records], "next_cursor": page.next_cursor}


@router.get("/v1/evidence/{evidence_id}", tags=["evidence"], summary="One evidence record with its payload")
def get_evidence(request: Request, evidence_id: str, _: ReaderDep) -> dict[str, Any]:
    return record_json(request.app.state.store.get(evidence_id))


@router.get("/v1/ingestion/lag", tags=["operations"],
            summary="Ingestion lag (ingest_time - event_time) p50/p95 per source over the trailing window")
def ingestion_lag(request: Request, _: ReaderDep) -> dict[str, Any]:
    state = request.app.state
    now = state.clock()
    window = timedelta(seconds=state.settings.lag_window_seconds)
    return {"now": iso(now), "window_s": window.total_seconds(), "sources": state.store.ingestion_lag(now, window)}
