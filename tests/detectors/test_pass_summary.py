"""POST /v1/detect's summary of a pass: typed, and the same JSON as the pass's own lists (ids, drift notes, config
findings), keys in the same order."""

from __future__ import annotations

import json

from detectors import DetectionResult, summarize
from evidence import ConfigFinding


def test_the_summary_says_what_the_pass_found_as_it_found_it() -> None:
    drift = [{"topic": "orders.created", "schema_id": 44, "reason_code": "UNMAPPED_SCHEMA",
              "change_request_id": "cr_1", "status": "open", "held": 3},
             {"topic": "orders.updated", "schema_id": "orders-v2", "reason_code": "MAPPING_AMBIGUOUS",
              "change_request_id": "cr_2", "status": "rejected", "held": 0}]
    findings = [ConfigFinding("policy", 7, "ds://orders_v1", "expected_update_by: not HH:MM").as_json()]
    result = DetectionResult(opened=["inc_a"], resolved=["inc_b"], paused=["ds://x freshness"], drift=drift,
                             config_findings=findings)
    summary = summarize(result, 4)
    expected = {"opened": ["inc_a"], "resolved": ["inc_b"], "paused": ["ds://x freshness"], "open": 4,
                "drift": drift, "config_findings": findings}
    assert summary.model_dump_json() == json.dumps(expected, separators=(",", ":"))
    assert [type(d.schema_id) for d in summary.drift] == [int, str]  # a numeric id stays a number, others text
