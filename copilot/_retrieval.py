"""Structured retrieval for one incident: the evidence a claim may cite, gathered around its boundaries.

Structured first (the incident's own evidence, the dataset and producer near first bad / last good, deploys,
runs and their baseline, lineage neighbours), so that what the copilot may cite is decided by the incident's
shape, not by what a similarity search happens to return.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from copilot._composer import EvidenceItem
from detectors import DetectSettings, Replay, contract_windows, freshness_windows
from evidence import (
    CONTRACT,
    LINEAGE,
    POLICY,
    Configs,
    ConfigSnapshot,
    EventType,
    EvidenceReader,
    EvidenceRecord,
    FreshnessPolicy,
    Incident,
    LineageEdge,
    Store,
    Windows,
    iso,
    load_incidents,
)
from guardrails import Scope, windows_of

_EXCERPT_CHARS = 800
_RUN_TYPES = (EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.HEARTBEAT,
              EventType.COMMITTED, EventType.DEPLOYMENT)


def rca_clock(incident: Incident) -> datetime:
    """An RCA is computed at the incident's last detection, so the same stored incident always reads the same."""
    return incident.updated_at


def _visible(records: Iterable[EvidenceRecord], now: datetime) -> dict[str, EvidenceRecord]:
    return {r.evidence_id: r for r in records if r.event_time <= now and r.ingest_time <= now}


@dataclass(frozen=True)
class RcaSource:
    """What retrieval reads: evidence (`reader`), configuration (`configs(*kinds)`, one read) and the open incidents
    of a dataset. A store gives all three (`rca_source`); a replay gives them from memory."""

    reader: EvidenceReader
    configs: Callable[..., ConfigSnapshot]
    open_incidents: Callable[[str], list[Incident]]


def rca_source(store: Store) -> RcaSource:
    """A store as retrieval reads it."""
    return RcaSource(store, Configs(store).snapshot, lambda urn: load_incidents(store, dataset_urn=urn))


def replay_source(replay: Replay) -> RcaSource:
    """A replayed scenario as retrieval reads it (in memory, or its store's)."""
    return RcaSource(replay.reader, lambda *kinds: replay.configs,
                     lambda urn: [i for i in replay.typed if i.dataset_urn == urn])


def incident_scope(source: Store | RcaSource, incident: Incident, now: datetime | None = None) -> Scope:
    """The scope a verifier judges claims about `incident` against, at the RCA clock. The windows are the ones the
    detector applied (`Incident.windows`), so the configuration is read only for the policy (and, for freshness,
    the lineage): one read."""
    source = source if isinstance(source, RcaSource) else rca_source(source)
    store = source.reader
    now = now or rca_clock(incident)
    dataset, kind = incident.dataset_urn, incident.kind
    configs = source.configs(POLICY, *([LINEAGE] if kind == "freshness" else []),
                             *([CONTRACT] if incident.windows is None else []))
    policy = next((p for p in configs.specs(POLICY) if p.dataset_urn == dataset), None)
    if incident.windows is None:  # stored before detectors recorded their windows: derived as they derive them
        incident = incident.model_copy(update={"windows": _derived_windows(incident, policy, configs)})
    windows = windows_of(incident)
    producer = incident.producer_urn or (policy.producer_urn if policy else None)
    first_bad = incident.first_bad_time
    records: dict[str, EvidenceRecord] = dict(store.get_many(incident.evidence_ids))
    counters = []
    upstream: list[Incident] = []
    if kind == "contract":
        since = first_bad - windows.deploy_window - timedelta(hours=1)
        records.update(_visible(store.records(dataset_urns=[dataset], since=since, until=now), now))
        # Deploys of every producer whose records broke (facts.breaking_producers), each judged against its own.
        breaking = [p.get("producer_urn") for p in incident.facts.get("breaking_producers") or []
                    if isinstance(p, dict)]
        deployers = sorted({p for p in [producer, *breaking] if isinstance(p, str) and p})
        if deployers:
            records.update(_visible(store.records(producer_urns=deployers, types=[EventType.DEPLOYMENT],
                                                  since=first_bad - timedelta(days=1), until=now), now))
        if producer:
            _add_last_deploy(store, producer, now, records)
        counters = store.counters([dataset], since=now - (windows.lookback or timedelta(0)), until=now)
    elif kind == "freshness":
        lookback = (windows.lookback or timedelta(0)) + timedelta(days=2)
        records.update(_visible(store.records(dataset_urns=[dataset], producer_urns=[producer] if producer else [],
                                              types=_RUN_TYPES, since=now - lookback, until=now), now))
        if producer:
            _add_last_deploy(store, producer, now, records)
        inputs = _inputs(records.values(), configs.specs(LINEAGE), dataset)
        if inputs:
            records.update(_visible(store.records(dataset_urns=inputs, types=[EventType.COMMITTED],
                                                  since=now - timedelta(days=2), until=now), now))
            upstream = [i for urn in inputs for i in source.open_incidents(urn)]
    return Scope(incident=incident, now=now, records=records, policy=policy,
                 producer_urn=producer, counters=counters, upstream_incidents=upstream,
                 existing=lambda ids: set(store.get_many(ids)))


