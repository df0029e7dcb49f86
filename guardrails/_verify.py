"""The verifier: a claim survives only if every id it cites exists and belongs to the incident's scope, its
kind's predicate holds over that evidence, and its text names nothing the evidence does not support
(DESIGN.md, "Incident and RCA": the LLM proposes, the verifier decides)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from evidence import EvidenceRecord
from guardrails import _predicates as symptoms
from guardrails import _run_predicates as runs
from guardrails._claims import Claim, ClaimKind, Draft, RejectedClaim
from guardrails._grounding import (
    SELF_ASSESSMENT_PARAMS,
    Figures,
    after_the_break,
    certainty_like,
    denial_like,
    incident_values,
    instruction_like,
    record_values,
    service_names,
    unsupported,
)
from guardrails._predicates import Predicate
from guardrails._scope import Scope
from guardrails._view import IncidentView, view_of

log = logging.getLogger("rca.guardrails")

PREDICATES: dict[ClaimKind, Predicate] = {
    ClaimKind.CONTRACT_BREAK: symptoms.contract_break,
    ClaimKind.LAST_GOOD: symptoms.last_good,
    ClaimKind.RATE_SHIFT: symptoms.rate_shift,
    ClaimKind.FRESHNESS_BREACH: symptoms.freshness_breach,
    ClaimKind.IMPACT: symptoms.impact,
    ClaimKind.DEPLOY_CORRELATED: symptoms.deploy_correlated,
    ClaimKind.CODE_CHANGED: symptoms.code_changed,
    ClaimKind.JOB_NOT_TRIGGERED: runs.job_not_triggered,
    ClaimKind.JOB_FAILED: runs.job_failed,
    ClaimKind.JOB_RUNNING: runs.job_running,
    ClaimKind.JOB_SLOW: runs.job_slow,
    ClaimKind.WRONG_PARTITION: runs.wrong_partition,
    ClaimKind.PARTIAL_WRITE: runs.partial_write,
    ClaimKind.UPSTREAM_LATE: runs.upstream_late,
    ClaimKind.SCHEMA_DRIFT: symptoms.schema_drift,
    ClaimKind.NO_RECENT_DEPLOY: symptoms.no_recent_deploy,
}


_BEFORE_THE_BREAK = frozenset({ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED})


@dataclass(frozen=True)
class Verification:
    """What survived, in the draft's order; what did not, with why. A claim that holds but repeats an accepted
    one (same kind, same set of cited ids) goes to `duplicates` instead: the RCA never states one fact twice,
    and the audit trail (`rejected`) lists only claims that were wrong. Every claim is judged, so a "repeat"
    whose text says something false is rejected like any other."""

    accepted: list[Claim]
    rejected: list[RejectedClaim]
    duplicates: list[Claim] = field(default_factory=list)


def verify_claims(draft: Draft, scope: Scope) -> Verification:
    """Judge every claim of `draft` against the incident's evidence. Deterministic: same draft, same scope, same
    verdicts, in the same order."""
    view = view_of(scope)
    cited = {i for claim in draft.claims for i in claim.evidence_ids}
    outside = sorted(cited - scope.records.keys())
    existing = scope.existing(outside) if scope.existing is not None and outside else None
    grounding = _Grounding(view)
    accepted: list[Claim] = []
    rejected: list[RejectedClaim] = []
    duplicates: list[Claim] = []
    seen: set[tuple[ClaimKind, frozenset[str]]] = set()
    for claim in draft.claims:
        why = _judge(claim, view, existing, grounding)
        key = (claim.kind, frozenset(claim.evidence_ids))
        if why is not None:
            rejected.append(RejectedClaim(text=claim.text, kind=claim.kind.value, why=why))
        elif key in seen:
            duplicates.append(claim)
        else:
            seen.add(key)
            accepted.append(claim)
    return Verification(accepted=accepted, rejected=rejected, duplicates=duplicates)


def _judge(claim: Claim, view: IncidentView, existing: set[str] | None, grounding: _Grounding) -> str | None:
    ids = list(dict.fromkeys(claim.evidence_ids))
    if not ids:
        return "cites no evidence"
    records = view.scope.records
    for evidence_id in ids:
        if evidence_id in records:
            continue
        if existing is not None and evidence_id not in existing:
            return f"cites {evidence_id}, which does not exist{_source_ref_hint(evidence_id, view)}"
        return f"cites {evidence_id}, outside this incident's evidence"
    phrase = instruction_like(claim.text)
    if phrase is not None:
        return f"contains instruction-like text ({phrase!r}), which is never a verified fact"
    vouching = certainty_like(claim.text) or next(
        (f"params.{key}" for key in sorted(claim.params) if key.lower() in SELF_ASSESSMENT_PARAMS), None)
    if vouching is not None:
        return f"vouches for itself ({vouching!r}); confidence is computed from evidence, never taken from a claim"
    denial = denial_like(claim.text) if claim.kind != ClaimKind.NO_RECENT_DEPLOY else None
    if denial is not None:
        return f"says {denial!r}, the opposite of what a {claim.kind.value} claim asserts"
    inverted = after_the_break(claim.text) if claim.kind in _BEFORE_THE_BREAK else None
    if inverted is not None:
        return f"places the change {inverted!r}; a {claim.kind.value} claim is about a change before the break"
    cited: list[EvidenceRecord] = [records[i] for i in ids]
    try:
        failed = PREDICATES[claim.kind](claim, cited, view)
    except Exception:  # a verifier fails closed: a claim it cannot judge is not a verified fact
        log.exception("verifying a %s claim failed", claim.kind.value)
        return f"could not be verified: the {claim.kind.value} check failed on this evidence"
    if failed is not None:
        return failed
    missing = grounding.unsupported(claim.text, cited)
    if missing:
        return f"mentions {missing[0]}, which the cited evidence does not support"
    return None


def _source_ref_hint(evidence_id: str, view: IncidentView) -> str:
    match = next((r for r in view.records if r.source_ref == evidence_id), None)
    return f" (it is the source ref of {match.evidence_id}; cite evidence ids)" if match is not None else ""


class _Grounding:
    """Structured values of the incident, computed once per verification; cited records' values per claim."""

    def __init__(self, view: IncidentView) -> None:
        self.incident = incident_values(view.incident)
        self.services = service_names(view.records)
        self.incident_figures = Figures(self.incident)  # the same for every claim: derived once

    def unsupported(self, text: str, cited: list[EvidenceRecord]) -> list[str]:
        own = [v for record in cited for v in record_values(record)]
        return unsupported(text, [*self.incident, *own], self.services, Figures(own, self.incident_figures))
