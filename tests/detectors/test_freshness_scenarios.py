"""The reference Spark freshness scenarios (examples/scenarios) through the freshness detector."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import yaml

from detectors._freshness import evaluate_freshness
from evidence._envelope import parse_event
from evidence._policy import FreshnessPolicy
from evidence._record import EvidenceRecord, record_from_event
from support import REFERENCE


def load(name: str) -> tuple[dict[str, Any], FreshnessPolicy, list[EvidenceRecord]]:
    scenario = yaml.safe_load((REFERENCE / name).read_text())
    records = []
    for raw in scenario["events"]:
        event = parse_event(raw)
        ingest = datetime.fromisoformat(raw["ingesttime"]) if "ingesttime" in raw else event.time
        records.append(record_from_event(event, ingest))
    return scenario, FreshnessPolicy(**scenario["policies"][0]), records


def as_refs(data: Any, refs: dict[str, str]) -> Any:
    """Evidence ids replaced by the CloudEvents ids they stand for, so expectations read like the scenario."""
    if isinstance(data, dict):
        return {key: as_refs(value, refs) for key, value in data.items()}
    if isinstance(data, list):
        return [as_refs(value, refs) for value in data]
    return refs.get(data, data) if isinstance(data, str) else data


COMMON_FACTS = {
    "deadline": "2026-01-19T07:10:00Z",
    "scheduled_time": "2026-01-19T06:00:00Z",
    "late_by_s": 300,
    "lookback_days": 7,
    "emitted_types_in_lookback": ["DatasetWriteCommitted", "JobRunCompleted", "JobRunStarted"],
    "producer_urn": "job://orders_enriched_batch",
}


def test_job_not_triggered_reference() -> None:
    scenario, policy, records = load("spark_job_not_triggered.yaml")
    got = evaluate_freshness(policy, records, datetime.fromisoformat(scenario["now"]))
    assert got is not None
    assert as_refs(got.as_dict(), {r.evidence_id: r.source_ref for r in records}) == {
        "dataset_urn": "ds://curated/orders_enriched",
        "reason_code": "JOB_NOT_TRIGGERED",
        "first_bad_time": "2026-01-19T07:10:00Z",  # 02:10 ET
        "last_good_time": "2026-01-18T06:47:00Z",  # 01:47 ET the day before
        "current_watermark": "dt=2026-01-18",
        "expected_watermark": "dt=2026-01-19",
        "correlated_run": {"run_id": None, "evidence_id": None, "state": "not_started",
                           "scheduled_time": "2026-01-19T06:00:00Z"},
        "correlated_deploys": [],
        "failure_class": None,
        "facts": {**COMMON_FACTS, "runs_started_since_schedule": 0,
                  "previous_run_started_at": "2026-01-18T06:11:00Z"},
        "evidence_ids": ["run-start-0118", "commit-0118"],
    }


def test_job_running_slow_reference() -> None:
    scenario, policy, records = load("spark_job_running_slow.yaml")
    got = evaluate_freshness(policy, records, datetime.fromisoformat(scenario["now"]))
    assert got is not None
    assert as_refs(got.as_dict(), {r.evidence_id: r.source_ref for r in records}) == {
        "dataset_urn": "ds://curated/orders_enriched",
        "reason_code": "JOB_RUNNING_SLOW",
        "first_bad_time": "2026-01-19T07:10:00Z",
        "last_good_time": "2026-01-18T06:47:00Z",
        "current_watermark": "dt=2026-01-18",
        "expected_watermark": "dt=2026-01-19",
        "correlated_run": {
            "run_id": "2026-01-19T06:00Z_abc", "evidence_id": "run-start-today", "state": "running",
            "started_at": "2026-01-19T06:00:00Z", "scheduled_time": "2026-01-19T06:00:00Z",
            "code_ref": "orders_enriched@4f2a9c1", "ended_at": None, "terminal_evidence_id": None,
        },
        "correlated_deploys": [],  # deploy-job-0105 predates the last good run
        "failure_class": None,
        "facts": {
            **COMMON_FACTS,
            "running_for_s": 4500,  # 75 minutes at 02:15 ET
            "baseline_duration_s": 2100,  # 35 minutes: the median of the seven runs before
            "baseline_runs": 7,
            "duration_ratio": 2.14,
            "slow_factor": 1.5,
            "exceeds_slow_factor": True,
            "start_delay_s": 0,
            "baseline_evidence_ids": [f"run-done-01{day}" for day in range(12, 19)],
        },
        # The baseline runs the facts name are listed with the evidence (issue 13), in time order.
        "evidence_ids": [*(f"run-done-01{day}" for day in range(12, 18)), "commit-0118", "run-done-0118",
                         "run-start-today"],
    }


@pytest.mark.parametrize("name", ["spark_job_not_triggered.yaml", "spark_job_running_slow.yaml"])
def test_references_are_not_late_before_the_deadline(name: str) -> None:
    _, policy, records = load(name)
    assert evaluate_freshness(policy, records, datetime.fromisoformat("2026-01-19T02:09:59-05:00")) is None
