"""Ingestion endpoints: envelope v1 CloudEvents, OpenLineage RunEvents, CDEvents; and reading evidence back."""

from __future__ import annotations

import base64
import logging
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from evidence import (
    EVENT_TYPES,
    LINEAGE,
    Configs,
    EvidenceQuery,
    EvidenceRecord,
    IngestReport,
    InvalidEvent,
    LineageEdge,
    MappedRunEvent,
    Token,
    as_envelope,
    ingest_events,
    is_cdevent,
    iso,
    map_openlineage,
    time_error,
)
from rca._auth import ReaderDep, WriterDep, check_datasets, check_sources
from rca._cloudevents import binary_event, is_binary
from rca._errors import ApiError, JSONBody
from rca._openapi import LineageBatchReport, LineageReport
from rca._responses import EvidenceItem, EvidencePage, IngestionLag, documented

router = APIRouter()
log = logging.getLogger("rca.ingest")

_SINGLE = "application/cloudevents+json"
_BATCH = "application/cloudevents-batch+json"
_JSON = "application/json"

_EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "description": "One envelope v1 CloudEvent (application/cloudevents+json), or a JSON array of them "
        "(application/cloudevents-batch+json). application/json takes either, or, with ce-* headers (binary mode: "
        "ce-specversion, ce-id, ce-source, ce-type, ce-time...), the event's data. Types: "
        f"{', '.join(EVENT_TYPES)}. `data_base64` holding JSON is read as `data`; `time` is optional (the arrival "
        "time stands in). CDEvents of every type are accepted too (bare or in their CloudEvents binding): "
        "deployments become DeploymentEvent, pipeline and task runs JobRunStarted / JobRunCompleted / JobRunFailed, "
        "the rest ExternalEvent. Schema: sdk/spec/envelope.schema.json.",
        "content": {
            _SINGLE: {"schema": {"type": "object"}},
            # A batch takes any items: each is judged alone, and one that is not an event is rejected in the report.
            _BATCH: {"schema": {"type": "array", "items": {}}},
            _JSON: {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {}}]}},
        },
    }
}


