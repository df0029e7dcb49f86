"""Scopes for the verifier tests: reference scenarios replayed once per session, and hand-made records."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detectors import Replay, load_scenario, replay
from evidence import EvidenceRecord, Incident, evidence_id_for
from guardrails._claims import Claim, ClaimKind
from guardrails._scope import Scope
from support import REFERENCE, ROOT

SCENARIO_DIRS = (REFERENCE, ROOT / "evals" / "scenarios")

ScopeFor = Callable[..., Scope]


@pytest.fixture(scope="session")
def scenario() -> Callable[[str], Replay]:
    """Replay a scenario by name (the reference examples first, then the project's suite), once per session."""
    cache: dict[str, Replay] = {}

    def get(name: str) -> Replay:
        if name not in cache:
            path = next(d / f"{name}.yaml" for d in SCENARIO_DIRS if (d / f"{name}.yaml").exists())
            cache[name] = replay(load_scenario(path))
        return cache[name]

    return get


def _inputs(result: Replay, incident: Incident, records: list[EvidenceRecord]) -> list[str]:
    found = {e.upstream for e in result.scenario.lineage if e.downstream == incident.dataset_urn}
    for record in records:
        if record.type == "JobRunStarted":
            found.update(str(d) for d in record.data.get("input_datasets") or [])
    found.discard(incident.dataset_urn)
    return sorted(found)


@pytest.fixture(scope="session")
def scope_of(scenario: Callable[[str], Replay]) -> ScopeFor:
    """scope_of(name, reason=None, everything=False, **overrides): the scope retrieval would build for the
    scenario's incident: its own evidence, the dataset's and producer's records, its inputs' commits, the
    producer's deploys and the dataset's counters. `everything` puts every stored record in scope."""

    def build(name: str, reason: str | None = None, everything: bool = False, **overrides: Any) -> Scope:
        result = scenario(name)
        incidents = result.detection.incidents
        incident = next(i for i in incidents if reason is None or i.reason_code == reason)
        store, now = result.reader, result.scenario.now
        dataset, producer = incident.dataset_urn, incident.producer_urn
        if everything:
            found = store.records(until=now)
        else:
            found = list(store.get_many(incident.evidence_ids).values())
            found += store.records(dataset_urns=[dataset], producer_urns=[producer] if producer else [], until=now)
            inputs = _inputs(result, incident, found)
            if inputs:
                found += store.records(dataset_urns=inputs, types=["DatasetWriteCommitted"], until=now)
        records = {r.evidence_id: r for r in found if r.ingest_time <= now}
        inputs = _inputs(result, incident, list(records.values()))
        fields: dict[str, Any] = {
            "incident": incident,
            "now": now,
            "records": records,
            "policy": next((p for p in result.scenario.policies if p.dataset_urn == dataset), None),
            "producer_urn": producer,
            "counters": store.counters([dataset]),
            "upstream_incidents": [i for i in incidents if i.dataset_urn in inputs],
            "existing": lambda ids: set(store.get_many(ids)),
        }
        return Scope(**{**fields, **overrides})

    return build


@pytest.fixture(scope="session")
def record() -> Callable[..., EvidenceRecord]:
    """record(type, ref, when, data, source=...): an evidence record as ingestion would store it."""

    def make(kind: str, ref: str, when: datetime, data: dict[str, Any] | None = None, *,
             source: str = "svc://checkout-service", dataset: str | None = None, reason: str | None = None,
             field: str | None = None, payload: dict[str, Any] | None = None) -> EvidenceRecord:
        data = dict(data or {})
        if kind == "DatasetWriteCommitted":
            dataset = data.get("dataset_urn", dataset)
        deploy_ref = data.get("deploy_ref") if kind == "DeploymentEvent" else data.get("code_ref")
        when = when.astimezone(UTC)
        return EvidenceRecord(
            evidence_id=evidence_id_for(source, ref), source=source, source_ref=ref, type=kind, event_time=when,
            ingest_time=when, dataset_urn=dataset, producer_urn=None if source.startswith("kafka://") else source,
            sequence=data.get("commit_version"), deploy_ref=deploy_ref, reason_code=reason, field=field,
            run_id=data.get("run_id"),
            payload=payload if payload is not None else {"id": ref, "type": kind, "source": source, "data": data},
        )

    return make


def with_records(scope: Scope, *records: EvidenceRecord, **overrides: Any) -> Scope:
    return dataclasses.replace(scope, records={**scope.records, **{r.evidence_id: r for r in records}}, **overrides)


@pytest.fixture(scope="session")
def add() -> Callable[..., Scope]:
    """add(scope, *records, **overrides): a copy of `scope` with more records in it."""
    return with_records


@pytest.fixture(scope="session")
def claim() -> Callable[..., Claim]:
    """claim(kind, ids, text=..., **params)."""

    def make(kind: ClaimKind, ids: list[str], text: str = "A claim about this incident.", **params: Any) -> Claim:
        return Claim(kind=kind, evidence_ids=ids, text=text, params=params)

    return make


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="session")
def moment() -> Callable[..., datetime]:
    """moment("2026-03-10T10:20:00Z", minutes=-5)."""

    def make(value: str, **delta: float) -> datetime:
        return at(value) + timedelta(**delta)

    return make


@pytest.fixture(scope="session")
def ev() -> Callable[[Scope, str], str]:
    """ev(scope, source_ref): the evidence id of the record in scope sent with that CloudEvents id / Kafka ref."""

    def find(scope: Scope, source_ref: str) -> str:
        return next(r.evidence_id for r in scope.records.values() if r.source_ref == source_ref)

    return find
