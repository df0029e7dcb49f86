"""Detectors: pure, deterministic functions of (evidence, configuration, clock) and the pass that turns
their findings into incidents.

    from detectors import load_scenario, replay
    result = replay(load_scenario("examples/scenarios/spring_missing_customer_id.yaml"))
    for incident in result.detection.incidents:
        print(incident["reason_code"], incident["first_bad_time"], incident["correlated_deploys"][:1])
"""

from detectors._configs import ActiveConfigs, active_configs, compile_stored, configs_of
from detectors._contract import ContractValidator, Violation, compile_contract
from detectors._detect import (
    DetectionResult,
    DetectSettings,
    drift_summary,
    find_incidents,
    find_stored_incidents,
    run_detectors,
    settle_incidents,
    store_incidents,
)
from detectors._drafts import (
    AcceptedDraft,
    DraftError,
    PolicyDraft,
    PolicyDrafts,
    accept,
    dismiss,
    list_drafts,
    suggest,
)
from detectors._drift import ChangeRequestError, approve, get_change_request, list_change_requests, reject
from detectors._freshness import DatasetFreshness, FreshnessFinding, dataset_freshness, evaluate_freshness
from detectors._gate import ContractBreak, GateRecord, contract_breaks, run_gate
from detectors._gate_intake import GateRules, IntakeKnown, IntakeOutcome, gate_intake, gate_rules
from detectors._incremental import FreshnessMemory
from detectors._intake import intake_kafka, intake_records, parse_records
from detectors._kafka_records import IntakeReport, KafkaRecord, RecordResult
from detectors._leases import leased_pass
from detectors._memory import ScenarioMemory
from detectors._pass_summary import DetectionSummary, DriftNote, summarize
from detectors._readiness import Readiness, ReadinessConfig, ReadinessIndex, ReadinessPage
from detectors._runs import (
    Run,
    commit_order,
    commit_time,
    committed_dataset,
    failure_class,
    partitions,
    rows,
    runs_of,
    visible,
)
from detectors._scenario import Replay, Scenario, ScenarioError, load_in_memory, load_into, load_scenario, replay
from detectors._series import MinuteRate, WatermarkDay, bad_rate_per_minute, watermark_by_day
from detectors._watermark import policy_day
from detectors._windows import contract_windows, freshness_windows
from detectors._wire import FrameDecoder, RegistryUnavailable, WireFormatError, decode_kafka_bytes

# The incident store lives in evidence; detectors' face keeps offering its reads, as before.
from evidence import UnknownIncident, mark_false_positive, stored_incident, stored_incident_page, stored_incidents

__all__ = [
    "AcceptedDraft",
    "ActiveConfigs",
    "ChangeRequestError",
    "ContractBreak",
    "ContractValidator",
    "DatasetFreshness",
    "DetectSettings",
    "DetectionResult",
    "DetectionSummary",
    "DraftError",
    "DriftNote",
    "FrameDecoder",
    "FreshnessFinding",
    "FreshnessMemory",
    "GateRecord",
    "GateRules",
    "IntakeKnown",
    "IntakeOutcome",
    "IntakeReport",
    "KafkaRecord",
    "MinuteRate",
    "PolicyDraft",
    "PolicyDrafts",
    "Readiness",
    "ReadinessConfig",
    "ReadinessIndex",
    "ReadinessPage",
    "RecordResult",
    "RegistryUnavailable",
    "Replay",
    "Run",
    "Scenario",
    "ScenarioError",
    "ScenarioMemory",
    "UnknownIncident",
    "Violation",
    "WatermarkDay",
    "WireFormatError",
    "accept",
    "active_configs",
    "approve",
    "bad_rate_per_minute",
    "commit_order",
    "commit_time",
    "committed_dataset",
    "compile_contract",
    "compile_stored",
    "configs_of",
    "contract_breaks",
    "contract_windows",
    "dataset_freshness",
    "decode_kafka_bytes",
    "dismiss",
    "drift_summary",
    "evaluate_freshness",
    "failure_class",
    "find_incidents",
    "find_stored_incidents",
    "freshness_windows",
    "gate_intake",
    "gate_rules",
    "get_change_request",
    "intake_kafka",
    "intake_records",
    "leased_pass",
    "list_change_requests",
    "list_drafts",
    "load_in_memory",
    "load_into",
    "load_scenario",
    "mark_false_positive",
    "parse_records",
    "partitions",
    "policy_day",
    "reject",
    "replay",
    "rows",
    "run_detectors",
    "run_gate",
    "runs_of",
    "settle_incidents",
    "store_incidents",
    "stored_incident",
    "stored_incident_page",
    "stored_incidents",
    "suggest",
    "summarize",
    "visible",
    "watermark_by_day",
]
