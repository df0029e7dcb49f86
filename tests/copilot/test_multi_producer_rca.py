"""The RCA of a dataset several producers write (issue 24): it names the producers whose records broke, cites each
one's first bad record beside its deploy, and the verifier judges a deploy against its own producer's break."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from copilot import build_rca, incident_scope, replay_source
from detectors import Scenario, replay
from evidence import Contract, Mapping, evidence_id_for
from guardrails import Claim, ClaimKind, Draft, verify_claims
from support import ORDERS_SCHEMA

DS = "ds://orders_v1"
TOPIC = "orders.created"
NOW = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
FIRST_BAD = datetime(2026, 3, 10, 10, 40, tzinfo=UTC)
CHECKOUT, PAYMENTS, BACKFILL = "svc://checkout-service", "svc://payments-service", "svc://orders-backfill"
GOOD = {"order_id": "o-1", "customer_id": "c-1", "amount": 12.5, "currency": "EUR"}


def message(producer: str, partition: int, offset: int, at: datetime, **change: Any) -> dict[str, Any]:
    value = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    return {"topic": TOPIC, "partition": partition, "offset": offset, "timestamp": at.isoformat(), "schema_id": 42,
            "headers": {"autopilot-producer": producer}, "value": value}


def deploy(producer: str, ref: str, at: datetime, version: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": ref, "source": producer, "type": "DeploymentEvent", "time": at.isoformat(),
            "data": {"service": producer.split("://")[1], "env": "prod", "version": version, "status": "succeeded",
                     "source": "ci"}}


def ev(producer: str, ref: str) -> str:
    return evidence_id_for(producer, ref)


def record_id(partition: int, offset: int) -> str:
    return evidence_id_for(f"kafka://{TOPIC}", f"{TOPIC}/{partition}/{offset}")


@pytest.fixture(scope="module")
def history():
    return two_producers_breaking()


def two_producers_breaking():
    """checkout-service breaks customer_id at 10:40, 3 min after its v2.8.1; payments-service breaks currency at
    10:42, a minute after its v1.4.0; orders-backfill is mapped to the dataset too, deployed 70 s before the first
    break and sent nothing."""
    scenario = Scenario(
        name="two-producers", description="", now=NOW,
        mappings=[Mapping(topic=TOPIC, schema_id=42, dataset_urn=DS),
                  Mapping(topic="orders.backfill", schema_id=42, dataset_urn=DS, producer_urn=BACKFILL)],
        contracts=[Contract(dataset_urn=DS, schema=ORDERS_SCHEMA)],
        events=[deploy(CHECKOUT, "deploy-checkout", FIRST_BAD - timedelta(minutes=3), "v2.8.1"),
                deploy(PAYMENTS, "deploy-payments", FIRST_BAD + timedelta(minutes=1), "v1.4.0"),
                deploy(PAYMENTS, "deploy-payments-late", FIRST_BAD + timedelta(minutes=3), "v1.4.1"),
                deploy(BACKFILL, "deploy-backfill", FIRST_BAD - timedelta(seconds=70), "v7.0.0")],
        messages=[message(CHECKOUT, 0, 1000, FIRST_BAD - timedelta(minutes=5)),
                  message(PAYMENTS, 1, 1000, FIRST_BAD - timedelta(minutes=4)),
                  message(CHECKOUT, 0, 1001, FIRST_BAD, customer_id=None),
                  message(PAYMENTS, 1, 1001, FIRST_BAD + timedelta(minutes=2), currency="XXX")])
    result = replay(scenario)
    assert result.rejected == []
    incident = next(i for i in result.detection.incidents if i.kind == "contract")
    return replay_source(result), incident


def test_the_rca_names_each_breaking_producer_and_cites_its_records_and_deploy(history) -> None:
    store, incident = history
    rca = build_rca(store, incident)
    checkout_deploy, payments_deploy = ev(CHECKOUT, "deploy-checkout"), ev(PAYMENTS, "deploy-payments")
    assert rca["verdict"] == "cause_identified"
    assert rca["rejected_claims"] == []
    assert [(c["kind"], c["evidence_ids"], c["text"]) for c in rca["claims"]
            if c["kind"] in ("contract_break", "other_break", "deploy_correlated")] == [
        ("contract_break", [record_id(0, 1001)],
         f"Records of {DS} from {CHECKOUT} fail the contract with REQUIRED_FIELD_MISSING on 'customer_id' since "
         f"2026-03-10 10:40:00 UTC (first bad record {TOPIC}/0/1001; 1 bad records since)."),
        ("other_break", [record_id(1, 1001)],
         f"Records of {DS} from {PAYMENTS} also fail the contract with ENUM_VIOLATION on 'currency' since "
         f"2026-03-10 10:42:00 UTC (first bad record {TOPIC}/1/1001; 1 bad records since)."),
        ("deploy_correlated", [checkout_deploy, record_id(0, 1001)],
         f"checkout-service v2.8.1 was deployed at 2026-03-10 10:37:00 UTC, 3 min before the first bad record of "
         f"{CHECKOUT} ({TOPIC}/0/1001)."),
        ("deploy_correlated", [payments_deploy, record_id(1, 1001)],
         f"payments-service v1.4.0 was deployed at 2026-03-10 10:41:00 UTC, 60 s before the first bad record of "
         f"{PAYMENTS} ({TOPIC}/1/1001)."),
    ]
    assert rca["correlated_deploy"]["evidence_id"] == checkout_deploy  # whose record broke first
    assert rca["most_likely_cause"]["evidence_ids"] == [checkout_deploy, record_id(0, 1001)]
    assert f"Records of 2 producers broke: {CHECKOUT} since 2026-03-10 10:40:00 UTC, {PAYMENTS} since " \
           "2026-03-10 10:42:00 UTC." in rca["summary"]
    assert rca["suggested_actions"][0] == "Roll back or patch checkout-service v2.8.1 (deploy checkout-service@v2.8.1)"
    # Each producer's deploy is diffed against its own previous version, never the other producer's.
    assert not any("against the previous version" in line for line in rca["next_checks"])
    cited = {e["evidence_id"] for e in rca["evidence"]}
    assert ev(BACKFILL, "deploy-backfill") not in cited


def verdicts(store, incident, *claims: Claim) -> list[str | None]:
    """None for each claim the verifier accepts, else why it rejected it, in the claims' order."""
    result = verify_claims(Draft(claims=list(claims)), incident_scope(store, incident))
    accepted = [(c.kind, c.evidence_ids) for c in result.accepted]
    rejected = iter(r.why for r in result.rejected)
    return [None if (c.kind, c.evidence_ids) in accepted else next(rejected) for c in claims]


