"""Contract breaks from gate counters alone: per (dataset, reason, field), the exact first bad and last good record,
the bad rate before and after that boundary, and each producer's part (see detectors/_gate.py for the buckets)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from evidence import GateCounter, ref_order, utc

# reason_code and field of counters for records that passed the gate (as GateCounter documents).
PASSED = ""
# reason_code of the per-second tally of failed records: each failed record counts once there, however
# many violations it has. Rates need "all records of the dataset", and summing the per-reason counters
# would count a record with two violations twice. Not a reason code: never a break of its own.
ANY_REASON = "*"


@dataclass(frozen=True)
class ProducerBreak:
    """One producer's part in a break: its own first bad record, so each producer whose records broke is
    correlated with its own deploys before its own first bad record (DESIGN.md: "a deploy blamed must precede
    first-bad and belong to the producer")."""

    producer_urn: str | None  # None: records resolved to no producer (no header, a rule without one)
    first_bad_time: datetime
    first_bad_ref: str
    bad_count: int  # its records carrying the break's (reason, field)


@dataclass(frozen=True)
class ContractBreak:
    """Where a (dataset, reason, field) went bad, what it looked like before, and how bad it is since.

    bad_rate_before: share of the dataset's records carrying this (reason, field) in the baseline window
    before first bad (0.0 when there were none, or no records at all: then total_before is 0).
    bad_rate_after: that share from first bad (inclusive) to now. A field that went bad and recovered
    keeps its break and boundary; last_bad_time says when it was last seen, so an incident can be
    resolved once records have been good for long enough. Going bad again later is still this break
    (bad_rate_after then spans both spells): to open a new one after resolving, pass only the break's
    (reason, field) counters dated after the resolution, with the passed and tally counters as before.
    """

    dataset_urn: str
    producer_urn: str | None  # the producer of the first bad record
    reason_code: str
    field: str | None  # None: the whole value (UNDECODABLE_MESSAGE, a non-object value)
    first_bad_time: datetime
    first_bad_ref: str
    last_good_time: datetime | None
    last_good_ref: str | None
    bad_rate_before: float
    bad_rate_after: float
    bad_count: int
    total_after: int
    sample_refs: list[str]
    total_before: int = 0
    last_bad_time: datetime | None = None
    last_bad_ref: str | None = None
    # Every producer whose records carry this break, the first to break first; producer_urn is its first.
    producers: tuple[ProducerBreak, ...] = ()


def contract_breaks(counters: Iterable[GateCounter], now: datetime, *,
                    baseline_window: timedelta = timedelta(hours=1)) -> list[ContractBreak]:
    """One break per (dataset, reason, field) seen failing, from counters alone.

    Counters may come merged or not (same-key counters are merged here); counters whose first record
    is after `now` are ignored. A counter is "after" the boundary when its last record is at or after
    the first bad one, "before" when it ends before it and within the baseline window: exact for every
    bucket that does not straddle the boundary, and only the second-buckets of passed records and of
    the tally can, so rates are exact to the second.

    last_good is the latest passed record strictly before first bad in time (a good record at the same instant,
    in another partition, is not "last good"), from the good second-buckets: exact when no good bucket
    straddles first bad, else the straddling bucket's first record, a real stored record in the same second
    (exact to the second either way). Passed means passed the whole contract.

    producer_urn is the producer of the first bad record (from its producer header or the mapping rule that
    resolved it), never merely a producer mapped to the dataset; `producers` lists each producer whose records
    carry the break, with its own first bad record.
    """
    now = utc(now)
    merged: dict[tuple[str, str, str, str, str, datetime], GateCounter] = {}
    for counter in counters:
        if counter.first_time > now:
            continue
        previous = merged.get(counter.key)
        merged[counter.key] = counter if previous is None else previous.merge(counter)

    passed: dict[str, list[GateCounter]] = {}
    totals: dict[str, list[GateCounter]] = {}  # every record once: passed counters and failed tallies
    broken: dict[tuple[str, str, str], list[GateCounter]] = {}
    for counter in merged.values():
        if counter.reason_code == PASSED:
            passed.setdefault(counter.dataset_urn, []).append(counter)
            totals.setdefault(counter.dataset_urn, []).append(counter)
        elif counter.reason_code == ANY_REASON:
            totals.setdefault(counter.dataset_urn, []).append(counter)
        else:
            broken.setdefault((counter.dataset_urn, counter.reason_code, counter.field), []).append(counter)

    breaks = []
    for (urn, reason, fld), group in broken.items():
        first = min(group, key=lambda c: (c.first_time, c.first_ref))
        last = max(group, key=lambda c: (c.last_time, c.last_ref))
        boundary = (first.first_time, first.first_ref)
        start = first.first_time - baseline_window
        total_before, total_after = _split(totals.get(urn, ()), boundary, start)
        bad_before, bad_after = _split(group, boundary, start)
        last_good = _last_good(passed.get(urn, ()), first.first_time)
        samples = sorted({ref for c in group for ref in c.samples}, key=ref_order)[: GateCounter.MAX_SAMPLES]
        breaks.append(ContractBreak(
            dataset_urn=urn,
            producer_urn=first.producer_urn or None,
            reason_code=reason,
            field=fld or None,
            first_bad_time=first.first_time,
            first_bad_ref=first.first_ref,
            last_good_time=last_good[0] if last_good else None,
            last_good_ref=last_good[1] if last_good else None,
            bad_rate_before=bad_before / total_before if total_before else 0.0,
            bad_rate_after=bad_after / total_after if total_after else 0.0,
            bad_count=bad_after,
            total_after=total_after,
            sample_refs=samples,
            total_before=total_before,
            last_bad_time=last.last_time,
            last_bad_ref=last.last_ref,
            producers=_producers(group),
        ))
    breaks.sort(key=lambda b: (b.dataset_urn, b.first_bad_time, ref_order(b.first_bad_ref), b.reason_code,
                               b.field or ""))
    return breaks


def _split(counters: Iterable[GateCounter], boundary: tuple[datetime, str], start: datetime) -> tuple[int, int]:
    """(records in the baseline window before the boundary, records from the boundary on)."""
    before = after = 0
    for c in counters:
        if (c.last_time, c.last_ref) >= boundary:
            after += c.count
        elif c.last_time >= start:
            before += c.count
    return before, after


def _last_good(passed: Iterable[GateCounter], first_bad: datetime) -> tuple[datetime, str] | None:
    """The latest passed record strictly earlier than `first_bad` (ties on time broken by ref, as counters merge)."""
    best: tuple[datetime, str] | None = None
    for counter in passed:
        last = (counter.last_time, counter.last_ref)
        first = (counter.first_time, counter.first_ref)
        candidate = last if last[0] < first_bad else first if first[0] < first_bad else None
        if candidate is not None and (best is None or candidate > best):
            best = candidate
    return best


def _producers(group: Iterable[GateCounter]) -> tuple[ProducerBreak, ...]:
    """Each producer's first bad record and bad count within one (dataset, reason, field)."""
    firsts: dict[str, tuple[datetime, str]] = {}
    counts: dict[str, int] = {}
    for counter in group:
        mine = (counter.first_time, counter.first_ref)
        known = firsts.get(counter.producer_urn)
        firsts[counter.producer_urn] = mine if known is None or mine < known else known
        counts[counter.producer_urn] = counts.get(counter.producer_urn, 0) + counter.count
    ordered = sorted(firsts.items(), key=lambda item: (*item[1], item[0]))
    return tuple(ProducerBreak(producer or None, time, ref, counts[producer]) for producer, (time, ref) in ordered)
