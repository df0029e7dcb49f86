"""One detector pass at a given clock: freshness, contract breaks, drift -> incidents opened, updated, resolved.

The pass is pure: `find_incidents(reader, configs, now)` reads evidence through an `EvidenceReader` (the SQL store,
or records in memory) and returns the incidents that should be open, writing nothing. `store_incidents` is the
writing half its caller runs; `run_detectors` does both against a store. One open incident per (dataset, kind).
"""

from __future__ import annotations

from collections import ChainMap, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from detectors._configs import ActiveConfigs, config_snapshot, configs_of
from detectors._deploys import correlate_breaks, correlate_deploys, stored_deploys
from detectors._drift import list_change_requests
from detectors._freshness import DatasetFreshness, dataset_freshness, evaluate_freshness
from detectors._gate import ContractBreak, contract_breaks
from detectors._incidents import (
    Ownership,
    contract_incident,
    downstream_of,
    drift_incident,
    first_request,
    freshness_incident,
    surround,
)
from detectors._incremental import FRESHNESS_TYPES, FreshnessMemory, Kept, sources
from detectors._runs import by_dataset_and_producer
from detectors._shards import shard_of
from detectors._windows import DRIFT_DEPLOY_WINDOW, contract_windows, drift_windows, freshness_windows
from evidence import (
    FIELD_REASONS,
    INT64_MAX,
    Contract,
    EventType,
    EvidenceReader,
    EvidenceRecord,
    FreshnessPolicy,
    Incident,
    IncidentLedger,
    ReasonCode,
    Store,
    incident_writes,
    no_collection,
    parse_time,
    utc,
)

_FEW_POLICIES = 1000
_TICK = timedelta(microseconds=1)  # datetimes' resolution: the first clock after another
_FRESHNESS_TYPES = FRESHNESS_TYPES
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
    incidents: list[Incident] = field(default_factory=list)  # open after the pass, sorted
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
                   memory: FreshnessMemory | None = None) -> list[Incident]:
    """The pure detector pass: what should be open at `now`, from the evidence `reader` holds, the active
    configuration and the open change requests (drift); sorted by dataset, then kind. It writes nothing: the
    caller stores the result (`store_incidents`), or compares it, or shows it. With `shards`, only the datasets of
    those shards (detectors/_leases.py) are evaluated: the union over all shards is the full pass. With `memory`
    (kept between passes), freshness is evaluated only where it can have changed (detectors/_incremental.py)."""
    with no_collection():  # a pass over many datasets loads a hundred thousand records, none of them in a cycle
        return _find_incidents(reader, configs, utc(now), settings, change_requests, shards, memory)


def _find_incidents(reader: EvidenceReader, configs: ActiveConfigs, now: datetime, settings: DetectSettings,
                    change_requests: Sequence[dict[str, Any]], shards: frozenset[int] | None,
                    memory: FreshnessMemory | None) -> list[Incident]:
    policies, contracts, lineage = configs.policies, configs.contracts, configs.lineage
    owners = _owners(policies, contracts) if memory is None else memory.owners(configs, lambda: _owners(policies,
                                                                                                   contracts))

    def mine(urn: str) -> bool:
        return shards is None or shard_of(urn) in shards

    contract_of = {c.dataset_urn: c for c in contracts}
    if memory is None:
        found = _freshness(reader, policies, now, owners, contract_of, mine)
    else:
        def evaluate(chosen: list[FreshnessPolicy]) -> dict[str, tuple[Incident, Kept]]:
            wanted, kept = {p.dataset_urn for p in chosen}, dict[str, Kept]()
            return {i.dataset_urn: (i, kept[i.dataset_urn])
                    for i in _freshness(reader, policies, now, owners, contract_of, wanted.__contains__, kept)}

        found = memory.pass_at(reader, [p for p in policies if mine(p.dataset_urn)], owners, now, evaluate)
    found += _contracts(reader, [c for c in contracts if mine(c.dataset_urn)], now, settings, owners)
    found += [i for i in _drift(reader, change_requests, now) if mine(i.dataset_urn)]
    if memory is None:
        evidence = reader.get_many(set().union(*(incident.evidence_ids for incident in found)))
        sources_of = {incident.id: sources(incident, evidence) for incident in found}
    else:
        evidence, sources_of = memory.around(reader, found)
    lag = reader.ingestion_lag(now, timedelta(seconds=settings.stale_window_s),
                               sources={s for s in set().union(*sources_of.values()) if s},
                               backfill_after=timedelta(seconds=settings.backfill_after_s))
    surrounded = []
    for incident in found:
        worst = max((lag[s]["p95_s"] for s in sources_of[incident.id] if s in lag), default=0.0)
        surrounded.append(surround(incident, evidence, downstream_of(incident.dataset_urn, lineage), worst,
                                   settings.stale_threshold_s, None if memory is None else memory.refs,
                                   None if memory is None else memory.moving_facts(incident, now)))
    return sorted(surrounded, key=lambda i: (i.dataset_urn, i.kind))


