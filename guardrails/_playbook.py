"""What on-call should check next and do, keyed on the reason code, on the evidence that is missing and on the
causes that survived the verifier. Every sentence is built from structured values (URNs, versions, run ids,
counts, times) that pass a plain-token filter; nothing is copied from payload free text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from detectors import Run, partitions
from evidence import FIELD_REASONS, EventType, EvidenceRecord, ReasonCode, iso
from guardrails._claims import CAUSE_KINDS, ClaimKind, VerifiedClaim
from guardrails._scope import Scope
from guardrails._text import identifier
from guardrails._view import IncidentView, view_of

_CONFIG_TEXT = re.compile(r"^[\w .&/\-]{1,80}$")
_MISSING_EVIDENCE = {
    EventType.RUN_STARTED: "{p} emits no JobRunStarted: enable the autopilot SDK (Spark pack) or openlineage-spark "
                           "so its runs are recorded",
    EventType.RUN_COMPLETED: "{p} does not report how its runs end (JobRunCompleted / JobRunFailed): enable the "
                             "autopilot SDK's run listener",
    EventType.RUN_FAILED: "{p} does not report failed runs (JobRunFailed): enable the autopilot SDK's run listener",
    EventType.COMMITTED: "{p} reports no DatasetWriteCommitted: enable the autopilot SDK's commit hook so the "
                         "watermark can be read",
    "output_partitions_written": "{p}'s commits list no output_partitions_written: upgrade the autopilot SDK so "
                                 "commits name their partitions",
    "baseline_duration_s": "No completed run of {p} in the lookback to measure a baseline: check how long its runs "
                           "usually take in the scheduler's history",
}


def _t(value: Any) -> str | None:
    """A structured value as a plain token, or None: ids, URNs, versions, times, numbers; never prose."""
    if value is None or isinstance(value, bool):
        return None
    text = iso(value) if hasattr(value, "tzinfo") else str(value)
    return identifier(text)


def _u(value: Any) -> str:
    """A plain token for a sentence, "unknown" when absent or not plain."""
    return _t(value) or "unknown"


def _config(value: Any) -> str | None:
    """Operator-configured text (owner team names): letters, digits and a few separators."""
    return value if isinstance(value, str) and _CONFIG_TEXT.match(value) else None


def _unique(lines: list[str | None]) -> list[str]:
    return list(dict.fromkeys(line for line in lines if line))


def _verified(accepted: Sequence[VerifiedClaim], kind: ClaimKind) -> list[VerifiedClaim]:
    return [c for c in accepted if c.kind == kind]


def _cited(view: IncidentView, claims: Sequence[VerifiedClaim], record_type: str) -> list[EvidenceRecord]:
    records = view.scope.records
    return [records[i] for c in claims for i in c.evidence_ids if i in records and records[i].type == record_type]


def _producer(view: IncidentView) -> str:
    return _t(view.producer) or "the producer"


def _run(view: IncidentView) -> Run | None:
    run_id = view.correlated_run.run_id if view.correlated_run is not None else None
    return next((r for r in view.runs if r.run_id == run_id), None) if run_id else None


def _deploys(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> list[EvidenceRecord]:
    """Verified correlated deploys, closest to first bad first; when several producers' records broke, the first to
    break first (its deploys are the likeliest cause of the incident's own first bad record)."""
    claims = _verified(accepted, ClaimKind.DEPLOY_CORRELATED)
    found = {r.evidence_id: r for r in _cited(view, claims, EventType.DEPLOYMENT)}
    order = {urn: at for urn, (at, _) in view.breaking.items()}
    return sorted(found.values(), key=lambda r: (order.get(r.producer_urn or "", view.first_bad or r.event_time),
                                                 -r.event_time.timestamp(), r.evidence_id))


def _deploy_line(view: IncidentView, deploy: EvidenceRecord) -> tuple[str, str | None]:
    """("service version", previous version or None)."""
    data = deploy.data
    name = " ".join(v for v in (_t(data.get("service")), _t(data.get("version"))) if v) or deploy.evidence_id
    previous = view.previous_deploy(deploy)
    return name, _t(previous.data.get("version")) if previous is not None else None


# -- next checks ---------------------------------------------------------------------------------------------


def next_checks(scope: Scope, accepted: Sequence[VerifiedClaim]) -> list[str]:
    """What to look at next, most telling first; never empty for an open incident."""
    view = view_of(scope)
    if view.kind == "contract":
        lines = _contract_checks(view, accepted)
    elif view.kind == "freshness":
        lines = _freshness_checks(view, accepted)
    else:
        lines = _drift_checks(view)
    lines += _change_checks(view, accepted)
    if not lines:
        lines.append(f"Compare {_u(view.dataset) or 'the dataset'}'s evidence around "
                     f"{_u(view.first_bad) or 'first bad'} with the producer's own logs")
    return _unique(lines)


def _change_checks(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> list[str | None]:
    lines: list[str | None] = []
    for deploy in _deploys(view, accepted):
        name, previous = _deploy_line(view, deploy)
        against = f"the previous version {previous}" if previous else "the version it replaced"
        lines.append(f"Diff {name} against {against}: the change that shipped just before the break")
    for claim in _verified(accepted, ClaimKind.CODE_CHANGED):
        starts = sorted(_cited(view, [claim], EventType.RUN_STARTED), key=lambda r: r.event_time)
        if starts:
            lines.append(f"Diff the job's code_ref {_u(starts[-1].data.get('code_ref'))} against the last good "
                         "run's: the code changed between them")
    if view.producer is None:
        lines.append(f"The producer of {_u(view.dataset)} is unknown: add the autopilot-producer header (autopilot "
                     "SDK) or an approved mapping with a producer_urn, so its changes can be correlated")
    elif not any(r.type == EventType.DEPLOYMENT and view.is_producer(r.producer_urn) for r in view.records):
        lines.append(f"No DeploymentEvent from {_producer(view)} in this incident's evidence: if it deploys without "
                     "one, add the autopilot CI deploy step (or the SDK's startup event) so its deploys are recorded")
    elif view.kind == "contract" and not _verified(accepted, ClaimKind.DEPLOY_CORRELATED):
        minutes = int(view.deploy_window.total_seconds() // 60)
        lines.append(f"No deploy of {_producer(view)} in the {minutes} min before first bad {_u(view.first_bad)}: "
                     "check its config and feature-flag changes and its own upstream clients in that window")
    return lines


def _contract_checks(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> list[str | None]:
    field, dataset, producer = _t(view.field), _u(view.dataset), _producer(view)
    lines: list[str | None] = []
    if view.reason in FIELD_REASONS and field:
        lines.append(f"Check how {producer} fills field {field} of {dataset} ({view.reason}): serializer, DTO "
                     f"mapping and defaults in the code running since {_u(view.first_bad)}")
    elif view.reason == ReasonCode.UNDECODABLE_MESSAGE:
        topic = _u(str(view.facts.get("first_bad_ref") or "").rsplit("/", 2)[0])
        lines.append(f"Check {producer}'s serializer and schema-registry framing on topic {topic}: records since "
                     f"{_u(view.first_bad)} do not decode")
    if view.last_good is None:
        lines.append(f"No record of {dataset} passed the contract before first bad: check whether the contract is "
                     "new or the field was ever sent")
    first_bad = view.scope.records.get(str(view.facts.get("first_bad_evidence_id") or ""))
    if first_bad is not None and not first_bad.traceparent:
        lines.append(f"Bad records of {dataset} carry no traceparent: enable the autopilot SDK's trace propagation "
                     "so a bad record leads to the request that wrote it")
    return lines


def _freshness_checks(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> list[str | None]:
    producer, facts, run = _producer(view), view.facts, _run(view)
    run_id = _u(run.run_id if run else None)
    started = run.started.data if run and run.started else {}
    expected = _u(view.incident.expected_watermark)
    inputs = ", ".join(t for t in (_t(d) for d in started.get("input_datasets") or []) if t)
    policy = view.scope.policy
    lines: list[str | None] = []
    if view.reason == ReasonCode.JOB_NOT_TRIGGERED:
        lines.append(f"Check the scheduler for {producer}'s run due at {_u(facts.get('scheduled_time'))} (Airflow DAG "
                     "or Step Functions trigger): paused or broken DAG, missed schedule, trigger permissions")
        if policy is not None and policy.schedule and _dst_near(view):
            lines.append(f"Check that the scheduler reads cron '{policy.schedule}' in {policy.timezone} as the "
                         "policy does: DST transitions move or skip fires")
    elif view.reason == ReasonCode.JOB_FAILED:
        lines += _failure_checks(view, run, run_id, inputs)
    elif view.reason == ReasonCode.JOB_RUNNING_SLOW:
        lines.append(f"Check Spark stage timings and skew of run {run_id} (app {_u(started.get('spark_app_id'))}, "
                     f"cluster {_u(started.get('cluster_id'))})")
        lines.append(f"Compare run {run_id}'s input volume with the baseline: median duration "
                     f"{_u(facts.get('baseline_duration_s'))} s, running for {_u(facts.get('running_for_s'))} s")
    elif view.reason == ReasonCode.WRONG_PARTITION:
        if facts.get("run_completed_without_commit"):
            lines.append(f"Run {run_id} completed without a commit: check its write step and output path")
        written = sorted({p for c in view.commits if view.cycle_start and c.event_time >= view.cycle_start
                          for p in partitions(c) if _t(p)})
        lines.append(f"Check the dt derivation and time zone of {producer}: today it wrote "
                     f"{', '.join(written) or 'no partition'}, expected {expected}"
                     + (f" (policy time zone {policy.timezone})" if policy is not None else ""))
    elif view.reason == ReasonCode.PARTIAL_WRITE:
        lines.append(f"Compare run {run_id}'s input volume with the baseline: {_u(facts.get('rows_written'))} rows "
                     f"written against a median of {_u(facts.get('baseline_rows'))}")
        if inputs:
            lines.append(f"Check that the inputs ({inputs}) had fully landed before run {run_id} started")
    elif view.reason == ReasonCode.UPSTREAM_DATA_LATE:
        for late in facts.get("upstream_late") or []:
            if isinstance(late, dict):
                lines.append(f"Check upstream landing of {_u(late.get('dataset_urn'))}: watermark "
                             f"{_u(late.get('current_watermark'))}, expected {_u(late.get('expected_watermark'))}")
    elif view.reason == ReasonCode.INSUFFICIENT_EVIDENCE:
        for missing in facts.get("missing") or []:
            template = _MISSING_EVIDENCE.get(str(missing))
            lines.append(template.format(p=producer) if template else None)
        lines.append(f"Until then, check the scheduler and the job's logs for {producer}'s run due at "
                     f"{_u(facts.get('scheduled_time'))}")
    if not any(r.type == EventType.RUN_STARTED and view.is_producer(r.producer_urn) for r in view.records) \
            and view.reason != ReasonCode.INSUFFICIENT_EVIDENCE:
        lines.append(_MISSING_EVIDENCE[EventType.RUN_STARTED].format(p=producer))
    return lines


def _dst_near(view: IncidentView) -> bool:
    """Whether the policy's zone changed its UTC offset in the day before today's scheduled run."""
    policy, at = view.scope.policy, view.cycle_start
    if policy is None or at is None:
        return False
    zone = ZoneInfo(policy.timezone)
    return at.astimezone(zone).utcoffset() != (at - timedelta(days=1)).astimezone(zone).utcoffset()


def _failure_checks(view: IncidentView, run: Run | None, run_id: str, inputs: str) -> list[str | None]:
    kind = view.incident.failure_class
    failed = run.terminal.data if run and run.terminal and run.terminal.type == EventType.RUN_FAILED else {}
    sizing = f"{_u(failed.get('executors'))} executors x {_u(failed.get('executor_memory'))}"
    good = view.baseline_runs()
    before = good[-1].terminal.data if good and good[-1].terminal else {}
    if kind == "out_of_memory":
        was = f" (the last good run had {_u(before.get('executors'))} x {_u(before.get('executor_memory'))})" \
            if before else ""
        return [f"Check executor sizing of run {run_id}: {sizing}{was}",
                f"Compare run {run_id}'s input volume with the baseline of recent runs"]
    if kind == "timeout":
        return [f"Compare run {run_id}'s duration ({_u(failed.get('duration_s'))} s) and input volume with the "
                "baseline of recent runs, and check the scheduler's execution timeout"]
    if kind == "dependency":
        if not inputs:
            return [f"Check the availability of what run {run_id} reads: its JobRunStarted names no input datasets"]
        return [f"Check upstream landing: did the inputs of run {run_id} ({inputs}) land before it started?"]
    return [f"Read the driver log of run {run_id}: its failure is not one the detector classifies"]


def _drift_checks(view: IncidentView) -> list[str | None]:
    facts = view.facts
    request, topic, schema = _u(facts.get("change_request_id")), _u(facts.get("topic")), _u(facts.get("schema_id"))
    proposal = next((r.get("proposal") for r in facts.get("change_requests") or []
                     if isinstance(r, dict) and r.get("id") == facts.get("change_request_id")), None) or {}
    target = _t(proposal.get("dataset_urn"))
    return [
        f"Review change request {request}: records on topic {topic} with schema id {schema} "
        + (f"would map to {target}" if target else "map to no dataset") + f" ({view.reason})",
        f"Compare schema id {schema} with the approved schema of topic {topic}: field names and nesting",
    ]


# -- suggested actions ---------------------------------------------------------------------------------------


def suggested_actions(scope: Scope, accepted: Sequence[VerifiedClaim]) -> list[str]:
    """What to do, per verified cause; for an inconclusive RCA only what is safe without a cause."""
    view = view_of(scope)
    producer, expected = _producer(view), _t(view.incident.expected_watermark)
    target = f" for {expected}" if expected else ""
    run = _run(view)
    run_id = _u(run.run_id if run else None)
    lines: list[str | None] = []
    deploys = _deploys(view, accepted)
    for deploy in deploys[:1]:  # act on the closest change; the checks diff them all
        # Roll back past every correlated change, to what ran before the oldest of them.
        name, previous = _deploy_line(view, deploy)
        previous = _deploy_line(view, [d for d in deploys if d.producer_urn == deploy.producer_urn][-1])[1]
        ref = _t(deploy.deploy_ref)
        if deploy.data.get("status") == "rolled_back":
            lines.append(f"Patch forward: the correlated change is the rollback to {name}"
                         + (f" ({ref})" if ref else ""))
        else:
            lines.append((f"Roll back to {previous} or patch {name}" if previous else f"Roll back or patch {name}")
                         + (f" (deploy {ref})" if ref else ""))
    for claim in _verified(accepted, ClaimKind.CODE_CHANGED):
        starts = sorted(_cited(view, [claim], EventType.RUN_STARTED), key=lambda r: r.event_time)
        if starts:
            lines.append(f"Roll back {producer} to the last good run's code or patch "
                         f"{_u(starts[-1].data.get('code_ref'))}")
    if _verified(accepted, ClaimKind.JOB_FAILED):
        kind = view.incident.failure_class
        if kind in ("out_of_memory", "timeout"):
            lines.append(f"Scale executors temporarily and re-run {producer}{target}, then open a perf ticket")
        elif kind == "dependency":
            lines.append(f"Re-run {producer}{target} once its inputs have landed")
        else:
            lines.append(f"Re-run {producer}{target} once the failure of run {run_id} is fixed")
    if _verified(accepted, ClaimKind.JOB_SLOW) or _verified(accepted, ClaimKind.JOB_RUNNING):
        lines.append(f"Scale executors for run {run_id} temporarily, then open a perf ticket")
    if _verified(accepted, ClaimKind.JOB_NOT_TRIGGERED):
        lines.append(f"Trigger {producer}'s run{target} by hand, then fix the schedule")
    if _verified(accepted, ClaimKind.WRONG_PARTITION):
        lines.append(f"Fix the dt derivation and re-run {producer} for the correct partition {_u(expected)}")
    if _verified(accepted, ClaimKind.PARTIAL_WRITE):
        lines.append(f"Re-run {producer}{target} to rewrite the partition in full")
    for claim in _verified(accepted, ClaimKind.UPSTREAM_LATE):
        late = sorted({t for r in _cited(view, [claim], EventType.COMMITTED)
                       if r.dataset_urn != view.dataset and (t := _t(r.dataset_urn))})
        upstream = ", ".join(late) or "its late input"
        lines.append(f"Re-run {producer}{target} once {upstream} has landed")
    if _verified(accepted, ClaimKind.SCHEMA_DRIFT):
        facts = view.facts
        lines.append(f"Approve or reject change request {_u(facts.get('change_request_id'))} (topic "
                     f"{_u(facts.get('topic'))}, schema id {_u(facts.get('schema_id'))})")
    downstream = [t for t in (_t(d) for d in view.incident.impacted_downstream) if t]
    if view.incident.tier == 1 and view.kind == "freshness":
        lines.append(f"{_u(view.dataset)} is tier 1: trigger the fallback dataset or a partial refresh"
                     + (f" for {', '.join(downstream)}" if downstream else ""))
    if not any(c.kind in CAUSE_KINDS for c in accepted):
        team = _config(view.incident.owner_team)
        lines.append(f"Hand the next checks to {team}, the owner of {_u(view.dataset)}" if team else None)
    return _unique(lines)
