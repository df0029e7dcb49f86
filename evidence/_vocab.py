"""The shared vocabulary: event types, reason codes (DESIGN.md, "Reason codes") and the one RFC 3339 parser.

Both enums are StrEnums: a member is the very string it names, so what goes on the wire, into stored rows and into
JSON is unchanged, and a record's plain `type` string compares equal to its member.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from enum import StrEnum


class EventType(StrEnum):
    """The envelope v1 types, and the record type the contract gate writes per Kafka record it looked at."""

    DEPLOYMENT = "DeploymentEvent"
    RUN_STARTED = "JobRunStarted"
    RUN_COMPLETED = "JobRunCompleted"
    RUN_FAILED = "JobRunFailed"
    COMMITTED = "DatasetWriteCommitted"
    HEARTBEAT = "JobRunHeartbeat"  # a run saying it is still running (OpenLineage RUNNING)
    QUALITY_FAILED = "DataQualityFailed"  # failed data quality checks on a dataset
    EXTERNAL = "ExternalEvent"  # an OpenLineage or CDEvents event kept as sent, mapped to no other type
    SDK_HEALTH = "SdkHealth"  # an SDK's own periodic health (CONTRACT.md section 15), read by the fleet rollout
    GATE_OBSERVATION = "GateObservation"


# What a producer may send (envelope v1); gate observations are written by the service only.
EVENT_TYPES = (EventType.DEPLOYMENT, EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.RUN_FAILED,
               EventType.COMMITTED, EventType.HEARTBEAT, EventType.QUALITY_FAILED, EventType.EXTERNAL,
               EventType.SDK_HEALTH)


class ReasonCode(StrEnum):
    """What failed, as an incident names it."""

    # contract gate
    REQUIRED_FIELD_MISSING = "REQUIRED_FIELD_MISSING"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    ENUM_VIOLATION = "ENUM_VIOLATION"
    NULL_NOT_ALLOWED = "NULL_NOT_ALLOWED"
    UNDECODABLE_MESSAGE = "UNDECODABLE_MESSAGE"
    # freshness
    JOB_NOT_TRIGGERED = "JOB_NOT_TRIGGERED"
    JOB_FAILED = "JOB_FAILED"
    JOB_RUNNING_SLOW = "JOB_RUNNING_SLOW"
    WRONG_PARTITION = "WRONG_PARTITION"
    PARTIAL_WRITE = "PARTIAL_WRITE"
    UPSTREAM_DATA_LATE = "UPSTREAM_DATA_LATE"
    INSUFFICIENT_EVIDENCE = "INSUFFICIENT_EVIDENCE"
    # resolution (drift)
    UNMAPPED_SCHEMA = "UNMAPPED_SCHEMA"
    MAPPING_AMBIGUOUS = "MAPPING_AMBIGUOUS"


# A record that broke the contract in a field, by the gate's precedence (the order one record's violations are
# reported in when it broke several).
FIELD_REASONS = (ReasonCode.REQUIRED_FIELD_MISSING, ReasonCode.NULL_NOT_ALLOWED, ReasonCode.TYPE_MISMATCH,
                 ReasonCode.ENUM_VIOLATION)
DRIFT_REASONS = (ReasonCode.UNMAPPED_SCHEMA, ReasonCode.MAPPING_AMBIGUOUS)
# The statuses of a DeploymentEvent that changed what runs (a missing status is "succeeded"): a failed deploy shipped
# nothing; a rollback shipped old code, so it is a change too.
CHANGE_STATUSES = ("succeeded", "rolled_back")


class MissingOffset(ValueError):
    """A wall time without a UTC offset: which zone would it be in?"""


def parse_time(value: str | datetime) -> datetime:
    """An RFC 3339 timestamp (a trailing Z allowed), or an aware datetime, as an aware datetime in its own offset.

    ValueError, naming the value, when it is not a time; MissingOffset (a ValueError) when it carries no offset."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{str(value)[:100]!r} is not an RFC 3339 timestamp (e.g. 2026-03-10T10:21:04Z)") \
                from None
    if moment.tzinfo is None:
        raise MissingOffset(f"{str(value)[:100]!r} has no UTC offset; add one (e.g. Z or -05:00)")
    return moment


def parse_utc(value: str | datetime) -> datetime:
    """`parse_time`, converted to UTC."""
    return parse_time(value).astimezone(UTC)


def maybe_time(value: object) -> datetime | None:
    """`parse_utc` for values that may be absent or unreadable (evidence text is untrusted): None then."""
    if isinstance(value, str):
        return _utc_text(value) if value else None
    if not isinstance(value, datetime):
        return None
    try:
        return parse_utc(value)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1 << 16)
def _utc_text(text: str) -> datetime | None:
    # A detector pass reads the same commit_timestamp / actual_start_time many times over (sorting, the baseline,
    # the classifier): parsed once here. Datetimes are immutable, so sharing them is safe.
    try:
        return parse_utc(text)
    except ValueError:
        return None
