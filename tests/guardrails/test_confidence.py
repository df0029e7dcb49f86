"""Confidence comes from evidence and from which claims survived: bounded, and monotone where it should be."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from guardrails._claims import Claim, ClaimKind, Draft
from guardrails._confidence import confidence
from guardrails._verify import verify_claims

SPRING = "spring_missing_customer_id"


@pytest.fixture
def spring(scope_of):
    return scope_of(SPRING)


def _contract_claims(scope, deploy_id: str) -> list[Claim]:
    facts = scope.incident.facts
    first_bad, last_good = facts["first_bad_evidence_id"], facts["last_good_evidence_id"]
    draft = Draft(claims=[
        Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=[first_bad], text="customer_id is missing since 10:21:04."),
        Claim(kind=ClaimKind.LAST_GOOD, evidence_ids=[last_good], text="The last good record was at 10:20:58."),
        Claim(kind=ClaimKind.RATE_SHIFT, evidence_ids=[first_bad], params={"before": 0.0, "after": 0.18},
              text="From 0% to 18%."),
        Claim(kind=ClaimKind.DEPLOY_CORRELATED, evidence_ids=[deploy_id], text="A checkout-service deploy shipped."),
    ])
    result = verify_claims(draft, scope)
    assert not result.rejected
    return result.accepted


def _deploy(record, moment, minutes_before: float):
    when = moment("2026-03-10T10:21:04Z", minutes=-minutes_before)
    data = {"service": "checkout-service", "version": "v2.8.1", "status": "succeeded"}
    return record("DeploymentEvent", f"deploy-{minutes_before}", when, data)


def test_nothing_verified_means_no_confidence(spring):
    assert confidence(spring, []) == 0.0


def test_full_contract_evidence_scores_high_and_stays_in_bounds(spring, ev):
    value = confidence(spring, _contract_claims(spring, ev(spring, "deploy-checkout-v2.8.1")))
    assert value == 0.99


def test_a_closer_deploy_gives_higher_confidence(spring, record, moment, add):
    values = []
    for minutes in (1, 10, 30, 59):
        deploy = _deploy(record, moment, minutes)
        scope = add(spring, deploy)
        values.append(confidence(scope, _contract_claims(scope, deploy.evidence_id)))
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)
    assert all(0.0 <= v <= 1.0 and round(v, 2) == v for v in values)


def test_missing_evidence_lowers_confidence(spring, ev):
    claims = _contract_claims(spring, ev(spring, "deploy-checkout-v2.8.1"))
    full = confidence(spring, claims)
    without_last_good = confidence(spring, [c for c in claims if c.kind != ClaimKind.LAST_GOOD])
    without_deploy = confidence(spring, [c for c in claims if c.kind != ClaimKind.DEPLOY_CORRELATED])
    assert full > without_last_good > without_deploy > 0.0


def test_stale_evidence_lowers_confidence(spring, ev):
    claims = _contract_claims(spring, ev(spring, "deploy-checkout-v2.8.1"))
    stale = dataclasses.replace(spring, incident=spring.incident.model_copy(update={"stale_evidence": True}))
    assert confidence(stale, claims) < confidence(spring, claims)


def test_what_a_claim_says_about_itself_does_not_move_confidence(spring, ev):
    claims = _contract_claims(spring, ev(spring, "deploy-checkout-v2.8.1"))
    reworded = [c.model_copy(update={"text": "Certainly the cause, 100% sure.", "params": {"confidence": 1}})
                for c in claims]
    assert confidence(spring, reworded) == confidence(spring, claims)


def test_freshness_confidence_grows_with_evidence_and_lateness(scope_of, ev):
    scope = scope_of("spark_job_not_triggered")
    good, habit = ev(scope, "commit-0118"), ev(scope, "run-start-0118")
    claims = verify_claims(Draft(claims=[
        Claim(kind=ClaimKind.LAST_GOOD, evidence_ids=[good], text="The last good commit landed at 06:47."),
        Claim(kind=ClaimKind.JOB_NOT_TRIGGERED, evidence_ids=[habit], text="No run started after 06:00."),
    ]), scope).accepted
    assert len(claims) == 2
    later = dataclasses.replace(scope, now=scope.now + timedelta(hours=1))
    assert confidence(scope, claims[:1]) < confidence(scope, claims) < confidence(later, claims) <= 1.0
