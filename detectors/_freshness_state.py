"""Where a dataset stands against today's deadline (`DatasetFreshness`), why it missed it (`FreshnessFinding`), and
the assessment the classifier (detectors/_classifier.py) reuses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detectors._clock_facts import Lateness
from detectors._runs import commit_order, commit_time, committed_dataset, median, rows, visible
from detectors._watermark import PolicyDay, expected_date, partition_dates, policy_day, render
from evidence import CorrelatedDeploy, CorrelatedRun, EventType, EvidenceRecord, FreshnessPolicy, iso, to_json, utc


@dataclass(frozen=True)
class DatasetFreshness:
    """The state of one dataset at a clock against today's deadline (also what upstream checks read)."""

    dataset_urn: str
    deadline: datetime  # expected_update_by today (policy zone) + grace, aware UTC
    scheduled_time: datetime | None  # today's scheduled run, aware UTC
    current_watermark: str | None  # highest partition of the watermark dimension committed, "dt=2026-01-18"
    expected_watermark: str | None  # what it must reach today, "dt=2026-01-19"
    last_commit: EvidenceRecord | None
    last_good_commit: EvidenceRecord | None  # newest commit that delivered its day's partition in full
    fresh: bool  # the expected partition (or, without a watermark, today's commit) is there in full
    breached: bool  # past the deadline and not fresh


@dataclass(frozen=True)
class FreshnessFinding:
    """Why a dataset missed its deadline, with the evidence that shows it."""

    dataset_urn: str
    reason_code: str
    first_bad_time: datetime  # the deadline
    last_good_time: datetime | None  # commit time of the last good commit
    current_watermark: str | None
    expected_watermark: str | None
    correlated_run: CorrelatedRun | None
    correlated_deploys: list[CorrelatedDeploy]  # newest first; only the producer's own changes
    failure_class: str | None  # JOB_FAILED: out_of_memory | timeout | dependency | other
    facts: dict[str, Any] = field(default_factory=dict)
    evidence_ids: list[str] = field(default_factory=list)  # chronological, then by id
    # What its clock-dependent facts are computed from (detectors/_clock_facts.py); None when it read upstream
    # datasets' states, which move on their own, so that only a new evaluation brings it to another clock.
    clock: Lateness | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, times as RFC 3339 UTC."""
        return {
            "dataset_urn": self.dataset_urn,
            "reason_code": self.reason_code,
            "first_bad_time": iso(self.first_bad_time),
            "last_good_time": iso(self.last_good_time),
            "current_watermark": self.current_watermark,
            "expected_watermark": self.expected_watermark,
            "correlated_run": to_json(self.correlated_run) if self.correlated_run is not None else None,
            "correlated_deploys": [to_json(d) for d in self.correlated_deploys],
            "failure_class": self.failure_class,
            "facts": self.facts,
            "evidence_ids": self.evidence_ids,
        }


@dataclass(frozen=True)
class Assessment:
    """DatasetFreshness plus the working the classifier reuses."""

    state: DatasetFreshness
    day: PolicyDay
    commits: list[EvidenceRecord]  # every commit to the dataset, in commit order
    delivering: list[EvidenceRecord]  # commits that wrote today's expected partition (no watermark: today's)
    delivered_rows: int | None
    baseline_rows: float | None
    baseline_commits: list[EvidenceRecord]
    partial: bool


def dataset_freshness(policy: FreshnessPolicy, records: Iterable[EvidenceRecord], now: datetime) -> DatasetFreshness:
    """Where the dataset stands at `now`: watermark, last (good) commit, fresh or breached."""
    return assess(policy, visible(records, now), utc(now)).state


def assess(policy: FreshnessPolicy, records: list[EvidenceRecord], now: datetime) -> Assessment:
    day = policy_day(policy, now)
    commits = sorted(
        (r for r in records if r.type == EventType.COMMITTED and committed_dataset(r) == policy.dataset_urn),
        key=commit_order
    )
    watermark = policy.watermark
    dates = {
        c.evidence_id: partition_dates(c.data.get("output_partitions_written"), watermark) if watermark else []
        for c in commits
    }
    current = expected = None
    if watermark is not None:
        seen = [d for c in commits for d in dates[c.evidence_id]]
        current = render(watermark, max(seen)[1]) if seen else None
        target = expected_date(watermark, day.today)
        expected = render(watermark, target.strftime(watermark.format))
        # The expected partition itself must be there: a watermark that jumped past it (a time-zone bug
        # writing tomorrow's date) has not delivered today's data.
        delivering = [c for c in commits if any(d == target for d, _ in dates[c.evidence_id])]
    else:
        delivering = [c for c in commits if commit_time(c) >= day.cycle_start]

    delivered_ids = {c.evidence_id for c in delivering}
    baseline_commits = [
        c for c in commits
        if day.lookback_start <= commit_time(c) < day.cycle_start and c.evidence_id not in delivered_ids
        and rows(c) is not None
    ]
    baseline_rows = median([float(rows(c) or 0) for c in baseline_commits])
    delivered = [rows(c) for c in delivering]
    # Several commits to today's partition (appends, a retry that finished the job) add up; a commit
    # without rows_written makes the total unknown, and an unknown total never proves a partial write.
    delivered_rows = sum(n for n in delivered if n is not None) if delivering and None not in delivered else None
    partial = (
        delivered_rows is not None and baseline_rows is not None
        and delivered_rows < policy.partial_write_ratio * baseline_rows
    )

    def good(commit: EvidenceRecord) -> bool:
        if commit.evidence_id in delivered_ids:
            return not partial
        if watermark is None:
            return True
        # Good for its day: it wrote the partition its own local day expected (a re-run rewriting an old
        # date is not); late but complete still counts, since the data was right from then on.
        local_day = commit_time(commit).astimezone(day.zone).date()
        return any(d == expected_date(watermark, local_day) for d, _ in dates[commit.evidence_id])

    goods = [c for c in commits if good(c)]
    fresh = bool(delivering) and not partial
    state = DatasetFreshness(
        dataset_urn=policy.dataset_urn,
        deadline=day.deadline,
        scheduled_time=day.scheduled_time,
        current_watermark=current,
        expected_watermark=expected,
        last_commit=commits[-1] if commits else None,
        last_good_commit=goods[-1] if goods else None,
        fresh=fresh,
        breached=now >= day.deadline and not fresh,
    )
    return Assessment(state, day, commits, delivering, delivered_rows, baseline_rows, baseline_commits, partial)


