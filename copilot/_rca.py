"""The structured RCA of one incident (DESIGN.md, "Incident and RCA"): the composer proposes, the verifier
decides, confidence and next checks come from evidence. Same evidence and clock, same bytes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import guardrails
from copilot._composer import Composer, ModelError, Question
from copilot._retrieval import RcaSource, evidence_items, incident_scope
from copilot._template import TemplateComposer
from evidence import EventType, Incident, Store, iso, to_json
from guardrails import CAUSE_FOR_REASON, CAUSE_KINDS, ClaimKind, RejectedClaim, Scope, VerifiedClaim

log = logging.getLogger("rca.copilot")

RCA_QUESTION = "What failed, since when, what changed behind it, and what proves it?"
# The cause that best explains each reason code, first; a verified cause of another kind still counts.
_CAUSE_ORDER = (ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED, ClaimKind.JOB_FAILED, ClaimKind.JOB_SLOW,
                ClaimKind.JOB_RUNNING, ClaimKind.JOB_NOT_TRIGGERED, ClaimKind.WRONG_PARTITION,
                ClaimKind.PARTIAL_WRITE, ClaimKind.UPSTREAM_LATE)
# What the model sees at most: the incident's own evidence first, then the rest of the scope by time.
_MAX_ITEMS = 80


def question_for(scope: Scope, text: str = RCA_QUESTION, history: tuple[dict[str, Any], ...] = ()) -> Question:
    incident = scope.incident
    own = [scope.records[i] for i in incident.evidence_ids if i in scope.records]
    deploys = [r for r in scope.records.values() if r.type == EventType.DEPLOYMENT]
    rest = sorted((r for r in scope.records.values() if r not in own and r not in deploys),
                  key=lambda r: (r.event_time, r.evidence_id), reverse=True)
    chosen = {r.evidence_id: r for r in [*own, *deploys, *rest][:_MAX_ITEMS]}
    # The composer reads the incident as JSON (the model's prompt is an edge), as the API returns it.
    return Question(text=text, incident=to_json(incident), evidence=evidence_items(chosen.values()),
                    history=list(history))


@dataclass(frozen=True)
class Composed:
    """What one question produced: who answered (`composer`, naming a fallback), and the verifier's verdicts."""

    composer: str
    accepted: list[VerifiedClaim]
    rejected: list[RejectedClaim]


def compose_verified(composer: Composer, scope: Scope, question: Question, fallback: Composer | None = None
                     ) -> Composed:
    """Ask the composer and verify its answer. A failing model falls back to the offline composer, and
    `composer` says so: "default (model failed: timed out)"."""
    label = composer.name
    try:
        draft = composer.compose(question)
    except ModelError as exc:
        log.warning("composer %s failed, using the offline composer: %s", composer.name, exc)
        label = f"default (model failed: {exc.reason})"
        draft = (fallback or TemplateComposer()).compose(question)
    verification = guardrails.verify_claims(draft, scope)
    return Composed(label, verification.accepted, verification.rejected)


def build_rca(source: Store | RcaSource, incident: Incident, composer: Composer | None = None) -> dict[str, Any]:
    """The RCA of `incident` from what a store holds, or what an `RcaSource` gives (a replay's, in memory)."""
    scope = incident_scope(source, incident)
    return rca_from_scope(scope, composer or TemplateComposer())


def rca_from_scope(scope: Scope, composer: Composer) -> dict[str, Any]:
    """The RCA document. Every sentence in it (summary, cause, claims, checks, actions) is rendered by the product
    from verified values; the proposer's wording appears nowhere."""
    incident = scope.incident
    composed = compose_verified(composer, scope, question_for(scope))
    accepted = composed.accepted
    cause = _most_likely_cause(incident.reason_code, accepted)
    cited = list(dict.fromkeys(i for c in accepted for i in c.evidence_ids))
    listed = list(dict.fromkeys([*cited, *incident.evidence_ids]))
    return {
        "incident_id": incident.id,
        "verdict": "cause_identified" if cause is not None else "inconclusive",
        "reason_code": str(incident.reason_code),
        "summary": guardrails.summary(incident, cause, [c for c in accepted if c.kind == ClaimKind.OTHER_BREAK]),
        "most_likely_cause": None if cause is None else {
            "statement": cause.text, "evidence_ids": cause.evidence_ids,
            "confidence": guardrails.confidence(scope, accepted),
        },
        "correlated_deploy": _correlated_deploy(incident, accepted),
        "claims": [c.model_dump(mode="json") for c in accepted],
        "rejected_claims": [r.model_dump() for r in composed.rejected],
        "next_checks": guardrails.next_checks(scope, accepted),
        "suggested_actions": guardrails.suggested_actions(scope, accepted),
        "evidence": [scope.records[i].summary() for i in listed if i in scope.records],
        "composer": composed.composer,
        "computed_at": iso(incident.updated_at),
    }


def _correlated_deploy(incident: Incident, accepted: list[VerifiedClaim]) -> dict[str, Any] | None:
    """The deploy, or (for a job) the changed code_ref, that the verifier accepted as the change behind the symptom;
    its names only where they are identifiers."""
    claim = next((c for c in accepted if c.kind == ClaimKind.DEPLOY_CORRELATED), None) or \
        next((c for c in accepted if c.kind == ClaimKind.CODE_CHANGED), None)
    if claim is None:
        return None
    found = next((d for d in incident.correlated_deploys if d.evidence_id in claim.evidence_ids), None)
    if found is None:
        return None
    deploy: dict[str, Any] = {k: guardrails.identifier(getattr(found, k)) for k in ("service", "version",
                                                                                "deploy_ref", "evidence_id")}
    if claim.kind == ClaimKind.DEPLOY_CORRELATED:
        deploy.update(service=claim.params.get("service"), version=claim.params.get("version"))
    return deploy


def _most_likely_cause(reason_code: str, accepted: list[VerifiedClaim]) -> VerifiedClaim | None:
    causes = [c for c in accepted if c.kind in CAUSE_KINDS]
    if not causes:
        return None
    # The claim that best explains the reason code first (CAUSE_FOR_REASON's first), then every cause by _CAUSE_ORDER.
    order = [*CAUSE_FOR_REASON.get(reason_code, ())[:1], *_CAUSE_ORDER]
    return min(causes, key=lambda c: order.index(c.kind))