async def read_json(request: Request, accepted: tuple[str, ...]) -> Any:
    """The body as JSON, after the content type check (415), with a JSON error body. Its size was bounded
    before anything read it (rca/_limits.py)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type {media[:100] or '(none)'!r} is not accepted here; send {' or '.join(accepted)}.")
    body = await request.body()
    try:
        return media, orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {exc}") from None


def _store_batch(request: Request, items: list[Any], token: Token | None = None, *, endpoint: str = "/v1/events",
                 format: str | None = None) -> IngestReport:
    state = request.app.state
    max_items: int = state.settings.max_batch_items
    if len(items) > max_items:
        raise ApiError(413, "batch_too_large", f"The batch has {len(items)} events; the limit is {max_items}.")

    fence = token.refusal if token is not None else None
    downstream = state.on_stored

    def stored(records: list[EvidenceRecord]) -> None:
        state.metrics.arrived(endpoint, records)
        if downstream is not None:
            downstream(records)

    report = ingest_events(state.store, items, state.clock(), on_stored=stored, fence=fence)
    counts = Counter((format or _format_of(items[r.position]), r.status) for r in report.results)  # one pass
    for name in sorted({name for name, _ in counts}):
        state.metrics.ingested(endpoint, name, {s: counts[name, s]
                                                for s in ("accepted", "duplicate", "conflict", "rejected")})
    return report


def _format_of(item: Any) -> str:
    """What an item of POST /v1/events is, for the ingestion metrics: a CDEvent (bare or bound), else CloudEvents."""
    return "cdevents" if is_cdevent(item) else "cloudevents"


@router.post("/v1/events", openapi_extra=_EVENTS_BODY, tags=["ingestion"],
             summary="Send envelope v1 evidence: one event or a batch (structured, batch or binary mode)")
async def post_events(request: Request, token: WriterDep) -> JSONBody:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in (_SINGLE, _BATCH) and is_binary(request.headers):
        media, body = _SINGLE, binary_event(request.headers, await request.body())
    else:
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
    # Read lazily: the first source the token may write settles it, as it does in most batches.
    if not any(token.may_write(source) for i in items if (source := _source_of(i))) and \
            (sources := [source for i in items if (source := _source_of(i))]):
        check_sources(token, sources)  # nothing this token may write: 403 naming the sources
    # Otherwise a foreign event is rejected on its own, like any bad item, and the rest are stored.
    report = await run_in_threadpool(_store_batch, request, items, token)
    status = 422 if single and report.rejected else 409 if single and report.conflicts else 200
    return JSONBody(report.as_json(), status)


def _source_of(item: Any) -> str | None:
    """The producer an item speaks for, as ingestion will read it (CDEvents mapped the same way)."""
    try:
        envelope = as_envelope(item)
    except InvalidEvent:
        return None
    source = envelope.get("source") if isinstance(envelope, dict) else None
    return source if isinstance(source, str) else None


_LINEAGE_BODY = {
    "requestBody": {
        "required": True,
        "description": "One OpenLineage event (RunEvent, JobEvent or DatasetEvent, spec 2-0-2) or a JSON array of "
        "them. START -> JobRunStarted, RUNNING -> JobRunHeartbeat, COMPLETE -> JobRunCompleted (+ "
        "DatasetWriteCommitted per versioned output), FAIL / ABORT -> JobRunFailed, OTHER, JobEvent and "
        "DatasetEvent -> ExternalEvent, failed dataQualityAssertions -> DataQualityFailed; lineage edges from "
        "inputs, outputs and columnLineage. A facet that does not parse is dropped and named in `warnings`.",
        # An array takes any items: each is judged alone, and one that is not an event is rejected in the report.
        "content": {_JSON: {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {}}]}}},
    }
}


@router.post("/api/v1/lineage", openapi_extra=_LINEAGE_BODY, tags=["ingestion"],
             summary="Send OpenLineage events: one, or a JSON array (Marquez-compatible path)",
             responses={200: {"model": LineageReport | LineageBatchReport,
                              "description": "One event's report (sent alone), or a batch's"}})
async def post_lineage(request: Request, token: WriterDep) -> JSONBody:
    _, body = await read_json(request, (_JSON,))
    state = request.app.state
    single = not isinstance(body, list)
    items = [body] if single else body
    if len(items) > state.settings.max_batch_items:
        raise ApiError(413, "batch_too_large",
                       f"The batch has {len(items)} events; the limit is {state.settings.max_batch_items}.")
    mapped: dict[int, MappedRunEvent] = {}
    refused: dict[int, InvalidEvent] = {}
    for position, item in enumerate(items):
        try:  # an event whose structure is wrong: a 422 naming the OpenLineage field (alone), rejected (in a batch)
            mapped[position] = map_openlineage(item, None if single else position, naming=state.openlineage_naming,
                                               jobs=state.openlineage_job_naming)
        except InvalidEvent as exc:
            if single:
                raise
            refused[position] = exc
    check_sources(token, sorted({e["source"] for m in mapped.values() for e in m.events}))
    # A job speaks for its outputs: the lineage edges into them, like their commits, need the token's dataset scope.
    check_datasets(token, sorted({edge.downstream for m in mapped.values() for edge in m.lineage}))
    events = [e for m in mapped.values() for e in m.events]
    report = await run_in_threadpool(lambda: _store_batch(request, events, token, endpoint="/api/v1/lineage",
                                                          format="openlineage"))
    results = iter(report.results)
    outcomes: list[dict[str, Any]] = []
    stored: list[LineageEdge] = []
    for position in range(len(items)):
        if position in refused:
            why = refused[position]
            outcomes.append({"position": position, "status": "rejected", "field": why.field, "error": str(why)})
            continue
        one = mapped[position]
        own = [next(results) for _ in one.events]
        statuses = {r.status for r in own}
        status = next(s for s in ("rejected", "conflict", "accepted", "duplicate") if s in statuses)
        outcome: dict[str, Any] = {"position": position, "kind": one.kind, "status": status,
                                   "mapped": [{"id": e["id"], "type": e["type"], **r.as_json()}
                                              for e, r in zip(one.events, own, strict=True)],
                                   "lineage": [edge.model_dump() for edge in one.lineage], "warnings": one.warnings}
        if status in ("rejected", "conflict"):
            first = next(r for r in own if r.status == status)
            outcome.update(field=first.field, error=first.error)
        else:
            stored.extend(one.lineage)
        outcomes.append(outcome)
        for warning in one.warnings:
            log.warning("OpenLineage event %s: %s", one.events[0]["id"] if one.events else position, warning)
    configs = Configs(state.store)
    for edge in dict.fromkeys(stored):
        await run_in_threadpool(configs.put, LINEAGE, edge, state.clock())
    if single:
        outcome = outcomes[0]
        if outcome["status"] in ("rejected", "conflict"):
            status_code, code = (409, "conflict") if outcome["status"] == "conflict" else (422, "invalid_event")
            raise ApiError(status_code, code, outcome["error"] or "rejected", field=outcome["field"],
                           **report.as_json())
        return JSONBody({**report.as_json(), "kind": outcome["kind"],
                         "mapped": [{"id": m["id"], "type": m["type"]} for m in outcome["mapped"]],
                         "lineage": outcome["lineage"], "warnings": outcome["warnings"]})
    counts = {s: sum(1 for o in outcomes if o["status"] == s)
              for s in ("accepted", "duplicate", "conflict", "rejected")}
    return JSONBody({**counts, "results": outcomes})


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


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$")


def _rfc3339(value: object) -> object:
    # pydantic reads "0.5" or "1700000000" as Unix time; a query parameter documented as RFC 3339 is held to it.
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp, e.g. 2026-01-19T02:15:00-05:00")
    return value


Instant = Annotated[datetime, BeforeValidator(_rfc3339)]


def aware(value: datetime | None, name: str) -> datetime | None:
    """A time from a query parameter: with an offset, and in the range evidence can hold."""
    if value is not None and value.tzinfo is None:
        raise ApiError(422, "invalid_request", f"'{name}' must carry an offset, e.g. 2026-01-19T02:15:00-05:00",
                       field=name)
    if value is not None and (problem := time_error(value)) is not None:
        raise ApiError(422, "invalid_request", f"'{name}' {problem}", field=name)
    return value


@router.get("/v1/evidence", tags=["evidence"], summary="Evidence by dataset, producer, type and time window",
            response_model=None, responses=documented(EvidencePage))
def list_evidence(
    request: Request,
    _: ReaderDep,
    dataset_urn: str | None = None,
    producer_urn: str | None = None,
    type: Annotated[list[str] | None, Query(description=f"any of {', '.join(EVENT_TYPES)}, GateObservation")] = None,
    since: Annotated[Instant | None, Query(description="event_time >= since (RFC 3339)")] = None,
    until: Annotated[Instant | None, Query(description="event_time < until (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    payload: bool = True,
) -> JSONBody:
    query = EvidenceQuery(dataset_urn, producer_urn, tuple(type or ()), aware(since, "since"),
                          aware(until, "until"), limit, cursor)
    try:
        page = request.app.state.store.page(query)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", str(exc), field="cursor") from None
    # orjson in the request's thread, not jsonable_encoder on the event loop (see list_incidents)
    return JSONBody({"items": [record_json(r, payload) for r in page.records], "next_cursor": page.next_cursor})


@router.get("/v1/evidence/{evidence_id}", tags=["evidence"], summary="One evidence record with its payload",
            response_model=None, responses=documented(EvidenceItem))
def get_evidence(request: Request, evidence_id: str, _: ReaderDep) -> dict[str, Any]:
    return record_json(request.app.state.store.get(evidence_id))


LAG_PAGE = 1000  # sources a page of GET /v1/ingestion/lag
LAG_PAGE_MAX = 10_000


@router.get("/v1/ingestion/lag", tags=["operations"], response_model=None, responses=documented(IngestionLag),
            summary="Ingestion lag (ingest_time - event_time) p50/p95 per source over the trailing window, backfills "
            "(older than RCA_BACKFILL_AFTER_S on arrival) counted apart; "
            f"{LAG_PAGE} sources a page (at most {LAG_PAGE_MAX}) by source URN, `next_cursor` for the next")
def ingestion_lag(request: Request, _: ReaderDep, limit: Annotated[int, Query(ge=1, le=LAG_PAGE_MAX)] = LAG_PAGE,
                  cursor: Annotated[str | None, Query(max_length=4096)] = None) -> dict[str, Any]:
    state = request.app.state
    now = state.clock()
    window = timedelta(seconds=state.settings.lag_window_seconds)
    try:
        after = base64.urlsafe_b64decode(cursor.encode()).decode() if cursor else None
    except (ValueError, UnicodeError):
        raise ApiError(400, "bad_cursor", "cursor is not one this server issued; start again without it",
                       field="cursor") from None
    lags = state.store.ingestion_lag(now, window, backfill_after=timedelta(seconds=state.settings.backfill_after_s))
    sources = [s for s in lags if after is None or s > after]  # ingestion_lag lists them sorted
    page = sources[:limit]
    next_cursor = base64.urlsafe_b64encode(page[-1].encode()).decode() if len(sources) > limit else None
    return {"now": iso(now), "window_s": window.total_seconds(), "sources": {s: lags[s] for s in page},
            "next_cursor": next_cursor}