def find_stored_incidents(store: Store, now: datetime, settings: DetectSettings = DetectSettings(),
                          findings: list[dict[str, Any]] | None = None, shards: frozenset[int] | None = None,
                          memory: FreshnessMemory | None = None) -> list[Incident]:
    """The pure pass over what a store holds: its active configuration and open change requests, read here, and
    its evidence. Stored configs that no longer validate are skipped and described in `findings`. `shards` and
    `memory` as find_incidents takes them."""
    active = configs_of(config_snapshot(store)) if memory is None else memory.configs(store)
    if findings is not None:
        findings.extend(f.as_json() for f in active.findings)
    return find_incidents(store, active, now, settings, list_change_requests(store, status="open"), shards, memory)


def run_detectors(store: Store, now: datetime, settings: DetectSettings = DetectSettings()) -> DetectionResult:
    """A full pass: open, update and resolve stored incidents so they match what the evidence says at `now`."""
    findings: list[dict[str, Any]] = []
    found = find_stored_incidents(store, now, settings, findings)
    return store_incidents(store, found, now, settings, findings)


def store_incidents(store: Store, found: list[Incident], now: datetime,
                    settings: DetectSettings = DetectSettings(),
                    findings: list[dict[str, Any]] | None = None,
                    shards: frozenset[int] | None = None,
                    scope: Collection[str] | None = None) -> DetectionResult:
    """The writing half of a pass: open, update and resolve stored incidents so that they match `found` (what
    find_incidents said at `now`, wherever it ran). One short transaction. With `shards`, only incidents of the
    datasets of those shards (a leased pass, detectors/_leases.py); with `scope`, only incidents of those datasets
    (a story loaded at its own clock leaves the others alone)."""
    with incident_writes(store) as writes:
        result = settle_incidents(writes, found, now, settings, findings, shards, scope)
    result.drift = drift_summary(list_change_requests(store))
    return result


def settle_incidents(ledger: IncidentLedger, found: list[Incident], now: datetime,
                     settings: DetectSettings = DetectSettings(),
                     findings: list[dict[str, Any]] | None = None,
                     shards: frozenset[int] | None = None,
                     scope: Collection[str] | None = None) -> DetectionResult:
    """Open, update and resolve the incidents `ledger` keeps (a store's, or a replay's in memory) so that they match
    `found`; `shards` and `scope` as store_incidents takes them. The result has no drift yet (`drift_summary`)."""
    now = utc(now)
    result = DetectionResult(config_findings=list(findings or []))

    def inside(urn: str) -> bool:
        return (scope is None or urn in scope) and (shards is None or shard_of(urn) in shards)

    wanted = {(i.dataset_urn, i.kind): i for i in found if inside(i.dataset_urn)}
    open_now = {key: current for key, current in ledger.open_incidents(scope).items() if inside(key[0])}
    for key, current in sorted(open_now.items()):
        if key not in wanted:
            ledger.resolve(current, now)
            result.resolved.append(current.id)
    prior = ledger.statuses([i.id for key, i in wanted.items() if key not in open_now])
    for key, incident in sorted(wanted.items()):
        known = open_now.get(key)
        if known is None:
            if incident.stale_evidence and settings.stale_action == "pause":
                result.paused.append(f"{key[0]} {key[1]}")
                continue
            if prior.get(incident.id) == "false_positive":
                continue  # a human said this break is not real: it stays closed while it persists
            incident = incident.model_copy(update={"detected_at": now, "updated_at": now})
            if incident.id in prior:  # the same break came back after being resolved: reopen it
                ledger.reopen(incident, now)
            else:
                ledger.open(incident, now)
            result.opened.append(incident.id)
        else:
            incident = incident.model_copy(update={"id": known.id, "detected_at": utc(known.detected_at),
                                                   "updated_at": now})
            ledger.update(incident, known.detected_at, now)
        result.incidents.append(incident)
    return result


