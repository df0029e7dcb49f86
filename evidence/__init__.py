"""Evidence: envelope v1, the evidence store, ingestion, dataset resolution and the shared vocabulary.

>>> from datetime import UTC, datetime
>>> from evidence import EventType, Store, ingest_events
>>> store = Store.open("sqlite://")  # or sqlite:///var/rca.db, postgresql://...
>>> store.ensure_schema()            # creates or migrates the tables
>>> event = {"specversion": "1.0", "id": "d-1", "source": "svc://checkout", "type": "DeploymentEvent",
...          "time": "2026-03-10T10:20:00Z", "data": {"service": "checkout", "version": "v2.8.1"}}
>>> report = ingest_events(store, [event, event], ingest_time=datetime(2026, 3, 10, 10, 21, tzinfo=UTC))
>>> report.accepted, report.duplicates, report.rejected
(1, 1, 0)
>>> [r.type == EventType.DEPLOYMENT for r in store.records()]
[True]
"""

from typing import TYPE_CHECKING, Any

from evidence._bounds import (
    INT32_MAX,
    INT64_MAX,
    KAFKA_TOPIC,
    MAX_DEPTH,
    MAX_EPOCH_MS,
    MAX_NAME,
    MAX_TIME,
    MAX_URN,
    MIN_EPOCH_MS,
    MIN_TIME,
    Identifier,
    Urn,
    identifier_error,
    json_problem,
    time_error,
    urn_error,
)
from evidence._cdevents import is_cdevent
from evidence._chat_log import ChatTurn, add_turns, open_session, session_turns
from evidence._configs import (
    CONTRACT,
    LINEAGE,
    MAPPING,
    POLICY,
    ConfigConflict,
    ConfigFinding,
    ConfigKind,
    Configs,
    ConfigSnapshot,
    Stored,
    UnknownConfig,
)
from evidence._controls import (
    Control,
    effective_control,
    environment_flags,
    get_control,
    put_control,
    put_environment_flag,
)
from evidence._domain import (
    BadRate,
    Cause,
    Claim,
    CorrelatedDeploy,
    CorrelatedRun,
    EvidenceRef,
    Incident,
    IncidentPage,
    MarkedIncident,
    Rca,
    Time,
    Windows,
    to_json,
)
from evidence._domain import RejectedClaim as RejectedRcaClaim
from evidence._envelope import SDK_HEALTH, TRACEPARENT, envelope_json_schema, parse_event
from evidence._errors import ConfigError, InvalidEvent, RcaError, UnknownEvidence
from evidence._gate_rows import (
    Transaction,
    change_request_row,
    extend_change_request,
    hold_record,
    is_held,
    mark_offsets,
    offset_ranges,
)
from evidence._incidents import (
    IncidentWrites,
    OpenIncident,
    UnknownIncident,
    decode_incident_cursor,
    incident_writes,
    incidents_detected_between,
    load_incident,
    load_incidents,
    mark_false_positive,
    stored_incident,
    stored_incident_page,
    stored_incidents,
)
from evidence._ingest import IngestReport, as_envelope, ingest_events
from evidence._leases import ShardClaim, claim_shards
from evidence._migrate import current_revision, head_revision
from evidence._offsets import add_offsets, covered
from evidence._openlineage import MappedRunEvent, map_openlineage, map_run_event
from evidence._openlineage_parts import DatasetNaming, JobNaming
from evidence._policy import Contract, FreshnessPolicy, LineageEdge, Mapping, Watermark
from evidence._reader import EvidenceReader, MemoryReader
from evidence._record import (
    GATE_OBSERVATION,
    EvidenceRecord,
    GateCounter,
    evidence_id_for,
    iso,
    no_collection,
    record_from_event,
    ref_order,
    utc,
)
from evidence._resolution import PRODUCER_HEADER, Resolved, Unresolved, resolve, resolver
from evidence._rollout_rows import (
    CampaignRow,
    IssueRow,
    PullRequestRow,
    campaign_names,
    campaign_rows,
    issue_rows,
    next_pull_request_number,
    open_issue_row,
    pull_request_rows,
    save_campaign_row,
    save_pull_request_row,
    update_issue_row,
)
from evidence._rows import DraftRow, decide_row, get_row, held_by, keep_drafts, list_rows, release_held
from evidence._schema import (
    change_requests,
    detector_shards,
    gate_offsets,
    held_records,
    policy_drafts,
    rollout_campaigns,
    rollout_issues,
    rollout_pull_requests,
)
from evidence._sdk_health import SdkHealthPage, SdkHealthSummary, sdk_health, summarize_sdk_health
from evidence._store import EvidenceQuery, Store
from evidence._tokens import Token, TokenError, authenticate, create_token, list_tokens, revoke_token
from evidence._vocab import (
    CHANGE_STATUSES,
    DRIFT_REASONS,
    EVENT_TYPES,
    FIELD_REASONS,
    EventType,
    MissingOffset,
    ReasonCode,
    maybe_time,
    parse_time,
    parse_utc,
)

