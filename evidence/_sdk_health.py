"""The server's view of SdkHealth (CONTRACT.md section 15): the latest event of each SDK instance seen in a window,
summed per producer. Counters are cumulative per instance, so the latest event of an instance holds all it did."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from evidence._domain import Time
from evidence._envelope import SDK_HEALTH
from evidence._record import EvidenceRecord, utc
from evidence._store import Store

# The worst circuit of a producer's instances is its circuit.
_CIRCUIT_ORDER = {"closed": 0, "half_open": 1, "open": 2}


class SdkHealthSummary(BaseModel):
    """One producer's SDKs over a window: the latest SdkHealth of each instance, summed (an item of GET
    /v1/sdk-health)."""

    model_config = ConfigDict(frozen=True)

    producer_urn: str
    language: str
    sdk_version: str = Field(description="the newest instance's SDK version")
    instances: int = Field(description="SDK instances that sent SdkHealth in the window")
    delivered: int = Field(description="events the SDKs delivered (cumulative per instance, summed)")
    dropped: dict[str, int] = Field(default_factory=dict, description="events dropped, by reason (queue_full, "
                                    "rejected, ...)")
    dropped_total: int = Field(0, description="the sum of `dropped` (computed)")
    drop_rate: float | None = Field(None, description="dropped / (delivered + dropped) (computed; 6 decimals in "
                                    "JSON); null when the SDK has handled nothing yet")
    queue_depth: int = 0
    circuit: str = Field("closed", description="the worst circuit of its instances: closed, half_open or open")
    env: str | None = Field(None, description="the newest instance's AUTOPILOT_ENV")
    last_seen: Time | None = Field(None, description="the newest instance's latest SdkHealth")

    @model_validator(mode="before")
    @classmethod
    def _totals(cls, values: Any) -> Any:
        """dropped_total and drop_rate follow from dropped and delivered, whatever was given for them."""
        if isinstance(values, dict):
            total = sum(int(count) for count in (values.get("dropped") or {}).values())
            handled = int(values.get("delivered") or 0) + total
            values = {**values, "dropped_total": total, "drop_rate": total / handled if handled else None}
        return values

    @field_serializer("drop_rate")
    def _rounded(self, rate: float | None) -> float | None:
        return None if rate is None else round(rate, 6)


class SdkHealthPage(BaseModel):
    """GET /v1/sdk-health: one summary per producer, by URN."""

    model_config = ConfigDict(frozen=True)

    items: list[SdkHealthSummary]


def summarize_sdk_health(records: Iterable[EvidenceRecord]) -> list[SdkHealthSummary]:
    """Per producer, sorted by URN. Same records in any order or duplication give the same summaries: the latest
    event of an instance is chosen by (event time, evidence id)."""
    latest: dict[tuple[str, str], EvidenceRecord] = {}
    for record in records:
        if record.type != SDK_HEALTH:
            continue
        data = record.payload.get("data") or {}
        key = (record.producer_urn or record.source, str(data.get("instance") or record.source))
        kept = latest.get(key)
        if kept is None or (record.event_time, record.evidence_id) > (kept.event_time, kept.evidence_id):
            latest[key] = record
    by_producer: dict[str, list[EvidenceRecord]] = {}
    for (producer, _), record in sorted(latest.items()):
        by_producer.setdefault(producer, []).append(record)
    return [_summary(producer, found) for producer, found in sorted(by_producer.items())]


def _summary(producer: str, records: list[EvidenceRecord]) -> SdkHealthSummary:
    newest = max(records, key=lambda r: (r.event_time, r.evidence_id))
    dropped: dict[str, int] = {}
    delivered = depth = 0
    circuit = "closed"
    for record in records:
        data = record.payload.get("data") or {}
        delivered += int(data.get("delivered") or 0)
        depth += int(data.get("queue_depth") or 0)
        for reason, count in sorted((data.get("dropped") or {}).items()):
            dropped[reason] = dropped.get(reason, 0) + int(count)
        state = str(data.get("circuit") or "closed")
        if _CIRCUIT_ORDER.get(state, 0) > _CIRCUIT_ORDER[circuit]:
            circuit = state
    data = newest.payload.get("data") or {}
    env = data.get("env")
    return SdkHealthSummary(producer_urn=producer, language=str(data.get("language", "")),
                            sdk_version=str(data.get("sdk_version", "")), instances=len(records), delivered=delivered,
                            dropped=dropped, queue_depth=depth, circuit=circuit, last_seen=newest.event_time,
                            env=None if env is None else str(env))


def sdk_health(store: Store, now: datetime, window: timedelta, producers: Iterable[str] = ()) -> list[SdkHealthSummary]:
    """The summaries of SdkHealth events timed in [now - window, now], of these producers (all when none)."""
    records = store.records(producer_urns=producers, types=[SDK_HEALTH], since=utc(now) - window, until=utc(now))
    return summarize_sdk_health(records)
