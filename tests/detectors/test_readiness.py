"""Readiness: each criterion on its own, and the brief's payments_settlements example from real evidence."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from detectors._readiness import ReadinessConfig, dataset_readiness, producer_readiness
from detectors._scenario import load_into, load_scenario
from evidence import Contract, EvidenceRecord, FreshnessPolicy, Mapping
from evidence._configs import CONTRACT, MAPPING, POLICY, Configs
from evidence._store import Store
from support import ROOT

PAYMENTS = load_scenario(ROOT / "evals" / "scenarios" / "payments_healthy_topic.yaml")
T = datetime(2026, 8, 25, 10, 0, tzinfo=UTC)


def seed_without_anchors_and_runbook():
    """The brief's dataset: deploys and confident resolution present, no trace anchors, no runbook link."""
    scenario = copy.deepcopy(PAYMENTS)
    for message in scenario.messages:
        message["headers"].pop("traceparent", None)
    scenario.contracts = [c.model_copy(update={"runbook_url": None}) for c in scenario.contracts]
    return scenario


def test_the_seed_reads_as_the_brief_says(store: Store) -> None:
    scenario = seed_without_anchors_and_runbook()
    assert load_into(store, scenario) == []
    configs = Configs(store)
    config = ReadinessConfig(configs.specs(POLICY), configs.specs(CONTRACT), configs.specs(MAPPING))
    readiness = dataset_readiness("ds://payments_settlements", store.records(), config)
    met = {c.name: c.met for c in readiness.criteria}
    assert met == {"trace_anchors": False, "identity_confidence": True, "deploy_correlation": True,
                   "policy_completeness": False}
    by_name = {c.name: c for c in readiness.criteria}
    assert by_name["trace_anchors"].value == 0.0 and by_name["identity_confidence"].value == 1.0
    assert by_name["policy_completeness"].value == 0.75
    assert readiness.score == 69  # (0 + 1 + 1 + 0.75) / 4
    assert readiness.backlog == [
        "add trace anchors (traceparent) for 1 producer: svc://payments-service",
        "attach a runbook (runbook_url) for ds://payments_settlements",
    ]
    producer = producer_readiness("svc://payments-service", store.records(), config)
    assert producer.as_json()["backlog"] == readiness.backlog


def test_the_untouched_scenario_is_fully_ready(store: Store) -> None:
    load_into(store, PAYMENTS)
    configs = Configs(store)
    config = ReadinessConfig(configs.specs(POLICY), configs.specs(CONTRACT), configs.specs(MAPPING))
    readiness = dataset_readiness("ds://payments_settlements", store.records(), config)
    assert (readiness.score, readiness.backlog) == (100, [])


def record(i: int, *, traceparent: str | None = None, headers: dict[str, str] | None = None,
           type_: str = "GateObservation", producer: str = "svc://a") -> EvidenceRecord:
    payload = {"topic": "t", "schema_id": "1", "headers": headers or {}, "value": {}, "violations": []}
    if type_ == "DeploymentEvent":
        payload = {"service": "a", "version": "v1"}
    return EvidenceRecord(f"e{i}", producer if type_ != "GateObservation" else "kafka://t", f"ref{i}", type_, T, T,
                          "ds://d" if type_ != "DeploymentEvent" else None, producer, "1", i, None, None, None, None,
                          traceparent, payload)


RULE = Mapping(topic="t", schema_id=1, dataset_urn="ds://d", producer_urn="svc://a")


def test_trace_anchor_coverage_is_the_share_of_records_with_a_traceparent() -> None:
    records = [record(i, traceparent="00-abc-def-01" if i < 3 else None) for i in range(4)]
    [trace, *_] = dataset_readiness("ds://d", records, ReadinessConfig(mappings=[RULE])).criteria
    assert (trace.value, trace.met, trace.detail) == (0.75, False, "3 of 4 records carry a traceparent")


def test_identity_confidence_halves_when_the_header_names_another_producer_and_is_zero_without_a_rule() -> None:
    records = [record(0, headers={"autopilot-producer": "svc://a"}), record(1, headers={"autopilot-producer": "svc://b"})]
    identity = dataset_readiness("ds://d", records, ReadinessConfig(mappings=[RULE])).criteria[1]
    assert (identity.value, identity.met) == (0.75, False)
    assert identity.backlog == "pin resolution rules (autopilot-producer header, schema id) for 1 producer: svc://a"
    assert dataset_readiness("ds://d", records, ReadinessConfig()).criteria[1].value == 0.0


def test_deploy_correlation_counts_producers_that_emit_deployment_events() -> None:
    records = [record(0, type_="DatasetWriteCommitted", producer="svc://a"),
               record(1, type_="DatasetWriteCommitted", producer="svc://b"),
               record(2, type_="DeploymentEvent", producer="svc://a")]
    deploys = dataset_readiness("ds://d", records, ReadinessConfig()).criteria[2]
    assert (deploys.value, deploys.met) == (0.5, False)
    assert deploys.backlog == "emit DeploymentEvents from 1 producer: svc://b"


def test_policy_completeness_names_each_missing_part() -> None:
    policy = FreshnessPolicy(dataset_urn="ds://d", expected_update_by="02:00", owner_team="Ops")
    complete = dataset_readiness("ds://d", [], ReadinessConfig(policies=[policy])).criteria[3]
    assert (complete.value, complete.detail) == (0.5, "2 of 4 set (owner team, tier, SLO, runbook link)")
    assert complete.backlog == "set a tier for ds://d; attach a runbook (runbook_url) for ds://d"
    contract = Contract(dataset_urn="ds://d", schema={"type": "object"}, tier=1, runbook_url="https://r")
    both = dataset_readiness("ds://d", [], ReadinessConfig(policies=[policy], contracts=[contract])).criteria[3]
    assert (both.value, both.met, both.backlog) == (1.0, True, None)
    nothing = dataset_readiness("ds://d", [], ReadinessConfig()).criteria[3]
    assert nothing.backlog == ("set an owner team for ds://d; set a tier for ds://d; define an SLO (accept a policy "
                               "draft) for ds://d; attach a runbook (runbook_url) for ds://d")