if TYPE_CHECKING:
    from evidence._vector import VectorIndex

__all__ = [
    "CHANGE_STATUSES",
    "CONTRACT",
    "DRIFT_REASONS",
    "EVENT_TYPES",
    "FIELD_REASONS",
    "GATE_OBSERVATION",
    "INT32_MAX",
    "INT64_MAX",
    "KAFKA_TOPIC",
    "LINEAGE",
    "MAPPING",
    "MAX_DEPTH",
    "MAX_EPOCH_MS",
    "MAX_NAME",
    "MAX_TIME",
    "MAX_URN",
    "MIN_EPOCH_MS",
    "MIN_TIME",
    "POLICY",
    "PRODUCER_HEADER",
    "SDK_HEALTH",
    "TRACEPARENT",
    "BadRate",
    "CampaignRow",
    "Cause",
    "ChatTurn",
    "Claim",
    "ConfigConflict",
    "ConfigError",
    "ConfigFinding",
    "ConfigKind",
    "ConfigSnapshot",
    "Configs",
    "Contract",
    "Control",
    "CorrelatedDeploy",
    "CorrelatedRun",
    "DatasetNaming",
    "DraftRow",
    "EventType",
    "EvidenceQuery",
    "EvidenceReader",
    "EvidenceRecord",
    "EvidenceRef",
    "FreshnessPolicy",
    "GateCounter",
    "Identifier",
    "Incident",
    "IncidentPage",
    "IncidentWrites",
    "IngestReport",
    "InvalidEvent",
    "IssueRow",
    "JobNaming",
    "LineageEdge",
    "MappedRunEvent",
    "Mapping",
    "MarkedIncident",
    "MemoryReader",
    "MissingOffset",
    "OpenIncident",
    "PullRequestRow",
    "Rca",
    "RcaError",
    "ReasonCode",
    "RejectedRcaClaim",
    "Resolved",
    "SdkHealthPage",
    "SdkHealthSummary",
    "ShardClaim",
    "Store",
    "Stored",
    "Time",
    "Token",
    "TokenError",
    "Transaction",
    "UnknownConfig",
    "UnknownEvidence",
    "UnknownIncident",
    "Unresolved",
    "Urn",
    "VectorIndex",
    "Watermark",
    "Windows",
    "add_offsets",
    "add_turns",
    "as_envelope",
    "authenticate",
    "campaign_names",
    "campaign_rows",
    "change_request_row",
    "change_requests",
    "claim_shards",
    "covered",
    "create_token",
    "current_revision",
    "decide_row",
    "decode_incident_cursor",
    "detector_shards",
    "effective_control",
    "envelope_json_schema",
    "environment_flags",
    "evidence_id_for",
    "extend_change_request",
    "gate_offsets",
    "get_control",
    "get_row",
    "head_revision",
    "held_by",
    "held_records",
    "hold_record",
    "identifier_error",
    "incident_writes",
    "incidents_detected_between",
    "ingest_events",
    "is_cdevent",
    "is_held",
    "iso",
    "issue_rows",
    "json_problem",
    "keep_drafts",
    "list_rows",
    "list_tokens",
    "load_incident",
    "load_incidents",
    "map_openlineage",
    "map_run_event",
    "mark_false_positive",
    "mark_offsets",
    "maybe_time",
    "next_pull_request_number",
    "no_collection",
    "offset_ranges",
    "open_issue_row",
    "open_session",
    "parse_event",
    "parse_time",
    "parse_utc",
    "policy_drafts",
    "pull_request_rows",
    "put_control",
    "put_environment_flag",
    "record_from_event",
    "ref_order",
    "release_held",
    "resolve",
    "resolver",
    "revoke_token",
    "rollout_campaigns",
    "rollout_issues",
    "rollout_pull_requests",
    "save_campaign_row",
    "save_pull_request_row",
    "sdk_health",
    "session_turns",
    "stored_incident",
    "stored_incident_page",
    "stored_incidents",
    "summarize_sdk_health",
    "time_error",
    "to_json",
    "update_issue_row",
    "urn_error",
    "utc",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: the vector index brings in chromadb, which only the API's semantic search needs.
    if name == "VectorIndex":
        from evidence._vector import VectorIndex

        return VectorIndex
    raise AttributeError(f"module 'evidence' has no attribute {name!r}")
