"""Predicates for the run- and commit-shaped causes of a freshness breach: a run that never started, failed,
is still running or slow, a commit to the wrong partition or a partial one, a late input. Evidence of absence
counts only where presence was expected (DESIGN.md, "Reason codes"). Same contract as _predicates.py: a sentence
saying what failed, or the values the claim's sentence states, derived from the cited evidence."""

from __future__ import annotations

import statistics

from detectors import Run, commit_time, committed_dataset, failure_class, rows
from evidence import EventType, EvidenceRecord, ReasonCode, iso
from guardrails._claims import Claim
from guardrails._predicates import Values, describe, ids, moment, needs_kind, param_text, stray
from guardrails._view import RUN_RECORD_TYPES, IncidentView, writes_partition

DEFAULT_PARTIAL_RATIO = 0.5


def _no_cycle(claim: Claim, view: IncidentView) -> str | None:
    if view.kind != "freshness":
        return needs_kind(view, "freshness", claim)
    if view.cycle_start is None:
        return "the incident has no schedule (policy or scheduled_time) to place today's run"
    return None


def _producer_run_record(record: EvidenceRecord, view: IncidentView) -> bool:
    return record.type in RUN_RECORD_TYPES and view.is_producer(record.producer_urn)


def _today(record: EvidenceRecord, view: IncidentView) -> bool:
    """A run record of today's cycle (by its run's start or scheduled time), or a commit since the schedule."""
    if view.cycle_start is None:
        return False
    if record.type == EventType.COMMITTED:
        return commit_time(record) >= view.cycle_start
    run = view.run_of(record)
    return view.in_cycle(run) if run is not None else record.event_time >= view.cycle_start


