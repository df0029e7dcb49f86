"""The server's view of SdkHealth (CONTRACT.md section 15): the latest event of each SDK instance seen in a window,
summed per producer. Counters are cumulative per instance, so the latest event of an instance holds all it did."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evidence._envelope import SDK_HEALTH
from evidence._record import EvidenceRecord, utc
from evidence._store import Store

# The worst circuit of a producer's instances is its circuit.
_CIRCUIT_ORDER = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True)
class SdkHealthSummary:
    """One producer's SDKs over a window: the latest SdkHealth of each instance, summed."""

    producer_urn: str
    language: str
    sdk_version: str
    instances: int
    delivered: int
    dropped: dict[str, int] = field(default_factory=dict)
    queue_depth: int = 0
    circuit: str = "closed"
    last_seen: datetime | None = None
    env: str | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def drop_rate(self) -> float | None:
        """Dropped / (delivered + dropped): None when the SDK has handled nothing yet."""
        handled = self.delivered + self.dropped_total
        return self.dropped_total / handled if handled else None

    def as_json(self) -> dict[str, Any]:
        rate = self.drop_rate
        return {"producer_urn": self.producer_urn, "language": self.language, "sdk_version": self.sdk_version,
                "instances": self.instances, "delivered": self.delivered, "dropped": dict(self.dropped),
                "dropped_total": self.dropped_total, "drop_rate": None if rate is None else round(rate, 6),
                "queue_depth": self.queue_depth, "circuit": self.circuit, "env": self.env,
                "last_seen": None if self.last_seen is None else utc(self.last_seen).isoformat().replace("+00:00", "Z")}


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
    return SdkHealthSummary(producer, str(data.get("language", "")), str(data.get("sdk_version", "")), len(records),
                            delivered, dropped, depth, circuit, newest.event_time, data.get("env"))


def sdk_health(store: Store, now: datetime, window: timedelta, producers: Iterable[str] = ()) -> list[SdkHealthSummary]:
    """The summaries of SdkHealth events timed in [now - window, now], of these producers (all when none)."""
    records = store.records(producer_urns=producers, types=[SDK_HEALTH], since=utc(now) - window, until=utc(now))
    return summarize_sdk_health(records)
