"""Response shapes of the reading routes, for the OpenAPI description (`responses={200: {"model": ...}}`): the
routes render their JSON themselves (orjson, no second validation per item), and schemathesis checks every answer
against these shapes in tests/e2e/test_openapi_fuzz.py. The incident and RCA routes' models live with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.json_schema import SkipJsonSchema

from evidence import Time, Urn
from rca._openapi import BatchReport


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


class QualityGroup(BaseModel):
    """GET /v1/quality's figures for one dataset or one day of detection."""

    model_config = ConfigDict(frozen=True)

    dataset: str | SkipJsonSchema[None] = Field(None, description="the dataset (by=dataset only)")
    day: str | SkipJsonSchema[None] = Field(None, description="the UTC day of detection, YYYY-MM-DD (by=day only)")
    incidents: int = Field(description="incidents detected in the window")
    false_positives: int = Field(description="of them, marked false positive")
    rcas: int = Field(description="the others: an RCA was built for each (offline composer)")
    inconclusive: int = Field(description="RCAs whose verdict is inconclusive")
    false_positive_rate: float = Field(description="false_positives / incidents, to 3 decimals")
    inconclusive_rate: float | None = Field(description="inconclusive / rcas, to 3 decimals; null with no RCA")

    @model_serializer(mode="wrap")
    def _grouped_by(self, handler: SerializerFunctionWrapHandler):  # unannotated: the schema stays the model's
        # One of dataset and day names the group; the other is not there (rather than null).
        return {k: v for k, v in handler(self).items() if v is not None or k not in ("dataset", "day")}


class QualityReport(BaseModel):
    """GET /v1/quality: the groups by dataset URN or by day."""

    model_config = ConfigDict(frozen=True)

    by: Literal["dataset", "day"]
    days: int = Field(description="the window: incidents detected in the last `days`")
    items: list[QualityGroup]


class ChangeRequest(BaseModel):
    """A drift change request: records of a topic no resolution rule claims are held, and a rule is proposed."""

    model_config = ConfigDict(frozen=True)

    id: str
    topic: str
    schema_id: str = Field(description="the schema id the held records carry, as text")
    reason_code: Literal["UNMAPPED_SCHEMA", "MAPPING_AMBIGUOUS"]
    status: Literal["open", "approved", "rejected"]
    proposal: dict[str, Any] = Field(description="the proposed resolution rule (a mapping: topic, schema_id, "
                                     "headers, dataset_urn, producer_urn, confidence)")
    detail: dict[str, Any] = Field(description="why: the schema ids known for the topic, the producer hint, the "
                                   "candidate rules")
    first_seen_time: Time
    first_seen_ref: str = Field(description="the first held record: topic/partition/offset")
    last_seen_time: Time
    held: int = Field(description="records held until it is decided")
    created_at: Time
    decided_at: Time | None
    decided_by: str | None
    decision_note: str | None


class ChangeRequests(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[ChangeRequest]


class DecidedChangeRequest(ChangeRequest):
    """An approved change request and what became of the records it held, replayed through the gate."""

    replayed: BatchReport = Field(description="the held records through intake again, as POST /v1/gate/records "
                                  "reports them")


def documented(model: Any) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` for a 200 rendered by the route itself, in `model`'s shape (a pydantic model, or a
    dataclass pydantic reads)."""
    return {200: {"model": model}}


__all__ = ["ChangeRequest", "ChangeRequests", "DecidedChangeRequest", "DomainControl", "EvidenceItem", "EvidencePage",
           "Health", "IngestionLag", "ProducerControl", "QualityGroup", "QualityReport", "documented"]
