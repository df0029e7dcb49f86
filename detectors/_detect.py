"""One detector pass at a given clock: freshness, contract breaks, drift -> incidents opened, updated, resolved.

The pass is pure: `find_incidents(reader, configs, now)` reads evidence through an `EvidenceReader` (the SQL store,
or records in memory) and returns the incidents that should be open, writing nothing. `store_incidents` is the
writing half its caller runs; `run_detectors` does both against a store. One open incident per (dataset, kind).
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy import and_, bindparam, or_, select

from detectors._configs import ActiveConfigs, active_configs
from detectors._deploys import correlate_breaks, correlate_deploys, stored_deploys
from detectors._drift import list_change_requests
from detectors._freshness import DatasetFreshness, dataset_freshness, evaluate_freshness
from detectors._gate import ContractBreak, contract_breaks
from detectors._incidents import (
    Ownership,
    attach_evidence,
    contract_incident,
    downstream_of,
    drift_incident,
    freshness_incident,
)
from detectors._incremental import FRESHNESS_TYPES, FreshnessMemory
from detectors._runs import by_dataset_and_producer
from detectors._shards import shard_of
from evidence import (
    FIELD_REASONS,
    INT64_MAX,
    Contract,
    EventType,
    EvidenceReader,
    EvidenceRecord,
    FreshnessPolicy,
    RcaError,
    ReasonCode,
    Store,
    incidents,
    iso,
    parse_time,
    time_error,
    urn_error,
    utc,
)

DRIFT_DEPLOY_WINDOW_MINUTES = 60
_FEW_POLICIES = 1000
_FRESHNESS_TYPES = FRESHNESS_TYPES
_INCIDENT_ID = re.compile(r"^inc_[0-9a-f]{16}$")
_REASON_ORDER = (ReasonCode.UNDECODABLE_MESSAGE, *FIELD_REASONS)


@dataclass(frozen=True)
class DetectSettings:
    stale_threshold_s: float = 120.0  # ingestion lag (p95 over the window) beyond which evidence is stale
    stale_window_s: float = 300.0
    # Evidence arriving more than this after its event time is a backfill (a replay, a history import): left out
    # of the lag that tags incidents stale, so replaying old events never makes live evidence look late.
    backfill_after_s: float = 6 * 3600.0
    stale_action: Literal["tag", "pause"] = "tag"  # pause: do not open new incidents on stale evidence
    contract_recovery_minutes: int = 60  # a break with no bad record for this long is over
    contract_lookback_days: int = 7


@dataclass
class DetectionResult:
    incidents: list[dict[str, Any]] = field(default_factory=list)  # open after the pass, sorted
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)  # (dataset, kind) not opened because evidence was stale
    drift: list[dict[str, Any]] = field(default_factory=list)
    # Stored configs that no longer validate: skipped by this pass (the others were used).
    config_findings: list[dict[str, Any]] = field(default_factory=list)
    shards: list[int] = field(default_factory=list)  # the shards a leased pass evaluated (detectors/_leases.py)


def find_incidents(reader: EvidenceReader, configs: ActiveConfigs, now: datetime,
                   settings: DetectSettings = DetectSettings(),
                   change_requests: Sequence[dict[str, Any]] = (),
                   shards: frozenset[int] | None = None,
                   memory: FreshnessMemory | None = None) -> list[dict[str, Any]]:
    """The pure detector pass: what should be open at `now`, from the evidence `reader` holds, the active
    configuration and the open change requests (drift); sorted by dataset, then kind. It writes nothing: the
    caller stores the result (`store_incidents`), or compares it, or shows it. With `shards`, only the datasets of
    those shards (detectors/_leases.py) are evaluated: the union over all shards is the full pass. With `memory`
    (kept between passes), freshness is evaluated only where it can have changed (detectors/_incremental.py)."""
    now = utc(now)
    policies, contracts, lineage = configs.policies, configs.contracts, configs.lineage
    owners = _owners(policies, contracts)
    mine = (lambda urn: True) if shards is None else (lambda urn: shard_of(urn) in shards)
    if memory is None:
        found = _freshness(reader, policies, now, owners, mine)
    else:
        def evaluate(chosen: list[FreshnessPolicy]) -> dict[str, dict[str, Any] | None]:
            wanted = {p.dataset_urn for p in chosen}
            return {i["dataset_urn"]: i for i in _freshness(reader, policies, now, owners, wanted.__contains__)}

        found = memory.pass_at(reader, [p for p in policies if mine(p.dataset_urn)], owners, now, evaluate)
    found += _contracts(reader, [c for c in contracts if mine(c.dataset_urn)], now, settings, owners)
    found += [i for i in _drift(reader, change_requests, now) if mine(i["dataset_urn"])]
    evidence = reader.get_many(i for incident in found for i in incident["evidence_ids"])
    sources_of = {incident["id"]: {incident["producer_urn"]} | {e.source for i in incident["evidence_ids"]
                                                              if (e := evidence.get(i))} for incident in found}
    lag = reader.ingestion_lag(now, timedelta(seconds=settings.stale_window_s),
                               sources={s for sources in sources_of.values() for s in sources if s},
                               backfill_after=timedelta(seconds=settings.backfill_after_s))
    for incident in found:
        incident["impacted_downstream"] = downstream_of(incident["dataset_urn"], lineage)
        sources = sources_of[incident["id"]]
        attach_evidence(incident, evidence)
        worst = max((lag[s]["p95_s"] for s in sources if s in lag), default=0.0)
        incident["stale_evidence"] = worst > settings.stale_threshold_s
        incident["facts"]["ingestion_lag_p95_s"] = worst
    return sorted(found, key=lambda i: (i["dataset_urn"], i["kind"]))


def find_stored_incidents(store: Store, now: datetime, settings: DetectSettings = DetectSettings(),
                          findings: list[dict[str, Any]] | None = None, shards: frozenset[int] | None = None,
                          memory: FreshnessMemory | None = None) -> list[dict[str, Any]]:
    """The pure pass over what a store holds: its active configuration and open change requests, read here, and
    its evidence. Stored configs that no longer validate are skipped and described in `findings`. `shards` and
    `memory` as find_incidents takes them."""
    active = active_configs(store)
    if findings is not None:
        findings.extend(f.as_json() for f in active.findings)
    return find_incidents(store, active, now, settings, list_change_requests(store, status="open"), shards, memory)


def run_detectors(store: Store, now: datetime, settings: DetectSettings = DetectSettings()) -> DetectionResult:
    """A full pass: open, update and resolve stored incidents so they match what the evidence says at `now`."""
    findings: list[dict[str, Any]] = []
    found = find_stored_incidents(store, now, settings, findings)
    return store_incidents(store, found, now, settings, findings)


def store_incidents(store: Store, found: list[dict[str, Any]], now: datetime,
                    settings: DetectSettings = DetectSettings(),
                    findings: list[dict[str, Any]] | None = None,
                    shards: frozenset[int] | None = None) -> DetectionResult:
    """The writing half of a pass: open, update and resolve stored incidents so that they match `found` (what
    find_incidents said at `now`, wherever it ran), within `shards` when given. One short transaction."""
    now = utc(now)
    result = DetectionResult(config_findings=list(findings or []))
    wanted = {(i["dataset_urn"], i["kind"]): i for i in found}
    columns = incidents.c
    with store.writing(urgent=True) as conn:
        open_rows = {(r.dataset_urn, r.kind): r for r in conn.execute(
            select(columns.id, columns.dataset_urn, columns.kind, columns.detected_at, columns.body)
            .where(columns.status == "open")) if shards is None or shard_of(r.dataset_urn) in shards}
        changed: list[dict[str, Any]] = []  # rows rewritten in place (resolved or updated), one executemany
        for key, row in sorted(open_rows.items()):
            if key not in wanted:
                body = orjson.loads(row.body)
                body.update(status="resolved", resolved_at=iso(now), updated_at=iso(now))
                changed.append({**_columns(body, row.detected_at, now), "status": "resolved", "resolved_at": now})
                result.resolved.append(row.id)
        fresh = [i["id"] for key, i in wanted.items() if key not in open_rows]
        prior = {row.id: row.status for start in range(0, len(fresh), 500) for row in conn.execute(
            select(columns.id, columns.status).where(columns.id.in_(fresh[start : start + 500])))}
        added: list[dict[str, Any]] = []
        for key, incident in sorted(wanted.items()):
            current = open_rows.get(key)
            if current is None:
                if incident["stale_evidence"] and settings.stale_action == "pause":
                    result.paused.append(f"{key[0]} {key[1]}")
                    continue
                if prior.get(incident["id"]) == "false_positive":
                    continue  # a human said this break is not real: it stays closed while it persists
                incident.update(detected_at=iso(now), updated_at=iso(now))
                if incident["id"] in prior:  # the same break came back after being resolved: reopen it
                    changed.append(_columns(incident, now, now))
                else:
                    added.append(_columns(incident, now, now))
                result.opened.append(incident["id"])
            else:
                incident.update(id=current.id, detected_at=iso(current.detected_at), updated_at=iso(now))
                changed.append(_columns(incident, current.detected_at, now))
            result.incidents.append(incident)
        if changed:
            conn.execute(incidents.update().where(columns.id == bindparam("b_id")).values(
                {name: bindparam(f"b_{name}") for name in _COLUMN_NAMES if name != "id"}),
                [{f"b_{name}": row[name] for name in _COLUMN_NAMES} for row in changed])
        if added:
            conn.execute(incidents.insert(), added)
    result.drift = [{"topic": cr["topic"], "schema_id": _schema_id(cr["schema_id"]), "reason_code": cr["reason_code"],
                     "change_request_id": cr["id"], "status": cr["status"], "held": cr["held"]}
                    for cr in list_change_requests(store) if cr["status"] != "approved"]
    return result


def _schema_id(value: str) -> int | str:
    return int(value) if value.isascii() and value.isdigit() and int(value) <= INT64_MAX else value


_COLUMN_NAMES = ("id", "dataset_urn", "kind", "status", "reason_code", "detected_at", "updated_at", "resolved_at",
                 "owner_team", "tier", "body")


def _columns(incident: dict[str, Any], detected_at: datetime, now: datetime) -> dict[str, Any]:
    return {
        "id": incident["id"], "dataset_urn": incident["dataset_urn"], "kind": incident["kind"], "status": "open",
        "reason_code": incident["reason_code"], "detected_at": detected_at, "updated_at": now, "resolved_at": None,
        "owner_team": incident["owner_team"], "tier": incident["tier"], "body": orjson.dumps(incident).decode(),
    }


def _owners(policies: list[FreshnessPolicy], contracts: list[Contract]) -> dict[str, Ownership]:
    owners: dict[str, Ownership] = {}
    specs: list[FreshnessPolicy | Contract] = [*contracts, *policies]
    for spec in specs:  # a freshness policy's ownership wins over a contract's
        previous = owners.get(spec.dataset_urn, Ownership())
        owners[spec.dataset_urn] = Ownership(spec.owner_team or previous.owner_team,
                                             spec.tier if spec.tier is not None else previous.tier,
                                             spec.runbook_url or previous.runbook_url)
    return owners


def _freshness(reader: EvidenceReader, every: list[FreshnessPolicy], now: datetime, owners: dict[str, Ownership],
               mine: Callable[[str], bool]) -> list[dict[str, Any]]:
    """The freshness incidents of the policies `mine` keeps; the others are read only as some run's upstream."""
    policies = [p for p in every if mine(p.dataset_urn)]
    if not policies:
        return []
    # The lookback counts local calendar days before today's schedule: one more day, plus the widest UTC offset
    # (of every policy, so that a shard's pass reads the same window as a full one).
    lookback = timedelta(days=max(p.lookback_days for p in every) + 1, hours=14)
    # Only what `relevant` below keeps: the policies' own datasets' and producers' records. Few policies: looked up
    # by index, so a pass costs the same however much else is written (issue 13). Many: their runs and commits in
    # one scan (index lookups of most of a table cost more than reading it), and deploys, the type every service
    # emits, still looked up by index.
    datasets = [p.dataset_urn for p in policies]
    producers = [p.producer_urn for p in policies if p.producer_urn]
    since = now - lookback
    if len(policies) <= _FEW_POLICIES:
        records = reader.records(dataset_urns=datasets, producer_urns=producers, types=_FRESHNESS_TYPES,
                                 since=since, until=now, ordered=False)
    else:
        records = reader.records(types=[t for t in _FRESHNESS_TYPES if t != EventType.DEPLOYMENT], since=since,
                                 until=now, ordered=False)
        records += reader.records(dataset_urns=datasets, producer_urns=producers, types=[EventType.DEPLOYMENT],
                                  since=since, until=now, ordered=False)
    by_dataset, by_producer = by_dataset_and_producer(records)

    def relevant(policy: FreshnessPolicy) -> list[EvidenceRecord]:
        mine = by_dataset.get(policy.dataset_urn, [])
        theirs = by_producer.get(policy.producer_urn, []) if policy.producer_urn else []
        return list({r.evidence_id: r for r in [*mine, *theirs]}.values())

    inputs = {p.dataset_urn: relevant(p) for p in policies}

    def upstream_inputs(policy: FreshnessPolicy) -> list[EvidenceRecord]:  # another shard's dataset, read on demand
        return reader.records(dataset_urns=[policy.dataset_urn], producer_urns=[policy.producer_urn] if
                             policy.producer_urn else [], types=_FRESHNESS_TYPES, since=since, until=now,
                             ordered=False)

    states = _UpstreamStates({p.dataset_urn: p for p in every}, inputs, now, upstream_inputs)
    found = []
    for policy in policies:
        finding = evaluate_freshness(policy, inputs[policy.dataset_urn], now, states)
        if finding is not None:
            found.append(freshness_incident(finding, policy.producer_urn,
                                            owners.get(policy.dataset_urn, Ownership())))
    return found


