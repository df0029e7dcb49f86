"""Guardrails: the verifier that decides which proposed claims reach a user and renders their sentences from
verified values, and the confidence and next checks computed from evidence alone.

    from guardrails import Draft, Claim, ClaimKind, verify_claims
    verdict = verify_claims(Draft(claims=[Claim(kind=ClaimKind.DEPLOY_CORRELATED, evidence_ids=["ev_..."],
                                                params={"version": "v2.8.1"})]), scope)
    print([c.text for c in verdict.accepted], [r.why for r in verdict.rejected])
"""

from guardrails._claims import (
    CAUSE_FOR_REASON,
    CAUSE_KINDS,
    Claim,
    ClaimKind,
    Draft,
    ParamValue,
    RejectedClaim,
    VerifiedClaim,
)
from guardrails._confidence import confidence
from guardrails._playbook import next_checks, suggested_actions
from guardrails._render import Unrenderable, render, summary
from guardrails._scope import Scope, windows_of
from guardrails._text import identifier, inert
from guardrails._verify import MAX_CLAIMS, MAX_PER_KIND, Verification, verify_claims

__all__ = [
    "CAUSE_FOR_REASON",
    "CAUSE_KINDS",
    "MAX_CLAIMS",
    "MAX_PER_KIND",
    "Claim",
    "ClaimKind",
    "Draft",
    "ParamValue",
    "RejectedClaim",
    "Scope",
    "Unrenderable",
    "Verification",
    "VerifiedClaim",
    "confidence",
    "identifier",
    "inert",
    "next_checks",
    "render",
    "suggested_actions",
    "summary",
    "verify_claims",
    "windows_of",
]
