"""Envelope v1: the CloudEvents 1.0 structured-mode event every producer SDK speaks.

Follows the CloudEvents 1.0 core spec (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md)
for the context attributes and DESIGN.md for the `type`s and their `data` (CONTRACT.md section 15: SdkHealth).
Unknown `data` fields and extension attributes are kept, never rejected: producers move faster than this service.
"""

from __future__ import annotations

import base64
import re
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from evidence._bounds import (
    MAX_ID,
    MAX_NAME,
    MAX_TEXT,
    MAX_URL,
    PRINTABLE_PATTERN,
    Count,
    Identifier,
    Int32,
    LongIdentifier,
    SaneTime,
    Seconds,
    Text,
    Urn,
    explain_bound,
    explain_pattern,
    json_problem,
    plain_json,
)
from evidence._errors import InvalidEvent
from evidence._vocab import EVENT_TYPES, EventType

# The SDK's own periodic health (CONTRACT.md section 15): not evidence about a dataset, read by the fleet rollout.
SDK_HEALTH = EventType.SDK_HEALTH

# CloudEvents 1.0: extension attribute names are lower-case a-z and 0-9 only.
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")
# W3C Trace Context, version 00: https://www.w3.org/TR/trace-context/#traceparent-header
TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")

_CONTEXT_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema", "data", "data_base64"}
)

NonEmpty = Annotated[str, Field(min_length=1)]
# The bounded shapes of evidence/_bounds.py: identifiers never carry prose, times stay in range, integers fit
# their columns, floats are finite.
_Partitions = Annotated[list[LongIdentifier], Field(max_length=10_000)]
_Urns = Annotated[list[Urn], Field(max_length=10_000)]
_Timings = Annotated[dict[Annotated[str, Field(max_length=MAX_NAME * 2)], Seconds], Field(max_length=10_000)]
_CloudEventId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=PRINTABLE_PATTERN)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


class DeploymentData(_Data):
    service: Identifier
    version: Identifier
    env: Identifier | None = None
    commit: Identifier | None = None
    deploy_ref: LongIdentifier | None = None
    # removed: the service was taken down (CDEvents service.removed); kept, never correlated as a shipped change
    status: Literal["succeeded", "failed", "rolled_back", "removed"] = "succeeded"
    source: Literal["ci", "startup"] = "ci"
    domain: Identifier | None = None


class JobRunStartedData(_Data):
    run_id: LongIdentifier
    code_ref: LongIdentifier | None = None
    env: Identifier | None = None
    cluster_id: LongIdentifier | None = None
    spark_app_id: LongIdentifier | None = None
    input_datasets: _Urns = Field(default_factory=list)
    scheduled_time: SaneTime | None = None
    actual_start_time: SaneTime | None = None


class JobRunCompletedData(_Data):
    run_id: LongIdentifier
    duration_s: Seconds | None = None
    retry_count: Count = 0
    exit_code: Int32 | None = None
    executors: Count | None = None
    executor_memory: Identifier | None = None
    stage_timings: _Timings = Field(default_factory=dict)


class JobRunFailedData(_Data):
    run_id: LongIdentifier
    duration_s: Seconds | None = None
    failure_reason: Text | None = None
    retry_count: Count = 0
    exit_code: Int32 | None = None
    executors: Count | None = None
    executor_memory: Identifier | None = None


class DatasetWriteCommittedData(_Data):
    dataset_urn: Urn
    run_id: LongIdentifier | None = None
    commit_version: Count | None = None
    commit_timestamp: SaneTime | None = None
    output_partitions_written: _Partitions = Field(default_factory=list)
    rows_written: Count | None = None
    files_added: Count | None = None


class JobRunHeartbeatData(_Data):
    """A run that says it is still running (OpenLineage RUNNING): what JOB_RUNNING_SLOW reads beside the start."""

    run_id: LongIdentifier


class Assertion(_Data):
    assertion: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    column: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    success: bool


class DataQualityFailedData(_Data):
    """Data quality checks that failed on a dataset (OpenLineage dataQualityAssertions with success false)."""

    dataset_urn: Urn
    run_id: LongIdentifier | None = None
    failed: Count
    checked: Count | None = None
    assertions: Annotated[list[Assertion], Field(max_length=10_000)] = Field(default_factory=list)


