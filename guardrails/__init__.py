"""Guardrails: the verifier that decides which proposed claims reach a user, and the confidence and next
checks computed from evidence alone.

    from guardrails import Draft, Claim, ClaimKind, verify_claims
    verdict = verify_claims(Draft(claims=[Claim(text="...", kind=ClaimKind.DEPLOY_CORRELATED,
                                                 evidence_ids=["ev_..."])]), scope)
    print(verdict.accepted, verdict.rejected)
"""

from guardrails._claims import CAUSE_KINDS, Claim, ClaimKind, Draft, RejectedClaim
from guardrails._confidence import confidence
from guardrails._playbook import next_checks, suggested_actions
from guardrails._scope import Scope
from guardrails._verify import Verification, verify_claims

__all__ = [
    "CAUSE_KINDS",
    "Claim",
    "ClaimKind",
    "Draft",
    "RejectedClaim",
    "Scope",
    "Verification",
    "confidence",
    "next_checks",
    "suggested_actions",
    "verify_claims",
]
