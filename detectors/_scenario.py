"""Scenario files (docs/SCENARIOS.md): load one, replay it into a fresh store, detect at its `now`."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from detectors._detect import DetectionResult, DetectSettings, run_detectors
from detectors._intake import intake_records
from evidence import (
    CONTRACT,
    LINEAGE,
    MAPPING,
    POLICY,
    ConfigKind,
    Configs,
    Contract,
    FreshnessPolicy,
    LineageEdge,
    Mapping,
    RcaError,
    Store,
    ingest_events,
    parse_utc,
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
    scenario: Scenario
    store: Store
    detection: DetectionResult
    rejected: list[str]


def load_into(store: Store, scenario: Scenario) -> list[str]:
    """Configuration, events and messages of a scenario into a store; returns what was rejected (readable)."""
    configs = Configs(store)
    kinds: list[tuple[ConfigKind[Any], list[Any]]] = [(POLICY, scenario.policies), (CONTRACT, scenario.contracts),
                                                      (MAPPING, scenario.mappings), (LINEAGE, scenario.lineage)]
    for kind, items in kinds:
        for spec in items:
            # Overlapping rules load as written: resolution reports them as MAPPING_AMBIGUOUS drift.
            configs.put(kind, spec, scenario.now, allow_overlap=True)
    rejected: list[str] = []
    if scenario.events:
        report = ingest_events(store, scenario.events, None, trust_ingesttime=True)
        rejected += [r.error or "" for r in report.results if r.status == "rejected"]
    if scenario.messages:
        intake = intake_records(store, scenario.messages, None, trust_ingest_time=True)
        rejected += [r.error or "" for r in intake.results if r.status == "rejected"]
    return rejected


def replay(scenario: Scenario, settings: DetectSettings = DetectSettings(), store: Store | None = None) -> Replay:
    """A fresh store (a temporary SQLite file unless one is given), the scenario in it, one detector pass at now."""
    if store is None:
        directory = tempfile.mkdtemp(prefix="rca-replay-")
        store = Store.open(f"sqlite:///{directory}/replay.db")
    store.ensure_schema()
    rejected = load_into(store, scenario)
    return Replay(scenario, store, run_detectors(store, scenario.now, settings), rejected)
