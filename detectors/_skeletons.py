"""Policy skeletons: baseline freshness policies and contract-lite drafts read off the evidence a dataset left.

Pure: (evidence records, what is configured already, time zones) in, drafts out. A draft proposes only what
the evidence shows: a freshness deadline needs commits on at least MIN_DAYS local days, a schedule needs
daily runs that start within a narrow band, an owner needs a deploy that names its domain, a contract needs
at least MIN_SAMPLES observed values. Everything else is left for the human who accepts the draft.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError

from detectors._contract import json_type
from detectors._runs import by_dataset_and_producer
from evidence import (
    GATE_OBSERVATION,
    Contract,
    EventType,
    EvidenceRecord,
    FreshnessPolicy,
    identifier_error,
    iso,
    parse_time,
)

MIN_DAYS = 3  # local days with a commit before a deadline is proposed
MIN_SAMPLES = 10  # observed values before a contract is proposed
REQUIRED_SHARE = 0.99  # a field present in this share of values is required
MAX_ENUM_VALUES = 8  # strings with at most this many distinct values (each seen twice or more) become an enum
MAX_START_SPREAD_MINUTES = 30  # runs that start further apart than this get no cron schedule
DEFAULT_TIER = 3
SKELETON_TYPES = (EventType.COMMITTED, EventType.RUN_STARTED, EventType.DEPLOYMENT, GATE_OBSERVATION)
_PARTITION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Draft:
    kind: str  # policy | contract
    dataset_urn: str
    spec: dict[str, Any]  # a FreshnessPolicy or Contract as the config API takes it
    basis: dict[str, Any] = field(default_factory=dict)  # what the draft was read from

    @property
    def id(self) -> str:
        """Stable: suggesting again from the same evidence yields the same draft, not a second one."""
        body = orjson.dumps([self.kind, self.dataset_urn, self.spec], option=orjson.OPT_SORT_KEYS)
        return "pd_" + hashlib.sha256(body).hexdigest()[:20]


def suggest_drafts(records: Iterable[EvidenceRecord], *, configured_policies: Iterable[str] = (),
                   configured_contracts: Iterable[str] = (), timezones: Mapping[str, str] | None = None,
                   default_timezone: str = "UTC") -> list[Draft]:
    """Drafts for every dataset seen in `records` that has no policy (or no contract) configured yet.

    `timezones` maps a dataset to its IANA zone: commit offsets do not name a zone, so none is guessed.
    """
    records = sorted(records, key=lambda r: (r.event_time, r.evidence_id))
    by_dataset, by_producer = by_dataset_and_producer(records)
    have_policy, have_contract = set(configured_policies), set(configured_contracts)
    drafts: list[Draft] = []
    for urn, mine in sorted(by_dataset.items()):
        producer = _main_producer(mine)
        owner = _owner(by_producer.get(producer, []) if producer else [])
        if urn not in have_policy:
            zone = (timezones or {}).get(urn, default_timezone)
            runs = [r for r in by_producer.get(producer, []) if r.type == EventType.RUN_STARTED] if producer else []
            policy = _policy_draft(urn, producer, owner, [r for r in mine if r.type == EventType.COMMITTED],
                                   runs, zone)
            if policy is not None:
                drafts.append(policy)
        if urn not in have_contract:
            contract = _contract_draft(urn, producer, owner, [r for r in mine if r.type == GATE_OBSERVATION])
            if contract is not None:
                drafts.append(contract)
    return drafts


def _main_producer(records: list[EvidenceRecord]) -> str | None:
    counts = Counter(r.producer_urn for r in records if r.producer_urn)
    return min(counts, key=lambda p: (-counts[p], p)) if counts else None


def _owner(producer_records: list[EvidenceRecord]) -> dict[str, Any]:
    """The domain the producer's latest deploy names (DeploymentEvent.domain), with the evidence behind it."""
    deploys = [r for r in producer_records if r.type == EventType.DEPLOYMENT and r.data.get("domain")]
    if not deploys:
        return {}
    latest = deploys[-1]
    return {"owner_team": str(latest.data["domain"]), "evidence_id": latest.evidence_id}


def _ownership(spec: dict[str, Any], owner: dict[str, Any]) -> None:
    if owner:
        spec["owner_team"] = owner["owner_team"]
    spec["tier"] = DEFAULT_TIER


def _policy_draft(urn: str, producer: str | None, owner: dict[str, Any], commits: list[EvidenceRecord],
                  runs: list[EvidenceRecord], zone_name: str) -> Draft | None:
    zone = ZoneInfo(zone_name)
    first_per_day: dict[date, EvidenceRecord] = {}
    for commit in commits:  # sorted by time: the first commit of a local day is the one that made it fresh
        first_per_day.setdefault(commit.event_time.astimezone(zone).date(), commit)
    if len(first_per_day) < MIN_DAYS:
        return None
    daily = list(first_per_day.values())
    minutes = _around_median([_minute_of_day(c.event_time, zone) for c in daily])
    typical, high = _quantile(minutes, 50), _quantile(minutes, 95)
    spread = high - typical
    deadline = _ceil5(high + spread)
    spec: dict[str, Any] = {"dataset_urn": urn, "expected_update_by": _hhmm(deadline), "timezone": zone_name,
                            "grace_minutes": max(5, _ceil5(spread))}
    if producer:
        spec["producer_urn"] = producer
    watermark = _watermark(daily, zone)
    if watermark:
        spec["watermark"] = watermark
    schedule = _schedule(runs, zone)
    if schedule:
        spec["schedule"] = schedule
    _ownership(spec, owner)
    FreshnessPolicy.model_validate(spec)  # a draft that could not be accepted is a bug here, not the user's
    rows = [int(c.data["rows_written"]) for c in commits if isinstance(c.data.get("rows_written"), int)]
    basis = {
        "commits": len(commits), "days": len(daily), "first": iso(daily[0].event_time),
        "last": iso(daily[-1].event_time),
        "typical_commit": _hhmm(typical), "p95_commit": _hhmm(high), "spread_minutes": spread,
        "volume": {"median_rows": statistics.median(rows), "commits_with_rows": len(rows)} if rows else None,
        "owner_evidence_id": owner.get("evidence_id"), "evidence_ids": [c.evidence_id for c in daily],
    }
    return Draft("policy", urn, spec, basis)


