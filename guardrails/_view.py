"""One incident's scope as the predicates, confidence and playbook read it: parsed boundaries, today's cycle,
the producer's runs, commits and deploys. Built once per verification from structured fields only."""

from __future__ import annotations

import dataclasses
import functools
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors import (
    ContractBreak,
    Run,
    commit_order,
    commit_time,
    committed_dataset,
    contract_breaks,
    partitions,
    runs_of,
    visible,
)
from evidence import (
    CHANGE_STATUSES,
    GATE_OBSERVATION,
    CorrelatedDeploy,
    CorrelatedRun,
    EventType,
    EvidenceRecord,
    Incident,
    maybe_time,
    utc,
)
from guardrails._scope import Scope, windows_of


def to_second(moment: datetime) -> datetime:
    """Boundaries are exact to the second (DESIGN.md, "Evidence record")."""
    return moment.replace(microsecond=0)


def violations(record: EvidenceRecord) -> list[tuple[str, str | None]]:
    """(reason_code, field) of every violation a gate observation lists; its primary one when none are listed."""
    found: list[tuple[str, str | None]] = []
    listed = record.payload.get("violations")
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, dict) and isinstance(item.get("reason_code"), str):
                fld = item.get("field")
                found.append((item["reason_code"], fld if isinstance(fld, str) and fld else None))
    if not found and record.reason_code:
        found.append((record.reason_code, record.field or None))
    return found


def writes_partition(record: EvidenceRecord, watermark: str) -> bool:
    """Whether a commit wrote `watermark` ("dt=2026-01-19") as one segment of a partition path."""
    return any(watermark in (s.strip() for s in p.split("/")) for p in partitions(record))


@dataclass(frozen=True)
class IncidentView:
    scope: Scope
    kind: str
    reason: str
    dataset: str
    field: str | None
    producer: str | None
    producers: frozenset[str]
    first_bad: datetime | None
    last_good: datetime | None
    now: datetime
    records: tuple[EvidenceRecord, ...]  # visible at now, one per id, by (event_time, evidence_id)
    cycle_start: datetime | None  # today's scheduled run (freshness), from which runs and commits are today's
    lookback_start: datetime | None
    deploy_window: timedelta  # the incident's (Incident.windows): a deploy correlates in [first_bad - it, first_bad)
    # A contract incident's producers whose records broke: each one's own first bad (time, evidence id). A deploy
    # is judged against its own producer's first bad record, never another producer's (issue 24).
    breaking: dict[str, tuple[datetime, str]] = dataclasses.field(default_factory=dict)

    @property
    def incident(self) -> Incident:
        return self.scope.incident

    @property
    def facts(self) -> dict[str, Any]:
        return self.scope.incident.facts

    @property
    def incident_ids(self) -> frozenset[str]:
        return frozenset(self.scope.incident.evidence_ids)

    @property
    def correlated_deploys(self) -> list[CorrelatedDeploy]:
        return self.scope.incident.correlated_deploys

    @property
    def correlated_run(self) -> CorrelatedRun | None:
        return self.scope.incident.correlated_run

    def is_producer(self, urn: str | None) -> bool:
        return urn is not None and urn in self.producers

    # -- what the scope holds ------------------------------------------------------------------------------

    @functools.cached_property
    def runs(self) -> list[Run]:
        """The producer's runs in scope, by (start, run_id)."""
        found: dict[str, Run] = {}
        for producer in sorted(self.producers):
            for run in runs_of(list(self.records), producer):
                found.setdefault(run.run_id, run)
        return sorted(found.values(), key=lambda r: (r.start, r.run_id))

    def run_of(self, record: EvidenceRecord) -> Run | None:
        return next((r for r in self.runs if record.run_id and r.run_id == record.run_id), None)

    def in_cycle(self, run: Run) -> bool:
        return self.cycle_start is None or run.in_cycle(self.cycle_start)

    @functools.cached_property
    def commits(self) -> list[EvidenceRecord]:
        """Commits to the incident's dataset, in commit order."""
        return sorted((r for r in self.records
                       if r.type == EventType.COMMITTED and committed_dataset(r) == self.dataset), key=commit_order)

    def commits_of(self, dataset: str) -> list[EvidenceRecord]:
        return sorted((r for r in self.records if r.type == EventType.COMMITTED and committed_dataset(r) == dataset),
                      key=commit_order)

    @functools.cached_property
    def last_good_commit(self) -> EvidenceRecord | None:
        if self.last_good is None:
            return None
        matching = [c for c in self.commits if to_second(commit_time(c)) == to_second(self.last_good)]
        return matching[-1] if matching else None

    @functools.cached_property
    def deploys(self) -> list[EvidenceRecord]:
        """The producer's deploys that shipped something (and those of every producer whose records broke), oldest
        first."""
        return [r for r in self.records if r.type == EventType.DEPLOYMENT
                and (self.is_producer(r.producer_urn) or r.producer_urn in self.breaking)
                and r.data.get("status", "succeeded") in CHANGE_STATUSES]

    def previous_deploy(self, deploy: EvidenceRecord) -> EvidenceRecord | None:
        """The same producer's deploy before `deploy` (never another producer's)."""
        earlier = [d for d in self.deploys if d.producer_urn == deploy.producer_urn
                   and (d.event_time, d.evidence_id) < (deploy.event_time, deploy.evidence_id)]
        return earlier[-1] if earlier else None

    def producer_emitted(self, kind: str) -> bool:
        return any(r.type == kind and self.is_producer(r.producer_urn) for r in self.records)

    def baseline_runs(self, before: datetime | None = None) -> list[Run]:
        """Completed runs of the producer in the lookback before today's cycle (or before `before`)."""
        until = self.cycle_start or before
        return [
            run for run in self.runs
            if run.state == "completed" and run.duration_s is not None
            and (until is None or run.start < until)
            and (self.lookback_start is None or run.start >= self.lookback_start)
        ]

    def baseline_duration(self, before: datetime | None = None) -> float | None:
        durations = [r.duration_s for r in self.baseline_runs(before) if r.duration_s is not None]
        if durations:
            return float(statistics.median(durations))
        value = self.facts.get("baseline_duration_s")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @functools.cached_property
    def breaks(self) -> list[ContractBreak]:
        """The dataset's contract breaks, recomputed from the gate counters in scope (not from the incident)."""
        if not self.scope.counters:
            return []
        return [b for b in contract_breaks(self.scope.counters, self.now) if b.dataset_urn == self.dataset]

    def break_of(self, reason: str, field: str | None) -> ContractBreak | None:
        return next((b for b in self.breaks if b.reason_code == reason and (b.field or None) == field), None)

    def gate_observations(self) -> list[EvidenceRecord]:
        return [r for r in self.records if r.type == GATE_OBSERVATION and r.dataset_urn == self.dataset]

    def is_first_bad(self, record: EvidenceRecord) -> bool:
        """A gate observation of the dataset failing with the incident's (reason, field) at first bad, to the second."""
        return self.is_bad(record) and self.first_bad is not None \
            and to_second(record.event_time) == to_second(self.first_bad)

    def is_bad(self, record: EvidenceRecord, field: str | None = None) -> bool:
        wanted = field if field is not None else self.field
        return (record.type == GATE_OBSERVATION and record.dataset_urn == self.dataset
                and (self.reason, wanted) in violations(record))

    def is_last_good_observation(self, record: EvidenceRecord) -> bool:
        return (record.type == GATE_OBSERVATION and record.dataset_urn == self.dataset and not violations(record)
                and self.last_good is not None and to_second(record.event_time) == to_second(self.last_good))


