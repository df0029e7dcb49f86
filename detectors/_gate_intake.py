"""The gate's intake as a pure function: (parsed Kafka records, the active rules and contracts, what is already known,
the ingest time) -> an `IntakeOutcome` (records to add, counters to merge, change requests, held records, offsets, and
each record's result). It writes nothing: the store applies an outcome in its batch's one transaction
(detectors/_intake.py); a replay accumulates it in memory (detectors/_memory.py). Same outcome, whichever keeps it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from detectors._configs import _compiled
from detectors._contract import ContractValidator
from detectors._gate import GateRecord, run_gate
from detectors._kafka_records import IntakeReport, KafkaRecord, RecordResult
from detectors._wire import FrameDecoder, Undecodable, decode_value, undecodable
from evidence import (
    GATE_OBSERVATION,
    PRODUCER_HEADER,
    ChangeRequestRow,
    Contract,
    EvidenceRecord,
    GateCounter,
    Mapping,
    ReasonCode,
    Resolved,
    Unresolved,
    covered,
    evidence_id_for,
    iso,
    resolver,
    utc,
)

# How many records one change request holds for re-resolution; beyond that only the count grows.
MAX_HELD_PER_REQUEST = 10_000

Partition = tuple[str, int]


def change_request_id(topic: str, schema_id: str, reason_code: str) -> str:
    return "cr_" + hashlib.sha256(f"{topic}\x00{schema_id}\x00{reason_code}".encode()).hexdigest()[:20]


class IntakeKnown(Protocol):
    """What intake reads of what came before: the offsets seen, the change requests and the records they hold."""

    def offset_ranges(self, partitions: list[Partition]) -> dict[Partition, list[Any]]: ...

    def change_request(self, cr_id: str) -> ChangeRequestRow | None: ...

    def is_held(self, cr_id: str, source_ref: str) -> bool: ...


@dataclass(frozen=True)
class GateRules:
    """The active configuration intake applies: resolution rules and compiled contracts."""

    rules: list[Mapping]
    validators: dict[str, ContractValidator]
    contracts: dict[str, Contract]  # the contracts that compiled, by dataset (the report names them)


def gate_rules(rules: list[Mapping], contracts: Sequence[tuple[int, Contract]]) -> GateRules:
    """Rules and (config id, contract) pairs as intake applies them: a contract that does not compile is skipped."""
    validators = _compiled(list(contracts), [])  # one contract that does not compile is skipped, not fatal
    return GateRules(rules, validators, {spec.dataset_urn: spec for _, spec in contracts
                                         if spec.dataset_urn in validators})


@dataclass
class IntakeOutcome:
    """What a batch yields. `records` in the order they were made (drift observations, then the gate's)."""

    report: IntakeReport
    records: list[EvidenceRecord] = field(default_factory=list)
    counters: list[GateCounter] = field(default_factory=list)
    change_requests: dict[str, tuple[ChangeRequestRow, bool]] = field(default_factory=dict)  # final row, and new?
    held: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (change request, ref, wire form)
    offsets: dict[Partition, list[int]] = field(default_factory=dict)  # accepted offsets by partition


def gate_intake(parsed: list[tuple[int, KafkaRecord]], report: IntakeReport, rules: GateRules, known: IntakeKnown,
                ingest_time: datetime | None, frames: FrameDecoder | None = None) -> IntakeOutcome:
    """Offsets, resolution and the gate over a parsed batch (`report` has one result per raw record, completed here).

    `ingest_time` None (replays only) means each record arrived at its own timestamp."""
    out = IntakeOutcome(report)
    report.contracts = rules.contracts
    resolve = resolver(rules.rules)
    framed_topics = _framed_topics(rules.rules)
    fresh = _new_records(known, parsed, report)
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
            result.change_request_id = _hold(out, known, outcome, record, ingest_time or record.timestamp)
    output = run_gate(to_gate, rules.validators, ingest_time or _latest(r.timestamp for _, r in fresh))
    out.records += output.observations
    out.counters = output.counters
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
        if result.status == "accepted":
            out.offsets.setdefault((record.topic, record.partition), []).append(record.offset)
    return out


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
                                   f"{record.topic} is mapped by schema id", {"value": jsonable(record.value)})
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


def _new_records(known: IntakeKnown, parsed: list[tuple[int, KafkaRecord]],
                 report: IntakeReport) -> list[tuple[int, KafkaRecord]]:
    ranges = known.offset_ranges(sorted({(r.topic, r.partition) for _, r in parsed}))
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


def _hold(out: IntakeOutcome, known: IntakeKnown, outcome: Unresolved, record: KafkaRecord, now: datetime) -> str:
    """Open (or extend) the change request for this drift and keep the record for re-resolution."""
    cr_id = change_request_id(outcome.topic, outcome.schema_id, outcome.reason_code)
    row, new = out.change_requests.get(cr_id) or (known.change_request(cr_id), False)
    if row is None:
        new, row = True, ChangeRequestRow(
            id=cr_id, topic=outcome.topic, schema_id=outcome.schema_id, reason_code=outcome.reason_code,
            status="open", proposal=outcome.proposal.model_dump_json(exclude_none=True),
            detail=orjson.dumps({**outcome.detail, "candidates_rules": [
                c.model_dump(mode="json", exclude_none=True) for c in outcome.candidates]}).decode(),
            first_seen_time=record.timestamp, first_seen_ref=record.ref, last_seen_time=record.timestamp, held=0,
            created_at=now)
    out.change_requests[cr_id] = (row, new)
    if known.is_held(cr_id, record.ref):  # a batch's refs are each once: only an earlier batch held it
        return cr_id
    first = min((row.first_seen_time, row.first_seen_ref), (record.timestamp, record.ref))
    if row.held == 0 or first[1] == record.ref:
        # The earliest held record is kept as evidence of the drift, attributed to no dataset.
        out.records.append(_drift_observation(outcome, record, cr_id, now))
    out.change_requests[cr_id] = (dataclasses.replace(
        row, held=row.held + 1, first_seen_time=first[0], first_seen_ref=first[1],
        last_seen_time=max(row.last_seen_time, record.timestamp)), new)
    if row.held < MAX_HELD_PER_REQUEST:
        out.held.append((cr_id, record.ref, record.wire_form()))
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
                 "headers": record.headers, "value": jsonable(record.wire_form()["value"]), "change_request_id": cr_id,
                 "violations": [{"reason_code": outcome.reason_code, "field": "", "detail":
                                 f"no approved rule resolves topic {record.topic} schema {outcome.schema_id or '-'}"}]},
    )


def jsonable(value: Any) -> Any:
    """`value` as JSON gives it back (what a store keeps of it): anything JSON cannot hold becomes its text."""
    return orjson.loads(orjson.dumps(value, default=str))
