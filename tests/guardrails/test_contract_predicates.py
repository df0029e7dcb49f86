"""Predicates over contract and drift incidents: each accepts a true claim and rejects a false one, saying why."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from guardrails._claims import Claim, ClaimKind, Draft
from guardrails._verify import verify_claims

SPRING = "spring_missing_customer_id"


def verdict(scope, claim: Claim) -> str | None:
    """None when the claim is accepted, else the verifier's why."""
    result = verify_claims(Draft(claims=[claim]), scope)
    return None if result.accepted else result.rejected[0].why


@pytest.fixture
def spring(scope_of):
    return scope_of(SPRING)


@pytest.fixture
def ids(spring, ev):
    facts = spring.incident.facts
    return {"first_bad": facts["first_bad_evidence_id"], "last_good": facts["last_good_evidence_id"],
            "later_bad": spring.incident.evidence_ids[2], "deploy": ev(spring, "deploy-checkout-v2.8.1"),
            "old_deploy": ev(spring, "deploy-checkout-v2.8.0")}


def _observation(record, moment, *, field: str | None, offset: int):
    violations = [{"reason_code": "REQUIRED_FIELD_MISSING", "field": field, "detail": "missing"}] if field else []
    return record("GateObservation", f"orders.created/0/{offset}", moment("2026-03-10T10:21:04Z"),
                  source="kafka://orders.created", dataset="ds://orders_v1",
                  reason="REQUIRED_FIELD_MISSING" if field else None, field=field,
                  payload={"topic": "orders.created", "offset": offset, "violations": violations})


def test_contract_break_holds_for_the_first_bad_record(spring, claim, ids):
    assert verdict(spring, claim(ClaimKind.CONTRACT_BREAK, [ids["first_bad"]], field="customer_id")) is None
    assert verdict(spring, claim(ClaimKind.CONTRACT_BREAK, [ids["first_bad"], ids["later_bad"]])) is None


def test_contract_break_rejects_a_wrong_field_a_later_record_and_another_incident_kind(spring, claim, ids, record,
                                                                                      moment, add, scope_of):
    assert verdict(spring, claim(ClaimKind.CONTRACT_BREAK, [ids["first_bad"]], field="currency")) == (
        "states field currency, but the incident's field is customer_id")
    # A reason the incident does not have is refused the same way, whatever else the claim gets right.
    assert verdict(spring, claim(ClaimKind.CONTRACT_BREAK, [ids["first_bad"]], reason_code="TYPE_MISMATCH",
                                 field="customer_id")) == (
        "states reason TYPE_MISMATCH, but the incident's reason is REQUIRED_FIELD_MISSING")
    assert verdict(spring, claim(ClaimKind.CONTRACT_BREAK, [ids["first_bad"]], reason_code="REQUIRED_FIELD_MISSING",
                                 field="customer_id")) is None
    other_field = _observation(record, moment, field="currency", offset=99001)
    assert verdict(add(spring, other_field), claim(ClaimKind.CONTRACT_BREAK, [other_field.evidence_id])) == (
        f"cites {other_field.evidence_id} (GateObservation at 2026-03-10T10:21:04Z), which fails on currency, not on "
        "the incident's field customer_id")
    assert verdict(spring, claim(ClaimKind.CONTRACT_BREAK, [ids["later_bad"]])) == (
        "cites no gate observation of ds://orders_v1 failing with REQUIRED_FIELD_MISSING on customer_id at first "
        "bad 2026-03-10T10:21:04Z")
    freshness = scope_of("spark_job_not_triggered")
    assert verdict(freshness, claim(ClaimKind.CONTRACT_BREAK, [freshness.incident.evidence_ids[0]])) == (
        "a contract_break claim needs a contract incident; this one is a freshness incident")


def test_last_good_is_the_passing_record_at_the_boundary(spring, claim, ids):
    assert verdict(spring, claim(ClaimKind.LAST_GOOD, [ids["last_good"]])) is None
    assert verdict(spring, claim(ClaimKind.LAST_GOOD, [ids["first_bad"]])) == (
        "cites no gate observation of ds://orders_v1 that passed the contract at last good 2026-03-10T10:20:58Z")


def test_rate_shift_is_recomputed_from_the_gate_counters(spring, claim, ids):
    assert verdict(spring, claim(ClaimKind.RATE_SHIFT, [ids["first_bad"]], before=0.0, after=0.19)) is None
    assert verdict(spring, claim(ClaimKind.RATE_SHIFT, [ids["first_bad"]], before=0.0, after=0.25)) == (
        "states after 0.25, but the evidence gives 0.1818")
    assert verdict(spring, claim(ClaimKind.RATE_SHIFT, [ids["first_bad"]], before=0.18, after=0.0)) == (
        "states before 0.18, but the evidence gives 0.0")  # in reverse order
    assert verdict(spring, claim(ClaimKind.RATE_SHIFT, [ids["first_bad"]], before=0.0)) is None  # after: derived
    no_counters = dataclasses.replace(spring, counters=[])
    assert verdict(no_counters, claim(ClaimKind.RATE_SHIFT, [ids["first_bad"]], before=0.0, after=0.18)) == (
        "no gate counters in scope to recompute the rates from")
    assert verdict(spring, claim(ClaimKind.RATE_SHIFT, [ids["later_bad"]], before=0.0, after=0.18)).startswith(
        "cites no gate observation of ds://orders_v1 failing")


