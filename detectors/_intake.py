"""Kafka records into the store: validate, dedupe by offset, resolve to a dataset, gate, hold what drifts.

The decisions are detectors/_gate_intake.py's pure `gate_intake`; everything a batch yields (observations, counters,
offsets, held records, change requests) is written here in one transaction, so a retried batch is either all new or
all duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from detectors._gate_intake import Partition, gate_intake, gate_rules
from detectors._kafka_records import IntakeReport, KafkaRecord, RecordResult, _kafka_headers, parse_record
from detectors._wire import FrameDecoder
from evidence import (
    CONTRACT,
    MAPPING,
    PRODUCER_HEADER,
    ChangeRequestRow,
    Configs,
    InvalidEvent,
    Store,
    Transaction,
    find_change_request,
    hold_record,
    is_held,
    mark_offsets,
    offset_ranges,
    write_change_request,
)


def intake_records(store: Store, raw_records: Sequence[Any], ingest_time: datetime | None, *,
                   trust_ingest_time: bool = False, frames: FrameDecoder | None = None) -> IntakeReport:
    """Take a batch of Kafka records through offsets, resolution and the gate, and store what it yields.

    `ingest_time` None (replays only) means each record arrived at its own timestamp. `frames` decodes
    Confluent frames with a schema registry (Avro, Protobuf, JSON Schema); without it only JSON payloads decode.
    """
    parsed, report = parse_records(raw_records, trust_ingest_time)
    return _intake(store, parsed, report, ingest_time, frames=frames)


def parse_records(raw_records: Sequence[Any], trust_ingest_time: bool = False
                  ) -> tuple[list[tuple[int, KafkaRecord]], IntakeReport]:
    """Each raw record parsed on its own (by its position), and a report with one result per record: accepted so
    far, or rejected naming the record and the field."""
    report = IntakeReport()
    parsed: list[tuple[int, KafkaRecord]] = []
    for position, raw in enumerate(raw_records):
        try:
            parsed.append((position, parse_record(raw, position, trust_ingest_time=trust_ingest_time)))
            report.results.append(RecordResult(parsed[-1][1].ref, "accepted"))
        except InvalidEvent as exc:
            ref = exc.event_id
            report.results.append(RecordResult(ref, "rejected", field=exc.field, error=str(exc)))
    return parsed, report


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
    rules = gate_rules(configs.specs(MAPPING), [(s.id, s.spec) for s in configs.all(CONTRACT)])
    with store.writing() as conn:
        outcome = gate_intake(parsed, report, rules, _StoreKnown(conn, store), ingest_time, frames)
        for row, new in outcome.change_requests.values():
            write_change_request(conn, row, new)
        store.add_records(outcome.records, conn)
        store.merge_counters(outcome.counters, conn)
        for cr_id, ref, wire in outcome.held:
            hold_record(conn, cr_id, ref, wire)
        mark_offsets(conn, store, outcome.offsets)
        if before_commit is not None:
            before_commit(report)
    return report


class _StoreKnown:
    """What intake knows of earlier batches, read in the batch's transaction (on PostgreSQL the partitions' offset
    rows stay locked until it commits, so two intakes of one partition cannot both take the same record as new)."""

    def __init__(self, conn: Transaction, store: Store) -> None:
        self._conn, self._store = conn, store

    def offset_ranges(self, partitions: list[Partition]) -> dict[Partition, list[Any]]:
        return offset_ranges(self._conn, self._store, partitions)

    def change_request(self, cr_id: str) -> ChangeRequestRow | None:
        return find_change_request(self._conn, cr_id)

    def is_held(self, cr_id: str, source_ref: str) -> bool:
        return is_held(self._conn, cr_id, source_ref)
