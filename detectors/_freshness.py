"""Freshness: is a dataset's update there by its deadline, and if not, which evidence says why.

A pure function of (policy, evidence, clock): records stamped after the clock do not exist yet, and the
result is the same whatever the order or duplication of the records (DESIGN.md, "Reason codes").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from detectors._deploys import shipped
from detectors._runs import (
    Run,
    commit_order,
    commit_time,
    committed_dataset,
    failure_class,
    median,
    number,
    rows,
    runs_of,
    visible,
)
from detectors._watermark import PolicyDay, expected_date, partition_dates, policy_day, render
from evidence import EventType, EvidenceRecord, FreshnessPolicy, ReasonCode, iso, parse_time, utc

_NO_UPSTREAM: Mapping[str, DatasetFreshness] = MappingProxyType({})


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
    correlated_run: dict[str, Any] | None
    correlated_deploys: list[dict[str, Any]]  # newest first; only the producer's own changes
    failure_class: str | None  # JOB_FAILED: out_of_memory | timeout | dependency | other
    facts: dict[str, Any] = field(default_factory=dict)
    evidence_ids: list[str] = field(default_factory=list)  # chronological, then by id

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, times as RFC 3339 UTC."""
        return {
            "dataset_urn": self.dataset_urn,
            "reason_code": self.reason_code,
            "first_bad_time": iso(self.first_bad_time),
            "last_good_time": iso(self.last_good_time),
            "current_watermark": self.current_watermark,
            "expected_watermark": self.expected_watermark,
            "correlated_run": self.correlated_run,
            "correlated_deploys": self.correlated_deploys,
            "failure_class": self.failure_class,
            "facts": self.facts,
            "evidence_ids": self.evidence_ids,
        }


@dataclass(frozen=True)
class _Assessment:
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
    return _assess(policy, visible(records, now), utc(now)).state


def _assess(policy: FreshnessPolicy, records: list[EvidenceRecord], now: datetime) -> _Assessment:
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
    return _Assessment(state, day, commits, delivering, delivered_rows, baseline_rows, baseline_commits, partial)


def evaluate_freshness(
    policy: FreshnessPolicy,
    records: Iterable[EvidenceRecord],
    now: datetime,
    upstream: Mapping[str, DatasetFreshness] = _NO_UPSTREAM,
) -> FreshnessFinding | None:
    """The finding for a dataset past its deadline and not fresh; None when fresh or not yet late.

    `records` are the dataset's and its producer's over the lookback; `upstream` holds the freshness of
    the job's input datasets, each against its own policy.
    """
    clock = utc(now)
    evidence = visible(records, clock)
    assessment = _assess(policy, evidence, clock)
    if not assessment.state.breached:
        return None
    return _Classifier(policy, evidence, clock, assessment, upstream).classify()


