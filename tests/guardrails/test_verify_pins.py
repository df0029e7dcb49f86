"""Verifier behaviour the mutation run of issue 24 found unpinned: each test fails on one surviving mutant (a
deduplication key narrowed to the kind, a case-sensitive self-assessment check, a reason_code param not compared,
a check of only the first cited record, a deploy window widened or its edges moved; later: a stated value compared
loosely with the derived one, a null param taken as stated, the audit label's count of citations)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from guardrails import Claim, ClaimKind, Draft, verify_claims
from guardrails._verify import _mismatch

SPRING = "spring_missing_customer_id"

def with_deploy_window(scope, window: timedelta):
    """The scope of the same incident, had its detector applied another deploy window."""
    windows = scope.incident.windows.model_copy(update={"deploy_window": window})
    return dataclasses.replace(scope, incident=scope.incident.model_copy(update={"windows": windows}))


def kinds_accepted(scope, *claims: Claim) -> list[tuple[str, list[str]]]:
    return [(str(c.kind), list(c.evidence_ids)) for c in verify_claims(Draft(claims=list(claims)), scope).accepted]


def test_two_true_claims_of_one_kind_citing_other_evidence_both_stand(scope_of, ev) -> None:
    spring = scope_of(SPRING)
    wide = with_deploy_window(spring, timedelta(hours=24))
    new, old = ev(wide, "deploy-checkout-v2.8.1"), ev(wide, "deploy-checkout-v2.8.0")
    claims = [Claim(kind=ClaimKind.DEPLOY_CORRELATED, evidence_ids=[new], text="checkout-service v2.8.1 shipped."),
              Claim(kind=ClaimKind.DEPLOY_CORRELATED, evidence_ids=[old], text="checkout-service v2.8.0 shipped.")]
    assert kinds_accepted(wide, *claims) == [("deploy_correlated", [new]), ("deploy_correlated", [old])]
    result = verify_claims(Draft(claims=[*claims, claims[0]]), wide)  # the same kind and values again: a repeat
    assert len(result.accepted) == 2 and [r.reason for r in result.rejected] == ["duplicate"]


@pytest.mark.parametrize(("key", "reason", "why"), [
    ("confidence", "certainty", "params.confidence vouches for the claim; confidence is computed from evidence, "
                                "never taken from a claim"),
    ("probability", "certainty", "params.probability vouches for the claim; confidence is computed from evidence, "
                                 "never taken from a claim"),
    # A param name in capitals is no identifier at all, whatever it says.
    ("Confidence", "malformed", "has a param whose name is not an identifier"),
    ("CONFIDENCE", "malformed", "has a param whose name is not an identifier"),
])
def test_a_self_assessment_param_is_rejected_whatever_its_case(scope_of, key: str, reason: str, why: str) -> None:
    spring = scope_of(SPRING)
    first_bad = spring.incident.facts["first_bad_evidence_id"]
    claim = Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=[first_bad], params={key: 0.99},
                  text="Records of ds://orders_v1 fail with REQUIRED_FIELD_MISSING.")
    [rejected] = verify_claims(Draft(claims=[claim]), spring).rejected
    assert (rejected.reason, rejected.why) == (reason, why)


def test_a_reason_code_param_that_contradicts_the_incident_is_rejected(scope_of) -> None:
    spring = scope_of(SPRING)
    first_bad = spring.incident.facts["first_bad_evidence_id"]

    def claim(reason: str) -> Claim:
        return Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=[first_bad], params={"reason_code": reason},
                     text="Records of ds://orders_v1 fail the contract.")

    assert kinds_accepted(spring, claim("REQUIRED_FIELD_MISSING")) == [("contract_break", [first_bad])]
    assert kinds_accepted(spring, claim("TYPE_MISMATCH")) == []


def test_every_cited_record_is_checked_not_only_the_first(scope_of, ev) -> None:
    spring = scope_of(SPRING)
    first_bad = spring.incident.facts["first_bad_evidence_id"]
    deploy = ev(spring, "deploy-checkout-v2.8.1")
    text = "Records of ds://orders_v1 fail with REQUIRED_FIELD_MISSING."
    assert kinds_accepted(spring, Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=[first_bad], text=text))
    for second in (deploy, "ev_0123456789abcdef01234567"):  # a deploy is no evidence of a break; an unknown id
        assert kinds_accepted(spring, Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=[first_bad, second],
                                            text=text)) == [], second


@pytest.mark.parametrize("stored", [True, False], ids=["detector-window", "legacy-default-window"])
@pytest.mark.parametrize(("before", "accepted"), [
    (timedelta(minutes=60), True),  # the window's oldest instant is inside it
    (timedelta(minutes=60, seconds=1), False),
    (timedelta(minutes=119), False),  # a doubled window would take it
    (timedelta(seconds=1), True),
    (timedelta(0), False),  # at first bad: not before it
])
def test_the_verifiers_deploy_window_and_its_edges(scope_of, record, add, stored: bool, before: timedelta,
                                                   accepted: bool) -> None:
    spring = scope_of(SPRING)
    if not stored:  # an incident stored before detectors recorded their windows: the default window
        spring = dataclasses.replace(spring, incident=spring.incident.model_copy(update={"windows": None}))
    else:  # the window the detector applied: the contract's
        assert spring.incident.windows.deploy_window == timedelta(minutes=60)
    at = spring.incident.first_bad_time - before
    deploy = record("DeploymentEvent", "deploy-edge", at, {"service": "checkout-service", "version": "v2.8.9",
                                                           "status": "succeeded",
                                                           "deploy_ref": "checkout-service@v2.8.9"})
    scope = add(spring, deploy)
    claim = Claim(kind=ClaimKind.DEPLOY_CORRELATED, evidence_ids=[deploy.evidence_id],
                  text="checkout-service v2.8.9 shipped before the break.")
    assert bool(kinds_accepted(scope, claim)) is accepted


def test_a_param_stated_as_null_is_not_stated(scope_of) -> None:
    spring = scope_of(SPRING)
    first_bad = spring.incident.facts["first_bad_evidence_id"]
    claim = Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=[first_bad], params={"field": None, "bad_count": None},
                  text="Records of ds://orders_v1 fail with REQUIRED_FIELD_MISSING.")
    assert kinds_accepted(spring, claim) == [("contract_break", [first_bad])]


@pytest.mark.parametrize(("count", "rest"), [(6, "1 other id"), (7, "2 other ids")])
def test_the_audit_trail_names_five_citations_and_counts_the_rest(scope_of, count: int, rest: str) -> None:
    cited = [f"ev_0123456789abcdef0123456{n}" for n in range(count)]  # well-formed, in no incident's scope
    claim = Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=cited, text="Records of ds://orders_v1 fail.")
    [rejected] = verify_claims(Draft(claims=[claim]), scope_of(SPRING)).rejected
    assert rejected.text == f"contract_break claim 1, citing {', '.join(cited[:5])} and {rest}"


@pytest.mark.parametrize(("stated", "derived", "same"), [
    ({"bad_count": 2}, {"bad_count": 2}, True),
    ({"bad_count": 3}, {"bad_count": 2}, False),  # a figure without a listed tolerance must be equal
    ({"running_for_s": 160.0}, {"running_for_s": 100.0}, True),  # a listed tolerance (60 s) includes its edge
    ({"running_for_s": 160.5}, {"running_for_s": 100.0}, False),
    ({"exceeds_slow_factor": True}, {"exceeds_slow_factor": True}, True),
    ({"exceeds_slow_factor": False}, {"exceeds_slow_factor": True}, False),
    ({"exceeds_slow_factor": 1}, {"exceeds_slow_factor": True}, False),  # a number is not a yes
    ({"datasets": ["ds://a", "ds://a"]}, {"datasets": ["ds://a"]}, True),
    ({"datasets": ["ds://b"]}, {"datasets": ["ds://a"]}, False),
    ({"field": "amount"}, {"field": None}, False),  # stating what the evidence does not give
    ({"field": None}, {"field": "amount"}, True),  # null states nothing
])
def test_a_stated_value_must_equal_the_one_derived_from_the_evidence(stated, derived, same: bool) -> None:
    assert (_mismatch(stated, derived) is None) is same


def test_a_mismatch_says_what_the_evidence_gives() -> None:
    assert _mismatch({"bad_count": 3}, {"bad_count": 2}) == "states bad_count 3, but the evidence gives 2"
    assert _mismatch({"field": "amount"}, {"field": None}) == "states field amount, but the evidence gives none"
