"""The freshness classifier: joins runs, commits, deploys and upstream state into one reason code for a dataset
that missed its deadline (DESIGN.md, "Reason codes")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from detectors._clock_facts import Lateness, RunningLateness
from detectors._freshness_state import Assessment, DatasetFreshness, FreshnessFinding
from detectors._job_changes import job_changes
from detectors._runs import (
    Run,
    commit_order,
    commit_time,
    failure_class,
    median,
    number,
    partitions,
    runs_of,
)
from evidence import CorrelatedDeploy, CorrelatedRun, EventType, EvidenceRecord, FreshnessPolicy, ReasonCode, iso


class Classifier:
    """Joins runs, commits, deploys and upstream state into one reason code for a breached dataset."""

    def __init__(
        self,
        policy: FreshnessPolicy,
        evidence: list[EvidenceRecord],
        now: datetime,
        assessment: Assessment,
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
        # Runs have distinct run_ids, so "not one of today's" is "not in today's cycle" (comparing whole runs, with
        # their records' payloads, was a tenth of evaluating a breached dataset).
        cycle = [run.in_cycle(self.day.cycle_start) for run in runs]
        self.today = [run for run, today in zip(runs, cycle, strict=True) if today]
        self.history = [
            run for run, today in zip(runs, cycle, strict=True)
            if not today and self.day.lookback_start <= run.start < self.day.cycle_start
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
        run = CorrelatedRun(run_id=None, evidence_id=None, state="not_started",
                            scheduled_time=self.day.scheduled_time)
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
        beat = run.last_heartbeat
        clock = RunningLateness(self.day.deadline, run.start, baseline, self.policy.slow_factor,
                                beat.event_time if beat is not None else None)
        moving = clock.facts(self.now)  # what moves with the clock (detectors/_clock_facts.py)
        # The brief's classifier: started, no commit, no failure -> running slow. The ratio and the start
        # delay stay in the facts so a late start is told apart from a slow run in the narrative.
        facts: dict[str, Any] = {
            "running_for_s": moving["running_for_s"],
            "baseline_duration_s": number(baseline),
            "baseline_runs": len(succeeded),
            "duration_ratio": moving["duration_ratio"],
            "slow_factor": self.policy.slow_factor,
            "exceeds_slow_factor": moving["exceeds_slow_factor"],
            "start_delay_s": number((run.start - self.day.scheduled_time).total_seconds())
            if self.day.scheduled_time is not None else None,
            "baseline_evidence_ids": [r.terminal.evidence_id for r in succeeded if r.terminal is not None],
        }
        if beat is not None:  # the run said it was alive then: still running, not silently dead
            facts.update(last_heartbeat_at=iso(beat.event_time),
                         since_last_heartbeat_s=moving["since_last_heartbeat_s"])
        # The latest baseline run is the proof that this producer reports run ends, which is what makes the missing
        # end of today's run meaningful; every baseline run is listed with the evidence, since the facts name them.
        proof = [run.started or run.first, *(r.terminal for r in succeeded[-1:] if r.terminal is not None)]
        baseline_runs = [r.terminal for r in succeeded if r.terminal is not None]
        return self._finding(ReasonCode.JOB_RUNNING_SLOW, run.summary(), None, proof, facts, until=run.start,
                             extra=[*baseline_runs, *([beat] if beat is not None else [])], clock=clock)

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
        written = sorted({p for c in commits for p in partitions(c)})
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
            "partitions_written": sorted({p for c in a.delivering for p in partitions(c)}),
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
            run = CorrelatedRun(run_id=None, evidence_id=None, state="not_started",
                                scheduled_time=self.day.scheduled_time)
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
        run: CorrelatedRun | None,
        kind: str | None,
        proof: list[EvidenceRecord],
        facts: dict[str, Any],
        until: datetime,
        extra: list[EvidenceRecord] | None = None,
        clock: Lateness | None = None,
    ) -> FreshnessFinding:
        state = self.a.state
        clock = clock or Lateness(self.day.deadline)
        deploys = self._correlated_deploys(until)
        cited = {r.evidence_id: r for r in [*proof, *(extra or [])]}
        if state.last_good_commit is not None:
            cited[state.last_good_commit.evidence_id] = state.last_good_commit
        for deploy in deploys:
            for cited_id in (deploy.evidence_id, deploy.code_ref_evidence_id):  # the deploy, the run naming it
                if cited_id is not None:
                    cited[cited_id] = self.by_id[cited_id]
        if run is not None:
            for cited_id in (run.evidence_id, run.terminal_evidence_id):  # the correlated run's own start and end
                if cited_id is not None and cited_id in self.by_id:
                    cited[cited_id] = self.by_id[cited_id]
        common = {
            "deadline": iso(self.day.deadline),
            "scheduled_time": iso(self.day.scheduled_time),
            "late_by_s": clock.facts(self.now)["late_by_s"],
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
            # Upstream states move on their own (a deadline passing makes one breached): then no clock-only update.
            clock=None if self._reads_upstream() else clock,
        )

    def _correlated_deploys(self, until: datetime) -> list[CorrelatedDeploy]:
        """The job's own changes after the last good run began and before the run in question started
        (detectors/_job_changes.py)."""
        if self.producer is None:
            return []
        good_run = self._good_run()
        last_good = self.a.state.last_good_commit
        since = (
            good_run.start if good_run is not None
            else commit_time(last_good) if last_good is not None
            else self.day.lookback_start
        )
        return job_changes(self.evidence, self.runs, self.producer, good_run, since, min(until, self.day.deadline))

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

    def _reads_upstream(self) -> bool:
        """Whether the finding read other datasets' states (its job names inputs): `_late_inputs`."""
        source = self._inputs_run()
        return source is not None and bool(source.input_datasets)

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

    def _committing_run(self, commit: EvidenceRecord) -> CorrelatedRun:
        run = next((r for r in self.runs if commit.run_id and r.run_id == commit.run_id), None)
        summary = run.summary() if run is not None else CorrelatedRun(
            run_id=commit.run_id, evidence_id=commit.evidence_id, state="committed", started_at=None,
            scheduled_time=None, code_ref=None, ended_at=None, terminal_evidence_id=None,
        )
        return summary.model_copy(update={"state": "committed", "commit_evidence_id": commit.evidence_id,
                                          "committed_at": commit_time(commit)})

    def _run_start(self, run: CorrelatedRun | None) -> datetime:
        started = run.started_at if run is not None else None
        return started if started is not None else self.day.deadline

    def _reports_partitions(self) -> bool:
        return any(partitions(c) for c in self.a.commits)


