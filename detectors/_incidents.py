"""Incident assembly: detector findings plus policy, lineage and evidence become the incident DESIGN.md fixes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from detectors._deploys import BreakingProducer
from detectors._freshness import FreshnessFinding
from detectors._gate import ContractBreak
from evidence import (
    CorrelatedDeploy,
    EvidenceRecord,
    EvidenceRef,
    Incident,
    LineageEdge,
    Windows,
    evidence_id_for,
    iso,
)


@dataclass(frozen=True)
class Ownership:
    owner_team: str | None = None
    tier: int | None = None
    runbook_url: str | None = None


def incident_id(dataset_urn: str, kind: str, first_bad: datetime) -> str:
    """Stable: the same break seen from the same evidence gets the same id, replay after replay."""
    digest = hashlib.sha256(f"{dataset_urn}\x00{kind}\x00{iso(first_bad)}".encode()).hexdigest()
    return f"inc_{digest[:16]}"


def downstream_of(dataset_urn: str, edges: Iterable[LineageEdge]) -> list[str]:
    """Every dataset reachable downstream through lineage, sorted; cycles are harmless."""
    children: dict[str, set[str]] = {}
    for edge in edges:
        children.setdefault(edge.upstream, set()).add(edge.downstream)
    seen: set[str] = set()
    frontier = [dataset_urn]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in seen and child != dataset_urn:
                seen.add(child)
                frontier.append(child)
    return sorted(seen)


def kafka_evidence_id(ref: str) -> str:
    topic = ref.rsplit("/", 2)[0]
    return evidence_id_for(f"kafka://{topic}", ref)


def _base(dataset_urn: str, kind: str, reason_code: str, first_bad: datetime, owner: Ownership) -> dict[str, Any]:
    """Every field of an incident a detector found, before the pass fills in when (detected_at, updated_at: its
    clock) and what surrounds it (downstream impact, the evidence that exists, staleness)."""
    return {
        "id": incident_id(dataset_urn, kind, first_bad),
        "dataset_urn": dataset_urn,
        "kind": kind,
        "status": "open",
        "reason_code": reason_code,
        "resolved_at": None,
        "first_bad_time": first_bad,
        "last_good_time": None,
        "current_watermark": None,
        "expected_watermark": None,
        "field": None,
        "bad_rate": None,
        "correlated_deploys": [],
        "correlated_run": None,
        "failure_class": None,
        "impacted_downstream": [],
        "stale_evidence": False,
        "producer_urn": None,
        "owner_team": owner.owner_team,
        "tier": owner.tier,
        "runbook_url": owner.runbook_url,
        "facts": {},
        "evidence_ids": [],
        "evidence": [],
    }


def _incident(fields: dict[str, Any], windows: Windows, now: datetime) -> Incident:
    return Incident(**fields, windows=windows, detected_at=now, updated_at=now)


def freshness_incident(finding: FreshnessFinding, producer_urn: str | None, owner: Ownership, windows: Windows,
                       now: datetime) -> Incident:
    incident = _base(finding.dataset_urn, "freshness", finding.reason_code, finding.first_bad_time, owner)
    incident.update(
        last_good_time=finding.last_good_time,
        current_watermark=finding.current_watermark,
        expected_watermark=finding.expected_watermark,
        correlated_deploys=finding.correlated_deploys,
        correlated_run=finding.correlated_run,
        failure_class=finding.failure_class,
        producer_urn=producer_urn,
        facts=finding.facts,
        evidence_ids=list(finding.evidence_ids),
    )
    return _incident(incident, windows, now)


def contract_incident(primary: ContractBreak, others: list[ContractBreak], breaking: list[BreakingProducer],
                      owner: Ownership, windows: Windows, now: datetime) -> Incident:
    """The incident of a dataset's breaks. Its producer is the one whose record broke first; every producer whose
    records broke is listed in facts.breaking_producers with its own first bad record and correlated deploys, and
    correlated_deploys lists theirs in that order (the first to break first, each one's closest deploy first)."""
    incident = _base(primary.dataset_urn, "contract", primary.reason_code, primary.first_bad_time, owner)
    first_bad_id = kafka_evidence_id(primary.first_bad_ref)
    ids = [first_bad_id]
    if primary.last_good_ref:
        ids.append(kafka_evidence_id(primary.last_good_ref))
    ids += [kafka_evidence_id(ref) for ref in primary.sample_refs]
    deploys: list[CorrelatedDeploy] = []
    for producer in breaking:
        ids.append(kafka_evidence_id(producer.first_bad_ref))
        deploys += producer.deploys
    ids += [d.evidence_id for d in deploys if d.evidence_id]
    # Every id the incident names is traceable: a secondary break's first bad record too (issue 13).
    ids += [kafka_evidence_id(b.first_bad_ref) for b in others]
    incident.update(
        field=primary.field,
        last_good_time=primary.last_good_time,
        bad_rate={"before": round(primary.bad_rate_before, 4), "after": round(primary.bad_rate_after, 4)},
        correlated_deploys=deploys,
        producer_urn=primary.producer_urn,
        evidence_ids=list(dict.fromkeys(ids)),
        facts={
            "first_bad_evidence_id": first_bad_id,
            "first_bad_ref": primary.first_bad_ref,
            "last_good_evidence_id": kafka_evidence_id(primary.last_good_ref) if primary.last_good_ref else None,
            "last_good_ref": primary.last_good_ref,
            "last_bad_time": iso(primary.last_bad_time),
            "bad_count": primary.bad_count,
            "total_after": primary.total_after,
            "total_before": primary.total_before,
            "sample_refs": primary.sample_refs,
            "other_breaks": [
                {"reason_code": b.reason_code, "field": b.field, "first_bad_time": iso(b.first_bad_time),
                 "first_bad_evidence_id": kafka_evidence_id(b.first_bad_ref),
                 "bad_rate_after": round(b.bad_rate_after, 4)}
                for b in others
            ],
            "breaking_producers": [
                {"producer_urn": p.producer_urn, "first_bad_time": iso(p.first_bad_time),
                 "first_bad_ref": p.first_bad_ref, "first_bad_evidence_id": kafka_evidence_id(p.first_bad_ref),
                 "reason_code": p.reason_code, "field": p.field, "bad_count": p.bad_count,
                 "correlated_deploy_ids": [d.evidence_id for d in p.deploys]}
                for p in breaking
            ],
        },
    )
    return _incident(incident, windows, now)


def first_request(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """The change request of a topic first seen: it names the drift incident's producer and reason."""
    return min(requests, key=lambda r: (r["first_seen_time"], r["first_seen_ref"]))


def drift_incident(requests: list[dict[str, Any]], first_seen: datetime, deploys: list[CorrelatedDeploy],
                   windows: Windows, now: datetime) -> Incident:
    """Records no approved rule attributes, one incident per topic: named by the topic, never by a guessed dataset."""
    first = first_request(requests)
    topic = first["topic"]
    incident = _base(f"kafka://{topic}", "drift", first["reason_code"], first_seen, Ownership())
    incident.update(
        producer_urn=first["proposal"].get("producer_urn"),
        correlated_deploys=deploys,
        evidence_ids=[kafka_evidence_id(r["first_seen_ref"]) for r in requests]
        + [d.evidence_id for d in deploys if d.evidence_id],
        facts={"topic": topic, "change_request_id": first["id"], "schema_id": first["schema_id"],
               "held_records": sum(r["held"] for r in requests),
               "change_requests": [{"id": r["id"], "schema_id": r["schema_id"], "reason_code": r["reason_code"],
                                    "held": r["held"], "proposal": r["proposal"], "first_seen_ref": r["first_seen_ref"],
                                    "first_seen_time": r["first_seen_time"]} for r in requests]},
    )
    return _incident(incident, windows, now)


def surround(incident: Incident, found: Mapping[str, EvidenceRecord], downstream: list[str], lag_p95_s: float,
             stale_threshold_s: float, refs: dict[str, EvidenceRef] | None = None,
             moved: tuple[Mapping[str, Any], datetime] | None = None) -> Incident:
    """The incident with what surrounds it: the datasets downstream, only the evidence ids that exist (each listed
    as {evidence_id, source_ref, type, time}), and whether its evidence arrived late. `refs`, when given, keeps the
    listed references by evidence id for the next call (a stored record never changes; references are frozen).
    `moved` (facts, clock): an incident brought to a later clock without evaluating it again (detectors/
    _incremental.py), its moving facts replaced and detected and updated at that clock, in the same copy."""
    ids = [i for i in incident.evidence_ids if i in found]
    kept = {} if refs is None else refs
    listed = []
    for i in ids:
        ref = kept.get(i)
        if ref is None:
            record = found[i]
            ref = kept[i] = EvidenceRef(evidence_id=i, source_ref=record.source_ref, type=record.type,
                                        time=record.event_time)
        listed.append(ref)
    update = {
        "impacted_downstream": downstream,
        "evidence_ids": ids,
        "evidence": listed,
        "stale_evidence": lag_p95_s > stale_threshold_s,
        "facts": {**incident.facts, "ingestion_lag_p95_s": lag_p95_s} if moved is None else
        {**incident.facts, **moved[0], "ingestion_lag_p95_s": lag_p95_s},
    }
    if moved is not None:
        update["detected_at"] = update["updated_at"] = moved[1]
    return incident.model_copy(update=update)