class _Classifier:
    """Joins runs, commits, deploys and upstream state into one reason code for a breached dataset."""

    def __init__(
        self,
        policy: FreshnessPolicy,
        evidence: list[EvidenceRecord],
        now: datetime,
        assessment: _Assessment,
        upstream: Mapping[str, DatasetFreshness],
    ) -> None:
        self.policy = policy
        self.upstream = upstream
        self.evidence = evidence
        self.by_id = {r.evidence_id: r for r in evidence}
        self.now = now
        self.a = assessment
        self.day = assessment.day
        state = assessment.state
        self.producer = policy.producer_urn or (state.last_commit.producer_urn if state.last_commit else None)
        runs = runs_of(evidence, self.producer)
        self.today = [run for run in runs if run.in_cycle(self.day.cycle_start)]
        self.history = [
            run for run in runs
            if self.day.lookback_start <= run.start < self.day.cycle_start and run not in self.today
        ]
        self.runs = runs
        # Evidence of absence: a missing type proves something only if the producer emitted it lately.
        self.emitted = sorted({
            r.type for r in evidence
            if self.producer is not None and r.producer_urn == self.producer
            and self.day.lookback_start <= r.event_time < self.day.cycle_start
        })
        self.cycle_commits = [
            c for c in assessment.commits
            if commit_time(c) >= self.day.cycle_start and (self.producer is None or c.producer_urn == self.producer)
        ]
        self.current = self.today[-1] if self.today else None

    # -- the decision --------------------------------------------------------------------------------------

    def classify(self) -> FreshnessFinding:
        late_inputs = self._late_inputs()
        if self.a.delivering or self.cycle_commits:
            if late_inputs:
                return self._upstream_late(late_inputs)
            return self._partial_write() if self.a.delivering else self._wrong_partition()
        if self.current is not None:
            failed = [run for run in self.today if run.state == "failed"]
            if failed:
                run = failed[-1]
                kind = failure_class(run.terminal.data.get("failure_reason") if run.terminal else None)
                if kind == "dependency" and late_inputs:
                    return self._upstream_late(late_inputs)
                return self._job_failed(run, kind)
            if late_inputs:
                return self._upstream_late(late_inputs)
            if self.current.state == "completed":
                return self._completed_without_commit(self.current)
            return self._running(self.current)
        if late_inputs:
            return self._upstream_late(late_inputs)
        if EventType.RUN_STARTED in self.emitted:
            return self._not_triggered()
        return self._insufficient(
            [EventType.RUN_STARTED, *([EventType.COMMITTED] if EventType.COMMITTED not in self.emitted else [])],
            [ReasonCode.JOB_NOT_TRIGGERED, ReasonCode.JOB_FAILED, ReasonCode.JOB_RUNNING_SLOW],
            f"no JobRunStarted from {self.producer or 'the producer'} in the {self.policy.lookback_days} days "
            "before today's run, so its absence today proves nothing",
        )

    # -- one builder per reason ----------------------------------------------------------------------------

    def _not_triggered(self) -> FreshnessFinding:
        previous = [run for run in self.history if run.started is not None]
        # The last start before today is the habit that makes today's absence meaningful.
        proof = [r.started for r in previous[-1:] if r.started is not None]
        run = {"run_id": None, "evidence_id": None, "state": "not_started",
               "scheduled_time": iso(self.day.scheduled_time)}
        facts = {"runs_started_since_schedule": 0,
                 "previous_run_started_at": iso(previous[-1].start) if previous else None}
        return self._finding(ReasonCode.JOB_NOT_TRIGGERED, run, None, proof, facts, until=self.day.deadline)

    def _job_failed(self, run: Run, kind: str) -> FreshnessFinding:
        assert run.terminal is not None
        data = run.terminal.data
        retry = self.current if self.current is not None and self.current is not run else None
        facts = {
            "failure_reason": data.get("failure_reason"),
            "exit_code": data.get("exit_code"),
            "retry_count": data.get("retry_count"),
            "duration_s": number(run.duration_s),
            "failed_attempts_today": sum(1 for r in self.today if r.state == "failed"),
            "retry_in_progress": retry.run_id if retry is not None and retry.state == "running" else None,
        }
        proof = [r for r in (run.started, run.terminal) if r is not None]
        return self._finding(ReasonCode.JOB_FAILED, run.summary(), kind, proof, facts, until=run.start)

    def _running(self, run: Run) -> FreshnessFinding:
        # A started run with no terminal event is only "still running" if this producer reports how its
        # runs end; otherwise it may have died or finished long ago without a word. And "slow" needs a
        # yardstick: without completed runs in the lookback there is no baseline to be slow against.
        # Both gaps make the case INSUFFICIENT_EVIDENCE rather than a guess.
        if EventType.RUN_COMPLETED not in self.emitted and EventType.RUN_FAILED not in self.emitted:
            return self._insufficient(
                [EventType.RUN_COMPLETED, EventType.RUN_FAILED], [ReasonCode.JOB_RUNNING_SLOW, ReasonCode.JOB_FAILED],
                f"{self.producer} never reported how a run ended in the lookback, so a run without an end "
                "is not proof that it is still running", run,
            )
        succeeded = [r for r in self.history if r.state == "completed" and r.duration_s is not None]
        baseline = median([r.duration_s for r in succeeded if r.duration_s is not None])
        if baseline is None or baseline <= 0:
            return self._insufficient(
                ["baseline_duration_s"], [ReasonCode.JOB_RUNNING_SLOW],
                "no completed run in the lookback to measure this run's duration against", run,
            )
        running_for = (self.now - run.start).total_seconds()
        # The brief's classifier: started, no commit, no failure -> running slow. The ratio and the start
        # delay stay in the facts so a late start is told apart from a slow run in the narrative.
        facts: dict[str, Any] = {
            "running_for_s": number(running_for),
            "baseline_duration_s": number(baseline),
            "baseline_runs": len(succeeded),
            "duration_ratio": round(running_for / baseline, 2),
            "slow_factor": self.policy.slow_factor,
            "exceeds_slow_factor": running_for > self.policy.slow_factor * baseline,
            "start_delay_s": number((run.start - self.day.scheduled_time).total_seconds())
            if self.day.scheduled_time is not None else None,
            "baseline_evidence_ids": [r.terminal.evidence_id for r in succeeded if r.terminal is not None],
        }
        beat = run.last_heartbeat
        if beat is not None:  # the run said it was alive then: still running, not silently dead
            facts.update(last_heartbeat_at=iso(beat.event_time),
                         since_last_heartbeat_s=number((self.now - beat.event_time).total_seconds()))
        # The latest baseline run is the proof that this producer reports run ends, which is what makes the missing
        # end of today's run meaningful; every baseline run is listed with the evidence, since the facts name them.
        proof = [run.started or run.first, *(r.terminal for r in succeeded[-1:] if r.terminal is not None)]
        baseline_runs = [r.terminal for r in succeeded if r.terminal is not None]
        return self._finding(ReasonCode.JOB_RUNNING_SLOW, run.summary(), None, proof, facts, until=run.start,
                             extra=[*baseline_runs, *([beat] if beat is not None else [])])

    def _completed_without_commit(self, run: Run) -> FreshnessFinding:
        # The run says it succeeded yet nothing reached the table: the watermark did not advance after a
        # run, which is WRONG_PARTITION, provided this producer does report its commits.
        if EventType.COMMITTED not in self.emitted:
            return self._insufficient(
                [EventType.COMMITTED], [ReasonCode.WRONG_PARTITION, ReasonCode.PARTIAL_WRITE],
                f"{self.producer} reported no commits in the lookback, so a run without one proves nothing", run,
            )
        facts = {"commits_since_schedule": 0, "partitions_written": [], "run_completed_without_commit": True}
        proof = [r for r in (run.started, run.terminal) if r is not None]
        return self._finding(ReasonCode.WRONG_PARTITION, run.summary(), None, proof, facts, until=run.start)

    def _wrong_partition(self) -> FreshnessFinding:
        commits = self.cycle_commits
        written = sorted({p for c in commits for p in _partitions(c)})
        if self.policy.watermark is not None and not written and not self._reports_partitions():
            return self._insufficient(
                ["output_partitions_written"], [ReasonCode.WRONG_PARTITION, ReasonCode.PARTIAL_WRITE],
                "the producer's commits never list partitions, so the watermark cannot be read", None,
            )
        run = self._committing_run(commits[-1])
        facts = {"commits_since_schedule": len(commits), "partitions_written": written}
        proof = [*commits] + ([self.current.started] if self.current and self.current.started else [])
        return self._finding(ReasonCode.WRONG_PARTITION, run, None, proof, facts, until=self._run_start(run))

    def _partial_write(self) -> FreshnessFinding:
        a = self.a
        run = self._committing_run(a.delivering[-1])
        facts = {
            "rows_written": a.delivered_rows,
            "baseline_rows": number(a.baseline_rows),
            "baseline_commits": len(a.baseline_commits),
            "rows_ratio": round(a.delivered_rows / a.baseline_rows, 3)
            if a.delivered_rows is not None and a.baseline_rows else None,
            "partial_write_ratio": self.policy.partial_write_ratio,
            "partitions_written": sorted({p for c in a.delivering for p in _partitions(c)}),
            "baseline_evidence_ids": [c.evidence_id for c in a.baseline_commits],
        }
        proof = [*a.delivering, *a.baseline_commits[-1:]]
        return self._finding(ReasonCode.PARTIAL_WRITE, run, None, proof, facts, until=self._run_start(run),
                             extra=list(a.baseline_commits))

    def _upstream_late(self, late: list[tuple[str, DatasetFreshness]]) -> FreshnessFinding:
        source = self._inputs_run()
        written = sorted({c.evidence_id: c for c in [*self.cycle_commits, *self.a.delivering]}.values(),
                         key=commit_order)
        failed = [run for run in self.today if run.state == "failed"]
        if written:
            run = self._committing_run(written[-1])
        elif self.current is not None:
            run = self.current.summary()
        else:
            run = {"run_id": None, "evidence_id": None, "state": "not_started",
                   "scheduled_time": iso(self.day.scheduled_time)}
        # What our job did with the late input, next to the proof that the input is its own.
        proof = [*written, *(r.terminal for r in failed[-1:] if r.terminal is not None)]
        if source is not None and source.started is not None:
            proof.append(source.started)
        facts: dict[str, Any] = {
            "upstream_late": [
                {
                    "dataset_urn": urn,
                    "current_watermark": up.current_watermark,
                    "expected_watermark": up.expected_watermark,
                    "fresh": up.fresh,
                    "breached": up.breached,
                    "deadline": iso(up.deadline),
                    "last_commit_time": iso(commit_time(up.last_commit)) if up.last_commit else None,
                    "last_commit_evidence_id": up.last_commit.evidence_id if up.last_commit else None,
                }
                for urn, up in late
            ],
            "input_datasets": source.input_datasets if source is not None else [],
            "inputs_named_by": source.evidence_id if source is not None else None,
        }
        if failed and failed[-1].terminal is not None:
            facts["failure_reason"] = failed[-1].terminal.data.get("failure_reason")
        extra = [up.last_commit for _, up in late if up.last_commit is not None]
        return self._finding(ReasonCode.UPSTREAM_DATA_LATE, run, None, proof, facts, until=self._run_start(run),
                             extra=extra)

    def _insufficient(
        self, missing: list[str], cannot_tell: list[str], why: str, run: Run | None = None
    ) -> FreshnessFinding:
        state = self.a.state
        facts = {
            "missing": missing,
            "cannot_tell_apart": cannot_tell,
            "why": why,
            "commits_in_lookback": sum(
                1 for c in self.a.commits if self.day.lookback_start <= commit_time(c) < self.day.cycle_start
            ),
            "last_commit_time": iso(commit_time(state.last_commit)) if state.last_commit else None,
        }
        proof = [r for r in (state.last_commit, run.started if run else None, run.terminal if run else None) if r]
        until = run.start if run is not None else self.day.deadline
        return self._finding(ReasonCode.INSUFFICIENT_EVIDENCE, run.summary() if run else None, None, proof, facts,
                             until=until)

    # -- shared pieces -------------------------------------------------------------------------------------

    def _finding(
        self,
        reason: str,
        run: dict[str, Any] | None,
        kind: str | None,
        proof: list[EvidenceRecord],
        facts: dict[str, Any],
        until: datetime,
        extra: list[EvidenceRecord] | None = None,
    ) -> FreshnessFinding:
        state = self.a.state
        deploys = self._correlated_deploys(until)
        cited = {r.evidence_id: r for r in [*proof, *(extra or [])]}
        if state.last_good_commit is not None:
            cited[state.last_good_commit.evidence_id] = state.last_good_commit
        for deploy in deploys:
            for key in ("evidence_id", "code_ref_evidence_id"):  # the deploy and the run code_ref naming it
                if key in deploy:
                    cited[deploy[key]] = self.by_id[deploy[key]]
        for key in ("evidence_id", "terminal_evidence_id"):  # the correlated run's own start and end
            if run is not None and run.get(key) in self.by_id:
                cited[run[key]] = self.by_id[run[key]]
        common = {
            "deadline": iso(self.day.deadline),
            "scheduled_time": iso(self.day.scheduled_time),
            "late_by_s": number((self.now - self.day.deadline).total_seconds()),
            "lookback_days": self.policy.lookback_days,
            "emitted_types_in_lookback": self.emitted,
            "producer_urn": self.producer,
        }
        return FreshnessFinding(
            dataset_urn=self.policy.dataset_urn,
            reason_code=reason,
            first_bad_time=self.day.deadline,
            last_good_time=commit_time(state.last_good_commit) if state.last_good_commit else None,
            current_watermark=state.current_watermark,
            expected_watermark=state.expected_watermark,
            correlated_run=run,
            correlated_deploys=deploys,
            failure_class=kind,
            facts={**common, **facts},
            evidence_ids=[r.evidence_id for r in sorted(cited.values(), key=lambda r: (r.event_time, r.evidence_id))],
        )

    def _correlated_deploys(self, until: datetime) -> list[dict[str, Any]]:
        """The job's own changes after the last good run began and before the run in question started.

        A deploy during the last good run still counts (that run had already loaded its code); one after
        the run in question started, or after the deadline, cannot have caused it. Failed deploys shipped
        nothing. Other producers' deploys are never correlated.
        """
        if self.producer is None:
            return []
        until = min(until, self.day.deadline)
        good_run = self._good_run()
        last_good = self.a.state.last_good_commit
        since = (
            good_run.start if good_run is not None
            else commit_time(last_good) if last_good is not None
            else self.day.lookback_start
        )
        changes: list[dict[str, Any]] = []
        deployed: dict[str, EvidenceRecord] = {}
        # Restarts and replicas of a version CI (or an earlier start-up) reported fold away first.
        for record in shipped(r for r in self.evidence
                              if r.type == EventType.DEPLOYMENT and r.producer_urn == self.producer):
            if since < record.event_time <= until and record.data.get("status", "succeeded") == "succeeded":
                deployed[record.evidence_id] = record
                changes.append({
                    "service": record.data.get("service"),
                    "version": record.data.get("version"),
                    "deploy_ref": record.deploy_ref,
                    "evidence_id": record.evidence_id,
                    "time": iso(record.event_time),
                })
        before = [run for run in self.runs if run.start <= since and run.code_ref is not None]
        base = good_run.code_ref if good_run is not None and good_run.code_ref else (
            before[-1].code_ref if before else None)
        if base is not None:
            # A run on new code: the job changed. With a deploy of that code it is the same change, listed once
            # as the deploy (the stronger evidence) with the run's code_ref cited beside it; without one it is
            # a change of its own (Team A's pack may carry deploy_ref only in JobRunStarted.code_ref).
            for run in self.runs:
                if since < run.start <= until and run.code_ref not in (None, base) and run.started is not None:
                    same = next((c for c in changes if same_change(run.code_ref, deployed[c["evidence_id"]])), None)
                    if same is not None:
                        same.update(code_ref=run.code_ref, code_ref_evidence_id=run.started.evidence_id)
                    else:
                        changes.append({
                            "service": _service(self.producer),
                            "version": run.code_ref,
                            "deploy_ref": run.code_ref,
                            "evidence_id": run.started.evidence_id,
                            "time": iso(run.start),
                        })
                    break
        return sorted(changes, key=lambda c: (c["time"], c["evidence_id"]), reverse=True)

    def _good_run(self) -> Run | None:
        last_good = self.a.state.last_good_commit
        if last_good is None or not last_good.run_id:
            return None
        return next((run for run in self.runs if run.run_id == last_good.run_id), None)

    def _inputs_run(self) -> Run | None:
        """The run whose JobRunStarted names the inputs: today's latest, else the latest before."""
        for run in [*reversed(self.today), *reversed(self.history)]:
            if run.input_datasets:
                return run
        return None

    def _late_inputs(self) -> list[tuple[str, DatasetFreshness]]:
        """Inputs that are behind their own policy now, or landed after today's run had started reading."""
        source = self._inputs_run()
        if source is None:
            return []
        late = []
        for urn in source.input_datasets:
            up = self._upstream_state(urn)
            if up is None:
                continue
            landed = commit_time(up.last_good_commit) if up.last_good_commit is not None else None
            read_too_early = self.current is not None and landed is not None and landed > self.current.start
            if not up.fresh or read_too_early:
                late.append((urn, up))
        return late

    def _upstream_state(self, urn: str) -> DatasetFreshness | None:
        return self.upstream.get(urn)

    def _committing_run(self, commit: EvidenceRecord) -> dict[str, Any]:
        run = next((r for r in self.runs if commit.run_id and r.run_id == commit.run_id), None)
        summary: dict[str, Any] = run.summary() if run is not None else {
            "run_id": commit.run_id, "evidence_id": commit.evidence_id, "started_at": None,
            "scheduled_time": None, "code_ref": None, "ended_at": None, "terminal_evidence_id": None,
        }
        return {**summary, "state": "committed", "commit_evidence_id": commit.evidence_id,
                "committed_at": iso(commit_time(commit))}

    def _run_start(self, run: dict[str, Any] | None) -> datetime:
        started = run.get("started_at") if run else None
        return parse_time(started) if isinstance(started, str) else self.day.deadline

    def _reports_partitions(self) -> bool:
        return any(_partitions(c) for c in self.a.commits)


