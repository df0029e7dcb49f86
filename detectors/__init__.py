"""Detectors: pure, deterministic functions of (evidence, configuration, clock) and the pass that turns
their findings into incidents.

    from detectors import load_scenario, replay
    result = replay(load_scenario("examples/scenarios/spring_missing_customer_id.yaml"))
    for incident in result.detection.incidents:
        print(incident["reason_code"], incident["first_bad_time"], incident["correlated_deploys"][:1])
"""

from detectors._contract import ContractValidator, Violation, compile_contract
from detectors._detect import (
    DetectionResult,
    DetectSettings,
    UnknownIncident,
    find_incidents,
    run_detectors,
    store_incidents,
    stored_incident,
    stored_incident_page,
    stored_incidents,
)
from detectors._drift import ChangeRequestError, approve, get_change_request, list_change_requests, reject
from detectors._freshness import DatasetFreshness, FreshnessFinding, dataset_freshness, evaluate_freshness
from detectors._gate import ContractBreak, GateRecord, contract_breaks, run_gate
from detectors._incremental import FreshnessMemory
from detectors._intake import IntakeReport, KafkaRecord, RecordResult, intake_kafka, intake_records
from detectors._leases import leased_pass
from detectors._scenario import Replay, Scenario, ScenarioError, load_scenario, replay
from detectors._series import MinuteRate, WatermarkDay, bad_rate_per_minute, watermark_by_day
from detectors._wire import decode_kafka_bytes

__all__ = [
    "ChangeRequestError",
    "ContractBreak",
    "ContractValidator",
    "DatasetFreshness",
    "DetectSettings",
    "DetectionResult",
    "FreshnessFinding",
    "FreshnessMemory",
    "GateRecord",
    "IntakeReport",
    "KafkaRecord",
    "MinuteRate",
    "RecordResult",
    "Replay",
    "Scenario",
    "ScenarioError",
    "UnknownIncident",
    "Violation",
    "WatermarkDay",
    "approve",
    "bad_rate_per_minute",
    "compile_contract",
    "contract_breaks",
    "dataset_freshness",
    "decode_kafka_bytes",
    "evaluate_freshness",
    "find_incidents",
    "get_change_request",
    "intake_kafka",
    "intake_records",
    "leased_pass",
    "list_change_requests",
    "load_scenario",
    "reject",
    "replay",
    "run_detectors",
    "run_gate",
    "store_incidents",
    "stored_incident",
    "stored_incident_page",
    "stored_incidents",
    "watermark_by_day",
]