def drift_summary(change_requests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The drift a pass reports: every change request not approved, in the order given (list_change_requests')."""
    return [{"topic": cr["topic"], "schema_id": _schema_id(cr["schema_id"]), "reason_code": cr["reason_code"],
             "change_request_id": cr["id"], "status": cr["status"], "held": cr["held"]}
            for cr in change_requests if cr["status"] != "approved"]


def _schema_id(value: str) -> int | str:
    return int(value) if value.isascii() and value.isdigit() and int(value) <= INT64_MAX else value


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
               contract_of: dict[str, Contract], mine: Callable[[str], bool],
               kept: dict[str, Kept] | None = None) -> list[Incident]:
    """The freshness incidents of the policies `mine` keeps; the others are read only as some run's upstream.
    `kept`, when given, receives what an incremental pass (detectors/_incremental.py) keeps of each incident."""
    policies = [p for p in every if mine(p.dataset_urn)]
    if not policies:
        return []
    # The lookback counts local calendar days before today's schedule: one more day, plus the widest UTC offset
    # (of every policy, so that a shard's pass reads the same window as a full one).
    lookback = timedelta(days=max(p.lookback_days for p in every) + 1, hours=14)
    # Only what `_relevant` keeps: the policies' own datasets' and producers' records. Few policies: looked up by
    # index, so a pass costs the same however much else is written (issue 13). Many: their runs and commits in one
    # scan (index lookups of most of a table cost more than reading it), and deploys, the type every service emits,
    # still looked up by index.
    since = now - lookback

    def read(chosen: list[FreshnessPolicy]) -> list[EvidenceRecord]:
        if not chosen:
            return []
        datasets = [p.dataset_urn for p in chosen]
        producers = [p.producer_urn for p in chosen if p.producer_urn]
        if len(chosen) <= _FEW_POLICIES:
            return reader.records(dataset_urns=datasets, producer_urns=producers, types=_FRESHNESS_TYPES,
                                  since=since, until=now, ordered=False)
        return [*reader.records(types=[t for t in _FRESHNESS_TYPES if t != EventType.DEPLOYMENT], since=since,
                                until=now, ordered=False),
                *reader.records(dataset_urns=datasets, producer_urns=producers, types=[EventType.DEPLOYMENT],
                                since=since, until=now, ordered=False)]

    on_time: dict[str, list[EvidenceRecord]] = {}  # dataset found on time -> its commits
    if len(policies) > _FEW_POLICIES:
        # Whether a dataset missed its deadline depends on its commits alone (`assess`, detectors/_freshness_state.py):
        # every commit of the window first, in one scan, and the rest (runs, deploys: two thirds of a nightly job's
        # records) only of the datasets that did miss it, most days few. Those on time are not in `inputs` (they
        # did not read everything); an upstream check of one reads its commits, all it depends on.
        commits = by_dataset_and_producer(reader.records(types=[EventType.COMMITTED], since=since, until=now,
                                                         ordered=False))
        for policy in policies:
            theirs = _relevant(commits, policy)
            if not dataset_freshness(policy, theirs, now).breached:
                on_time[policy.dataset_urn] = theirs
        policies = [p for p in policies if p.dataset_urn not in on_time]
    grouped = by_dataset_and_producer(read(policies))
    inputs = {p.dataset_urn: _relevant(grouped, p) for p in policies}

    def upstream_inputs(policy: FreshnessPolicy) -> list[EvidenceRecord]:  # another shard's dataset, read on demand
        return reader.records(dataset_urns=[policy.dataset_urn], producer_urns=[policy.producer_urn] if
                             policy.producer_urn else [], types=_FRESHNESS_TYPES, since=since, until=now,
                             ordered=False)

    states = _UpstreamStates({p.dataset_urn: p for p in every}, ChainMap(inputs, on_time), now, upstream_inputs)
    found = []
    for policy in policies:
        records = inputs[policy.dataset_urn]
        finding = evaluate_freshness(policy, records, now, states)
        if finding is not None:
            windows = freshness_windows(policy, contract_of.get(policy.dataset_urn), now)  # the day it judged
            found.append(freshness_incident(finding, policy.producer_urn,
                                            owners.get(policy.dataset_urn, Ownership()), windows, now))
            if kept is not None:  # its oldest record leaves the window [clock - lookback, clock] after that + lookback
                oldest = min((r.event_time for r in records), default=None)
                kept[policy.dataset_urn] = Kept(finding.clock, oldest + lookback + _TICK if oldest else None)
    return found


def _relevant(grouped: tuple[dict[str, list[EvidenceRecord]], dict[str, list[EvidenceRecord]]],
              policy: FreshnessPolicy) -> list[EvidenceRecord]:
    """A policy's records among these (grouped by dataset and by producer): its dataset's and its producer's."""
    by_dataset, by_producer = grouped
    mine = by_dataset.get(policy.dataset_urn, [])
    theirs = by_producer.get(policy.producer_urn, []) if policy.producer_urn else []
    return list({r.evidence_id: r for r in [*mine, *theirs]}.values())


class _UpstreamStates(MappingABC[str, DatasetFreshness]):
    """Each dataset's freshness, computed only when some job reads it as an input (most never are)."""

    def __init__(self, policies: dict[str, FreshnessPolicy], inputs: MappingABC[str, list[EvidenceRecord]],
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
               owners: dict[str, Ownership]) -> list[Incident]:
    if not contracts:
        return []
    applied = {c.dataset_urn: contract_windows(c, settings.contract_lookback_days) for c in contracts}
    counters = reader.counters(applied, since=now - timedelta(days=settings.contract_lookback_days), until=now)
    recovered_before = now - timedelta(minutes=settings.contract_recovery_minutes)
    by_dataset: dict[str, list[ContractBreak]] = defaultdict(list)
    for brk in contract_breaks(counters, now):
        if brk.dataset_urn in applied and (brk.last_bad_time or brk.first_bad_time) >= recovered_before:
            by_dataset[brk.dataset_urn].append(brk)
    found = []
    for urn, breaks in sorted(by_dataset.items()):
        primary, *others = _primary(breaks)
        # Blame follows the records: each producer whose records broke, never a producer merely mapped here.
        breaking = correlate_breaks(reader, [primary, *others], applied[urn].deploy_window, now)
        found.append(contract_incident(primary, others, breaking, owners.get(urn, Ownership()), applied[urn], now))
    return found


def _drift(reader: EvidenceReader, change_requests: Sequence[dict[str, Any]], now: datetime
           ) -> list[Incident]:
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in change_requests:
        if request["status"] == "open" and parse_time(request["first_seen_time"]) <= now:
            by_topic[request["topic"]].append(request)
    found = []
    for _, requests in sorted(by_topic.items()):
        first_seen = min(parse_time(r["first_seen_time"]) for r in requests)
        producer = first_request(requests)["proposal"].get("producer_urn")
        correlated = []
        # A new schema usually ships with a deploy of the producer that writes it: the same window as a contract
        # break, before the first unmapped record.
        window = DRIFT_DEPLOY_WINDOW
        if producer:
            deploys = stored_deploys(reader, [producer], first_seen - window, first_seen, now)
            correlated = correlate_deploys(deploys, producer, first_seen, window)
        found.append(drift_incident(requests, first_seen, correlated, drift_windows(), now))
    return found
