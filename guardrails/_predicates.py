"""What each claim kind must show over the evidence it cites: the symptoms (contract break, boundaries, rates,
freshness, impact) and the change-shaped causes (deploys, code, schema drift). Run- and commit-shaped causes
live in _run_predicates.py. A predicate returns None when the claim holds, else a sentence saying which
condition failed; it reads structured fields only, never free text inside payloads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from detectors._gate import contract_breaks
from detectors._runs import DEPLOYMENT, RUN_STARTED
from evidence import GATE_OBSERVATION, EvidenceRecord, iso
from guardrails._claims import Claim, ClaimKind
from guardrails._view import CHANGE_STATUSES, IncidentView, to_second, violations

Predicate = Callable[[Claim, list[EvidenceRecord], IncidentView], "str | None"]

RATE_TOLERANCE = 0.02
DRIFT_REASONS = ("UNMAPPED_SCHEMA", "MAPPING_AMBIGUOUS")


def ids(records: Iterable[EvidenceRecord]) -> set[str]:
    return {r.evidence_id for r in records}


def describe(record: EvidenceRecord) -> str:
    return f"{record.evidence_id} ({record.type} at {iso(record.event_time)})"


def stray(cited: list[EvidenceRecord], allowed: Callable[[EvidenceRecord], bool], kind: ClaimKind) -> str | None:
    """Every cited record must bear on the claim: an unrelated citation would widen what the text may mention."""
    for record in cited:
        if not allowed(record):
            return f"cites {describe(record)}, which is not evidence for this {kind.value} claim"
    return None


def param_number(claim: Claim, key: str) -> float | str | None:
    """A numeric param; the string "invalid" when present but not a number."""
    if key not in claim.params or claim.params[key] is None:
        return None
    value = claim.params[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "invalid"
    return float(value)


def param_text(claim: Claim, key: str) -> str | None:
    value = claim.params.get(key)
    return str(value) if value is not None else None


def needs_kind(view: IncidentView, kind: str, claim: Claim) -> str | None:
    if view.kind != kind:
        return f"a {claim.kind.value} claim needs a {kind} incident; this one is a {view.kind or 'unknown'} incident"
    return None


# -- symptoms ------------------------------------------------------------------------------------------------


def _break_field(claim: Claim, view: IncidentView) -> tuple[str | None, str | None]:
    """The field the claim is about, or an error when its params contradict the incident."""
    reason = param_text(claim, "reason_code")
    if reason is not None and reason != view.reason:
        return None, f"states reason {reason}, but the incident's reason is {view.reason}"
    stated = param_text(claim, "field")
    if stated is not None and stated != (view.field or ""):
        return None, f"states field {stated}, but the incident's field is {view.field or 'none (the whole value)'}"
    return view.field, None


def _contract_evidence(view: IncidentView) -> Callable[[EvidenceRecord], bool]:
    """Bad records of the incident's (reason, field) from first bad on, and the last good record."""
    def allowed(record: EvidenceRecord) -> bool:
        after = view.first_bad is not None and to_second(record.event_time) >= to_second(view.first_bad)
        return (view.is_bad(record) and after) or view.is_last_good_observation(record)
    return allowed