class _UpstreamStates(MappingABC[str, DatasetFreshness]):
    """Each dataset's freshness, computed only when some job reads it as an input (most never are)."""

    def __init__(self, policies: dict[str, FreshnessPolicy], inputs: dict[str, list[EvidenceRecord]],
                 now: datetime, load: Callable[[FreshnessPolicy], list[EvidenceRecord]]) -> None:
        self._policies, self._inputs, self._now, self._load = policies, inputs, now, load
        self._cache: dict[str, DatasetFreshness] = {}

    def __getitem__(self, urn: str) -> DatasetFreshness:
        if urn not in self._cache:
            policy = self._policies[urn]  # KeyError: no policy, so not judged late
            records = self._inputs[urn] if urn in self._inputs else self._load(policy)
            self._cache[urn] = dataset_freshness(policy, records, self._now)
        return self._cache[urn]

    def __iter__(self) -> Iterator[str]:
        return iter(self._policies)

    def __len__(self) -> int:
        return len(self._policies)


def _primary(breaks: Iterable[ContractBreak]) -> list[ContractBreak]:
    def order(b: ContractBreak) -> tuple[Any, ...]:
        rank = _REASON_ORDER.index(b.reason_code) if b.reason_code in _REASON_ORDER else len(_REASON_ORDER)
        return (b.first_bad_time, b.first_bad_ref, rank, b.field or "")

    return sorted(breaks, key=order)


