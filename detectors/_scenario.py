"""Scenario files (docs/SCENARIOS.md): load one, replay it (in memory: no database) and detect at its `now`, or load it
into a store (`rca load`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from detectors._configs import config_snapshot, configs_of
from detectors._detect import (
    DetectionResult,
    DetectSettings,
    drift_summary,
    find_incidents,
    run_detectors,
    settle_incidents,
)
from detectors._intake import intake_records
from detectors._kafka_records import IntakeReport
from detectors._memory import ScenarioMemory
from evidence import (
    CONTRACT,
    LINEAGE,
    MAPPING,
    POLICY,
    ConfigKind,
    Configs,
    ConfigSnapshot,
    Contract,
    EvidenceReader,
    EvidenceSink,
    FreshnessPolicy,
    Incident,
    LineageEdge,
    Mapping,
    MemoryConfigs,
    MemoryIncidents,
    RcaError,
    Store,
    ingest_events,
    load_incidents,
    parse_utc,
    stored_incidents,
)


class ScenarioError(RcaError):
    pass


@dataclass
class Scenario:
    name: str
    description: str
    now: datetime
    policies: list[FreshnessPolicy] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    lineage: list[LineageEdge] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _jsonable(value: Any) -> Any:
    # YAML reads unquoted timestamps as datetimes; the wire format is JSON text.
    return orjson.loads(orjson.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping with name, now, events, ... at the top")
    for key in ("name", "now"):
        if key not in doc:
            raise ScenarioError(f"{path}: '{key}' is required")
    now_value = doc["now"]
    try:
        now = parse_utc(now_value if isinstance(now_value, datetime) else str(now_value))
    except ValueError:
        raise ScenarioError(f"{path}: 'now' must be RFC 3339 with an offset, e.g. 2026-01-19T02:15:00-05:00") from None

    def specs(key: str, model: type[Any]) -> list[Any]:
        out = []
        for i, item in enumerate(doc.get(key) or []):
            try:
                out.append(model.model_validate(item))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ScenarioError(f"{path}: {key}[{i}].{where}: {first['msg']}") from None
        return out

    return Scenario(
        name=str(doc["name"]), description=str(doc.get("description", "")), now=now,
        policies=specs("policies", FreshnessPolicy), contracts=specs("contracts", Contract),
        mappings=specs("mappings", Mapping), lineage=specs("lineage", LineageEdge),
        events=_jsonable(doc.get("events") or []), messages=_jsonable(doc.get("messages") or []),
        expect=doc.get("expect") or {}, path=path,
    )


@dataclass
class Replay:
    """A replayed scenario: what the pass found and what on-call is shown, and what the RCA reads (`reader`, `configs`);
    `store` when it was replayed into one."""

    scenario: Scenario
    detection: DetectionResult
    rejected: list[str]
    incidents: list[dict[str, Any]]  # the open incidents' JSON, as stored_incidents gives it
    typed: list[Incident]  # the same, typed, with the windows their detectors applied (load_incidents)
    reader: EvidenceReader
    configs: ConfigSnapshot
    store: Store | None = None


def _kinds(scenario: Scenario) -> list[tuple[ConfigKind[Any], list[Any]]]:
    return [(POLICY, scenario.policies), (CONTRACT, scenario.contracts), (MAPPING, scenario.mappings),
            (LINEAGE, scenario.lineage)]


def _load(scenario: Scenario, put: Callable[[ConfigKind[Any], Any], object], sink: EvidenceSink,
          intake: Callable[[Sequence[Any]], IntakeReport]) -> list[str]:
    """Configuration (`put`), events (into `sink`) and messages (`intake`) of a scenario; returns what was
    rejected (readable)."""
    for kind, items in _kinds(scenario):
        for spec in items:
            put(kind, spec)
    rejected: list[str] = []
    if scenario.events:
        report = ingest_events(sink, scenario.events, None, trust_ingesttime=True)
        rejected += [r.error or "" for r in report.results if r.status == "rejected"]
    if scenario.messages:
        intake_report = intake(scenario.messages)
        rejected += [r.error or "" for r in intake_report.results if r.status == "rejected"]
    return rejected


def load_into(store: Store, scenario: Scenario) -> list[str]:
    """Configuration, events and messages of a scenario into a store; returns what was rejected (readable)."""
    configs = Configs(store)
    # Overlapping rules load as written: resolution reports them as MAPPING_AMBIGUOUS drift.
    return _load(scenario, lambda kind, spec: configs.put(kind, spec, scenario.now, allow_overlap=True), store,
                 lambda messages: intake_records(store, messages, None, trust_ingest_time=True))


def load_in_memory(scenario: Scenario) -> tuple[ScenarioMemory, ConfigSnapshot, list[str]]:
    """What load_into would store, kept in memory: the evidence, the configuration, and what was rejected."""
    configs, memory = MemoryConfigs(), ScenarioMemory()
    rejected = _load(scenario, configs.put, memory, lambda messages: memory.intake(
        configs.snapshot(*_ALL), messages, None, trust_ingest_time=True))
    return memory, configs.snapshot(*_ALL), rejected


_ALL = (POLICY, CONTRACT, MAPPING, LINEAGE)


def replay(scenario: Scenario, settings: DetectSettings = DetectSettings(), store: Store | None = None) -> Replay:
    """The scenario loaded and one detector pass at its `now`: in memory (no database), or into `store` when given
    (`rca load`'s path, the same answers)."""
    if store is not None:
        store.ensure_schema()
        rejected = load_into(store, scenario)
        detection = run_detectors(store, scenario.now, settings)
        return Replay(scenario, detection, rejected, stored_incidents(store), load_incidents(store), store,
                      config_snapshot(store), store)
    memory, configs, rejected = load_in_memory(scenario)
    active = configs_of(configs)
    reader = memory.reader()
    found = find_incidents(reader, active, scenario.now, settings, memory.change_requests(status="open"))
    ledger = MemoryIncidents()
    detection = settle_incidents(ledger, found, scenario.now, settings, [f.as_json() for f in active.findings])
    detection.drift = drift_summary(memory.change_requests())
    return Replay(scenario, detection, rejected, ledger.stored_incidents(), ledger.load_incidents(), reader, configs)
