"""What loading a scenario yields, kept in memory instead of a database: evidence records, gate counters, Kafka
offsets, drift change requests and the records they hold. It takes events as `ingest_events` gives them to a store
(`EvidenceSink`) and Kafka records as the store applies `gate_intake`'s outcome, and answers what intake asks of
earlier batches (`IntakeKnown`); `reader()` is the detector pass's `EvidenceReader` over it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from detectors._drift import change_request_json
from detectors._gate_intake import IntakeOutcome, Partition, gate_intake, gate_rules, jsonable
from detectors._intake import parse_records
from detectors._kafka_records import IntakeReport
from evidence import (
    CONTRACT,
    MAPPING,
    ChangeRequestRow,
    ConfigSnapshot,
    EvidenceRecord,
    GateCounter,
    MemoryReader,
    add_offsets,
)


class ScenarioMemory:
    """A store's evidence, gate counters, offsets, change requests and held records, for one replay, in memory."""

    def __init__(self) -> None:
        self._records: dict[str, EvidenceRecord] = {}
        self._counters: dict[tuple[str, str, str, str, str, datetime], GateCounter] = {}
        self._offsets: dict[Partition, list[Any]] = {}
        self._requests: dict[str, ChangeRequestRow] = {}
        self._held: dict[tuple[str, str], dict[str, Any]] = {}

    # -- EvidenceSink ---------------------------------------------------------------------------------------------
    def add_records(self, records: Sequence[EvidenceRecord]) -> set[str]:
        """Keep the records whose ids are new (as a store reads them back: the payload as JSON gives it)."""
        new = set()
        for record in records:
            if record.evidence_id not in self._records:
                self._records[record.evidence_id] = dataclasses.replace(
                    record, payload=orjson.loads(orjson.dumps(record.payload)))
                new.add(record.evidence_id)
        return new

    def payloads(self, evidence_ids: Iterable[str]) -> dict[str, Any]:
        return {i: self._records[i].payload for i in sorted(set(evidence_ids)) if i in self._records}

    # -- IntakeKnown ----------------------------------------------------------------------------------------------
    def offset_ranges(self, partitions: list[Partition]) -> dict[Partition, list[Any]]:
        return {p: list(self._offsets.get(p, [])) for p in partitions}

    def change_request(self, cr_id: str) -> ChangeRequestRow | None:
        return self._requests.get(cr_id)

    def is_held(self, cr_id: str, source_ref: str) -> bool:
        return (cr_id, source_ref) in self._held

    def apply(self, outcome: IntakeOutcome) -> None:
        """What the store writes of an intake outcome in its transaction (detectors/_intake.py), kept here."""
        for row, _ in outcome.change_requests.values():
            self._requests[row.id] = row
        self.add_records(outcome.records)
        for counter in outcome.counters:
            known = self._counters.get(counter.key)
            self._counters[counter.key] = counter if known is None else known.merge(counter)
        for cr_id, ref, wire in outcome.held:
            self._held[(cr_id, ref)] = jsonable(wire)
        for partition, offsets in outcome.offsets.items():
            self._offsets[partition] = add_offsets(self._offsets.get(partition, []), offsets)

    def intake(self, configs: ConfigSnapshot, raw_records: Sequence[Any], ingest_time: datetime | None, *,
               trust_ingest_time: bool = False) -> IntakeReport:
        """`intake_records` with these configs, kept here instead of in a store."""
        parsed, report = parse_records(raw_records, trust_ingest_time)
        rules = gate_rules(configs.specs(MAPPING), configs.load(CONTRACT)[0])
        self.apply(gate_intake(parsed, report, rules, self, ingest_time))
        return report

    # -- reads ----------------------------------------------------------------------------------------------------
    def reader(self) -> MemoryReader:
        return MemoryReader(self._records.values(), self._counters.values())

    def change_requests(self, status: str | None = None) -> list[dict[str, Any]]:
        """As `list_change_requests` gives a store's: by first seen time, then id."""
        rows = sorted(self._requests.values(), key=lambda r: (r.first_seen_time, r.id))
        return [change_request_json(r) for r in rows if status is None or r.status == status]
