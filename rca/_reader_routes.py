"""Small reader endpoints the console and the CLI need: who a token is, and an incident's time series."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import BaseModel

from detectors import bad_rate_per_minute, stored_incident, watermark_by_day
from evidence import POLICY, Configs, EventType, FreshnessPolicy, Store, iso, maybe_time
from rca._auth import ReaderDep, TokenDep

router = APIRouter()
MINUTES_BEFORE = 30  # of bad-rate history shown before first bad
MINUTES_AFTER = 60  # at most, after first bad (up to the last detector pass)
DAYS = 14  # of watermark history


class Whoami(BaseModel):
    name: str
    role: str
    producers: list[str]
    datasets: list[str]  # the dataset URN patterns a writer's events may name


@router.get("/v1/whoami", tags=["operations"], response_model=Whoami,
            summary="The token's name, role, producers and datasets: how clients check a token before saving it")
def whoami(token: TokenDep) -> Whoami:
    return Whoami(name=token.name, role=token.role, producers=list(token.producers), datasets=list(token.datasets))


class MinutePoint(BaseModel):
    minute: str
    total: int
    bad: int
    rate: float | None  # null: no records that minute (not measured)


class DayPoint(BaseModel):
    day: str
    watermark: str | None  # null: no commit that day
    landed_at: str | None
    evidence_id: str | None


class DeployMarker(BaseModel):
    time: str
    service: str | None
    version: str | None
    evidence_id: str
    correlated: bool


class Series(BaseModel):
    incident_id: str
    kind: Literal["bad_rate", "watermark", "none"]
    reason_code: str
    field: str | None = None
    first_bad_time: str | None = None
    last_good_time: str | None = None
    start: str | None = None
    end: str | None = None
    minutes: list[MinutePoint] = []
    timezone: str | None = None
    deadline: str | None = None  # local HH:MM: expected_update_by + grace
    expected_watermark: str | None = None
    days: list[DayPoint] = []
    deploys: list[DeployMarker] = []


@router.get("/v1/incidents/{incident_id}/series", tags=["incidents"], response_model=Series,
            summary="An incident's time series from stored counters and commits: bad rate per minute around first "
            "bad (contract), or the watermark reached each day (freshness), with deploy markers")
def incident_series(request: Request, incident_id: str, _: ReaderDep) -> Series:
    store: Store = request.app.state.store
    incident = stored_incident(store, incident_id)
    return series_of(store, incident)


def series_of(store: Store, incident: dict[str, object]) -> Series:
    clock = maybe_time(incident.get("resolved_at") or incident.get("updated_at") or incident.get("detected_at"))
    first_bad = maybe_time(incident.get("first_bad_time"))
    base = Series(incident_id=str(incident["id"]), kind="none", reason_code=str(incident["reason_code"]),
                  field=incident.get("field") or None, first_bad_time=incident.get("first_bad_time") or None,
                  last_good_time=incident.get("last_good_time") or None)
    if first_bad is None or clock is None:
        return base
    dataset = str(incident["dataset_urn"])
    if incident.get("kind") == "contract":
        start = first_bad - timedelta(minutes=MINUTES_BEFORE)
        end = max(min(clock, first_bad + timedelta(minutes=MINUTES_AFTER)), first_bad) + timedelta(minutes=1)
        counters = store.counters([dataset], since=start, until=end)
        minutes = bad_rate_per_minute(counters, dataset, base.reason_code, base.field, start, end)
        points = [MinutePoint(minute=iso(m.minute), total=m.total, bad=m.bad,
                              rate=None if m.rate is None else round(m.rate, 4)) for m in minutes]
        return base.model_copy(update={"kind": "bad_rate", "start": iso(start), "end": iso(end), "minutes": points,
                                       "deploys": _deploys(store, incident, start, end)})
    policy = next((p for p in Configs(store).specs(POLICY) if p.dataset_urn == dataset), None)
    if incident.get("kind") != "freshness" or policy is None:
        return base
    return _watermark(store, incident, policy, base, clock)


def _watermark(store: Store, incident: dict[str, object], policy: FreshnessPolicy, base: Series,
               clock: datetime) -> Series:
    zone = ZoneInfo(policy.timezone)
    last_day = clock.astimezone(zone).date()
    first_day = last_day - timedelta(days=DAYS - 1)
    start = datetime.combine(first_day, datetime.min.time(), zone)
    commits = store.records(dataset_urns=[policy.dataset_urn], types=[EventType.COMMITTED], since=start,
                            until=clock)
    dimension = policy.watermark.dimension if policy.watermark else "dt"
    days = watermark_by_day(commits, zone, dimension, first_day, last_day)
    hours, minutes = (int(part) for part in policy.expected_update_by.split(":"))
    deadline_minutes = hours * 60 + minutes + policy.grace_minutes
    deadline = f"{deadline_minutes // 60 % 24:02d}:{deadline_minutes % 60:02d}"
    return base.model_copy(update={
        "kind": "watermark", "start": iso(start), "end": iso(clock), "timezone": policy.timezone,
        "deadline": deadline, "expected_watermark": incident.get("expected_watermark"),
        "days": [DayPoint(day=d.day.isoformat(), watermark=d.watermark,
                          landed_at=iso(d.landed_at) if d.landed_at else None, evidence_id=d.evidence_id)
                 for d in days],
        "deploys": _deploys(store, incident, start, clock, policy.producer_urn)})


def _deploys(store: Store, incident: dict[str, object], start: datetime, end: datetime,
             producer: str | None = None) -> list[DeployMarker]:
    producer = producer or incident.get("producer_urn")  # type: ignore[assignment]
    correlated = {str(d.get("evidence_id")) for d in incident.get("correlated_deploys") or []}  # type: ignore[attr-defined]
    if not producer:
        return []
    records = store.records(producer_urns=[str(producer)], types=[EventType.DEPLOYMENT], since=start, until=end)
    return [DeployMarker(time=iso(r.event_time), service=r.data.get("service"), version=r.data.get("version"),
                         evidence_id=r.evidence_id, correlated=r.evidence_id in correlated) for r in records]
