"""Kafka records into the store: validate, dedupe by offset, resolve to a dataset, gate, hold what drifts.

Everything a batch produces (observations, counters, offsets, held records, change requests) is written
in one transaction, so a retried batch is either all new or all duplicate.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from detectors._configs import compile_stored
from detectors._gate import GateRecord, run_gate
from detectors._kafka_records import IntakeReport, KafkaRecord, RecordResult, _kafka_headers, parse_record
from detectors._wire import FrameDecoder, Undecodable, decode_value, undecodable
from evidence import (
    CONTRACT,
    GATE_OBSERVATION,
    MAPPING,
    PRODUCER_HEADER,
    Configs,
    EvidenceRecord,
    InvalidEvent,
    Mapping,
    ReasonCode,
    Resolved,
    Store,
    Transaction,
    Unresolved,
    change_request_row,
    covered,
    evidence_id_for,
    extend_change_request,
    hold_record,
    is_held,
    iso,
    mark_offsets,
    offset_ranges,
    resolver,
    utc,
)

# How many records one change request holds for re-resolution; beyond that only the count grows.
MAX_HELD_PER_REQUEST = 10_000


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


def _new_records(conn: Transaction, store: Store, parsed: list[tuple[int, KafkaRecord]],
                 report: IntakeReport) -> list[tuple[int, KafkaRecord]]:
    ranges = offset_ranges(conn, store, sorted({(r.topic, r.partition) for _, r in parsed}))
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


def _mark_offsets(conn: Transaction, store: Store, records: list[KafkaRecord]) -> None:
    by_partition: dict[tuple[str, int], list[int]] = {}
    for record in records:
        by_partition.setdefault((record.topic, record.partition), []).append(record.offset)
    mark_offsets(conn, store, by_partition)


def _hold(conn: Transaction, store: Store, outcome: Unresolved, record: KafkaRecord, now: datetime) -> str:
    """Open (or extend) the change request for this drift and keep the record for re-resolution."""
    cr_id = change_request_id(outcome.topic, outcome.schema_id, outcome.reason_code)
    row = change_request_row(conn, cr_id, {
        "topic": outcome.topic, "schema_id": outcome.schema_id, "reason_code": outcome.reason_code,
        "proposal": outcome.proposal.model_dump_json(exclude_none=True),
        "detail": orjson.dumps({**outcome.detail, "candidates_rules": [c.model_dump(mode="json", exclude_none=True)
                                                                       for c in outcome.candidates]}).decode(),
        "first_seen_time": record.timestamp, "first_seen_ref": record.ref, "last_seen_time": record.timestamp,
        "created_at": now})
    if is_held(conn, cr_id, record.ref):
        return cr_id
    first = min((row.first_seen_time, row.first_seen_ref), (record.timestamp, record.ref))
    if row.held == 0 or first[1] == record.ref:
        # The earliest held record is kept as evidence of the drift, attributed to no dataset.
        store.add_records([_drift_observation(outcome, record, cr_id, now)], conn)
    extend_change_request(conn, cr_id, row.held + 1, first, max(row.last_seen_time, record.timestamp))
    if row.held < MAX_HELD_PER_REQUEST:
        hold_record(conn, cr_id, record.ref, record.wire_form())
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
