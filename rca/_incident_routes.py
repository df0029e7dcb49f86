"""Incidents, the contract gate's record intake, and drift change requests."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from detectors import (
    ChangeRequestError,
    DetectionSummary,
    approve,
    get_change_request,
    intake_records,
    list_change_requests,
    reject,
    stored_incident,
    stored_incident_page,
    stored_incidents,
    summarize,
)
from evidence import INT32_MAX, KAFKA_TOPIC, MAX_NAME, MAX_URN, Incident, IncidentPage
from rca._auth import AdminDep, ReaderDep, WriterDep, check_sources
from rca._errors import ApiError, JSONBody
from rca._ingest_routes import read_json
from rca._responses import ChangeRequest, ChangeRequests, DecidedChangeRequest, documented

router = APIRouter()


INCIDENTS_PAGE = 200  # the default page of GET /v1/incidents
INCIDENTS_PAGE_MAX = 1000


@router.get("/v1/incidents", tags=["incidents"], response_model=None,
            responses={200: {"model": IncidentPage, "description": "A page of incidents"}},
            summary=f"Incidents, open by default, with filters; {INCIDENTS_PAGE} a page (at most "
            f"{INCIDENTS_PAGE_MAX}), `next_cursor` for the next")
def list_incidents(
    request: Request,
    _: ReaderDep,
    status: Literal["open", "resolved", "false_positive", "all"] = "open",
    dataset_urn: Annotated[str | None, Query(max_length=MAX_URN)] = None,
    kind: Literal["freshness", "contract", "drift"] | None = None,
    owner_team: Annotated[str | None, Query(max_length=MAX_NAME)] = None,
    tier: Annotated[int | None, Query(ge=0, le=INT32_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=INCIDENTS_PAGE_MAX)] = INCIDENTS_PAGE,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> JSONBody:
    try:
        items, next_cursor = stored_incident_page(
            request.app.state.store, limit=limit, cursor=cursor, status=None if status == "all" else status,
            dataset_urn=dataset_urn, kind=kind, owner_team=owner_team, tier=tier)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", str(exc), field="cursor") from None
    # Rendered here, in the request's thread, with orjson: a dict returned would be walked by FastAPI's
    # jsonable_encoder on the event loop, stalling every other request (a tenth of the server under load, issue 13).
    return JSONBody({"items": items, "next_cursor": next_cursor})


@router.get("/v1/incidents/{incident_id}", tags=["incidents"], summary="One incident with its evidence",
            response_model=None, responses={200: {"model": Incident, "description": "The incident"}})
def get_incident(request: Request, incident_id: Annotated[str, Path(max_length=64)], _: ReaderDep) -> dict[str, Any]:
    return stored_incident(request.app.state.store, incident_id)


@router.post("/v1/detect", tags=["incidents"], summary="Run a detector pass now (admin); `rca serve` also runs "
             "them on a schedule")
async def detect_now(request: Request, _: AdminDep) -> DetectionSummary:
    state = request.app.state
    result = await run_in_threadpool(state.metrics.detector_pass, state.clock(), state.detect_settings, "api",
                                     timedelta(0), state.announce)
    # A leased pass (PostgreSQL) sees only the shards it took: the open count is the store's, after it.
    open_now = len(await run_in_threadpool(stored_incidents, state.store)) if state.metrics.leases \
        else len(result.incidents)
    return summarize(result, open_now)


_RECORDS_BODY = {
    "requestBody": {
        "required": True,
        "description": "A JSON array (or one object) of Kafka records: topic, partition, offset, timestamp (RFC "
        "3339 or epoch ms), key, schema_id, headers {}, value (JSON, a JSON string, or {\"base64\": ...} for "
        "Confluent wire-format bytes).",
        # Each record is judged alone: one that is not a record is rejected in the report, not the batch.
        "content": {"application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {}}]}}},
    }
}


@router.post("/v1/gate/records", openapi_extra=_RECORDS_BODY, tags=["gate"],
             summary="Kafka records through dataset resolution and the contract-lite gate")
async def gate_records(request: Request, token: WriterDep) -> JSONBody:
    _, body = await read_json(request, ("application/json",))
    if not isinstance(body, dict | list):
        raise ApiError(400, "bad_request", "The body must be a record object or an array of records.")
    records = body if isinstance(body, list) else [body]
    max_items: int = request.app.state.settings.max_batch_items
    if len(records) > max_items:
        raise ApiError(413, "batch_too_large", f"The batch has {len(records)} records; the limit is {max_items}.")
    topics = sorted({f"kafka://{r['topic']}" for r in records
                     if isinstance(r, dict) and isinstance(r.get("topic"), str) and KAFKA_TOPIC.match(r["topic"])})
    check_sources(token, topics)
    state = request.app.state
    started = time.perf_counter()
    report = await run_in_threadpool(lambda: intake_records(state.store, records, state.clock(), frames=state.frames))
    state.metrics.resolution.observe(time.perf_counter() - started)
    state.metrics.ingested("/v1/gate/records", "kafka",
                           {s: report.count(s) for s in ("accepted", "duplicate", "held", "rejected")})
    return JSONBody(report.as_json(), 422 if isinstance(body, dict) and report.count("rejected") else 200)


# The change requests' JSON is detectors/_drift.py's, returned as it is: these routes document its shape (and the
# API tests check every answer against it) rather than render it a second time.
@router.get("/v1/change-requests", tags=["drift"], summary="Drift change requests (proposed resolution rules)",
            response_model=None, responses=documented(ChangeRequests))
def change_requests(request: Request, _: ReaderDep,
                    status: Literal["open", "approved", "rejected"] | None = None) -> dict[str, Any]:
    return {"items": list_change_requests(request.app.state.store, status)}


@router.get("/v1/change-requests/{cr_id}", tags=["drift"], summary="One change request", response_model=None,
            responses=documented(ChangeRequest))
def change_request(request: Request, cr_id: str, _: ReaderDep) -> dict[str, Any]:
    return _decision(lambda: get_change_request(request.app.state.store, cr_id))


class Approval(BaseModel):
    note: str | None = None
    dataset_urn: str | None = Field(default=None, description="amend the proposed rule's dataset")
    producer_urn: str | None = None
    headers: dict[str, str] | None = None


@router.post("/v1/change-requests/{cr_id}/approve", tags=["drift"],
             summary="Approve (admin): the rule becomes a mapping and the held records are resolved and gated",
             response_model=None, responses=documented(DecidedChangeRequest))
async def approve_change(request: Request, cr_id: str, token: AdminDep,
                         approval: Annotated[Approval | None, Body()] = None) -> dict[str, Any]:
    state = request.app.state
    approval = approval or Approval()
    override = approval.model_dump(exclude_none=True, exclude={"note"})

    def run() -> dict[str, Any]:
        decided, report = approve(state.store, cr_id, state.clock(), token.name, note=approval.note,
                                  override=override)
        return {**decided, "replayed": report.as_json()}

    return await run_in_threadpool(_decision, run)


class Rejection(BaseModel):
    note: str | None = None


@router.post("/v1/change-requests/{cr_id}/reject", tags=["drift"],
             summary="Reject (admin): the records stay held and unattributed", response_model=None,
             responses=documented(ChangeRequest))
def reject_change(request: Request, cr_id: str, token: AdminDep,
                  rejection: Annotated[Rejection | None, Body()] = None) -> dict[str, Any]:
    state = request.app.state
    note = rejection.note if rejection else None
    return _decision(lambda: reject(state.store, cr_id, state.clock(), token.name, note=note))


def _decision(run: Any) -> dict[str, Any]:
    try:
        return run()
    except ChangeRequestError as exc:
        raise ApiError(exc.status, "not_found" if exc.status == 404 else "conflict", str(exc)) from None