def test_a_deploy_is_judged_against_its_own_producers_break(history) -> None:
    store, incident = history
    payments_deploy, late = ev(PAYMENTS, "deploy-payments"), ev(PAYMENTS, "deploy-payments-late")
    backfill = ev(BACKFILL, "deploy-backfill")
    claim = lambda text, *ids: Claim(kind=ClaimKind.DEPLOY_CORRELATED, text=text, evidence_ids=list(ids))  # noqa: E731
    assert verdicts(
        store, incident,
        claim("payments-service v1.4.0 was deployed before its first bad record.", payments_deploy, record_id(1, 1001)),
        claim("payments-service v1.4.0 was deployed before the first bad record.", payments_deploy),
        claim("payments-service v1.4.0 broke it.", payments_deploy, record_id(0, 1001)),
        claim("payments-service v1.4.1 was deployed before the first bad record.", late, record_id(1, 1001)),
        claim("orders-backfill v7.0.0 was deployed 70 s before the first bad record.", backfill),
    ) == [
        None,
        f"cites no first bad record of {PAYMENTS} ({record_id(1, 1001)}), whose deploy it names: a deploy is judged "
        "against its own producer's break",
        f"cites no first bad record of {PAYMENTS} ({record_id(1, 1001)}), whose deploy it names: a deploy is judged "
        "against its own producer's break",
        f"{late} (DeploymentEvent at 2026-03-10T10:43:00Z) does not precede first bad 2026-03-10T10:42:00Z",
        f"cites {backfill}, outside this incident's evidence",
    ]
