"""The verifier: a proposed claim survives only if its values are well-formed, every id it cites exists and belongs
to the incident's scope, its kind's predicate holds over that evidence, every value it states equals the one the
predicate derived from the evidence, and its sentence can be rendered from those values. The sentence is the
product's, never the proposer's (DESIGN.md, "Incident and RCA": the LLM proposes, the verifier decides, the
product speaks). Limits bound what one answer can make us say; a repeat of a verified fact is rejected as one.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from evidence import EvidenceRecord, maybe_time
from guardrails import _change_predicates as changes
from guardrails import _predicates as symptoms
from guardrails import _run_predicates as runs
from guardrails._claims import Claim, ClaimKind, Draft, ParamValue, RejectedClaim, VerifiedClaim
from guardrails._predicates import Predicate, Values
from guardrails._render import Unrenderable, render
from guardrails._scope import Scope
from guardrails._text import identifier
from guardrails._view import IncidentView, view_of
from guardrails._wording import SELF_ASSESSMENT_PARAMS, after_the_break, certainty_like, denial_like, instruction_like

log = logging.getLogger("rca.guardrails")

PREDICATES: dict[ClaimKind, Predicate] = {
    ClaimKind.CONTRACT_BREAK: symptoms.contract_break,
    ClaimKind.OTHER_BREAK: symptoms.other_break,
    ClaimKind.LAST_GOOD: symptoms.last_good,
    ClaimKind.RATE_SHIFT: symptoms.rate_shift,
    ClaimKind.FRESHNESS_BREACH: symptoms.freshness_breach,
    ClaimKind.IMPACT: symptoms.impact,
    ClaimKind.DEPLOY_CORRELATED: changes.deploy_correlated,
    ClaimKind.CODE_CHANGED: changes.code_changed,
    ClaimKind.SCHEMA_DRIFT: changes.schema_drift,
    ClaimKind.NO_RECENT_DEPLOY: changes.no_recent_deploy,
    ClaimKind.JOB_NOT_TRIGGERED: runs.job_not_triggered,
    ClaimKind.JOB_FAILED: runs.job_failed,
    ClaimKind.JOB_RUNNING: runs.job_running,
    ClaimKind.JOB_SLOW: runs.job_slow,
    ClaimKind.WRONG_PARTITION: runs.wrong_partition,
    ClaimKind.PARTIAL_WRITE: runs.partial_write,
    ClaimKind.UPSTREAM_LATE: runs.upstream_late,
}

MAX_PER_KIND = 3  # an incident has one break, a few deploys, a few late inputs: more of one kind is noise
MAX_CLAIMS = 12
_BEFORE_THE_BREAK = frozenset({ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED})
_PARAM_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# How far a stated figure may be from the one derived from the evidence; anything not listed must be equal.
_TOLERANCE = {"before": 0.02, "after": 0.02, "running_for_s": 60.0, "baseline_s": 60.0,
              "seconds_before_first_bad": 1.0, "baseline_rows": 1.0}
_TIME_KEYS = re.compile(r"(?:_time|_at|^deadline)$")


@dataclass(frozen=True)
class Verification:
    """What survived, in the proposal's order, each with the sentence rendered from its verified values; what did
    not, each with a reason and a sentence saying why."""

    accepted: list[VerifiedClaim]
    rejected: list[RejectedClaim]


@dataclass(frozen=True)
class _Rejection:
    reason: str
    why: str


def verify_claims(draft: Draft, scope: Scope) -> Verification:
    """Judge every claim of `draft` against the incident's evidence. Deterministic: same draft, same scope, same
    verdicts, in the same order."""
    view = view_of(scope)
    cited = {i for claim in draft.claims for i in claim.evidence_ids if isinstance(i, str)}
    outside = sorted(i for i in cited - scope.records.keys() if identifier(i))
    existing = scope.existing(outside) if scope.existing is not None and outside else None
    accepted: list[VerifiedClaim] = []
    rejected: list[RejectedClaim] = []
    kinds: Counter[ClaimKind] = Counter()
    seen: dict[tuple[ClaimKind, str], int] = {}
    for number, claim in enumerate(draft.claims, 1):
        outcome: _Rejection | VerifiedClaim
        if len(accepted) >= MAX_CLAIMS:
            outcome = _Rejection("limit", f"the answer already has {MAX_CLAIMS} verified claims, the most one answer "
                                          "may make")
        elif kinds[claim.kind] >= MAX_PER_KIND:
            outcome = _Rejection("limit", f"the answer already has {MAX_PER_KIND} verified {claim.kind.value} claims, "
                                          "the most one answer may make of one kind")
        else:
            outcome = _judge(claim, view, existing)
        if isinstance(outcome, VerifiedClaim):
            key = (claim.kind, repr(sorted(outcome.params.items())))
            if key in seen:
                outcome = _Rejection("duplicate", f"repeats claim {seen[key]}: same kind, same verified values")
            else:
                seen[key] = number
                kinds[claim.kind] += 1
                accepted.append(outcome)
                continue
        rejected.append(RejectedClaim(text=_label(number, claim), kind=claim.kind.value, reason=outcome.reason,
                                      why=outcome.why))
    return Verification(accepted=accepted, rejected=rejected)


def _label(number: int, claim: Claim) -> str:
    """How the audit trail names a proposal: by position, kind and (well-formed) citations, never its wording."""
    shown = [i for i in claim.evidence_ids[:5] if identifier(i)]
    others = len(claim.evidence_ids) - len(shown)
    parts = [", ".join(shown)] if shown else []
    parts += [f"{others} {'other id' if others == 1 else 'other ids'}"] if others else []
    return f"{claim.kind.value} claim {number}, citing {' and '.join(parts) or 'nothing'}"


def _judge(claim: Claim, view: IncidentView, existing: set[str] | None) -> _Rejection | VerifiedClaim:
    ids = list(dict.fromkeys(claim.evidence_ids))
    malformed = _malformed(claim)
    if malformed is not None:
        return _Rejection("malformed", malformed)
    if not ids:
        return _Rejection("no_citation", "cites no evidence")
    wording = _wording(claim)
    if wording is not None:
        return wording
    records = view.scope.records
    for evidence_id in ids:
        if evidence_id in records:
            continue
        if existing is not None and evidence_id not in existing:
            hint = _source_ref_hint(evidence_id, view)
            return _Rejection("not_found", f"cites {evidence_id}, which does not exist{hint}")
        return _Rejection("out_of_scope", f"cites {evidence_id}, outside this incident's evidence")
    cited: list[EvidenceRecord] = [records[i] for i in ids]
    try:
        outcome = PREDICATES[claim.kind](claim, cited, view)
    except Exception:  # a verifier fails closed: a claim it cannot judge is not a verified fact
        log.exception("verifying a %s claim failed", claim.kind.value)
        return _Rejection("predicate", f"could not be verified: the {claim.kind.value} check failed on this evidence")
    if isinstance(outcome, str):
        return _Rejection("predicate", outcome)
    mismatch = _mismatch(claim.params, outcome)
    if mismatch is not None:
        return _Rejection("mismatch", mismatch)
    try:
        text = render(claim.kind, outcome)
    except Unrenderable as exc:
        return _Rejection("unrenderable", f"holds, but cannot be said in a sentence we vouch for: {exc}")
    return VerifiedClaim(text=text, kind=claim.kind, evidence_ids=ids, params=outcome)


def _malformed(claim: Claim) -> str | None:
    """Ids and params must be identifiers, numbers or lists of identifiers: prose, markup, links and look-alike
    characters name nothing in the evidence."""
    if any(identifier(i) is None for i in claim.evidence_ids):
        return "cites an id that is not shaped like an evidence id"
    for key, value in claim.params.items():
        if not _PARAM_NAME.fullmatch(key):
            return "has a param whose name is not an identifier"
        if not _well_formed(value):
            return f"params.{key} is not an identifier, a number or a list of identifiers"
    return None


def _well_formed(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(identifier(item) is not None for item in value)
    return identifier(value) is not None


def _wording(claim: Claim) -> _Rejection | None:
    """Why the proposer's own wording disqualifies the claim, if it does. The sentence names what was found, never
    quotes it: the audit trail repeats no words of a proposer."""
    if instruction_like(claim.text) is not None:
        return _Rejection("instruction", "its wording contains instruction-like text: the proposer may be following "
                                         "text planted in the evidence")
    if certainty_like(claim.text) is not None:
        return _Rejection("certainty", "its wording vouches for itself; confidence is computed from evidence, never "
                                       "taken from a claim")
    vouching = next((key for key in sorted(claim.params) if key.lower() in SELF_ASSESSMENT_PARAMS), None)
    if vouching is not None:
        return _Rejection("certainty", f"params.{vouching} vouches for the claim; confidence is computed from "
                                       "evidence, never taken from a claim")
    if claim.kind != ClaimKind.NO_RECENT_DEPLOY and denial_like(claim.text) is not None:
        return _Rejection("contradiction", f"its wording clears what a {claim.kind.value} claim asserts")
    if claim.kind in _BEFORE_THE_BREAK and after_the_break(claim.text) is not None:
        return _Rejection("contradiction", f"its wording places the change after the break; a {claim.kind.value} "
                                           "claim is about a change before it")
    return None


def _mismatch(params: dict[str, Any], values: Values) -> str | None:
    """The first stated param that differs from the value the predicate derived from the evidence."""
    for key, actual in values.items():
        stated = params.get(key)
        if stated is not None and not _same(key, stated, actual):
            return f"states {key} {stated}, but the evidence gives {'none' if actual is None else actual}"
    return None


def _same(key: str, stated: Any, actual: ParamValue) -> bool:
    if actual is None:
        return False
    if isinstance(actual, bool) or isinstance(stated, bool):
        return stated is actual
    if isinstance(actual, int | float):
        return isinstance(stated, int | float) and abs(stated - actual) <= _TOLERANCE.get(key, 1e-9)
    if isinstance(actual, list):
        return isinstance(stated, list) and list(dict.fromkeys(str(s) for s in stated)) == actual
    if _TIME_KEYS.search(key):
        moment, truth = maybe_time(stated), maybe_time(actual)
        return moment is not None and truth is not None and moment.replace(microsecond=0) == truth
    return isinstance(stated, str | int) and str(stated) == actual


def _source_ref_hint(evidence_id: str, view: IncidentView) -> str:
    match = next((r for r in view.records if r.source_ref == evidence_id), None)
    return f" (it is the source ref of {match.evidence_id}; cite evidence ids)" if match is not None else ""