def test_deploy_correlated_holds_for_the_producers_deploy_just_before_first_bad(spring, claim, ids):
    text = "checkout-service v2.8.1 was deployed 64 s before the first bad record."
    assert verdict(spring, claim(ClaimKind.DEPLOY_CORRELATED, [ids["deploy"]], text, version="v2.8.1")) is None
    assert verdict(spring, claim(ClaimKind.DEPLOY_CORRELATED, [ids["deploy"], ids["first_bad"]], text)) is None


def test_deploy_correlated_rejects_deploys_that_cannot_have_caused_the_break(spring, claim, ids, record, moment, add,
                                                                             scope_of, ev):
    def deploy(ref, when, producer="svc://checkout-service", status="succeeded", version="v2.8.2"):
        service = producer.split("://")[1]
        return record("DeploymentEvent", ref, when, {"service": service, "version": version, "status": status,
                                                     "deploy_ref": f"{service}@{version}"}, source=producer)

    after = deploy("deploy-after", moment("2026-03-10T10:21:04Z", seconds=30))
    at_once = deploy("deploy-at-first-bad", moment("2026-03-10T10:21:04Z"))
    failed = deploy("deploy-failed", moment("2026-03-10T10:15:00Z"), status="failed")
    scope = add(spring, after, at_once, failed)
    everything = scope_of(SPRING, everything=True)
    payments = ev(everything, "deploy-payments")
    cases = {
        "another producer's deploy": (everything, [payments], (
            f"{payments} is a deploy of svc://payments-service, whose records did not break; the records of "
            "svc://checkout-service did")),
        "a deploy after first bad": (scope, [after.evidence_id], (
            f"{after.evidence_id} (DeploymentEvent at 2026-03-10T10:21:34Z) does not precede first bad "
            "2026-03-10T10:21:04Z")),
        "a deploy at the first bad instant": (scope, [at_once.evidence_id], (
            f"{at_once.evidence_id} (DeploymentEvent at 2026-03-10T10:21:04Z) does not precede first bad "
            "2026-03-10T10:21:04Z")),
        "a deploy older than the window": (scope, [ids["old_deploy"]], (
            f"{ids['old_deploy']} (DeploymentEvent at 2026-03-09T15:00:00Z) is older than the 60-minute deploy "
            "window before first bad")),
        "a failed deploy": (scope, [failed.evidence_id], (
            f"{failed.evidence_id} has status failed: a deploy that did not ship changed nothing")),
        "two deploys": (scope, [ids["deploy"], ids["old_deploy"]], (
            "cites 2 DeploymentEvents; a deploy correlation names exactly one")),
        "no deploy": (scope, [ids["first_bad"]], "cites no DeploymentEvent"),
    }
    for name, (where, cited, why) in cases.items():
        assert verdict(where, claim(ClaimKind.DEPLOY_CORRELATED, cited, "A deploy broke the dataset.")) == why, name
    assert verdict(spring, claim(ClaimKind.DEPLOY_CORRELATED, [ids["deploy"]], version="v2.8.0")) == (
        "states version v2.8.0, but the evidence gives v2.8.1")


def test_a_restart_of_the_deployed_version_is_not_a_deploy_of_its_own(spring, claim, record, moment, add):
    # checkout-service v2.8.1 shipped by CI at 10:20:00 (the incident's correlated deploy); a pod restarting on it
    # at 10:20:30 folded into that deploy (issue 13), so a claim dating the change to the restart is rejected.
    restart = record("DeploymentEvent", "pod-restart", moment("2026-03-10T10:20:30Z"),
                     {"service": "checkout-service", "version": "v2.8.1", "status": "succeeded", "source": "startup",
                      "deploy_ref": "checkout-service@v2.8.1"}, source="svc://checkout-service")
    assert verdict(add(spring, restart), claim(ClaimKind.DEPLOY_CORRELATED, [restart.evidence_id],
                                               "checkout-service v2.8.1 was deployed 34 s before first bad.")) == (
        f"{restart.evidence_id} (DeploymentEvent at 2026-03-10T10:20:30Z) is a start-up (a restart or a replica) "
        "that the detector folded into the deploy of its version, not a deploy of its own")


def test_a_wider_contract_window_correlates_an_older_deploy(spring, claim, ids):
    windows = spring.incident.windows.model_copy(update={"deploy_window": timedelta(hours=24)})
    wide = dataclasses.replace(spring, incident=spring.incident.model_copy(update={"windows": windows}))
    assert verdict(wide, claim(ClaimKind.DEPLOY_CORRELATED, [ids["old_deploy"]], "v2.8.0 shipped the day before.")) \
        is None


