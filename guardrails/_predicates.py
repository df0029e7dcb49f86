"""What each claim kind must show over the evidence it cites: the symptoms (contract breaks, boundaries, rates,
freshness, impact). Change-shaped causes live in _change_predicates.py, run- and commit-shaped ones in
_run_predicates.py. A predicate returns a sentence saying which condition failed, or, when the claim holds, the
values its sentence will state, each derived from the cited evidence (the verifier compares them with any the
proposer stated, then renders the sentence from them). It reads structured fields only, never payload free text."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from detectors import ContractBreak
from evidence import GATE_OBSERVATION, EventType, EvidenceRecord, iso
from guardrails._claims import Claim, ClaimKind, ParamValue
from guardrails._view import IncidentView, to_second, violations

Values = dict[str, ParamValue]
Predicate = Callable[[Claim, list[EvidenceRecord], IncidentView], "str | Values"]


def ids(records: Iterable[EvidenceRecord]) -> set[str]:
    return {r.evidence_id for r in records}


def describe(record: EvidenceRecord) -> str:
    return f"{record.evidence_id} ({record.type} at {iso(record.event_time)})"


def moment(value: datetime | None) -> str | None:
    """A time as a param value: RFC 3339 in UTC, to the second (what boundaries are exact to)."""
    return iso(to_second(value)) if value is not None else None


def stray(cited: list[EvidenceRecord], allowed: Callable[[EvidenceRecord], bool], kind: ClaimKind) -> str | None:
    """Every cited record must bear on the claim: an unrelated citation would lend it authority it lacks."""
    for record in cited:
        if not allowed(record):
            return f"cites {describe(record)}, which is not evidence for this {kind.value} claim"
    return None


def param_text(claim: Claim, key: str) -> str | None:
    value = claim.params.get(key)
    return str(value) if value is not None else None


def needs_kind(view: IncidentView, kind: str, claim: Claim) -> str:
    return f"a {claim.kind.value} claim needs a {kind} incident; this one is a {view.kind or 'unknown'} incident"


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


def _bad_records(view: IncidentView, reason: str, field: str | None, since: datetime | None
                 ) -> Callable[[EvidenceRecord], bool]:
    """Gate observations of the dataset failing with (reason, field) from `since` on, and the last good record."""
    def allowed(record: EvidenceRecord) -> bool:
        bad = (record.type == GATE_OBSERVATION and record.dataset_urn == view.dataset
               and (reason, field) in violations(record))
        after = since is not None and to_second(record.event_time) >= to_second(since)
        return (bad and after) or view.is_last_good_observation(record)
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


def _break_values(view: IncidentView, found: ContractBreak | None, first_bad: EvidenceRecord | None,
                  reason: str, field: str | None, since: datetime | None) -> Values:
    return {"dataset_urn": view.dataset, "reason_code": reason, "field": field, "first_bad_time": moment(since),
            "first_bad_ref": first_bad.source_ref if first_bad is not None else None,
            "bad_count": found.bad_count if found is not None else None,
            # Several producers' records broke (issue 24): the sentence says whose record broke first.
            **({"producer_urn": first_bad.producer_urn} if first_bad is not None and len(view.breaking) > 1 else {})}


def contract_break(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    if view.kind != "contract":
        return needs_kind(view, "contract", claim)
    _, error = _break_field(claim, view)
    error = error or _first_bad_cited(cited, view) or stray(
        cited, _bad_records(view, view.reason, view.field, view.first_bad), claim.kind)
    if error:
        return error
    first = next(r for r in cited if view.is_first_bad(r))
    return _break_values(view, view.break_of(view.reason, view.field), first, view.reason, view.field, view.first_bad)


def other_break(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    """Another (reason, field) failing in the same incident: one the detector listed among the incident's other
    breaks, recomputed from the gate counters, its first bad record cited."""
    if view.kind != "contract":
        return needs_kind(view, "contract", claim)
    listed = {(str(b.get("reason_code")), b.get("field") or None) for b in view.facts.get("other_breaks") or []
              if isinstance(b, dict)}
    stated = (param_text(claim, "reason_code"), param_text(claim, "field"))
    candidates = [b for b in view.breaks if (b.reason_code, b.field or None) in listed
                  and (stated[0] is None or stated[0] == b.reason_code)
                  and (stated[1] is None or stated[1] == (b.field or ""))]
    for found in candidates:
        first = next((r for r in cited if r.type == GATE_OBSERVATION and r.dataset_urn == view.dataset
                      and (found.reason_code, found.field or None) in violations(r)
                      and to_second(r.event_time) == to_second(found.first_bad_time)), None)
        if first is not None:
            error = stray(cited, _bad_records(view, found.reason_code, found.field or None, found.first_bad_time),
                          claim.kind)
            return error or _break_values(view, found, first, found.reason_code, found.field or None,
                                          found.first_bad_time)
    if not candidates:
        named = " on ".join(v for v in stated if v) or "any (reason, field)"
        return f"the incident lists no other break of {view.dataset} with {named} that the gate counters show"
    return "cites no gate observation of the dataset at the first bad record of another break it lists"


def last_good(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    if view.last_good is None:
        return "the incident has no last good time"
    if view.kind == "contract":
        good = next((r for r in cited if view.is_last_good_observation(r)), None)
        if good is None:
            return (f"cites no gate observation of {view.dataset} that passed the contract at last good "
                    f"{iso(view.last_good)}")
        error = stray(cited, _bad_records(view, view.reason, view.field, view.first_bad), claim.kind)
        return error or {"last_good_ref": good.source_ref, "last_good_time": moment(view.last_good), "what": "record"}
    if view.kind == "freshness":
        commit = view.last_good_commit
        if commit is None or commit.evidence_id not in ids(cited):
            return f"cites no commit to {view.dataset} at last good {iso(view.last_good)}"
        error = stray(cited, lambda r: r.evidence_id == commit.evidence_id or (
            bool(r.run_id) and r.run_id == commit.run_id and view.is_producer(r.producer_urn)), claim.kind)
        return error or {"last_good_ref": commit.source_ref, "last_good_time": moment(view.last_good),
                         "what": "commit"}
    return f"a {claim.kind.value} claim needs a contract or freshness incident"


def rate_shift(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    if view.kind != "contract":
        return needs_kind(view, "contract", claim)
    field, error = _break_field(claim, view)
    if error:
        return error
    if not view.scope.counters:
        return "no gate counters in scope to recompute the rates from"
    found = view.break_of(view.reason, field)
    if found is None:
        return f"the gate counters show no {view.reason} break on {field or 'the whole value'} for {view.dataset}"
    error = _first_bad_cited(cited, view) or stray(cited, _bad_records(view, view.reason, field, view.first_bad),
                                                   claim.kind)
    return error or {"reason_code": view.reason, "field": field, "before": round(found.bad_rate_before, 4),
                     "after": round(found.bad_rate_after, 4)}


def freshness_breach(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    if view.kind != "freshness":
        return needs_kind(view, "freshness", claim)
    stated = param_text(claim, "watermark")
    if stated is not None and stated != view.incident.current_watermark:
        return f"states watermark {stated}, but the incident's is {view.incident.current_watermark}"
    anchor = view.last_good_commit if view.last_good is not None else (view.commits[-1] if view.commits else None)
    if anchor is None:
        return f"no commit to {view.dataset} in scope anchors the breach"
    if anchor.evidence_id not in ids(cited):
        which = "last good" if view.last_good is not None else "latest"
        return f"does not cite the {which} commit to {view.dataset} ({anchor.evidence_id})"
    commits = ids(view.commits)
    return stray(cited, lambda r: r.evidence_id in commits, claim.kind) or {
        "dataset_urn": view.dataset, "deadline": moment(view.first_bad),
        "current_watermark": view.incident.current_watermark,
        "expected_watermark": view.incident.expected_watermark}


def impact(claim: Claim, cited: list[EvidenceRecord], view: IncidentView) -> str | Values:
    datasets = claim.params.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        return "states no impacted datasets in params.datasets"
    downstream = set(view.incident.impacted_downstream)
    for dataset in datasets:
        if not isinstance(dataset, str) or dataset not in downstream:
            return f"names {dataset}, which is not downstream of {view.dataset} through lineage"
    # The incident's own evidence of the break (not its deploys: a change is not proof that anything is hit).
    error = stray(cited, lambda r: r.evidence_id in view.incident_ids and r.type != EventType.DEPLOYMENT, claim.kind)
    return error or {"datasets": list(dict.fromkeys(str(d) for d in datasets))}
