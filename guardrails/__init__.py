"""Guardrails: the verifier that decides which proposed claims reach a user, and the confidence and next
checks computed from evidence alone.

    from guardrails import Draft, Claim, ClaimKind, verify_claims
    verdict = verify_claims(Draft(claims=[Claim(text="...", kind=ClaimKind.DEPLOY_CORRELATED,
                                                 evidence_ids=["ev_..."])]), scope)
    print(verdict.accepted, verdict.rejected)
"""

from guardrails._claims import CAUSE_KINDS, Claim, ClaimKind, Draft, RejectedClaim
from guardrails._scope import Scope

__all__ = ["CAUSE_KINDS", "Claim", "ClaimKind", "Draft", "RejectedClaim", "Scope"]