def _partitions(commit: EvidenceRecord) -> list[str]:
    value = commit.data.get("output_partitions_written")
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def same_change(code_ref: str | None, deploy: EvidenceRecord) -> bool:
    """Whether a run's code_ref names the code a deploy shipped: its deploy_ref or version as written, or its
    commit (`slug@4f2a9c1` is the deploy of commit 4f2a9c1, whatever its deploy_ref says; short and full hashes
    of one commit match)."""
    if not code_ref:
        return False
    data = deploy.data
    if code_ref in (deploy.deploy_ref, data.get("version")):
        return True
    commit = code_ref.rpartition("@")[2]
    named = {str(data["commit"])} if data.get("commit") else set()
    if deploy.deploy_ref:
        named.add(deploy.deploy_ref.rpartition("@")[2])
        if "+" in deploy.deploy_ref:
            named.add(deploy.deploy_ref.rpartition("+")[2])  # semver build metadata: service@v3.2.0+<commit>
    return any(_same_commit(commit, other) for other in named)


def _same_commit(one: str, other: str) -> bool:
    if one == other:
        return True
    short, full = sorted((one.lower(), other.lower()), key=len)
    return len(short) >= 7 and all(c in "0123456789abcdef" for c in full) and full.startswith(short)


def _service(producer: str) -> str:
    """job://orders_enriched_batch -> orders_enriched_batch."""
    return producer.split("://", 1)[-1]