RUN_RECORD_TYPES = (EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.RUN_FAILED)


def view_of(scope: Scope) -> IncidentView:
    incident = scope.incident
    now = utc(scope.now)
    first_bad = incident.first_bad_time
    producers = {p for p in (scope.producer_urn, incident.producer_urn) if p}
    facts = incident.facts
    # The detector's windows: the incident's day, not the RCA clock's (an incident still open tomorrow is about
    # yesterday's run), and its deploy window, whatever the configuration says since.
    windows = windows_of(incident)
    return IncidentView(
        scope=scope,
        kind=incident.kind,
        reason=str(incident.reason_code),
        dataset=incident.dataset_urn,
        field=incident.field or None,
        producer=scope.producer_urn or incident.producer_urn,
        producers=frozenset(producers),
        first_bad=first_bad,
        last_good=incident.last_good_time,
        now=now,
        records=tuple(visible(scope.records.values(), now)),
        cycle_start=windows.cycle_start if incident.kind == "freshness" else None,
        lookback_start=windows.lookback_start if incident.kind == "freshness" else None,
        deploy_window=windows.deploy_window,
        breaking=_breaking(facts) if incident.kind == "contract" else {},
    )


def _breaking(facts: dict[str, Any]) -> dict[str, tuple[datetime, str]]:
    found: dict[str, tuple[datetime, str]] = {}
    for item in facts.get("breaking_producers") or []:
        if not isinstance(item, dict):
            continue
        urn, at, evidence_id = item.get("producer_urn"), maybe_time(item.get("first_bad_time")), \
            item.get("first_bad_evidence_id")
        if isinstance(urn, str) and urn and at is not None and isinstance(evidence_id, str) and evidence_id:
            found[urn] = (at, evidence_id)
    return found
