"""Kafka records into the store: validate, dedupe by offset, resolve to a dataset, gate, hold what drifts.

Everything a batch produces (observations, counters, offsets, held records, change requests) is written
in one transaction, so a retried batch is either all new or all duplicate.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select

from detectors._configs import compile_stored
from detectors._gate import GateRecord, run_gate
from detectors._wire import FrameDecoder, Undecodable, decode_value, undecodable
from evidence import (
    CONTRACT,
    GATE_OBSERVATION,
    INT32_MAX,
    INT64_MAX,
    KAFKA_TOPIC,
    MAPPING,
    MAX_EPOCH_MS,
    MAX_TIME,
    MIN_EPOCH_MS,
    MIN_TIME,
    PRODUCER_HEADER,
    TRACEPARENT,
    Configs,
    Contract,
    EvidenceRecord,
    InvalidEvent,
    Mapping,
    MissingOffset,
    ReasonCode,
    Resolved,
    Store,
    Unresolved,
    add_offsets,
    change_requests,
    covered,
    evidence_id_for,
    gate_offsets,
    held_records,
    identifier_error,
    iso,
    json_problem,
    parse_time,
    resolver,
    time_error,
    urn_error,
    utc,
)

# How many records one change request holds for re-resolution; beyond that only the count grows.
MAX_HELD_PER_REQUEST = 10_000


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


def change_request_id(topic: str, schema_id: str, reason_code: str) -> str:
    return "cr_" + hashlib.sha256(f"{topic}\x00{schema_id}\x00{reason_code}".encode()).hexdigest()[:20]


def intake_records(store: Store, raw_records: Sequence[Any], ingest_time: datetime | None, *,
                   trust_ingest_time: bool = False, frames: FrameDecoder | None = None) -> IntakeReport:
    """Take a batch of Kafka records through offsets, resolution and the gate, and store what it yields.

    `ingest_time` None (replays only) means each record arrived at its own timestamp. `frames` decodes
    Confluent frames with a schema registry (Avro, Protobuf, JSON Schema); without it only JSON payloads decode.
    """
    report = IntakeReport()
    parsed: list[tuple[int, KafkaRecord]] = []
    for position, raw in enumerate(raw_records):
        try:
            parsed.append((position, parse_record(raw, position, trust_ingest_time=trust_ingest_time)))
            report.results.append(RecordResult(parsed[-1][1].ref, "accepted"))
        except InvalidEvent as exc:
            ref = exc.event_id
            report.results.append(RecordResult(ref, "rejected", field=exc.field, error=str(exc)))
    return _intake(store, parsed, report, ingest_time, frames=frames)


def intake_kafka(store: Store, records: Sequence[KafkaRecord], ingest_time: datetime,
                 before_commit: Callable[[IntakeReport], None] | None = None) -> IntakeReport:
    """Records read off Kafka through the same path, in one transaction.

    `before_commit` sees the finished report inside the transaction: whatever it must do before the batch
    counts as stored (copy rejected records to a dead-letter topic) it does there, and if it raises, nothing
    of the batch is stored, so the records are read again.
    """
    report = IntakeReport([RecordResult(r.ref, "accepted") for r in records])
    urns: set[str] = set()  # producer hints already known to be URNs: a batch carries a few, on every record
    for record in records:
        headers = record.headers
        hint = headers.get(PRODUCER_HEADER)
        if (hint is not None and hint not in urns) or "traceparent" in headers:
            record.headers = _kafka_headers(headers)
            if hint is not None and PRODUCER_HEADER in record.headers:
                urns.add(hint)
    return _intake(store, list(enumerate(records)), report, ingest_time, before_commit)


def _intake(store: Store, parsed: list[tuple[int, KafkaRecord]], report: IntakeReport, ingest_time: datetime | None,
            before_commit: Callable[[IntakeReport], None] | None = None,
            frames: FrameDecoder | None = None) -> IntakeReport:
    configs = Configs(store)
    rules = configs.specs(MAPPING)
    resolve = resolver(rules)
    framed_topics = _framed_topics(rules)
    stored = configs.all(CONTRACT)
    validators = compile_stored(stored, [])  # one contract that does not compile is skipped, not fatal
    report.contracts = {s.spec.dataset_urn: s.spec for s in stored if s.spec.dataset_urn in validators}
    with store.writing() as conn:
        fresh = _new_records(conn, store, parsed, report)
        to_gate: list[GateRecord] = []
        for position, record in fresh:
            value = record.value  # a decoded JSON object (the usual case) declares no schema id of its own
            if (type(value) is not dict or "base64" in value) and (_is_bytes(value) or type(value) is Undecodable):
                _decode(record, frames)
            declared = record.schema_id
            outcome = resolve(record.topic, declared, record.headers)
            result = report.results[position]
            if isinstance(outcome, Unresolved) and declared is None and record.topic in framed_topics:
                # Not a frame (magic 0x01, three bytes, plain JSON) on a topic mapped by schema id: the record is
                # broken, not a new schema; proposing a topic-wide rule for it would be wrong.
                claimed = _not_a_frame(record, framed_topics[record.topic], result)
                if claimed is None:
                    continue
                outcome = claimed
            if isinstance(outcome, Resolved):
                result.dataset_urn = outcome.dataset_urn
                to_gate.append(GateRecord(record.topic, record.partition, record.offset, record.timestamp, record.key,
                                          declared, record.headers, record.value, outcome.dataset_urn,
                                          outcome.producer_urn, record.ingest_time or ingest_time or record.timestamp))
            else:
                result.status, result.reason_code = "held", outcome.reason_code
                result.change_request_id = _hold(conn, store, outcome, record, ingest_time or record.timestamp)
        output = run_gate(to_gate, validators, ingest_time or _latest(r.timestamp for _, r in fresh))
        store.add_records(output.observations, conn)
        store.merge_counters(output.counters, conn)
        if output.failures:  # most batches have none: then no result changes
            blocked = set(output.rejected)
            for result in report.results:
                if result.ref in blocked:
                    result.blocked = True
                violations = output.failures.get(result.ref) if result.ref else None
                if violations:
                    result.reason_code, result.field = violations[0].reason_code, violations[0].field or None
        for position, record in fresh:  # undecodable and unchecked (no contract): still said, never silent
            result = report.results[position]
            if type(record.value) is Undecodable and result.status == "accepted" and result.reason_code is None:
                result.reason_code, result.error = ReasonCode.UNDECODABLE_MESSAGE, record.value.error
        _mark_offsets(conn, store, [r for position, r in fresh if report.results[position].status == "accepted"])
        if before_commit is not None:
            before_commit(report)
    return report


def _decode(record: KafkaRecord, frames: FrameDecoder | None) -> None:
    """Bytes (or {"base64": ...}) decoded once, before resolution: a frame's schema id is what resolves it, and
    the gate then checks the decoded value. What does not decode becomes an Undecodable value saying why."""
    value = record.value
    if type(value) is Undecodable:
        return
    decoded = decode_value(value, record.schema_id, frames)
    record.schema_id = decoded.schema_id
    if decoded.error is None:
        record.value = decoded.value
        return
    raw: Any = value.get("base64") if isinstance(value, dict) else value
    try:
        data = base64.b64decode(raw, validate=True) if isinstance(raw, str) else bytes(raw)
    except (ValueError, TypeError):
        data = str(raw).encode()
    detail = decoded.error if decoded.note is None else f"{decoded.error}; {decoded.note}"
    record.value = undecodable(data, detail)


def _framed_topics(rules: Sequence[Mapping]) -> dict[str, list[Mapping]]:
    """Topics every rule of which names a schema id: their records are Confluent frames."""
    by_topic: dict[str, list[Mapping]] = {}
    for rule in rules:
        by_topic.setdefault(rule.topic, []).append(rule)
    return {topic: found for topic, found in by_topic.items() if all(r.schema_id is not None for r in found)}


def _not_a_frame(record: KafkaRecord, rules: list[Mapping], result: RecordResult) -> Resolved | None:
    """A record that is not a frame on a framed topic is UNDECODABLE_MESSAGE: of the topic's dataset when its rules
    name one (the gate counts it there, toward an incident), else refused alone."""
    if type(record.value) is not Undecodable:
        record.value = Undecodable(f"value is not a Confluent frame (magic byte 0x00, schema id, payload), but topic "
                                   f"{record.topic} is mapped by schema id", {"value": _jsonable(record.value)})
    datasets = {(r.dataset_urn, r.producer_urn) for r in rules}
    if len(datasets) == 1:
        rule = rules[0]
        return Resolved(rule.dataset_urn, rule.producer_urn or record.headers.get(PRODUCER_HEADER), rule.confidence,
                        rule)
    result.status, result.reason_code = "rejected", ReasonCode.UNDECODABLE_MESSAGE
    result.error = f"{record.value.error}; its rules name several datasets, so it is counted against none"
    return None


def _latest(times: Iterable[datetime]) -> datetime:
    return max(times, default=datetime(1970, 1, 1, tzinfo=UTC))


def _is_bytes(value: Any) -> bool:
    return isinstance(value, bytes | bytearray) or (isinstance(value, dict) and len(value) == 1 and "base64" in value)


def _new_records(conn: Connection, store: Store, parsed: list[tuple[int, KafkaRecord]],
                 report: IntakeReport) -> list[tuple[int, KafkaRecord]]:
    partitions = sorted({(r.topic, r.partition) for _, r in parsed})
    ranges: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for topic, partition in partitions:
        stmt = select(gate_offsets.c.ranges).where(gate_offsets.c.topic == topic, gate_offsets.c.partition == partition)
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        ranges[(topic, partition)] = [tuple(r) for r in orjson.loads(row[0])] if row else []
    seen: set[str] = set()
    fresh = []
    results = report.results
    for position, record in parsed:
        result = results[position]
        ref = result.ref or record.ref  # set for every parsed record; computed once
        if ref in seen or covered(ranges[(record.topic, record.partition)], record.offset):
            result.status = "duplicate"
            continue
        seen.add(ref)
        fresh.append((position, record))
    return fresh


def _mark_offsets(conn: Connection, store: Store, records: list[KafkaRecord]) -> None:
    by_partition: dict[tuple[str, int], list[int]] = {}
    for record in records:
        by_partition.setdefault((record.topic, record.partition), []).append(record.offset)
    for (topic, partition), offsets in sorted(by_partition.items()):
        row = conn.execute(select(gate_offsets.c.ranges).where(gate_offsets.c.topic == topic,
                                                               gate_offsets.c.partition == partition)).first()
        current = [tuple(r) for r in orjson.loads(row[0])] if row else []
        merged = orjson.dumps(add_offsets(current, offsets)).decode()
        stmt = store._insert(gate_offsets).values(topic=topic, partition=partition, ranges=merged)
        conn.execute(stmt.on_conflict_do_update(index_elements=["topic", "partition"], set_={"ranges": merged}))


def _hold(conn: Connection, store: Store, outcome: Unresolved, record: KafkaRecord, now: datetime) -> str:
    """Open (or extend) the change request for this drift and keep the record for re-resolution."""
    cr_id = change_request_id(outcome.topic, outcome.schema_id, outcome.reason_code)
    row = conn.execute(select(change_requests).where(change_requests.c.id == cr_id)).first()
    if row is None:
        conn.execute(change_requests.insert().values(
            id=cr_id, topic=outcome.topic, schema_id=outcome.schema_id, reason_code=outcome.reason_code,
            status="open", proposal=outcome.proposal.model_dump_json(exclude_none=True),
            detail=orjson.dumps({**outcome.detail, "candidates_rules": [c.model_dump(mode="json", exclude_none=True)
                                                                         for c in outcome.candidates]}).decode(),
            first_seen_time=record.timestamp, first_seen_ref=record.ref, last_seen_time=record.timestamp, held=0,
            created_at=now))
        row = conn.execute(select(change_requests).where(change_requests.c.id == cr_id)).one()
    held_before = conn.execute(select(held_records.c.source_ref).where(
        held_records.c.change_request_id == cr_id, held_records.c.source_ref == record.ref)).first()
    if held_before is not None:
        return cr_id
    first = min((row.first_seen_time, row.first_seen_ref), (record.timestamp, record.ref))
    if row.held == 0 or first[1] == record.ref:
        # The earliest held record is kept as evidence of the drift, attributed to no dataset.
        store.add_records([_drift_observation(outcome, record, cr_id, now)], conn)
    conn.execute(change_requests.update().where(change_requests.c.id == cr_id).values(
        held=row.held + 1, first_seen_time=first[0], first_seen_ref=first[1],
        last_seen_time=max(row.last_seen_time, record.timestamp)))
    if row.held < MAX_HELD_PER_REQUEST:
        conn.execute(held_records.insert().values(change_request_id=cr_id, source_ref=record.ref,
                                                  record=orjson.dumps(record.wire_form(), default=str).decode()))
    return cr_id


def _drift_observation(outcome: Unresolved, record: KafkaRecord, cr_id: str, now: datetime) -> EvidenceRecord:
    source = f"kafka://{record.topic}"
    return EvidenceRecord(
        evidence_id=evidence_id_for(source, record.ref), source=source, source_ref=record.ref,
        type=GATE_OBSERVATION, event_time=record.timestamp, ingest_time=record.ingest_time or utc(now),
        dataset_urn=None, producer_urn=record.headers.get(PRODUCER_HEADER), schema_id=outcome.schema_id or None,
        sequence=record.offset, reason_code=outcome.reason_code, field=None,
        traceparent=record.headers.get("traceparent"),
        payload={"topic": record.topic, "partition": record.partition, "offset": record.offset,
                 "timestamp": iso(record.timestamp), "key": record.key, "schema_id": record.schema_id,
                 "headers": record.headers, "value": _jsonable(record.wire_form()["value"]), "change_request_id": cr_id,
                 "violations": [{"reason_code": outcome.reason_code, "field": "", "detail":
                                 f"no approved rule resolves topic {record.topic} schema {outcome.schema_id or '-'}"}]},
    )


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))
