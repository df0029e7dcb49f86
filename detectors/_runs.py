"""Evidence as the freshness detector reads it: what exists at a clock, job runs by run_id, failure classes."""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from evidence import CorrelatedRun, EventType, EvidenceRecord, maybe_time, utc

RUN_TYPES = (EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.HEARTBEAT)


def _tiebreak(record: EvidenceRecord) -> tuple[datetime, datetime, str]:
    return (record.ingest_time, record.event_time, json.dumps(record.payload, sort_keys=True, default=str))


def visible(records: Iterable[EvidenceRecord], now: datetime) -> list[EvidenceRecord]:
    """The records that exist at `now`, one per evidence_id, sorted by (event_time, evidence_id).

    A record stamped after `now` (event or ingest time) did not exist yet at that clock. Copies of one
    evidence_id keep the first ingested, so the outcome never depends on input order or duplication.
    """
    clock = utc(now)
    chosen: dict[str, EvidenceRecord] = {}
    for record in records:
        if record.event_time > clock or record.ingest_time > clock:
            continue
        held = chosen.get(record.evidence_id)
        if held is None or _tiebreak(record) < _tiebreak(held):
            chosen[record.evidence_id] = record
    return sorted(chosen.values(), key=lambda r: (r.event_time, r.evidence_id))


def partitions(commit: EvidenceRecord) -> list[str]:
    """The partitions a commit says it wrote (output_partitions_written), strings only."""
    value = commit.data.get("output_partitions_written")
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def data_time(record: EvidenceRecord, key: str) -> datetime | None:
    """An RFC 3339 time inside `data`, as aware UTC; None when absent or without an offset."""
    return maybe_time(record.data.get(key))


def commit_time(record: EvidenceRecord) -> datetime:
    """When a commit became visible in the table: its commit_timestamp, else the event time."""
    return data_time(record, "commit_timestamp") or record.event_time


def commit_order(record: EvidenceRecord) -> tuple[datetime, datetime, str]:
    return (commit_time(record), record.event_time, record.evidence_id)


def committed_dataset(record: EvidenceRecord) -> str | None:
    dataset = record.data.get("dataset_urn")
    return dataset if isinstance(dataset, str) else record.dataset_urn


def rows(record: EvidenceRecord) -> int | None:
    value = record.data.get("rows_written")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def number(value: float | None) -> int | float | None:
    """Whole numbers as int, so facts read "2100", not "2100.0"."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 3)


@dataclass(frozen=True)
class Run:
    """One job run: its JobRunStarted and latest terminal event, joined by run_id."""

    run_id: str
    started: EvidenceRecord | None
    terminal: EvidenceRecord | None  # the latest JobRunCompleted / JobRunFailed (a retry can follow a failure)
    first: EvidenceRecord  # earliest record of the run: stands in for a missing JobRunStarted
    last_heartbeat: EvidenceRecord | None = None  # the latest JobRunHeartbeat: the run was alive then

    @cached_property
    def start(self) -> datetime:
        """When the run started (its actual_start_time, else its JobRunStarted's time, else its first record's):
        computed once per run, as a pass sorts and compares runs by it many times."""
        if self.started is not None:
            return data_time(self.started, "actual_start_time") or self.started.event_time
        return self.first.event_time

    @property
    def scheduled_time(self) -> datetime | None:
        return data_time(self.started, "scheduled_time") if self.started is not None else None

    @property
    def state(self) -> str:
        if self.terminal is None:
            return "running"
        return "failed" if self.terminal.type == EventType.RUN_FAILED else "completed"

    @property
    def evidence_id(self) -> str:
        return (self.started or self.first).evidence_id

    @property
    def code_ref(self) -> str | None:
        value = self.started.data.get("code_ref") if self.started is not None else None
        return value if isinstance(value, str) and value else None

    @property
    def input_datasets(self) -> list[str]:
        value = self.started.data.get("input_datasets") if self.started is not None else None
        return sorted({v for v in value if isinstance(v, str)}) if isinstance(value, list) else []

    @property
    def duration_s(self) -> float | None:
        """The terminal event's duration_s, else terminal time minus start."""
        if self.terminal is None:
            return None
        value = self.terminal.data.get("duration_s")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return (self.terminal.event_time - self.start).total_seconds()

    def in_cycle(self, cycle_start: datetime) -> bool:
        """Whether the run belongs to the update that began at `cycle_start`.

        Either its start or its scheduled_time counts, so a run stamped a second early by a skewed clock,
        or one whose scheduled_time is an Airflow-style logical date of the previous day, is still today's.
        """
        scheduled = self.scheduled_time
        return self.start >= cycle_start or (scheduled is not None and scheduled >= cycle_start)

    def summary(self) -> CorrelatedRun:
        return CorrelatedRun(
            run_id=self.run_id,
            evidence_id=self.evidence_id,
            state=self.state,
            started_at=self.start if self.started is not None else None,
            scheduled_time=self.scheduled_time,
            code_ref=self.code_ref,
            ended_at=self.terminal.event_time if self.terminal is not None else None,
            terminal_evidence_id=self.terminal.evidence_id if self.terminal is not None else None,
        )