def _contracts(reader: EvidenceReader, contracts: list[Contract], now: datetime, settings: DetectSettings,
               owners: dict[str, Ownership]) -> list[dict[str, Any]]:
    if not contracts:
        return []
    windows = {c.dataset_urn: timedelta(minutes=c.deploy_window_minutes) for c in contracts}
    counters = reader.counters(windows, since=now - timedelta(days=settings.contract_lookback_days), until=now)
    recovered_before = now - timedelta(minutes=settings.contract_recovery_minutes)
    by_dataset: dict[str, list[ContractBreak]] = defaultdict(list)
    for brk in contract_breaks(counters, now):
        if brk.dataset_urn in windows and (brk.last_bad_time or brk.first_bad_time) >= recovered_before:
            by_dataset[brk.dataset_urn].append(brk)
    found = []
    for urn, breaks in sorted(by_dataset.items()):
        primary, *others = _primary(breaks)
        # Blame follows the records: each producer whose records broke, never a producer merely mapped here.
        breaking = correlate_breaks(reader, [primary, *others], windows[urn], now)
        found.append(contract_incident(primary, others, breaking, owners.get(urn, Ownership())))
    return found


def _drift(reader: EvidenceReader, change_requests: Sequence[dict[str, Any]], now: datetime
           ) -> list[dict[str, Any]]:
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in change_requests:
        if request["status"] == "open" and parse_time(request["first_seen_time"]) <= now:
            by_topic[request["topic"]].append(request)
    found = []
    for _, requests in sorted(by_topic.items()):
        first_seen = min(parse_time(r["first_seen_time"]) for r in requests)
        incident = drift_incident(requests, first_seen)
        producer = incident["producer_urn"]
        if producer:
            # A new schema usually ships with a deploy of the producer that writes it: the same window as a
            # contract break, before the first unmapped record.
            window = timedelta(minutes=DRIFT_DEPLOY_WINDOW_MINUTES)
            deploys = stored_deploys(reader, [producer], first_seen - window, first_seen, now)
            incident["correlated_deploys"] = correlate_deploys(deploys, producer, first_seen, window)
            incident["evidence_ids"] += [d["evidence_id"] for d in incident["correlated_deploys"]]
        found.append(incident)
    return found


