"""Response shapes of the reading routes, for the OpenAPI description (`responses={200: {"model": ...}}`): the
routes render their JSON themselves (orjson, no second validation per item), and schemathesis checks every answer
against these shapes in tests/e2e/test_openapi_fuzz.py. The incident and RCA routes' models live with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from evidence import Urn


class EvidenceItem(BaseModel):
    evidence_id: str
    source: Urn
    source_ref: str | None = None
    type: str = Field(description="the evidence type: DeploymentEvent, JobRunCompleted, ..., GateObservation")
    dataset_urn: Urn | None = None
    producer_urn: Urn | None = None
    schema_id: str | None = None
    sequence: int | None = None
    event_time: datetime
    ingest_time: datetime = Field(description="when the server stored it (its own clock, never the sender's)")
    deploy_ref: str | None = None
    reason_code: str | None = None
    field: str | None = None
    run_id: str | None = None
    traceparent: str | None = None
    payload: dict[str, Any] | None = Field(default=None, description="what was sent, mapped; absent with payload=false")


class EvidencePage(BaseModel):
    items: list[EvidenceItem]
    next_cursor: str | None


class SourceLag(BaseModel):
    count: int = Field(description="items that arrived in the window, backfills left out")
    p50_s: float
    p95_s: float
    max_s: float
    backfill: int = Field(description="items older than RCA_BACKFILL_AFTER_S on arrival: replays, not lag")


class IngestionLag(BaseModel):
    now: datetime
    window_s: float
    sources: dict[str, SourceLag]
    next_cursor: str | None


class ProducerControl(BaseModel):
    producer: str
    domain: str | None
    enabled: bool
    ring: int = Field(ge=0)
    killed: bool
    environment: str | None = Field(None, description="the `env` asked for: `enabled` includes the producer's flag "
                                    "there (off until a rollout ring turns it on)")


class DomainControl(BaseModel):
    domain: str
    enabled: bool
    killed: bool
    ring: int = Field(ge=0)


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    error: str | None = None


def documented(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` for a 200 rendered by the route itself, in `model`'s shape."""
    return {200: {"model": model}}


__all__ = ["DomainControl", "EvidenceItem", "EvidencePage", "Health", "IngestionLag", "ProducerControl",
           "documented"]