def _minute_of_day(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return local.hour * 60 + local.minute


def _around_median(minutes: list[int]) -> list[int]:
    """Minutes of day unwrapped around their median, so 23:55 and 00:05 are ten minutes apart, not a day."""
    centre = sorted(minutes)[len(minutes) // 2]
    return sorted(centre + ((m - centre + 720) % 1440) - 720 for m in minutes)


def _quantile(values: list[int], pct: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * pct / 100)) - 1]


def _ceil5(minutes: int) -> int:
    return -(-minutes // 5) * 5


def _hhmm(minutes: int) -> str:
    minutes %= 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _watermark(daily: list[EvidenceRecord], zone: ZoneInfo) -> dict[str, str] | None:
    """`dt` must reach today (or yesterday) when every daily commit wrote that local date's partition."""
    reach: set[tuple[str, str]] = set()
    for commit in daily:
        today = commit.event_time.astimezone(zone).date()
        found = None
        for partition in commit.data.get("output_partitions_written") or []:
            match = _PARTITION.match(str(partition))
            if match:
                written = date.fromisoformat(match.group(2))
                lag = {today: "today", today - timedelta(days=1): "yesterday"}.get(written)
                found = (match.group(1), lag) if lag else None
        if found is None:
            return None
        reach.add(found)
    if len(reach) != 1:
        return None
    dimension, must_reach = reach.pop()
    return {"dimension": dimension, "must_reach": must_reach}


def _schedule(runs: list[EvidenceRecord], zone: ZoneInfo) -> str | None:
    """A daily cron at the typical scheduled start, when runs start daily within a narrow band."""
    first_per_day: dict[date, int] = {}
    for run in runs:
        moment = _scheduled(run)
        first_per_day.setdefault(moment.astimezone(zone).date(), _minute_of_day(moment, zone))
    if len(first_per_day) < MIN_DAYS:
        return None
    minutes = _around_median(list(first_per_day.values()))
    if _quantile(minutes, 95) - _quantile(minutes, 5) > MAX_START_SPREAD_MINUTES:
        return None
    typical = _quantile(minutes, 50) % 1440
    return f"{typical % 60} {typical // 60} * * *"


def _scheduled(run: EvidenceRecord) -> datetime:
    value = run.data.get("scheduled_time")
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    return run.event_time


def _contract_draft(urn: str, producer: str | None, owner: dict[str, Any],
                    observations: list[EvidenceRecord]) -> Draft | None:
    # Only records that passed (or were never checked): a broken record must not teach the contract its break.
    good = [o for o in observations if not o.payload.get("violations") and isinstance(o.payload.get("value"), dict)]
    if len(good) < MIN_SAMPLES:
        return None
    schema = _object_schema([o.payload["value"] for o in good])
    spec: dict[str, Any] = {"dataset_urn": urn, "enforcement": "flag", "schema": schema}
    _ownership(spec, owner)
    try:
        Contract.model_validate(spec)
    except ValidationError:
        return None  # records nested too deep to describe as a contract-lite: no draft, rather than a failed suggest
    basis = {"observations": len(good), "producer_urn": producer, "owner_evidence_id": owner.get("evidence_id"),
             "evidence_ids": [o.evidence_id for o in good[:5]]}
    return Draft("contract", urn, spec, basis)


def _object_schema(values: list[dict[str, Any]]) -> dict[str, Any]:
    fields: dict[str, list[Any]] = defaultdict(list)
    for value in values:
        for name, item in value.items():
            if identifier_error(name) is None:  # a field a contract can name (never a phrase; issue 13)
                fields[name].append(item)
    properties: dict[str, Any] = {}
    required = []
    for name in sorted(fields):
        seen = fields[name]
        if len(seen) >= REQUIRED_SHARE * len(values):
            required.append(name)
        properties[name] = _field_schema(seen)
    return {"type": "object", "required": required, "properties": properties}


def _field_schema(seen: list[Any]) -> dict[str, Any]:
    types = sorted({_json_type(v) for v in seen} - {"null"})
    if types == ["integer", "number"]:
        types = ["number"]
    nullable = any(v is None for v in seen)
    schema: dict[str, Any] = {}
    if len(types) == 1 and not nullable:
        schema["type"] = types[0]
    elif types:
        schema["type"] = types + (["null"] if nullable else [])
    if types == ["object"]:
        objects = [v for v in seen if isinstance(v, dict)]
        schema.update({k: v for k, v in _object_schema(objects).items() if k != "type"})
    if types == ["string"]:
        counts = Counter(v for v in seen if isinstance(v, str))
        if len(counts) <= MAX_ENUM_VALUES and min(counts.values()) >= 2 and len(seen) >= MIN_SAMPLES:
            schema["enum"] = sorted(counts)
    return schema


def _json_type(value: Any) -> str:
    # As the gate names types, except that 3.0 counts as an integer: JSON Schema's view, for a skeleton.
    if isinstance(value, float) and value.is_integer():
        return "integer"
    return json_type(value)
