"""Issue 13, item 11 (detector side): every evidence id an incident names is listed in its evidence_ids and
evidence (a secondary break's first bad record included), and an overlap of approved rules loads as drift."""

from __future__ import annotations

import dataclasses
import re

import orjson
import pytest

from detectors import load_scenario, replay
from evidence import Mapping
from support import REFERENCE

SCENARIOS = sorted(REFERENCE.glob("*.yaml"))
_EVIDENCE_ID = re.compile(r"ev_[0-9a-f]{24}")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_id_an_incident_names_is_in_its_evidence(path) -> None:
    for incident in replay(load_scenario(path)).incidents:
        named = set(_EVIDENCE_ID.findall(orjson.dumps(incident).decode()))
        assert named <= set(incident["evidence_ids"]), sorted(named - set(incident["evidence_ids"]))
        assert [e["evidence_id"] for e in incident["evidence"]] == incident["evidence_ids"]


def test_two_overlapping_approved_rules_load_and_show_mapping_ambiguous_drift() -> None:
    scenario = load_scenario(REFERENCE / "spring_missing_customer_id.yaml")
    [rule] = scenario.mappings
    overlap = Mapping(topic=rule.topic, schema_id=rule.schema_id, dataset_urn="ds://orders_legacy",
                      producer_urn="svc://legacy-orders")
    result = replay(dataclasses.replace(scenario, mappings=[rule, overlap]))
    assert [(d["topic"], d["reason_code"]) for d in result.detection.drift] == [(rule.topic, "MAPPING_AMBIGUOUS")]
    [incident] = result.incidents
    assert (incident["kind"], incident["reason_code"]) == ("drift", "MAPPING_AMBIGUOUS")
