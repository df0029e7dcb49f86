"""Time series behind an incident's charts, from what is stored: the gate's counters (bad rate per minute around a
contract break's first bad record) and commits (the watermark a dataset reached each local day). Pure functions of
(counters or records, window): the console draws them, nothing is estimated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from detectors._gate import ANY_REASON, PASSED
from evidence import EventType, EvidenceRecord, GateCounter, utc


@dataclass(frozen=True)
class MinuteRate:
    """Records the gate saw in one minute, and how many of them carried this break."""

    minute: datetime  # aware UTC, start of the minute
    total: int
    bad: int

    @property
    def rate(self) -> float | None:
        return self.bad / self.total if self.total else None  # no records: not measured, not 0%


def bad_rate_per_minute(counters: Iterable[GateCounter], dataset_urn: str, reason_code: str, field: str | None,
                        start: datetime, end: datetime) -> list[MinuteRate]:
    """Per minute in [start, end): every record of the dataset once (passed counters and the failed tally) and the
    records failing with this (reason, field). Minutes without records are listed with total 0."""
    start = utc(start).replace(second=0, microsecond=0)
    end = utc(end)
    totals: dict[datetime, int] = {}
    bad: dict[datetime, int] = {}
    for counter in counters:
        if counter.dataset_urn != dataset_urn:
            continue
        minute = utc(counter.bucket).replace(second=0, microsecond=0)
        if not start <= minute < end:
            continue
        if counter.reason_code in (PASSED, ANY_REASON):
            totals[minute] = totals.get(minute, 0) + counter.count
        elif counter.reason_code == reason_code and (counter.field or None) == (field or None):
            bad[minute] = bad.get(minute, 0) + counter.count
    out = []
    minute = start
    while minute < end:
        out.append(MinuteRate(minute, totals.get(minute, 0), bad.get(minute, 0)))
        minute += timedelta(minutes=1)
    return out


@dataclass(frozen=True)
class WatermarkDay:
    """What a dataset reached on one local day: the highest partition its commits wrote that day, and when."""

    day: date
    watermark: str | None  # e.g. dt=2026-01-18; None: no commit that day
    landed_at: datetime | None  # the commit that first reached it
    evidence_id: str | None


def watermark_by_day(commits: Iterable[EvidenceRecord], zone: ZoneInfo, dimension: str, first_day: date,
                     last_day: date) -> list[WatermarkDay]:
    """One entry per local day from first_day to last_day (inclusive): the highest `dimension=` partition written
    by that day's DatasetWriteCommitted records (the watermark reached), with the commit that wrote it."""
    best: dict[date, tuple[str, datetime, str]] = {}
    prefix = f"{dimension}="
    for record in commits:
        if record.type != EventType.COMMITTED:
            continue
        day = utc(record.event_time).astimezone(zone).date()
        partitions = [p for p in record.data.get("output_partitions_written") or [] if isinstance(p, str)]
        written = sorted(p for p in partitions if p.startswith(prefix))
        if not written:
            continue
        candidate = (written[-1], utc(record.event_time), record.evidence_id)
        current = best.get(day)
        # The highest partition; among commits reaching it, the first one.
        if current is None or (candidate[0], _neg(candidate[1])) > (current[0], _neg(current[1])):
            best[day] = candidate
    out = []
    day = first_day
    while day <= last_day:
        hit = best.get(day)
        out.append(WatermarkDay(day, hit[0] if hit else None, hit[1] if hit else None, hit[2] if hit else None))
        day += timedelta(days=1)
    return out


def _neg(moment: datetime) -> float:
    return -moment.timestamp()