def job_not_triggered(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    error = _no_cycle(claim, view)
    if error:
        return error
    if view.reason != ReasonCode.JOB_NOT_TRIGGERED:
        return f"the incident's reason is {view.reason}, not JOB_NOT_TRIGGERED"
    assert view.cycle_start is not None
    habit = [r for r in cited if r.type == EventType.RUN_STARTED and view.is_producer(r.producer_urn)
             and not _today(r, view) and (view.lookback_start is None or r.event_time >= view.lookback_start)]
    if not habit:
        return (f"cites no earlier JobRunStarted of {view.producer or 'the producer'} in its lookback: without the "
                "habit, no run today proves nothing")
    started = [run.started for run in view.runs if run.started is not None and view.in_cycle(run)]
    if started and started[0] is not None:
        return f"{describe(started[0])} shows a run of the producer started since the schedule {iso(view.cycle_start)}"
    latest = max(habit, key=lambda r: (r.event_time, r.evidence_id))
    return stray(cited, lambda r: (_producer_run_record(r, view) or r.evidence_id in ids(view.commits))
                 and not _today(r, view), claim.kind) or {
        "producer_urn": view.producer, "scheduled_time": moment(view.cycle_start),
        "last_started_at": moment(latest.event_time)}


def job_failed(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    error = _no_cycle(claim, view)
    if error:
        return error
    assert view.cycle_start is not None
    failures = [r for r in cited if r.type == EventType.RUN_FAILED and view.is_producer(r.producer_urn)]
    if not failures:
        return f"cites no JobRunFailed of {view.producer or 'the producer'}"
    today = [r for r in failures if r.event_time >= view.cycle_start]
    if not today:
        return f"{describe(failures[0])} is before today's scheduled run {iso(view.cycle_start)}"
    run = view.correlated_run
    if run is not None and run.state == "failed" and run.run_id:
        today = [r for r in today if r.run_id == run.run_id]
        if not today:
            return f"cites no failure of run {run.run_id}, the incident's failed run"
    failure = today[-1]
    actual = view.incident.failure_class or failure_class(failure.data.get("failure_reason"))
    return stray(cited, lambda r: _producer_run_record(r, view) and _today(r, view), claim.kind) or {
        "run_id": failure.run_id, "failure_class": actual, "failed_at": moment(failure.event_time)}


def _running_start(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> tuple[Run | None, str | None]:
    """Today's cited run of the producer that has no end in scope, provided the producer reports run ends."""
    error = _no_cycle(claim, view)
    if error:
        return None, error
    starts = [r for r in cited if r.type == EventType.RUN_STARTED and view.is_producer(r.producer_urn)]
    if not starts:
        return None, f"cites no JobRunStarted of {view.producer or 'the producer'}"
    runs = [view.run_of(r) for r in starts]
    today = [run for run in runs if run is not None and view.in_cycle(run)]
    if not today:
        return None, f"{describe(starts[0])} is not a run of today's cycle (scheduled {iso(view.cycle_start)})"
    open_runs = [run for run in today if run.terminal is None]
    if not open_runs:
        ended = today[-1].terminal
        assert ended is not None
        return None, f"run {today[-1].run_id} has ended: {describe(ended)}"
    run = open_runs[-1]
    reported = [r for r in view.records if r.type in (EventType.RUN_COMPLETED, EventType.RUN_FAILED)
                and view.is_producer(r.producer_urn) and r.event_time < run.start]
    if not reported:
        return None, (f"{view.producer} reported no run end before this run, so a missing end does not show that "
                      "it is still running")
    return run, None


def job_running(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    run, error = _running_start(claim, cited, view)
    if error or run is None:
        return error or "no run"
    return stray(cited, lambda r: _producer_run_record(r, view), claim.kind) or {
        "run_id": run.run_id, "started_at": moment(run.start)}


def job_slow(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    run, error = _running_start(claim, cited, view)
    if error or run is None:
        return error or "no run"
    baseline = view.baseline_duration(run.start)
    if baseline is None or baseline <= 0:
        return "no completed run of the producer in the lookback to measure a baseline against"
    running_for = (view.now - run.start).total_seconds()
    if running_for <= baseline:
        return f"run {run.run_id} has run for {running_for:.0f} s, not longer than the baseline of {baseline:.0f} s"
    completions = [r for r in cited if r.type == EventType.RUN_COMPLETED and view.is_producer(r.producer_urn)
                   and r.event_time < run.start]
    if not completions:
        return "cites no earlier JobRunCompleted of the producer as its baseline"
    runs = len(view.baseline_runs(run.start)) or None
    return stray(cited, lambda r: _producer_run_record(r, view), claim.kind) or {
        "run_id": run.run_id, "running_for_s": round(running_for), "baseline_s": round(baseline),
        "baseline_runs": runs}


def _expected(view: IncidentView) -> str | None:
    return view.incident.expected_watermark or None


def wrong_partition(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    error = _no_cycle(claim, view)
    if error:
        return error
    expected = _expected(view)
    if expected is None:
        return "the incident has no expected watermark to compare partitions with"
    today_commits = [c for c in view.commits if _today(c, view)]
    landed = [c for c in today_commits if writes_partition(c, expected)]
    if landed:
        return f"{describe(landed[0])} wrote {expected}, the expected partition"
    cited_commits = [r for r in cited if r.type == EventType.COMMITTED and committed_dataset(r) == view.dataset]
    values: Values = {"expected_watermark": expected}
    if cited_commits:
        if not all(_today(c, view) for c in cited_commits):
            return f"{describe(cited_commits[0])} was committed before today's scheduled run {iso(view.cycle_start)}"
        values["commit_ref"] = cited_commits[-1].source_ref
    else:
        done = [r for r in cited
                if r.type == EventType.RUN_COMPLETED and view.is_producer(r.producer_urn) and _today(r, view)]
        if not done:
            return f"cites no commit to {view.dataset} since today's scheduled run, nor a completed run without one"
        if view.correlated_run is None or view.correlated_run.state != "completed":
            return "the incident's run did not complete without a commit"
        if today_commits:
            return f"run {done[0].run_id} did commit: {describe(today_commits[0])}"
        values["run_id"] = done[0].run_id
    return stray(cited, lambda r: (r.evidence_id in ids(today_commits))
                 or (_producer_run_record(r, view) and _today(r, view)), claim.kind) or values


def partial_write(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    error = _no_cycle(claim, view)
    if error:
        return error
    assert view.cycle_start is not None
    expected = _expected(view)
    delivering = [c for c in view.commits if _today(c, view) and (expected is None or writes_partition(c, expected))]
    if not delivering:
        return f"no commit to {expected or view.dataset} since today's scheduled run is in scope"
    if not ids(delivering) & ids(cited):
        return f"cites none of the commits to {expected or 'today'} ({', '.join(sorted(ids(delivering)))})"
    written = [rows(c) for c in delivering]
    if any(n is None for n in written):
        return "a commit to the expected partition does not report rows_written, so the total is unknown"
    total = sum(n for n in written if n is not None)
    lookback = view.lookback_start
    baseline = [c for c in view.commits if commit_time(c) < view.cycle_start and rows(c) is not None
                and (lookback is None or commit_time(c) >= lookback)]
    if not baseline:
        return "no earlier commit with rows_written in the lookback to compare with"
    median = float(statistics.median(float(rows(c) or 0) for c in baseline))
    ratio = _partial_ratio(view)
    if total >= ratio * median:
        return f"{total} rows written is not below {ratio} x the baseline median of {median:.0f} rows"
    allowed = ids(delivering) | ids(baseline)
    return stray(cited, lambda r: r.evidence_id in allowed or (_producer_run_record(r, view) and _today(r, view)),
                 claim.kind) or {"partition": expected, "rows_written": total, "baseline_rows": round(median)}


def _partial_ratio(view: IncidentView) -> float:
    if view.scope.policy is not None:
        return view.scope.policy.partial_write_ratio
    value = view.facts.get("partial_write_ratio")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else DEFAULT_PARTIAL_RATIO


def _inputs(view: IncidentView) -> tuple[list[str], EvidenceRecord | None]:
    """The job's input datasets, named by today's latest JobRunStarted, else the latest one before it."""
    named = [run for run in view.runs if run.started is not None and run.input_datasets]
    today = [run for run in named if view.in_cycle(run)]
    source = (today or named)[-1] if named else None
    found = set(source.input_datasets) if source is not None else set()
    found |= {str(d) for d in view.facts.get("input_datasets") or []}
    found.discard(view.dataset)
    return sorted(found), source.started if source is not None else None


def upstream_late(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    error = _no_cycle(claim, view)
    if error:
        return error
    inputs, _ = _inputs(view)
    if not inputs:
        return f"no JobRunStarted of {view.producer or 'the producer'} in scope names input datasets"
    stated = param_text(claim, "dataset_urn")
    if stated is not None and stated not in inputs:
        return f"names {stated}, which is not an input of the job ({', '.join(inputs)})"
    wanted = [stated] if stated is not None else inputs
    late: list[str] = []
    why: list[str] = []
    for record in cited:
        verdict = _late_evidence(record, wanted, view)
        if verdict is None:
            late.append(record.evidence_id)
        elif verdict:
            why.append(verdict)
    if not late:
        return why[0] if why else f"cites no evidence that an input ({', '.join(wanted)}) is late"
    today_commits = ids(c for c in view.commits if _today(c, view))

    def allowed(record: EvidenceRecord) -> bool:
        return (record.evidence_id in late or record.evidence_id in today_commits
                or _producer_run_record(record, view) or _late_evidence(record, inputs, view) is None)

    error = stray(cited, allowed, claim.kind)
    return error or _late_values(stated or _late_dataset(view.scope.records[late[0]], wanted, view), view)


def _late_dataset(record: EvidenceRecord, inputs: list[str], view: IncidentView) -> str:
    """Which input a record showing lateness is about: the dataset it committed to, or its upstream incident's."""
    if record.type == EventType.COMMITTED and committed_dataset(record) in inputs:
        return str(committed_dataset(record))
    return next(i.dataset_urn for i in view.scope.upstream_incidents
                if i.dataset_urn in inputs and record.evidence_id in i.evidence_ids)


def _late_values(dataset: str, view: IncidentView) -> Values:
    """The late input and its watermarks, as the detectors recorded them (the incident's facts, else the
    input's own open incident)."""
    entries = [e for e in view.facts.get("upstream_late") or [] if isinstance(e, dict)]
    entries += [{"dataset_urn": i.dataset_urn, "current_watermark": i.current_watermark,
                 "expected_watermark": i.expected_watermark} for i in view.scope.upstream_incidents]
    entry = next((e for e in entries if e.get("dataset_urn") == dataset and e.get("expected_watermark")), {})
    return {"dataset_urn": dataset, "current_watermark": entry.get("current_watermark"),
            "expected_watermark": entry.get("expected_watermark")}


def _late_evidence(record: EvidenceRecord, inputs: list[str], view: IncidentView) -> str | None:
    """None when `record` shows an input late; "" when it is not input evidence at all; else why it does not."""
    for incident in view.scope.upstream_incidents:
        if incident.dataset_urn in inputs and record.evidence_id in incident.evidence_ids:
            return None
    dataset = committed_dataset(record) if record.type == EventType.COMMITTED else None
    if dataset is None or dataset not in inputs:
        return ""
    history = view.commits_of(dataset)
    if history and history[-1].evidence_id != record.evidence_id:
        return f"{record.evidence_id} is not the latest commit of {dataset}: {describe(history[-1])} landed later"
    expected = _upstream_expected(dataset, view)
    if expected is not None and not writes_partition(record, expected):
        return None
    current = [run for run in view.runs if view.in_cycle(run)]
    if current and commit_time(record) > current[-1].start:
        return None
    return (f"{describe(record)} reached {expected or 'its partition'} before today's run started: "
            f"{dataset} was not late")


def _upstream_expected(dataset: str, view: IncidentView) -> str | None:
    for entry in view.facts.get("upstream_late") or []:
        if isinstance(entry, dict) and entry.get("dataset_urn") == dataset and entry.get("expected_watermark"):
            return str(entry["expected_watermark"])
    return _expected(view)
