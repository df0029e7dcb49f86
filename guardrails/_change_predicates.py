"""Predicates for change-shaped causes and their absence: a deploy of the producer before the break, a changed
code_ref, schema drift, and "no deploy since the last good point". Same contract as _predicates.py: a sentence
saying what failed, or the values the claim's sentence states, derived from the cited evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from evidence import CHANGE_STATUSES, DRIFT_REASONS, GATE_OBSERVATION, EventType, EvidenceRecord, iso
from guardrails._claims import Claim
from guardrails._predicates import Values, describe, ids, moment, needs_kind, param_text, stray
from guardrails._view import IncidentView, to_second, violations


def _service(deploy: EvidenceRecord) -> Any:
    return deploy.data.get("service") or (deploy.producer_urn or "").split("://", 1)[-1] or None


def deploy_correlated(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    deploys = [r for r in cited if r.type == EventType.DEPLOYMENT]
    if len(deploys) != 1:
        return (f"cites {len(deploys)} DeploymentEvents; a deploy correlation names exactly one"
                if deploys else "cites no DeploymentEvent")
    deploy = deploys[0]
    first_bad, own_first_bad = _first_bad_of(deploy, cited, view)
    if isinstance(own_first_bad, str):
        return own_first_bad
    status = deploy.data.get("status", "succeeded")
    if status not in CHANGE_STATUSES:
        return f"{deploy.evidence_id} has status {status}: a deploy that did not ship changed nothing"
    # A change is before the break only when strictly earlier than it (a job's deploy may land at its deadline).
    if first_bad is None or deploy.event_time > first_bad or (
            view.kind != "freshness" and deploy.event_time == first_bad):
        return f"{describe(deploy)} does not precede first bad {iso(first_bad)}"
    if view.kind == "freshness":
        correlated = {d.evidence_id for d in view.correlated_deploys}
        if deploy.evidence_id not in correlated:
            return (f"{deploy.evidence_id} is not among the changes between the last good run and today's run "
                    "that the freshness detector correlated")
    elif deploy.event_time < first_bad - view.deploy_window:
        minutes = int(view.deploy_window.total_seconds() // 60)
        return f"{describe(deploy)} is older than the {minutes}-minute deploy window before first bad"
    if (view.kind != "freshness" and deploy.data.get("source") == "startup"
            and deploy.evidence_id not in {d.evidence_id for d in view.correlated_deploys}):
        # issue 13: a start-up of a version its producer's CI (or an earlier start-up) reported is a restart or a
        # replica, folded into that deploy; stating it as a deploy at its own time would misdate the change.
        return (f"{describe(deploy)} is a start-up (a restart or a replica) that the detector folded into the "
                "deploy of its version, not a deploy of its own")
    own = view.incident_ids
    error = stray(cited, lambda r: r.evidence_id == deploy.evidence_id
                  or (r.type != EventType.DEPLOYMENT and (r.evidence_id in own or view.is_bad(r))), claim.kind)
    if error:
        return error
    values: Values = {"service": _service(deploy), "version": deploy.data.get("version"),
                      "deployed_at": moment(deploy.event_time)}
    if view.kind == "freshness":
        after = view.last_good is not None and deploy.event_time > view.last_good
        return {**values, "last_good_time": moment(view.last_good) if after else None}
    boundary = "first unmapped record" if view.kind == "drift" else "first bad record"
    values = {**values, "seconds_before_first_bad": int((first_bad - deploy.event_time).total_seconds()),
              "boundary": boundary}
    if len(view.breaking) > 1:  # several producers broke: whose first bad record this deploy preceded
        values.update(producer_urn=deploy.producer_urn,
                      first_bad_ref=own_first_bad.source_ref if own_first_bad is not None else None)
    return values


def _first_bad_of(deploy: EvidenceRecord, cited: list[EvidenceRecord],
                  view: IncidentView) -> tuple[datetime | None, EvidenceRecord | str | None]:
    """The first bad instant a deploy is judged against: its own producer's (issue 24), with that producer's first
    bad record when the claim cites it; or why the deploy cannot be judged. When several producers' records broke
    (a contract incident's facts.breaking_producers), a deploy of one that is not the incident's producer must
    cite that producer's first bad record, so the RCA shows whose records broke after whose deploy."""
    if not view.breaking:
        if not view.is_producer(deploy.producer_urn):
            return None, (f"{deploy.evidence_id} is a deploy of {deploy.producer_urn}, not of the dataset's producer "
                          f"{view.producer or '(unknown)'}")
        return view.first_bad, None
    own = view.breaking.get(deploy.producer_urn or "")
    if own is None:
        return None, (f"{deploy.evidence_id} is a deploy of {deploy.producer_urn}, whose records did not break; "
                      f"the records of {', '.join(sorted(view.breaking))} did")
    first_bad, first_bad_id = own
    record = next((r for r in cited if r.evidence_id == first_bad_id), None)
    if record is not None and (record.type != GATE_OBSERVATION or record.dataset_urn != view.dataset
                               or record.producer_urn != deploy.producer_urn or not violations(record)
                               or to_second(record.event_time) != to_second(first_bad)):
        record = None
    if record is None and deploy.producer_urn != view.producer:
        return None, (f"cites no first bad record of {deploy.producer_urn} ({first_bad_id}), whose deploy it "
                      "names: a deploy is judged against its own producer's break")
    return first_bad, record


def code_changed(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    if view.kind != "freshness":
        return needs_kind(view, "freshness", claim)
    starts = [r for r in cited if r.type == EventType.RUN_STARTED and view.is_producer(r.producer_urn)]
    if not starts:
        return f"cites no JobRunStarted of {view.producer or 'the producer'}"
    base = _last_good_start(view)
    if base is None:
        return "no JobRunStarted of the last good run in scope to compare code_ref with"
    changed = [r for r in starts if r.evidence_id != base.evidence_id and _start(r, view) > _start(base, view)]
    if not changed:
        return f"cites no run started after the last good run ({describe(base)})"
    new = max(changed, key=lambda r: (_start(r, view), r.evidence_id))
    old_ref, new_ref = base.data.get("code_ref"), new.data.get("code_ref")
    if not new_ref or new_ref == old_ref:
        return f"{new.evidence_id} runs code_ref {new_ref}, the same as the last good run's {base.evidence_id}"
    good = ids([view.last_good_commit] if view.last_good_commit else [])
    return stray(cited, lambda r: (r.type == EventType.RUN_STARTED and view.is_producer(r.producer_urn))
                 or r.evidence_id in good, claim.kind) or {
        "run_id": new.run_id, "code_ref": new_ref, "previous_code_ref": old_ref}


def _start(record: EvidenceRecord, view: IncidentView) -> Any:
    run = view.run_of(record)
    return run.start if run is not None else record.event_time


def _last_good_start(view: IncidentView) -> EvidenceRecord | None:
    """The JobRunStarted of the run that wrote the last good commit, else the latest start at or before it."""
    good = view.last_good_commit
    if good is not None and good.run_id:
        run = next((r for r in view.runs if r.run_id == good.run_id and r.started is not None), None)
        if run is not None:
            return run.started
    if view.last_good is None:
        return None
    before = [r for r in view.runs if r.started is not None and r.start <= view.last_good]
    return before[-1].started if before else None


def schema_drift(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    facts = view.facts
    requests = [r for r in facts.get("change_requests") or [] if isinstance(r, dict) and r.get("id")]
    if facts.get("change_request_id") and all(str(r["id"]) != str(facts["change_request_id"]) for r in requests):
        requests.append({"id": facts["change_request_id"], "schema_id": facts.get("schema_id"),
                         "held": facts.get("held_records")})
    if view.kind != "drift" and not requests:
        return "the incident is not a drift incident and names no change request"
    topic = facts.get("topic")

    def drift_record(record: EvidenceRecord) -> bool:
        if record.type != GATE_OBSERVATION or record.dataset_urn is not None or record.reason_code not in DRIFT_REASONS:
            return False
        return view.kind != "drift" or record.source == view.dataset or record.payload.get("topic") == topic

    drifting = [r for r in cited if drift_record(r)]
    if not drifting:
        return (f"cites no unattributed gate observation ({' / '.join(DRIFT_REASONS)}) of "
                f"{view.dataset if view.kind == 'drift' else 'the incident'}")
    stated = param_text(claim, "change_request_id")
    if stated is not None and stated not in {str(r["id"]) for r in requests}:
        names = ", ".join(sorted(str(r["id"]) for r in requests)) or "none"
        return f"names change request {stated}, which is not this incident's ({names})"
    stated = param_text(claim, "schema_id")
    if stated is not None and all(str(r.schema_id) != stated for r in drifting):
        return f"states schema id {stated}, which no cited observation carries"
    record = next(r for r in drifting if stated is None or str(r.schema_id) == stated)
    request = next((r for r in requests if str(r.get("schema_id")) == str(record.schema_id)), None)
    return stray(cited, drift_record, claim.kind) or {
        "topic": record.payload.get("topic") or topic, "schema_id": str(record.schema_id),
        "reason_code": record.reason_code, "change_request_id": str(request["id"]) if request else None,
        "held_records": request.get("held") if request else None}


def no_recent_deploy(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    deploys = [r for r in cited if r.type == EventType.DEPLOYMENT]
    if len(deploys) != 1:
        return "cites no DeploymentEvent" if not deploys else f"cites {len(deploys)} DeploymentEvents, not one"
    deploy = deploys[0]
    if not view.is_producer(deploy.producer_urn):
        return f"{deploy.evidence_id} is a deploy of {deploy.producer_urn}, not of {view.producer or 'the producer'}"
    if view.correlated_deploys:
        first = view.correlated_deploys[0]
        return f"the incident correlates a change: {first.evidence_id}"
    later = [d for d in view.deploys if (d.event_time, d.evidence_id) > (deploy.event_time, deploy.evidence_id)]
    if later:
        return f"{deploy.evidence_id} is not the producer's latest deploy: {describe(later[-1])} came after it"
    if view.last_good is None or deploy.event_time >= view.last_good:
        return f"{describe(deploy)} does not precede the last good time {iso(view.last_good)}"
    good = ids([view.last_good_commit] if view.last_good_commit else [])

    def allowed(record: EvidenceRecord) -> bool:
        return (record.evidence_id == deploy.evidence_id or record.evidence_id in good
                or view.is_last_good_observation(record))

    return stray(cited, allowed, claim.kind) or {
        "producer_urn": view.producer, "service": _service(deploy), "version": deploy.data.get("version"),
        "deployed_at": moment(deploy.event_time), "last_good_time": moment(view.last_good)}