class UnknownIncident(RcaError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"No incident {incident_id!r}; list them with GET /v1/incidents or `rca incidents`.")
        self.incident_id = incident_id


def stored_incidents(store: Store, *, status: str | None = "open", dataset_urn: str | None = None,
                     kind: str | None = None, owner_team: str | None = None,
                     tier: int | None = None) -> list[dict[str, Any]]:
    """Incidents as the API returns them, sorted by dataset then kind (then detection, newest first)."""
    stmt = _incident_query(status, dataset_urn, kind, owner_team, tier)
    with store.engine.connect() as conn:
        return [orjson.loads(body) for (body, *_) in conn.execute(stmt)]


def stored_incident_page(store: Store, *, limit: int, cursor: str | None = None, status: str | None = "open",
                         dataset_urn: str | None = None, kind: str | None = None, owner_team: str | None = None,
                         tier: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of stored_incidents' order and the cursor of the next (None on the last page). Keyset paging:
    a page costs the same however deep it is, and incidents opened meanwhile never shift the pages."""
    stmt = _incident_query(status, dataset_urn, kind, owner_team, tier)
    if cursor is not None:
        after_urn, after_kind, after_detected, after_id = decode_incident_cursor(cursor)
        c = incidents.c
        stmt = stmt.where(or_(
            c.dataset_urn > after_urn,
            and_(c.dataset_urn == after_urn, c.kind > after_kind),
            and_(c.dataset_urn == after_urn, c.kind == after_kind, c.detected_at < after_detected),
            and_(c.dataset_urn == after_urn, c.kind == after_kind, c.detected_at == after_detected,
                 c.id > after_id)))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt.limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if more and rows else None
    next_cursor = None if last is None else base64.urlsafe_b64encode(orjson.dumps(
        [last.dataset_urn, last.kind, iso(last.detected_at), last.id])).decode()
    return [orjson.loads(row.body) for row in rows], next_cursor


def decode_incident_cursor(cursor: str) -> tuple[str, str, datetime, str]:
    """What a GET /v1/incidents cursor continues after; ValueError for anything this server did not issue."""
    try:
        urn, kind, detected, incident = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        moment = parse_time(str(detected))
        if not (isinstance(urn, str) and isinstance(kind, str) and isinstance(incident, str)
                and _INCIDENT_ID.match(incident) and urn_error(urn) is None and kind.isalpha()
                and time_error(moment) is None):
            raise ValueError(cursor)
        return urn, kind, utc(moment), incident
    except (ValueError, TypeError, UnicodeError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"cursor {cursor[:100]!r} is not one this server issued; start again without it") from exc


def _incident_query(status: str | None, dataset_urn: str | None, kind: str | None, owner_team: str | None,
                    tier: int | None) -> Any:
    stmt = select(incidents.c.body, incidents.c.dataset_urn, incidents.c.kind, incidents.c.detected_at,
                  incidents.c.id)
    for column, value in (("status", status), ("dataset_urn", dataset_urn), ("kind", kind),
                          ("owner_team", owner_team), ("tier", tier)):
        if value is not None:
            stmt = stmt.where(incidents.c[column] == value)
    return stmt.order_by(incidents.c.dataset_urn, incidents.c.kind, incidents.c.detected_at.desc(), incidents.c.id)


def mark_false_positive(store: Store, incident_id: str, reason: str, now: datetime, by: str) -> dict[str, Any]:
    """Close an incident as a false positive; later passes do not reopen the same break (same id)."""
    now = utc(now)
    with store.writing() as conn:
        row = conn.execute(select(incidents.c.body).where(incidents.c.id == incident_id)).first()
        if row is None:
            raise UnknownIncident(incident_id)
        body = orjson.loads(row.body)
        body.update(status="false_positive", updated_at=iso(now), resolved_at=iso(now),
                    false_positive={"reason": reason, "by": by, "at": iso(now)})
        conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
            status="false_positive", updated_at=now, resolved_at=now, body=orjson.dumps(body).decode()))
    return body


def stored_incident(store: Store, incident_id: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(incidents.c.body).where(incidents.c.id == incident_id)).first()
    if row is None:
        raise UnknownIncident(incident_id)
    return orjson.loads(row[0])
