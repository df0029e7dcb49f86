"""The structured RCA of one incident (DESIGN.md, "Incident and RCA"): the composer proposes, the verifier
decides, confidence and next checks come from evidence. Same evidence and clock, same bytes."""

from __future__ import annotations

import logging
from typing import Any

import guardrails
from copilot._composer import Composer, ModelError, Question
from copilot._retrieval import evidence_items, incident_scope
from copilot._template import TemplateComposer
from evidence._store import Store
from guardrails import CAUSE_KINDS, Claim, ClaimKind, Draft, RejectedClaim, Scope

log = logging.getLogger("rca.copilot")

RCA_QUESTION = "What failed, since when, what changed behind it, and what proves it?"
# The cause that best explains each reason code, first; a verified cause of another kind still counts.
_CAUSE_ORDER = (ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED, ClaimKind.JOB_FAILED, ClaimKind.JOB_SLOW,
                ClaimKind.JOB_RUNNING, ClaimKind.JOB_NOT_TRIGGERED, ClaimKind.WRONG_PARTITION,
                ClaimKind.PARTIAL_WRITE, ClaimKind.UPSTREAM_LATE)
_PREFERRED = {
    "JOB_NOT_TRIGGERED": ClaimKind.JOB_NOT_TRIGGERED, "JOB_FAILED": ClaimKind.JOB_FAILED,
    "JOB_RUNNING_SLOW": ClaimKind.JOB_SLOW, "WRONG_PARTITION": ClaimKind.WRONG_PARTITION,
    "PARTIAL_WRITE": ClaimKind.PARTIAL_WRITE, "UPSTREAM_DATA_LATE": ClaimKind.UPSTREAM_LATE,
}
# What the model sees at most: the incident's own evidence first, then the rest of the scope by time.
_MAX_ITEMS = 80


def question_for(scope: Scope, text: str = RCA_QUESTION, history: tuple[dict[str, Any], ...] = ()) -> Question:
    incident = scope.incident
    own = [scope.records[i] for i in incident.get("evidence_ids") or [] if i in scope.records]
    deploys = [r for r in scope.records.values() if r.type == "DeploymentEvent"]
    rest = sorted((r for r in scope.records.values() if r not in own and r not in deploys),
                  key=lambda r: (r.event_time, r.evidence_id), reverse=True)
    chosen = {r.evidence_id: r for r in [*own, *deploys, *rest][:_MAX_ITEMS]}
    return Question(text=text, incident=incident, evidence=evidence_items(chosen.values()), history=list(history))


def compose_verified(composer: Composer, scope: Scope, question: Question) -> tuple[Draft, list[Claim],
                                                                                       list[RejectedClaim]]:
    """Ask the composer; a failing model falls back to the offline composer, and says so in the audit trail."""
    rejected: list[RejectedClaim] = []
    try:
        draft = composer.compose(question)
    except ModelError as exc:
        log.warning("composer %s failed, using the offline composer: %s", composer.name, exc)
        rejected.append(RejectedClaim(text=f"(model {composer.name})", why=f"the model failed: {exc}; the offline "
                                      "composer answered instead"))
        draft = TemplateComposer().compose(question)
    verification = guardrails.verify_claims(draft, scope)
    return draft, verification.accepted, [*rejected, *verification.rejected]


def build_rca(store: Store, incident: dict[str, Any], composer: Composer | None = None) -> dict[str, Any]:
    scope = incident_scope(store, incident)
    return rca_from_scope(scope, composer or TemplateComposer())


def rca_from_scope(scope: Scope, composer: Composer) -> dict[str, Any]:
    incident = scope.incident
    _, accepted, rejected = compose_verified(composer, scope, question_for(scope))
    cause = _most_likely_cause(incident["reason_code"], accepted)
    # A deploy, or (for a job) a changed code_ref, that the verifier accepted as the change behind the symptom.
    deploy_claim = next((c for c in accepted if c.kind == ClaimKind.DEPLOY_CORRELATED), None) or \
        next((c for c in accepted if c.kind == ClaimKind.CODE_CHANGED), None)
    deploy = None
    if deploy_claim is not None:
        found = next((d for d in incident.get("correlated_deploys") or []
                      if d.get("evidence_id") in deploy_claim.evidence_ids), None)
        if found is not None:
            deploy = {k: found.get(k) for k in ("service", "version", "deploy_ref", "evidence_id")}
    cited = list(dict.fromkeys(i for c in accepted for i in c.evidence_ids))
    listed = list(dict.fromkeys([*cited, *(incident.get("evidence_ids") or [])]))
    return {
        "incident_id": incident["id"],
        "verdict": "cause_identified" if cause is not None else "inconclusive",
        "reason_code": incident["reason_code"],
        "summary": _summary(incident, cause, deploy),
        "most_likely_cause": None if cause is None else {
            "statement": cause.text, "evidence_ids": cause.evidence_ids,
            "confidence": guardrails.confidence(scope, accepted),
        },
        "correlated_deploy": deploy,
        "claims": [{"text": c.text, "kind": str(c.kind), "evidence_ids": c.evidence_ids, "params": c.params}
                   for c in accepted],
        "rejected_claims": [{"text": r.text, "why": r.why} for r in rejected],
        "next_checks": guardrails.next_checks(scope, accepted),
        "suggested_actions": guardrails.suggested_actions(scope, accepted),
        "evidence": [scope.records[i].summary() for i in listed if i in scope.records],
        "composer": composer.name,
        "computed_at": incident.get("updated_at") or incident.get("detected_at"),
    }


def _most_likely_cause(reason_code: str, accepted: list[Claim]) -> Claim | None:
    causes = [c for c in accepted if c.kind in CAUSE_KINDS]
    if not causes:
        return None
    preferred = _PREFERRED.get(reason_code)
    order = [preferred, *_CAUSE_ORDER] if preferred else list(_CAUSE_ORDER)
    return min(causes, key=lambda c: order.index(c.kind))


def _summary(incident: dict[str, Any], cause: Claim | None, deploy: dict[str, Any] | None) -> str:
    """Built from structured values only; the model's prose never becomes the summary."""
    reason = incident["reason_code"] + (f"({incident['field']})" if incident.get("field") else "")
    titles = {"contract": "failing contract-lite", "freshness": "missed its freshness SLO",
              "drift": "has records no approved rule attributes"}
    head = f"{incident['dataset_urn']} {titles.get(incident['kind'], incident['kind'])}: {reason} since " \
           f"{incident['first_bad_time']}."
    breaking = [p for p in (incident.get("facts") or {}).get("breaking_producers") or [] if isinstance(p, dict)]
    if len(breaking) > 1:
        head += f" Records of {len(breaking)} producers broke: " + ", ".join(
            f"{p.get('producer_urn')} since {p.get('first_bad_time')}" for p in breaking) + "."
    if deploy is not None:
        return f"{head} First bad right after {deploy['service']} {deploy['version']}."
    if cause is not None:
        return f"{head} {cause.text}"
    return f"{head} Inconclusive: no evidence of what changed behind it; see the next checks."
