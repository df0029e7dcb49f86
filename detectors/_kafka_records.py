"""Kafka records as the gate takes them (from the API, scenario files or a consumer): parsed and validated one by
one, errors naming the record and the field; and the intake's report of what became of each."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from detectors._wire import Undecodable
from evidence import (
    INT32_MAX,
    INT64_MAX,
    KAFKA_TOPIC,
    MAX_EPOCH_MS,
    MAX_TIME,
    MIN_EPOCH_MS,
    MIN_TIME,
    PRODUCER_HEADER,
    TRACEPARENT,
    Contract,
    InvalidEvent,
    MissingOffset,
    identifier_error,
    iso,
    json_problem,
    parse_time,
    time_error,
    urn_error,
    utc,
)


@dataclass
class RecordResult:
    ref: str | None
    status: str  # accepted | duplicate | held | rejected
    dataset_urn: str | None = None
    reason_code: str | None = None
    field: str | None = None
    error: str | None = None
    blocked: bool = False  # the contract's enforcement is "reject" and the record failed it
    change_request_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}


@dataclass
class IntakeReport:
    results: list[RecordResult] = field(default_factory=list)
    # The contracts the batch was gated against, by dataset (a consumer copies rejected records by them).
    contracts: dict[str, Contract] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.count("accepted"),
            "duplicate": self.count("duplicate"),
            "held": self.count("held"),
            "rejected": self.count("rejected"),
            "blocked": sum(1 for r in self.results if r.blocked),
            "results": [r.as_json() for r in self.results],
        }


@dataclass(slots=True)  # not frozen: the consumer builds 100,000 a second, and frozen __init__ costs twice as much
class KafkaRecord:
    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: str | None
    schema_id: str | None
    headers: dict[str, str]
    value: Any
    ingest_time: datetime | None
    raw: dict[str, Any] | None = None  # as the API received it; None when read off Kafka

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def wire_form(self) -> dict[str, Any]:
        """The record as the gate API takes it (held records are kept in this form for re-resolution)."""
        if self.raw is not None:
            return self.raw
        value = self.value
        if isinstance(value, Undecodable):
            value = value.preview
        elif isinstance(value, bytes | bytearray):
            value = {"base64": base64.b64encode(bytes(value)).decode("ascii")}
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                "timestamp": iso(self.timestamp), "key": self.key, "schema_id": self.schema_id,
                "headers": self.headers, "value": value}


def _time(value: Any, ref: str | None, name: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not MIN_EPOCH_MS <= value < MAX_EPOCH_MS:  # also refuses NaN
            raise InvalidEvent(ref, name, f"must be epoch milliseconds between {MIN_EPOCH_MS} and {MAX_EPOCH_MS} "
                               f"({MIN_TIME.year} to {MAX_TIME.year})")
        return datetime.fromtimestamp(value / 1000, tz=UTC)  # Kafka's own form: epoch milliseconds
    else:
        try:
            moment = parse_time(str(value))
        except MissingOffset:
            raise InvalidEvent(ref, name, "must carry a UTC offset (for example 2026-03-10T10:21:04+00:00)") from None
        except ValueError:
            raise InvalidEvent(ref, name, "must be an RFC 3339 timestamp with an offset, or epoch milliseconds") \
                from None
    if moment.tzinfo is None:
        raise InvalidEvent(ref, name, "must carry a UTC offset (for example 2026-03-10T10:21:04+00:00)")
    problem = time_error(moment)
    if problem is not None:
        raise InvalidEvent(ref, name, problem)
    return utc(moment)


def _headers(raw: dict[Any, Any], ref: str) -> dict[str, str]:
    """Headers as text. Those that become columns and sentences are held to their shapes: the producer hint must
    be a URN; a traceparent that is not W3C is dropped (it is only an anchor; the record itself is still good)."""
    headers = {str(k): "" if v is None else str(v) for k, v in raw.items()}
    if PRODUCER_HEADER in headers and (problem := urn_error(headers[PRODUCER_HEADER])) is not None:
        raise InvalidEvent(ref, f"headers.{PRODUCER_HEADER}", problem)
    return _anchors(headers)


def _anchors(headers: dict[str, str]) -> dict[str, str]:
    if "traceparent" in headers and not TRACEPARENT.match(headers["traceparent"]):
        del headers["traceparent"]
    return headers


def _kafka_headers(headers: dict[str, str]) -> dict[str, str]:
    """A record read off Kafka cannot be refused (it is the producer's, already written): a producer hint that is
    not a URN is dropped like a bad traceparent, so the record resolves by its other rules or is held as drift,
    and no prose (or NUL, or a 10,000-character name) becomes a producer URN."""
    if PRODUCER_HEADER in headers and urn_error(headers[PRODUCER_HEADER]) is not None:
        headers = {k: v for k, v in headers.items() if k != PRODUCER_HEADER}
    if "traceparent" in headers and not TRACEPARENT.match(headers["traceparent"]):
        headers = {k: v for k, v in headers.items() if k != "traceparent"}
    return headers


def parse_record(raw: Any, position: int, *, trust_ingest_time: bool = False) -> KafkaRecord:
    """A Kafka record as the gate API and scenario files send it; errors name the record and the field."""
    if not isinstance(raw, dict):
        raise InvalidEvent(None, "", f"must be a JSON object, got {type(raw).__name__}", position=position)
    topic, partition, offset = raw.get("topic"), raw.get("partition", 0), raw.get("offset")
    if not isinstance(topic, str) or not KAFKA_TOPIC.match(topic):
        raise InvalidEvent(None, "topic", "is required: a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)",
                           position=position)
    for name, number, top in (("partition", partition, INT32_MAX), ("offset", offset, INT64_MAX)):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= top:
            raise InvalidEvent(None, name, f"must be an integer from 0 to {top}", position=position)
    assert isinstance(partition, int) and isinstance(offset, int)
    ref = f"{topic}/{partition}/{offset}"
    problem = json_problem(raw, nul=False)
    if problem is not None:
        raise InvalidEvent(ref, problem[0], problem[1], position=position)
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        raise InvalidEvent(ref, "headers", "must be an object of header names to string values")
    if "timestamp" not in raw:
        raise InvalidEvent(ref, "timestamp", "is required (the record's Kafka timestamp)")
    ingest = raw.get("ingest_time") if trust_ingest_time else None
    schema_id = raw.get("schema_id")
    if isinstance(schema_id, bool | dict | list):
        raise InvalidEvent(ref, "schema_id", "must be a schema registry id (an integer or a string)")
    if schema_id is not None and (bad_id := identifier_error(str(schema_id))) is not None:
        raise InvalidEvent(ref, "schema_id", bad_id)
    return KafkaRecord(
        topic, partition, offset, _time(raw["timestamp"], ref, "timestamp"),
        None if raw.get("key") is None else str(raw.get("key")),
        None if schema_id is None else str(schema_id),
        _headers(headers, ref),
        raw.get("value"),
        _time(ingest, ref, "ingest_time") if ingest is not None else None,
        raw,
    )