def _first_bad_cited(cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    if any(view.is_first_bad(r) for r in cited):
        return None
    what = f"{view.reason} on {view.field}" if view.field else view.reason
    wrong_field = [r for r in cited if r.type == GATE_OBSERVATION and r.dataset_urn == view.dataset
                   and any(reason == view.reason for reason, _ in violations(r)) and not view.is_bad(r)]
    if wrong_field:
        fields = sorted({f or "(the whole value)" for reason, f in violations(wrong_field[0]) if reason == view.reason})
        return (f"cites {describe(wrong_field[0])}, which fails on {', '.join(fields)}, "
                f"not on the incident's field {view.field or '(the whole value)'}")
    return f"cites no gate observation of {view.dataset} failing with {what} at first bad {iso(view.first_bad)}"


def contract_break(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    if view.kind != "contract":
        return needs_kind(view, "contract", claim)
    _, error = _break_field(claim, view)
    return error or _first_bad_cited(cited, view) or stray(cited, _contract_evidence(view), claim.kind)


def last_good(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    if view.last_good is None:
        return "the incident has no last good time"
    if view.kind == "contract":
        if not any(view.is_last_good_observation(r) for r in cited):
            return (f"cites no gate observation of {view.dataset} that passed the contract at last good "
                    f"{iso(view.last_good)}")
        return stray(cited, _contract_evidence(view), claim.kind)
    if view.kind == "freshness":
        good = view.last_good_commit
        if good is None or good.evidence_id not in ids(cited):
            return f"cites no commit to {view.dataset} at last good {iso(view.last_good)}"
        return stray(cited, lambda r: r.evidence_id == good.evidence_id or (
            bool(r.run_id) and r.run_id == good.run_id and view.is_producer(r.producer_urn)), claim.kind)
    return f"a {claim.kind.value} claim needs a contract or freshness incident"


def rate_shift(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    if view.kind != "contract":
        return needs_kind(view, "contract", claim)
    field, error = _break_field(claim, view)
    if error:
        return error
    before, after = param_number(claim, "before"), param_number(claim, "after")
    if not isinstance(before, float) or not isinstance(after, float):
        return "states no numeric before/after rates (shares between 0 and 1) in its params"
    if not view.scope.counters:
        return "no gate counters in scope to recompute the rates from"
    breaks = [b for b in contract_breaks(view.scope.counters, view.now)
              if b.dataset_urn == view.dataset and b.reason_code == view.reason and (b.field or None) == field]
    if not breaks:
        return f"the gate counters show no {view.reason} break on {field or 'the whole value'} for {view.dataset}"
    found = breaks[0]
    for name, claimed, computed in (("before", before, found.bad_rate_before), ("after", after, found.bad_rate_after)):
        if abs(claimed - computed) > RATE_TOLERANCE:
            return f"states a {name} rate of {claimed:.4f}; the gate counters give {computed:.4f}"
    return _first_bad_cited(cited, view) or stray(cited, _contract_evidence(view), claim.kind)


def freshness_breach(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    if view.kind != "freshness":
        return needs_kind(view, "freshness", claim)
    for key, incident_key in (("current_watermark", "current_watermark"), ("watermark", "current_watermark"),
                              ("expected_watermark", "expected_watermark")):
        stated = param_text(claim, key)
        if stated is not None and stated != view.incident.get(incident_key):
            return f"states {key} {stated}, but the incident's is {view.incident.get(incident_key)}"
    anchor = view.last_good_commit if view.last_good is not None else (view.commits[-1] if view.commits else None)
    if anchor is None:
        return f"no commit to {view.dataset} in scope anchors the breach"
    if anchor.evidence_id not in ids(cited):
        which = "last good" if view.last_good is not None else "latest"
        return f"does not cite the {which} commit to {view.dataset} ({anchor.evidence_id})"
    commits = ids(view.commits)
    return stray(cited, lambda r: r.evidence_id in commits, claim.kind)


def impact(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    datasets = claim.params.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        return "states no impacted datasets in params.datasets"
    downstream = set(view.incident.get("impacted_downstream") or [])
    for dataset in datasets:
        if not isinstance(dataset, str) or dataset not in downstream:
            return f"names {dataset}, which is not downstream of {view.dataset} through lineage"
    # The incident's own evidence of the break (not its deploys: a change is not proof that anything is hit).
    return stray(cited, lambda r: r.evidence_id in view.incident_ids and r.type != DEPLOYMENT, claim.kind)


# -- change-shaped causes ------------------------------------------------------------------------------------


def deploy_correlated(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    deploys = [r for r in cited if r.type == DEPLOYMENT]
    if len(deploys) != 1:
        return (f"cites {len(deploys)} DeploymentEvents; a deploy correlation names exactly one"
                if deploys else "cites no DeploymentEvent")
    deploy = deploys[0]
    data = deploy.data
    first_bad, error = _first_bad_of(deploy, cited, view)
    if error:
        return error
    status = data.get("status", "succeeded")
    if status not in CHANGE_STATUSES:
        return f"{deploy.evidence_id} has status {status}: a deploy that did not ship changed nothing"
    for key in ("version", "service"):
        stated = param_text(claim, key)
        if stated is not None and stated != data.get(key):
            return f"states {key} {stated}, but {deploy.evidence_id} deployed {key} {data.get(key)}"
    # A change is before the break only when strictly earlier than it (a job's deploy may land at its deadline).
    if first_bad is None or deploy.event_time > first_bad or (
            view.kind != "freshness" and deploy.event_time == first_bad):
        return f"{describe(deploy)} does not precede first bad {iso(first_bad)}"
    if view.kind == "freshness":
        correlated = {d.get("evidence_id") for d in view.correlated_deploys}
        if deploy.evidence_id not in correlated:
            return (f"{deploy.evidence_id} is not among the changes between the last good run and today's run "
                    "that the freshness detector correlated")
    elif deploy.event_time < first_bad - view.deploy_window:
        minutes = int(view.deploy_window.total_seconds() // 60)
        return f"{describe(deploy)} is older than the {minutes}-minute deploy window before first bad"
    own = view.incident_ids
    return stray(cited, lambda r: r.evidence_id == deploy.evidence_id
                 or (r.type != DEPLOYMENT and (r.evidence_id in own or view.is_bad(r))), claim.kind)


def _first_bad_of(deploy: EvidenceRecord, cited: list[EvidenceRecord],
                  view: IncidentView) -> tuple[datetime | None, str | None]:
    """The first bad instant a deploy is judged against: its own producer's. When several producers' records broke
    (a contract incident's facts.breaking_producers), a deploy of one that is not the incident's producer must cite
    that producer's first bad record, so the RCA shows whose records broke after whose deploy."""
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
    if deploy.producer_urn != view.producer:
        record = next((r for r in cited if r.evidence_id == first_bad_id), None)
        if record is None or record.type != GATE_OBSERVATION or record.dataset_urn != view.dataset \
                or record.producer_urn != deploy.producer_urn or not violations(record) \
                or to_second(record.event_time) != to_second(first_bad):
            return None, (f"cites no first bad record of {deploy.producer_urn} ({first_bad_id}), whose deploy it "
                          "names: a deploy is judged against its own producer's break")
    return first_bad, None


def code_changed(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    if view.kind != "freshness":
        return needs_kind(view, "freshness", claim)
    starts = [r for r in cited if r.type == RUN_STARTED and view.is_producer(r.producer_urn)]
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
    for key, expected in (("code_ref", new_ref), ("previous_code_ref", old_ref)):
        stated = param_text(claim, key)
        if stated is not None and stated != expected:
            return f"states {key} {stated}, but the evidence shows {expected}"
    good = ids([view.last_good_commit] if view.last_good_commit else [])
    return stray(cited, lambda r: (r.type == RUN_STARTED and view.is_producer(r.producer_urn))
                 or r.evidence_id in good, claim.kind)


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


def schema_drift(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    facts = view.facts
    requests = {str(facts["change_request_id"])} if facts.get("change_request_id") else set()
    requests |= {str(r.get("id")) for r in facts.get("change_requests") or [] if isinstance(r, dict)}
    if view.kind != "drift" and not requests:
        return "the incident is not a drift incident and names no change request"
    topic = facts.get("topic")

    def drift_record(record: EvidenceRecord) -> bool:
        if record.type != GATE_OBSERVATION or record.dataset_urn is not None or record.reason_code not in DRIFT_REASONS:
            return False
        return view.kind != "drift" or record.source == view.dataset or record.payload.get("topic") == topic

    if not any(drift_record(r) for r in cited):
        return (f"cites no unattributed gate observation ({' / '.join(DRIFT_REASONS)}) of "
                f"{view.dataset if view.kind == 'drift' else 'the incident'}")
    stated = param_text(claim, "change_request_id")
    if stated is not None and stated not in requests:
        return f"names change request {stated}, which is not this incident's ({', '.join(sorted(requests)) or 'none'})"
    stated = param_text(claim, "schema_id")
    if stated is not None and all(str(r.schema_id) != stated for r in cited if drift_record(r)):
        return f"states schema id {stated}, which no cited observation carries"
    return stray(cited, drift_record, claim.kind)


def no_recent_deploy(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | None:
    deploys = [r for r in cited if r.type == DEPLOYMENT]
    if len(deploys) != 1:
        return "cites no DeploymentEvent" if not deploys else f"cites {len(deploys)} DeploymentEvents, not one"
    deploy = deploys[0]
    if not view.is_producer(deploy.producer_urn):
        return f"{deploy.evidence_id} is a deploy of {deploy.producer_urn}, not of {view.producer or 'the producer'}"
    if view.correlated_deploys:
        first = view.correlated_deploys[0]
        return f"the incident correlates a change: {first.get('service')} {first.get('version')}"
    later = [d for d in view.deploys if (d.event_time, d.evidence_id) > (deploy.event_time, deploy.evidence_id)]
    if later:
        return f"{deploy.evidence_id} is not the producer's latest deploy: {describe(later[-1])} came after it"
    if view.last_good is None or deploy.event_time >= view.last_good:
        return f"{describe(deploy)} does not precede the last good time {iso(view.last_good)}"
    good = ids([view.last_good_commit] if view.last_good_commit else [])

    def allowed(record: EvidenceRecord) -> bool:
        return (record.evidence_id == deploy.evidence_id or record.evidence_id in good
                or view.is_last_good_observation(record))

    return stray(cited, allowed, claim.kind)