def _derived_windows(incident: Incident, policy: FreshnessPolicy | None, configs: ConfigSnapshot) -> Windows | None:
    """The windows the detector would have recorded, from today's configuration (None: the incident's facts tell
    them, `guardrails.windows_of`)."""
    contract = next((c for c in configs.specs(CONTRACT) if c.dataset_urn == incident.dataset_urn), None)
    if incident.kind == "freshness":
        # The incident's day is its deadline's, its first bad time.
        return freshness_windows(policy, contract, incident.first_bad_time) if policy is not None else None
    if incident.kind == "contract":
        return contract_windows(contract, DetectSettings().contract_lookback_days)
    return None


def _add_last_deploy(store: EvidenceReader, producer: str, now: datetime, records: dict[str, EvidenceRecord]) -> None:
    """The producer's last deploy however old: "no deploy since the last good point" needs it in scope."""
    last_deploy = store.latest(producer, EventType.DEPLOYMENT, now)
    if last_deploy is not None:
        records.update(_visible([last_deploy], now))


def _inputs(records: Iterable[EvidenceRecord], edges: list[LineageEdge], dataset: str) -> list[str]:
    found = {e.upstream for e in edges if e.downstream == dataset}
    for record in records:
        if record.type == EventType.RUN_STARTED:
            found.update(str(d) for d in record.data.get("input_datasets") or [])
    found.discard(dataset)
    return sorted(found)


def summary_line(record: EvidenceRecord) -> str:
    """One line from structured fields only (never from free text inside the payload)."""
    data, at = record.data, iso(record.event_time)
    if record.type == EventType.DEPLOYMENT:
        return (f"DeploymentEvent {data.get('service')} {data.get('version')} (status {data.get('status', 'succeeded')}"
                f", commit {data.get('commit')}) from {record.producer_urn} at {at}")
    if record.type == EventType.RUN_STARTED:
        return f"JobRunStarted run {record.run_id} of {record.producer_urn}, code_ref {data.get('code_ref')}, at {at}"
    if record.type == EventType.RUN_COMPLETED:
        return f"JobRunCompleted run {record.run_id} of {record.producer_urn} after {data.get('duration_s')} s at {at}"
    if record.type == EventType.RUN_FAILED:
        return f"JobRunFailed run {record.run_id} of {record.producer_urn} after {data.get('duration_s')} s at {at}"
    if record.type == EventType.COMMITTED:
        return (f"DatasetWriteCommitted to {record.dataset_urn} version {data.get('commit_version')}, partitions "
                f"{data.get('output_partitions_written')}, {data.get('rows_written')} rows, at {at}")
    if record.type == EventType.GATE_OBSERVATION:
        outcome = f"{record.reason_code} {record.field or ''}".strip() if record.reason_code else "passed the contract"
        return f"GateObservation {record.source_ref} of {record.dataset_urn or 'no dataset'}: {outcome}, at {at}"
    return f"{record.type} {record.source_ref} at {at}"


def evidence_items(records: Iterable[EvidenceRecord]) -> list[EvidenceItem]:
    """What a composer sees: structured summaries, and payload excerpts that stay untrusted data."""
    out = []
    for record in sorted(records, key=lambda r: (r.event_time, r.evidence_id)):
        excerpt = json.dumps(record.payload, sort_keys=True, default=str)
        if len(excerpt) > _EXCERPT_CHARS:
            excerpt = excerpt[:_EXCERPT_CHARS] + "..."
        out.append(EvidenceItem(evidence_id=record.evidence_id, type=record.type, time=iso(record.event_time) or "",
                                source_ref=record.source_ref, summary=summary_line(record), excerpt=excerpt))
    return out
