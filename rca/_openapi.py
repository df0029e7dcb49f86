"""The served OpenAPI description: every status code an operation can answer, each error with its schema.

FastAPI documents the success and (when there are parameters) a 422 in its own validation shape; every other
answer comes from a layer it cannot see: the body limit and the URL check before routing (400, 413), auth (401,
403), the content-type check (415), lookups (404), conflicts (409), the database (503). Those are added here from
what each operation is (authenticated, with path parameters, with a body, writing), so a client generated from
the description knows every answer, and the error schema is one: {"error", "message", ...}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from evidence import LineageEdge

# Paths answered without a token.
OPEN_PATHS = frozenset({"/healthz"})
_WRITES = frozenset({"post", "put", "patch", "delete"})
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str


class Error(BaseModel):
    """Every error answer: a code to branch on, a sentence saying what to do, and where it applies."""

    model_config = ConfigDict(extra="allow")  # an ingestion refusal carries its batch report beside these

    error: str = Field(description="a stable code: invalid_request, unauthorized, forbidden, not_found, conflict, ...")
    message: str = Field(description="what went wrong and what to do about it")
    field: str | None = Field(default=None, description="the field or parameter at fault")
    id: str | int | None = Field(default=None, description="the item at fault (an event id, the conflicting config)")
    errors: list[ValidationIssue] | None = Field(default=None, description="every validation problem found")


class ItemResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str = Field(description="accepted, duplicate, conflict, held or rejected")
    field: str | None = None
    error: str | None = None


class BatchReport(BaseModel):
    """What an ingestion batch came to: counts by outcome, and a result per item in the order sent."""

    model_config = ConfigDict(extra="allow")  # held and blocked (gate), conflict (events), mapped (OpenLineage)

    accepted: int
    duplicate: int
    rejected: int
    results: list[ItemResult]


class MappedEvent(BaseModel):
    model_config = ConfigDict(extra="allow")  # in a batch, the event's own result (status, evidence_id, ...)

    id: str = Field(description="the envelope v1 event's id")
    type: str = Field(description="its evidence type: JobRunCompleted, DatasetWriteCommitted, ...")


class LineageReport(BaseModel):
    """POST /api/v1/lineage with one OpenLineage event: its mapped events' results, and what it maps to."""

    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    results: list[ItemResult] = Field(description="one per mapped event: id, source, status, evidence_id")
    kind: str = Field(description="RunEvent, JobEvent or DatasetEvent")
    mapped: list[MappedEvent]
    lineage: list[LineageEdge] = Field(description="the edges recorded from inputs, outputs and columnLineage")
    warnings: list[str] = Field(description="facets that did not parse, dropped")


class LineageOutcome(BaseModel):
    """One OpenLineage event of a batch: its status (the worst of its mapped events'), and what it maps to."""

    position: int
    status: str = Field(description="accepted, duplicate, conflict or rejected")
    kind: str | None = Field(None, description="RunEvent, JobEvent or DatasetEvent (absent when it did not map)")
    mapped: list[MappedEvent] = []
    lineage: list[LineageEdge] = []
    warnings: list[str] = []
    field: str | None = Field(None, description="rejected or conflict: the field at fault")
    error: str | None = Field(None, description="rejected or conflict: why")


class LineageBatchReport(BaseModel):
    """POST /api/v1/lineage with an array: counts of events by outcome, and an outcome per event in the order sent."""

    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    results: list[LineageOutcome]


# Ingestion answers with its report: 200 for a batch (items rejected inside it), 422 (409) for a single item
# rejected (in conflict); 422 is also a request refused whole (Error).
_BATCHES = {("/v1/events", "post"): (422, 409), ("/v1/gate/records", "post"): (422,)}
# Operations that name an item in their body (not their path) and answer 404 when it does not exist.
_NAMED_IN_BODY = frozenset({("/v1/chat", "post")})

_WHY = {
    400: "The URL or body cannot be read (a NUL in the URL, malformed JSON, a bad cursor or Content-Length)",
    401: "No bearer token, or an unknown or revoked one",
    403: "The token's role or scopes do not allow this",
    404: "No such item",
    409: "Conflicts with a stored item (the same natural key), or another request changed it at the same time",
    413: "The body (or the batch) is over the limit",
    415: "The Content-Type is not one this operation reads",
    422: "The request is well-formed but invalid; `field` names the parameter or field",
    503: "The database cannot serve the request now; retry after Retry-After seconds",
}


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error answers an operation can give, from what it is."""
    codes = [400, 422, 503]
    if path not in OPEN_PATHS:
        codes += [401, 403]
    if "{" in path or (path, method) in _NAMED_IN_BODY:
        codes.append(404)
    if method in _WRITES:
        codes.append(409)  # a natural key taken, or two writers racing (rca/_errors.py's IntegrityError handler)
    if "requestBody" in operation or method in ("post", "put", "patch"):
        codes += [413, 415]
    return sorted(codes)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add every error status to every operation (keeping an operation's own description of one), with the
    Error schema, and drop FastAPI's validation-error shape, which this server never answers with."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Error, BatchReport):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for code in error_statuses(path, method, operation):
                existing = responses.get(str(code))
                if existing is None or "HTTPValidationError" in str(existing):
                    responses[str(code)] = {"description": _WHY[code],
                                            "content": {"application/json": {"schema": _ERROR_REF}}}
                elif "content" not in existing:
                    existing["content"] = {"application/json": {"schema": _ERROR_REF}}
            if (path, method) in _BATCHES:
                report = {"$ref": "#/components/schemas/BatchReport"}
                responses["200"] = {"description": "The batch's report",
                                    "content": {"application/json": {"schema": report}}}
                for code in _BATCHES[(path, method)]:
                    responses[str(code)] = {"description": f"{_WHY[code]}; a single item sent alone and refused "
                                            "is answered with the report",
                                            "content": {"application/json": {"schema": {"anyOf": [_ERROR_REF,
                                                                                                  report]}}}}
    return schema


def install(app: FastAPI) -> None:
    """Serve the completed description at /openapi.json (and `rca openapi`, hence docs/openapi.json)."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["Error", "LineageBatchReport", "LineageReport", "document_errors", "error_statuses", "get_openapi",
           "install"]