def runs_of(records: list[EvidenceRecord], producer_urn: str | None) -> list[Run]:
    """The producer's runs (all producers' when unknown), sorted by (start, run_id)."""
    grouped: dict[str, list[EvidenceRecord]] = {}
    for record in records:
        if record.type not in RUN_TYPES or not record.run_id:
            continue
        if producer_urn is not None and record.producer_urn != producer_urn:
            continue
        grouped.setdefault(record.run_id, []).append(record)
    runs = []
    for run_id, group in grouped.items():
        # `records` is sorted by (event_time, evidence_id), so "first" and "latest" are stable.
        starts = [r for r in group if r.type == EventType.RUN_STARTED]
        terminals = [r for r in group if r.type in (EventType.RUN_COMPLETED, EventType.RUN_FAILED)]
        beats = [r for r in group if r.type == EventType.HEARTBEAT]
        runs.append(Run(run_id, starts[0] if starts else None, terminals[-1] if terminals else None, group[0],
                        beats[-1] if beats else None))
    return sorted(runs, key=lambda run: (run.start, run.run_id))


_FAILURE_CLASSES = (
    ("out_of_memory", re.compile(
        r"outofmemory|out of memory|\boom\b|oomkilled|memory limit|exceeding memory|java heap space"
        r"|gc overhead limit|memoryoverhead|exit code 137|killed by.*memory", re.IGNORECASE)),
    ("timeout", re.compile(
        r"timeout|timed out|time out|deadline exceeded|exceeded .*(time|duration)|maximum run ?time",
        re.IGNORECASE)),
    ("dependency", re.compile(
        r"filenotfound|file not found|no such file|path does not exist|table or view not found"
        r"|table_or_view_not_found|nosuchtable|nosuchkey|does not exist|not found|upstream|dependency"
        r"|missing input|input .*(missing|not available|not ready)|connection refused|unknownhost",
        re.IGNORECASE)),
)


def failure_class(reason: object) -> str:
    """out_of_memory | timeout | dependency | other, from a JobRunFailed failure_reason.

    Memory is checked first: a container killed for memory often also reports a lost executor or a
    timed-out heartbeat, and the memory limit is the cause.
    """
    text = reason if isinstance(reason, str) else ""
    for name, pattern in _FAILURE_CLASSES:
        if pattern.search(text):
            return name
    return "other"


def by_dataset_and_producer(
    records: Iterable[EvidenceRecord],
) -> tuple[dict[str, list[EvidenceRecord]], dict[str, list[EvidenceRecord]]]:
    """Records grouped by the dataset they are about and by the producer that sent them (order kept)."""
    by_dataset: dict[str, list[EvidenceRecord]] = defaultdict(list)
    by_producer: dict[str, list[EvidenceRecord]] = defaultdict(list)
    for record in records:
        if record.dataset_urn:
            by_dataset[record.dataset_urn].append(record)
        if record.producer_urn:
            by_producer[record.producer_urn].append(record)
    return by_dataset, by_producer
