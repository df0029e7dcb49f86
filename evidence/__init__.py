"""Evidence: envelope v1, the evidence store, ingestion and dataset resolution.

    from evidence import parse_event, record_from_event, Store
    event = parse_event({"specversion": "1.0", "id": "d-1", "source": "svc://checkout", ...})
    store = Store.open("sqlite:///rca.db")
    result = store.ingest([event_dict], ingest_time=now)
    print(result.accepted, result.duplicates, result.rejected)
"""

from evidence._controls import Control, get_control, put_control
from evidence._envelope import EVENT_TYPES, SDK_HEALTH, TRACEPARENT, envelope_json_schema, parse_event
from evidence._errors import ConfigError, InvalidEvent, RcaError, UnknownEvidence
from evidence._ingest import ingest_events
from evidence._policy import Contract, FreshnessPolicy, LineageEdge, Mapping, Watermark
from evidence._record import GATE_OBSERVATION, EvidenceRecord, GateCounter, evidence_id_for, iso, record_from_event, utc
from evidence._schema import incidents, rollout_campaigns, rollout_issues, rollout_pull_requests
from evidence._sdk_health import SdkHealthSummary, sdk_health, summarize_sdk_health
from evidence._store import Store

__all__ = [
    "EVENT_TYPES",
    "GATE_OBSERVATION",
    "SDK_HEALTH",
    "TRACEPARENT",
    "ConfigError",
    "Contract",
    "Control",
    "EvidenceRecord",
    "FreshnessPolicy",
    "GateCounter",
    "InvalidEvent",
    "LineageEdge",
    "Mapping",
    "RcaError",
    "SdkHealthSummary",
    "Store",
    "UnknownEvidence",
    "Watermark",
    "envelope_json_schema",
    "evidence_id_for",
    "get_control",
    "incidents",
    "ingest_events",
    "iso",
    "parse_event",
    "put_control",
    "record_from_event",
    "rollout_campaigns",
    "rollout_issues",
    "rollout_pull_requests",
    "sdk_health",
    "summarize_sdk_health",
    "utc",
]
