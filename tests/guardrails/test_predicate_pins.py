"""What each symptom predicate says when it refuses a claim, word for word, and the branches the reference scenarios
do not reach on their own (found by `make mutate`: each assertion here failed on a mutant the suite let through)."""

from __future__ import annotations

import dataclasses

import pytest

from guardrails._claims import Claim, ClaimKind, Draft
from guardrails._verify import verify_claims

DS = "ds://curated/orders_enriched"
JOB = "job://orders_enriched_batch"


def verdict(scope, claim: Claim) -> str | None:
    result = verify_claims(Draft(claims=[claim]), scope)
    return None if result.accepted else result.rejected[0].why


@pytest.fixture
def slow(scope_of):
    return scope_of("spark_job_running_slow")


@pytest.fixture
def spring(scope_of):
    return scope_of("spring_missing_customer_id")


def _incident(scope, **changes):
    return dataclasses.replace(scope, incident={**scope.incident, **changes})


def _commit(record, moment, ref: str, when: str, version: int):
    return record("DatasetWriteCommitted", ref, moment(when),
                  {"dataset_urn": DS, "run_id": f"run-{ref}", "commit_version": version, "rows_written": 1},
                  source=JOB)


def test_a_claim_on_the_wrong_kind_of_incident_names_both_kinds(slow, spring, claim, ev) -> None:
    good = ev(slow, "commit-0118")
    first_bad = spring.incident["facts"]["first_bad_evidence_id"]
    assert verdict(slow, claim(ClaimKind.RATE_SHIFT, [good])) == (
        "a rate_shift claim needs a contract incident; this one is a freshness incident")
    assert verdict(spring, claim(ClaimKind.FRESHNESS_BREACH, [first_bad])) == (
        "a freshness_breach claim needs a freshness incident; this one is a contract incident")
    assert verdict(_incident(spring, kind=None), claim(ClaimKind.FRESHNESS_BREACH, [first_bad])) == (
        "a freshness_breach claim needs a freshness incident; this one is a unknown incident")


def test_a_freshness_breach_states_the_incidents_watermark_or_none(slow, claim, ev) -> None:
    good = ev(slow, "commit-0118")
    assert verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good], watermark="dt=2026-01-18")) is None
    assert verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good], watermark="dt=2026-01-17")) == (
        "states watermark dt=2026-01-17, but the incident's is dt=2026-01-18")


def test_a_freshness_breach_is_anchored_on_the_last_good_commit_not_a_later_one(slow, claim, ev, record, moment,
                                                                                add) -> None:
    later = _commit(record, moment, "commit-later", "2026-01-18T09:00:00Z", 107)
    scope = add(slow, later)
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [ev(slow, "commit-0118")])) is None
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [later.evidence_id])) == (
        f"does not cite the last good commit to {DS} ({ev(slow, 'commit-0118')})")


def test_without_a_last_good_time_the_latest_commit_anchors_the_breach(slow, claim, ev) -> None:
    scope = _incident(slow, last_good_time=None)
    latest, older = ev(slow, "commit-0118"), ev(slow, "commit-0116")
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [latest])) is None
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [older])) == (
        f"does not cite the latest commit to {DS} ({latest})")


def test_a_stray_citation_names_the_claims_kind(slow, spring, claim, ev) -> None:
    good, start = ev(slow, "commit-0118"), ev(slow, "run-start-0118")
    why = verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good, start]))
    assert why is not None and why.startswith(f"cites {start} (JobRunStarted at ")
    assert why.endswith(", which is not evidence for this freshness_breach claim")
    first_bad = spring.incident["facts"]["first_bad_evidence_id"]
    deploy = ev(spring, "deploy-checkout-v2.8.1")
    why = verdict(spring, claim(ClaimKind.RATE_SHIFT, [first_bad, deploy]))
    assert why is not None and why.endswith(", which is not evidence for this rate_shift claim")


def test_a_rate_shift_on_a_break_the_counters_do_not_show(spring, claim) -> None:
    first_bad = spring.incident["facts"]["first_bad_evidence_id"]
    assert verdict(_incident(spring, field=None), claim(ClaimKind.RATE_SHIFT, [first_bad])) == (
        "the gate counters show no REQUIRED_FIELD_MISSING break on the whole value for ds://orders_v1")


def test_an_impact_claim_names_a_list_of_datasets(spring, claim) -> None:
    first_bad = spring.incident["facts"]["first_bad_evidence_id"]
    for datasets in ({}, {"datasets": []}, {"datasets": "ds://orders_daily"}):
        assert verdict(spring, claim(ClaimKind.IMPACT, [first_bad], **datasets)) == (
            "states no impacted datasets in params.datasets")


def test_without_a_last_good_time_or_any_commit_nothing_anchors_the_breach(slow, claim, ev) -> None:
    start = ev(slow, "run-start-0118")
    scope = dataclasses.replace(_incident(slow, last_good_time=None), records={
        i: r for i, r in slow.records.items() if r.type != "DatasetWriteCommitted"})
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [start])) == (
        f"no commit to {DS} in scope anchors the breach")
    assert verdict(scope, claim(ClaimKind.LAST_GOOD, [start])) == "the incident has no last good time"