class ExternalEventData(_Data):
    """Kept as sent, mapped to no envelope type: an OpenLineage OTHER / DatasetEvent / JobEvent, or a CDEvent
    that is not a deploy or a run (a build, a merged change, an incident, ...). Searchable, cited, never guessed at."""

    standard: Identifier  # openlineage | cdevents
    kind: LongIdentifier  # the event's own type: OTHER, DatasetEvent, dev.cdevents.build.finished.0.3.0, ...
    run_id: LongIdentifier | None = None
    dataset_urn: Urn | None = None
# Drop reasons an SDK counts (CONTRACT.md section 7); a newer SDK's other reasons are kept too.
_DropCounts = Annotated[dict[Identifier, Count], Field(max_length=64)]


class SdkHealthData(_Data):
    """An SDK's periodic self-telemetry: cumulative counters of one process (`instance`) since it started."""

    language: Identifier
    sdk_version: Identifier
    instance: LongIdentifier | None = None
    env: Identifier | None = None
    interval_s: Seconds | None = None
    delivered: Count = 0
    dropped: _DropCounts = Field(default_factory=dict)
    queue_depth: Count = 0
    queue_capacity: Count | None = None
    circuit: Literal["closed", "open", "half_open"] = "closed"


class _Envelope(BaseModel):
    """CloudEvents context attributes shared by every envelope v1 type."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    specversion: Literal["1.0"]
    id: _CloudEventId
    source: Urn
    # Optional in CloudEvents 1.0: without it the ingest time stands in and the record says so (payload "rca:time").
    time: SaneTime | None = None
    subject: Urn | None = None
    datacontenttype: Annotated[str, Field(max_length=MAX_NAME)] | None = "application/json"
    dataschema: Annotated[str, Field(max_length=MAX_URL)] | None = None
    traceparent: str | None = None

    @field_validator("traceparent")
    @classmethod
    def _w3c_traceparent(cls, value: str | None) -> str | None:
        if value is not None and not TRACEPARENT.match(value):
            raise ValueError("must be a W3C traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>")
        return value


class DeploymentEvent(_Envelope):
    type: Literal["DeploymentEvent"]
    data: DeploymentData


class JobRunStarted(_Envelope):
    type: Literal["JobRunStarted"]
    data: JobRunStartedData


class JobRunCompleted(_Envelope):
    type: Literal["JobRunCompleted"]
    data: JobRunCompletedData


class JobRunFailed(_Envelope):
    type: Literal["JobRunFailed"]
    data: JobRunFailedData


class DatasetWriteCommitted(_Envelope):
    type: Literal["DatasetWriteCommitted"]
    data: DatasetWriteCommittedData


class JobRunHeartbeat(_Envelope):
    type: Literal["JobRunHeartbeat"]
    data: JobRunHeartbeatData


class DataQualityFailed(_Envelope):
    type: Literal["DataQualityFailed"]
    data: DataQualityFailedData


class ExternalEvent(_Envelope):
    type: Literal["ExternalEvent"]
    data: ExternalEventData


class SdkHealth(_Envelope):
    type: Literal["SdkHealth"]
    data: SdkHealthData


Envelope = Annotated[
    DeploymentEvent | JobRunStarted | JobRunCompleted | JobRunFailed | DatasetWriteCommitted | JobRunHeartbeat
    | DataQualityFailed | ExternalEvent | SdkHealth,
    Field(discriminator="type"),
]
ENVELOPE = TypeAdapter(Envelope)
# Its pydantic-core validator, called directly at ingestion: TypeAdapter.validate_python's own Python frame (checking
# and passing on its keyword arguments) cost a tenth of validating an event.
_VALIDATE = ENVELOPE.validator.validate_python


def envelope_json_schema() -> dict[str, Any]:
    """The JSON Schema that sdk/spec/envelope.schema.json holds, generated from the models."""
    schema = ENVELOPE.json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://rca.dev/spec/envelope/v1.schema.json",
        "title": "rca envelope v1 (CloudEvents 1.0 structured mode)",
        **schema,
    }


def _field_path(loc: tuple[int | str, ...], event_type: object) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == event_type:  # a discriminated union prefixes the tag
        parts = parts[1:]
    return ".".join(parts)


def _explain(error: Any, field: str) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "union_tag_invalid":
        return f"must be one of {', '.join(EVENT_TYPES)}"
    if kind == "union_tag_not_found":
        return f"is required and must be one of {', '.join(EVENT_TYPES)}"
    if kind == "timezone_aware":
        return "must be an RFC 3339 timestamp with an offset (for example 2026-01-19T02:15:00-05:00)"
    if kind.startswith("datetime"):
        return f"must be an RFC 3339 timestamp: {error['msg']}"
    if field == "specversion":
        return 'must be "1.0" (CloudEvents 1.0)'
    if kind == "string_pattern_mismatch" and (rule := explain_pattern(error.get("ctx", {}).get("pattern"))):
        return rule
    if kind in ("greater_than_equal", "less_than") and (rule := explain_bound(error)):
        return rule
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


_JSON_MEDIA = re.compile(r"^(application|text)/([a-zA-Z0-9.-]+\+)?json$")


def with_data(raw: Any, position: int | None = None) -> Any:
    """The event with `data_base64` (the CloudEvents JSON format's binary data) decoded into `data`.

    Envelope types carry JSON objects, so the bytes must be JSON (datacontenttype absent or a JSON media type).
    Anything that is not a dict, or has no data_base64, is returned as it is.
    """
    if not isinstance(raw, dict) or "data_base64" not in raw:
        return raw
    event_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    source = raw.get("source") if isinstance(raw.get("source"), str) else None

    def fail(message: str) -> InvalidEvent:
        return InvalidEvent(event_id, "data_base64", message, source=source, position=position)

    if "data" in raw:
        raise fail("and 'data' are exclusive (CloudEvents JSON format): send one of them")
    media = raw.get("datacontenttype")
    if media is not None and not (isinstance(media, str) and _JSON_MEDIA.match(media.split(";", 1)[0].strip())):
        raise fail(f"holds {str(media)[:80]!r} data; evidence data must be JSON (datacontenttype application/json)")
    encoded = raw["data_base64"]
    try:
        if not isinstance(encoded, str):
            raise ValueError
        data = orjson.loads(base64.b64decode(encoded, validate=True))
    except (ValueError, orjson.JSONDecodeError):
        raise fail("must be the base64 of a JSON object (RFC 4648 alphabet, padded)") from None
    return {**{k: v for k, v in raw.items() if k != "data_base64"}, "data": data}


def parse_event(raw: Any, position: int | None = None) -> Any:
    """Validate one envelope v1 event; raise InvalidEvent naming the event and the first bad field."""
    return parse_event_json(raw, position)[0]


def parse_event_json(raw: Any, position: int | None = None) -> tuple[Any, dict[str, Any], bytes | None]:
    """parse_event, with the event as read (data_base64 decoded) and, when its bounds check made it, that dict's
    JSON: ingestion stores it as the payload instead of encoding the event a second time."""
    if not isinstance(raw, dict):
        raise InvalidEvent(None, "", f"must be a JSON object, got {type(raw).__name__}", position=position)
    raw = with_data(raw, position)
    # Extension attributes found in C first (most events have none), then named in the order sent.
    for name in () if _CONTEXT_ATTRIBUTES.issuperset(raw) else raw:
        if name not in _CONTEXT_ATTRIBUTES and not _ATTRIBUTE_NAME.match(name):
            raise _refused(raw, name, "is not a valid CloudEvents extension attribute name: use 1-20 characters of "
                           "lower-case a-z and 0-9", position)
    text = plain_json(raw)
    if text is None and (problem := json_problem(raw)) is not None:
        raise _refused(raw, problem[0], problem[1], position)
    try:
        return _VALIDATE(raw), raw, text
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        field = _field_path(first["loc"], raw.get("type")) or "type"
        message = _explain(first, field)
        if len(errors) > 1:
            others = ", ".join(_field_path(e["loc"], raw.get("type")) or "type" for e in errors[1:4])
            message += f" (also invalid: {others})"
        raise _refused(raw, field, message, position) from None


def _refused(raw: dict[str, Any], field: str, message: str, position: int | None) -> InvalidEvent:
    """The error for an event refused at `field`, naming its id and source where they are strings (read only for
    one refused: most events are not)."""
    event_id, source = raw.get("id"), raw.get("source")
    return InvalidEvent(event_id if isinstance(event_id, str) else None, field, message,
                        source=source if isinstance(source, str) else None, position=position)