def test_impact_names_only_lineage_downstream(spring, claim, ids):
    assert verdict(spring, claim(ClaimKind.IMPACT, [ids["first_bad"]], datasets=["ds://curated/orders_enriched"])) \
        is None
    assert verdict(spring, claim(ClaimKind.IMPACT, [ids["first_bad"]], datasets=["ds://marts/finance_kpi"])) == (
        "names ds://marts/finance_kpi, which is not downstream of ds://orders_v1 through lineage")


def test_no_recent_deploy_holds_only_when_nothing_is_correlated(scope_of, claim, ev, spring, ids):
    old = scope_of("go_inventory_old_deploy_hours_of_good")
    deploy = next(r for r in old.records.values() if r.type == "DeploymentEvent")
    assert verdict(old, claim(ClaimKind.NO_RECENT_DEPLOY, [deploy.evidence_id])) is None
    assert verdict(spring, claim(ClaimKind.NO_RECENT_DEPLOY, [ids["old_deploy"]])) == (
        "the incident correlates a change: ev_bfe93de448d5970733127c4a")


def test_schema_drift_cites_an_unattributed_record_of_the_topic(scope_of, claim, spring, ids):
    drift = scope_of("node_cart_schema_drift_unmapped")
    first_seen = drift.incident.evidence_ids[0]
    request = drift.incident.facts["change_request_id"]
    assert verdict(drift, claim(ClaimKind.SCHEMA_DRIFT, [first_seen], change_request_id=request)) is None
    assert verdict(drift, claim(ClaimKind.SCHEMA_DRIFT, [first_seen], change_request_id="cr_0000")) == (
        f"names change request cr_0000, which is not this incident's ({request})")
    assert verdict(spring, claim(ClaimKind.SCHEMA_DRIFT, [ids["first_bad"]])) == (
        "the incident is not a drift incident and names no change request")


def test_impact_cites_the_incidents_own_evidence_of_the_break(spring, claim, ids):
    downstream = ["ds://curated/orders_enriched"]
    assert verdict(spring, claim(ClaimKind.IMPACT, [ids["last_good"]], datasets=downstream)) is None
    assert verdict(spring, claim(ClaimKind.IMPACT, [ids["deploy"]], datasets=downstream)) == (
        f"cites {ids['deploy']} (DeploymentEvent at 2026-03-10T10:20:00Z), which is not evidence for this impact claim")


# -- pinned by `make mutate`: each assertion below failed on a mutant the suite had let through -------------------

def _incident(scope, **changes):
    return dataclasses.replace(scope, incident=scope.incident.model_copy(update=changes))


def test_a_freshness_claim_on_a_contract_incident_names_both_kinds(spring, claim, ids):
    assert verdict(spring, claim(ClaimKind.FRESHNESS_BREACH, [ids["first_bad"]])) == (
        "a freshness_breach claim needs a freshness incident; this one is a contract incident")
    assert verdict(_incident(spring, kind=None), claim(ClaimKind.FRESHNESS_BREACH, [ids["first_bad"]])) == (
        "a freshness_breach claim needs a freshness incident; this one is a unknown incident")


def test_a_stray_citation_names_the_rate_shift_claims_kind(spring, claim, ids):
    why = verdict(spring, claim(ClaimKind.RATE_SHIFT, [ids["first_bad"], ids["deploy"]]))
    assert why is not None and why.endswith(", which is not evidence for this rate_shift claim")


def test_a_rate_shift_on_a_break_the_counters_do_not_show(spring, claim, ids):
    assert verdict(_incident(spring, field=None), claim(ClaimKind.RATE_SHIFT, [ids["first_bad"]])) == (
        "the gate counters show no REQUIRED_FIELD_MISSING break on the whole value for ds://orders_v1")


def test_an_impact_claim_names_a_list_of_datasets(spring, claim, ids):
    for datasets in ({}, {"datasets": []}, {"datasets": "ds://orders_daily"}):
        assert verdict(spring, claim(ClaimKind.IMPACT, [ids["first_bad"]], **datasets)) == (
            "states no impacted datasets in params.datasets")


def test_a_last_good_claim_citing_a_deploy_beside_the_passing_record_is_refused(spring, claim, ids):
    why = verdict(spring, claim(ClaimKind.LAST_GOOD, [ids["last_good"], ids["deploy"]]))
    assert why is not None and why.startswith(f"cites {ids['deploy']} (DeploymentEvent at ")
    assert why.endswith(", which is not evidence for this last_good claim")


def test_a_last_good_claim_may_cite_the_breaks_bad_records_beside_the_passing_one(spring, claim, ids):
    assert verdict(spring, claim(ClaimKind.LAST_GOOD, [ids["last_good"], ids["first_bad"], ids["later_bad"]])) is None
