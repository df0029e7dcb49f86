"""Readiness: how well a dataset (or a producer) is instrumented for evidence-grounded RCA, and what to do next.

Pure: records, configuration in; for each criterion its value, threshold, whether it is met and why, and a
backlog line naming the producers or settings that would raise it. The score is the weighted mean of the
measured criteria's values (0-100), so a half-done criterion counts half. A criterion with nothing to measure
(0 of 0 records, no producer known) is n/a: value and met are None and it stays out of the score, since "nothing
seen" is not a 0% failure; its backlog still says how to make it measurable. With nothing measured the score is None.

- trace_anchors: share of the subject's data records (commits, runs, gate observations) carrying a W3C
  traceparent. Gate observations are the gate's bounded sample of Kafka records, not every record.
- identity_confidence: mean resolution confidence of those records. A gate observation is resolved again
  with today's rules (an exact rule is its `confidence`, halved when the autopilot-producer header names
  another producer; a record no rule claims any more is 0); an event that names its dataset itself is 1.0.
- deploy_correlation: share of the subject's producers that emit DeploymentEvents.
- policy_completeness: owner team, tier, an SLO (freshness policy or contract) and a runbook link.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evidence import GATE_OBSERVATION, Contract, EventType, EvidenceRecord, FreshnessPolicy, Mapping, Resolved, resolve

WEIGHTS = {"trace_anchors": 0.25, "identity_confidence": 0.25, "deploy_correlation": 0.25,
           "policy_completeness": 0.25}
THRESHOLDS = {"trace_anchors": 0.9, "identity_confidence": 0.9, "deploy_correlation": 1.0,
              "policy_completeness": 1.0}
DATA_TYPES = frozenset({EventType.COMMITTED, EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.RUN_FAILED,
                        GATE_OBSERVATION})


@dataclass(frozen=True)
class Criterion:
    name: str
    value: float | None  # 0..1; None: nothing to measure (n/a)
    threshold: float
    met: bool | None  # None when not measured
    weight: float
    detail: str
    backlog: str | None = None  # what would raise it; None when met

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": None if self.value is None else round(self.value, 3),
                "threshold": self.threshold, "met": self.met,
                "weight": self.weight, "detail": self.detail, "backlog": self.backlog}


@dataclass(frozen=True)
class Readiness:
    subject: str  # a dataset or producer URN
    kind: str  # dataset | producer
    score: int | None  # 0..100; None when no criterion could be measured
    criteria: list[Criterion] = field(default_factory=list)

    @property
    def backlog(self) -> list[str]:
        return [c.backlog for c in self.criteria if c.backlog]

    def as_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "kind": self.kind, "score": self.score,
                "criteria": [c.as_json() for c in self.criteria], "backlog": self.backlog}


class CriterionReport(BaseModel):
    """A criterion as GET /v1/readiness shows it (`Criterion.as_json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal["trace_anchors", "identity_confidence", "deploy_correlation", "policy_completeness"]
    value: float | None = Field(description="0..1, to 3 decimals; null when there is nothing to measure (n/a)")
    threshold: float
    met: bool | None = Field(description="null when not measured")
    weight: float = Field(description="its weight in the score")
    detail: str = Field(description="what was measured, in a sentence")
    backlog: str | None = Field(description="what would raise it; null when met")


class ReadinessReport(BaseModel):
    """A subject's readiness as GET /v1/readiness shows it (`Readiness.as_json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(description="a dataset or producer URN")
    kind: Literal["dataset", "producer"]
    score: int | None = Field(description="0..100, the weighted mean of the measured criteria; null when none "
                              "could be measured")
    criteria: list[CriterionReport]
    backlog: list[str] = Field(description="the criteria's backlog lines, in order")


class ReadinessPage(BaseModel):
    """GET /v1/readiness: datasets, then producers, each by URN."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[ReadinessReport]
    next_cursor: str | None = Field(description="pass it as `cursor` for the next page; null on the last")


@dataclass(frozen=True)
class ReadinessConfig:
    policies: Sequence[FreshnessPolicy] = ()
    contracts: Sequence[Contract] = ()
    mappings: Sequence[Mapping] = ()

    @functools.cached_property
    def grouped(self) -> _Grouped:
        """The configuration grouped by dataset, producer and topic, once however many indexes read it."""
        return _Grouped(self)


class _Grouped:
    def __init__(self, config: ReadinessConfig) -> None:
        self.rules: dict[str, list[Mapping]] = defaultdict(list)
        self.dataset_producers: dict[str, set[str]] = defaultdict(set)
        self.producer_datasets: dict[str, set[str]] = defaultdict(set)
        self.specs: dict[str, list[FreshnessPolicy | Contract]] = defaultdict(list)
        for rule in config.mappings:
            self.rules[rule.topic].append(rule)
            self.producer_datasets[rule.producer_urn or ""].add(rule.dataset_urn)
            if rule.producer_urn:
                self.dataset_producers[rule.dataset_urn].add(rule.producer_urn)
        for policy in config.policies:
            self.specs[policy.dataset_urn].append(policy)
            if policy.producer_urn:
                self.dataset_producers[policy.dataset_urn].add(policy.producer_urn)
                self.producer_datasets[policy.producer_urn].add(policy.dataset_urn)
        for contract in config.contracts:
            self.specs[contract.dataset_urn].append(contract)
        self._completeness: dict[str, tuple[bool, bool, bool, bool]] = {}
        self._criteria: dict[tuple[str, ...], Criterion] = {}

    def completeness(self, datasets: list[str]) -> Criterion:
        """The policy-completeness criterion of these datasets; the same for a dataset and a producer writing only
        it, so computed once for both."""
        key = tuple(datasets)
        found = self._criteria.get(key)
        if found is None:
            found = self._criteria[key] = _completeness(datasets, self.parts)
        return found

    def parts(self, dataset_urn: str) -> tuple[bool, bool, bool, bool]:
        found = self._completeness.get(dataset_urn)
        if found is None:
            found = self._completeness[dataset_urn] = completeness_parts(self.specs.get(dataset_urn, []))
        return found


class ReadinessIndex:
    """Records and configuration grouped once, so that readiness of every subject is linear in the records and
    the datasets (each subject reads only its own group), not a scan of everything per subject (issue 13)."""

    def __init__(self, records: Iterable[EvidenceRecord], config: ReadinessConfig) -> None:
        self.config = config
        self.by_dataset: dict[str, list[EvidenceRecord]] = defaultdict(list)
        self.by_producer: dict[str, list[EvidenceRecord]] = defaultdict(list)
        self.datasets: set[str] = set()  # every dataset a record names
        self.writers: set[str] = set()  # producers of records that name a dataset
        self.deploying: set[str | None] = set()
        for record in records:
            if record.dataset_urn:
                self.datasets.add(record.dataset_urn)
                if record.producer_urn:
                    self.writers.add(record.producer_urn)
            if record.type == EventType.DEPLOYMENT:
                self.deploying.add(record.producer_urn)
            if record.type in DATA_TYPES:
                if record.dataset_urn:
                    self.by_dataset[record.dataset_urn].append(record)
                if record.producer_urn:
                    self.by_producer[record.producer_urn].append(record)
        grouped = config.grouped
        self.rules, self.specs = grouped.rules, grouped.specs
        self.dataset_producers, self.producer_datasets = grouped.dataset_producers, grouped.producer_datasets
        self._completeness = grouped.completeness

    def subjects(self) -> tuple[list[str], list[str]]:
        """Every dataset and producer seen or configured, each sorted: what GET /v1/readiness lists."""
        datasets = self.datasets | {s.dataset_urn for specs in self.specs.values() for s in specs}
        datasets |= {m.dataset_urn for m in self.config.mappings}
        producers = self.writers | {m.producer_urn for m in self.config.mappings if m.producer_urn}
        return sorted(datasets), sorted(producers)

    def dataset(self, dataset_urn: str) -> Readiness:
        mine = self.by_dataset.get(dataset_urn, [])
        producers = {r.producer_urn for r in mine if r.producer_urn} | self.dataset_producers.get(dataset_urn, set())
        criteria = [_trace_anchors(mine), _identity(mine, self.rules), _deploys(sorted(producers), self.deploying),
                    self._completeness([dataset_urn])]
        return Readiness(dataset_urn, "dataset", _score(criteria), criteria)

    def producer(self, producer_urn: str) -> Readiness:
        mine = self.by_producer.get(producer_urn, [])
        datasets = {r.dataset_urn for r in mine if r.dataset_urn} | self.producer_datasets.get(producer_urn, set())
        criteria = [_trace_anchors(mine), _identity(mine, self.rules), _deploys([producer_urn], self.deploying),
                    self._completeness(sorted(datasets))]
        return Readiness(producer_urn, "producer", _score(criteria), criteria)


def dataset_readiness(dataset_urn: str, records: Iterable[EvidenceRecord], config: ReadinessConfig) -> Readiness:
    """Readiness of one dataset; `records` may hold anything, only its own records and its producers' count."""
    return ReadinessIndex(records, config).dataset(dataset_urn)


def producer_readiness(producer_urn: str, records: Iterable[EvidenceRecord], config: ReadinessConfig) -> Readiness:
    """Readiness of one producer over the datasets it writes."""
    return ReadinessIndex(records, config).producer(producer_urn)


def _score(criteria: list[Criterion]) -> int | None:
    measured = [(c.weight, c.value) for c in criteria if c.value is not None]
    total = sum(weight for weight, _ in measured)
    return round(100 * sum(weight * value for weight, value in measured) / total) if total else None


def _criterion(name: str, value: float | None, detail: str, backlog: str) -> Criterion:
    if value is None:
        return Criterion(name, None, THRESHOLDS[name], None, WEIGHTS[name], detail, backlog)
    met = value >= THRESHOLDS[name]
    return Criterion(name, value, THRESHOLDS[name], met, WEIGHTS[name], detail, None if met else backlog)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _trace_anchors(records: list[EvidenceRecord]) -> Criterion:
    anchored = sum(1 for r in records if r.traceparent)
    value = anchored / len(records) if records else None
    missing = sorted({r.producer_urn or r.source for r in records if not r.traceparent})
    backlog = (f"add trace anchors (traceparent) for {_plural(len(missing), 'producer')}: {', '.join(missing)}"
               if missing else "send records through the gate or job-run events so trace anchors can be measured")
    detail = (f"{anchored} of {_plural(len(records), 'record')} carry a traceparent" if records
              else "n/a: no commits, runs or gate observations yet")
    return _criterion("trace_anchors", value, detail, backlog)


def _confidence(record: EvidenceRecord, rules: MappingABC[str, Sequence[Mapping]]) -> float:
    if record.type != GATE_OBSERVATION:
        return 1.0  # the producer named the dataset itself, under a token scoped to that producer
    payload = record.payload
    topic = payload.get("topic")
    if not isinstance(topic, str):
        return 0.0
    schema_id = payload.get("schema_id") if payload.get("schema_id") is not None else payload.get("declared_schema_id")
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    outcome = resolve(rules.get(topic, ()), topic, schema_id, headers)  # only a topic's own rules can claim it
    return outcome.confidence if isinstance(outcome, Resolved) and outcome.dataset_urn == record.dataset_urn else 0.0


def _identity(records: list[EvidenceRecord], rules: MappingABC[str, Sequence[Mapping]]) -> Criterion:
    if records and not any(r.type == GATE_OBSERVATION for r in records):  # every one named its dataset: 1.0 each
        return _criterion("identity_confidence", 1.0, f"mean resolution confidence 1.00 over "
                          f"{_plural(len(records), 'record')}; 0 below {THRESHOLDS['identity_confidence']}", "")
    scores = [(r, _confidence(r, rules)) for r in records]
    value = sum(s for _, s in scores) / len(scores) if scores else None
    weak = sorted({r.producer_urn or r.source for r, s in scores if s < THRESHOLDS["identity_confidence"]})
    low = sum(1 for _, s in scores if s < THRESHOLDS["identity_confidence"])
    backlog = (f"pin resolution rules (autopilot-producer header, schema id) for {_plural(len(weak), 'producer')}: "
               f"{', '.join(weak)}" if weak else "no records to resolve yet")
    detail = (f"mean resolution confidence {value:.2f} over {_plural(len(scores), 'record')}; {low} below "
              f"{THRESHOLDS['identity_confidence']}" if value is not None else "n/a: no records to resolve yet")
    return _criterion("identity_confidence", value, detail, backlog)


def _deploys(producers: list[str], deploying: set[str | None]) -> Criterion:
    emitting = [p for p in producers if p in deploying]
    value = len(emitting) / len(producers) if producers else None
    silent = [p for p in producers if p not in deploying]
    backlog = (f"emit DeploymentEvents from {_plural(len(silent), 'producer')}: {', '.join(silent)}" if silent
               else "name the dataset's producer (a resolution rule or policy producer_urn)")
    detail = (f"{len(emitting)} of {_plural(len(producers), 'producer')} emit DeploymentEvents" if producers
              else "n/a: no producer known yet")
    return _criterion("deploy_correlation", value, detail, backlog)


_PARTS = ("owner team", "tier", "SLO (freshness policy or contract)", "runbook link")
_ACTIONS = {"owner team": "set an owner team", "tier": "set a tier",
            "SLO (freshness policy or contract)": "define an SLO (accept a policy draft)",
            "runbook link": "attach a runbook (runbook_url)"}


def completeness_parts(specs: Sequence[FreshnessPolicy | Contract]) -> tuple[bool, bool, bool, bool]:
    """Which of owner team, tier, SLO and runbook link a dataset's policy and contract set between them."""
    return (any(s.owner_team for s in specs), any(s.tier is not None for s in specs), bool(specs),
            any(s.runbook_url for s in specs))


def _completeness(datasets: list[str], parts_of: Callable[[str], tuple[bool, bool, bool, bool]]) -> Criterion:
    missing: dict[str, list[str]] = {}
    present = 0
    for urn in datasets:
        parts = parts_of(urn)
        present += sum(parts)
        for part, ok in zip(_PARTS, parts, strict=True):
            if not ok:
                missing.setdefault(part, []).append(urn)
    value = present / (4 * len(datasets)) if datasets else None
    lines = [f"{_ACTIONS[part]} for {', '.join(urns)}" for part, urns in missing.items()]
    detail = (f"{present} of {4 * len(datasets)} set (owner team, tier, SLO, runbook link)" if datasets
              else "n/a: no datasets")
    return _criterion("policy_completeness", value, detail, "; ".join(lines) or "no datasets to configure")
