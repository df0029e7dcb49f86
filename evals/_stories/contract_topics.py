"""Contract stories about a topic rather than one break: a schema no rule maps, two rules claiming the same
records, a healthy topic, a gate consumer running behind, and records delivered out of order and twice."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from evals._stories.documents import RUNBOOKS, UTC, deploy, rca, scenario, shuffled_with_duplicates, stamp, utc_at
from evals._stories.kafka import (
    Stream,
    contract_incident,
    order,
    orders_topic,
    settlement,
    settlements_contract,
    stream,
)


def cart_events_contract() -> dict[str, Any]:
    return {"dataset_urn": "ds://cart_events_v1", "enforcement": "flag", "owner_team": "Cart Team", "tier": 2,
            "runbook_url": f"{RUNBOOKS}/cart_events_v1",
            "schema": {"type": "object", "required": ["cart_id", "user_id", "event_type", "total_cents", "currency"],
                       "properties": {"cart_id": {"type": "string"}, "user_id": {"type": "string"},
                                      "event_type": {"type": "string",
                                                     "enum": ["ITEM_ADDED", "ITEM_REMOVED", "CHECKOUT_STARTED"]},
                                      "total_cents": {"type": "integer"}, "currency": {"type": "string"}}}}


def node_cart_schema_drift() -> dict[str, Any]:
    rng = random.Random(203)

    def good(n: int, r: random.Random) -> dict[str, Any]:
        return {"cart_id": f"cart-{r.randint(100000, 999999)}", "user_id": f"u-{r.randint(1000, 9999)}",
                "event_type": r.choice(["ITEM_ADDED", "ITEM_ADDED", "ITEM_REMOVED", "CHECKOUT_STARTED"]),
                "total_cents": r.randint(500, 40000), "currency": "USD"}

    def v2(value: dict[str, Any], r: random.Random) -> dict[str, Any]:
        return {"cartId": value["cart_id"], "userId": value["user_id"], "type": value["event_type"].lower(),
                "total": {"amount": value["total_cents"], "currency": value["currency"]}}

    release = utc_at("2026-04-15T14:00:00+00:00")
    s = stream(rng, topic="cart.events", producer="svc://cart-node", schema_id=7,
               start=utc_at("2026-04-15T13:40:00+00:00"), end=utc_at("2026-04-15T14:20:00+00:00"), good=good, bad=v2,
               first_bad=release + timedelta(seconds=40), share=0.5, key="cart",
               schema_for=lambda is_bad: 8 if is_bad else 7)
    events = [deploy("deploy-cart-node-v5.0.0", "svc://cart-node", release, "v5.0.0", "aa41f07", "cart")]
    held = s.first_bad
    return scenario(
        "node-cart-schema-drift-unmapped",
        "cart-node v5.0.0 rolls out and its new pods publish cart.events with a new schema (id 8, camelCase fields) "
        "next to schema 7 from old pods. No approved rule maps schema 8: those records are held and a change request "
        "opens, and none of them is charged to ds://cart_events_v1's contract.",
        utc_at("2026-04-15T14:20:00+00:00"),
        contracts=[cart_events_contract()],
        mappings=[{"topic": "cart.events", "schema_id": 7, "dataset_urn": "ds://cart_events_v1",
                   "producer_urn": "svc://cart-node"}],
        lineage=[("ds://cart_events_v1", "ds://curated/cart_abandonment_daily")],
        events=events, messages=s.messages,
        expect={"incidents": [{"dataset_urn": "kafka://cart.events", "kind": "drift", "reason_code": "UNMAPPED_SCHEMA",
                               "first_bad_time": stamp(held.ts, UTC), "stale_evidence": False,
                               "correlated_deploy": "v5.0.0",
                               "evidence_includes": [held.ref, "deploy-cart-node-v5.0.0"]}],
                "no_incident": [{"dataset_urn": "ds://cart_events_v1"}],
                "drift": [{"topic": "cart.events", "schema_id": 8, "change_request": True}],
                "rca": [rca("kafka://cart.events", "cause_identified", "UNMAPPED_SCHEMA", "v5.0.0",
                            [held.ref, "deploy-cart-node-v5.0.0"])]},
    )


def payments_topic_mapping_ambiguous() -> dict[str, Any]:
    rng = random.Random(204)
    settlements = {"dataset_urn": "ds://payments_settlements", "enforcement": "flag", "owner_team": "Payments Platform",
                   "tier": 1, "schema": {"type": "object",
                                         "required": ["settlement_id", "merchant_id", "amount_minor", "currency"],
                                         "properties": {"settlement_id": {"type": "string"},
                                                        "merchant_id": {"type": "string"},
                                                        "amount_minor": {"type": "integer"},
                                                        "currency": {"type": "string"}}}}
    refunds = {"dataset_urn": "ds://refunds_v1", "enforcement": "flag", "owner_team": "Refunds Team", "tier": 2,
               "schema": {"type": "object", "required": ["refund_id", "order_id", "amount_minor"],
                          "properties": {"refund_id": {"type": "string"}, "order_id": {"type": "string"},
                                         "amount_minor": {"type": "integer"}}}}

    def is_refund(n: int) -> bool:
        return n % 3 == 2

    def value(n: int, r: random.Random) -> dict[str, Any]:
        if is_refund(n):
            out: dict[str, Any] = {"refund_id": f"rf-{n:06d}", "order_id": f"o-{r.randint(100000, 199999)}",
                                   "amount_minor": r.randint(100, 9000)}
            if r.random() < 0.2:  # refunds-service's own bug, invisible until its records resolve
                del out["order_id"]
            return out
        return {"settlement_id": f"st-{n:06d}", "merchant_id": f"m-{r.randint(100, 999)}",
                "amount_minor": r.randint(1000, 900000), "currency": "EUR"}

    def headers(n: int, r: random.Random) -> dict[str, str]:
        producer = "svc://refunds-service" if is_refund(n) else "svc://payments-service"
        return {"autopilot-producer": producer, "autopilot-env": "prod"}

    s = stream(rng, topic="payments.events", producer=None, schema_id=15, start=utc_at("2026-04-20T08:00:00+00:00"),
               end=utc_at("2026-04-20T08:40:00+00:00"), good=value, headers_for=headers, key="pay")
    first = next(r for r in s.records if r.doc["headers"]["autopilot-producer"] == "svc://refunds-service")
    return scenario(
        "payments-topic-mapping-ambiguous",
        "refunds-service now publishes on the shared payments.events topic under the same schema id 15 "
        "(TopicNameStrategy). The old settlements rule is pinned by autopilot-env: prod, the new refunds rule by "
        "autopilot-producer; refunds records carry both headers, so two rules claim them at the same specificity. "
        "They are held, settlements still resolve, and no contract incident may come from the held records.",
        utc_at("2026-04-20T08:40:00+00:00"),
        contracts=[settlements, refunds],
        mappings=[{"topic": "payments.events", "schema_id": 15, "headers": {"autopilot-env": "prod"},
                   "dataset_urn": "ds://payments_settlements", "producer_urn": "svc://payments-service"},
                  {"topic": "payments.events", "schema_id": 15,
                   "headers": {"autopilot-producer": "svc://refunds-service"},
                   "dataset_urn": "ds://refunds_v1", "producer_urn": "svc://refunds-service"}],
        lineage=[("ds://payments_settlements", "ds://curated/settlement_ledger")],
        messages=s.messages,
        expect={"incidents": [{"dataset_urn": "kafka://payments.events", "kind": "drift",
                               "reason_code": "MAPPING_AMBIGUOUS", "first_bad_time": stamp(first.ts, UTC),
                               "stale_evidence": False, "evidence_includes": [first.ref]}],
                "no_incident": [{"dataset_urn": "ds://payments_settlements"}, {"dataset_urn": "ds://refunds_v1"}],
                "drift": [{"topic": "payments.events", "schema_id": 15, "change_request": True}],
                "rca": [rca("kafka://payments.events", "inconclusive", "MAPPING_AMBIGUOUS", None, [first.ref])]},
    )


def payments_healthy_topic() -> dict[str, Any]:
    rng = random.Random(214)
    s = stream(rng, topic="payments.settlements", producer="svc://payments-service", schema_id=77,
               start=utc_at("2026-08-25T10:00:00+00:00"), end=utc_at("2026-08-25T10:30:00+00:00"), good=settlement,
               key="st", gap=(5, 9))
    events = [deploy("deploy-payments-v3.5.1", "svc://payments-service", utc_at("2026-08-25T10:12:00+00:00"),
                     "v3.5.1", "abc1234", "payments")]
    return scenario(
        "payments-healthy-topic",
        "A quiet half hour on payments.settlements: payments-service deploys v3.5.1 at 10:12 and every settlement "
        "still matches its contract. No incident.",
        utc_at("2026-08-25T10:30:00+00:00"),
        contracts=[settlements_contract()],
        mappings=[{"topic": "payments.settlements", "schema_id": 77, "dataset_urn": "ds://payments_settlements",
                   "producer_urn": "svc://payments-service"}],
        lineage=[("ds://payments_settlements", "ds://curated/settlement_ledger")],
        events=events, messages=s.messages,
        expect={"incidents": []},
    )


def pricing_stale_evidence_consumer_lag() -> dict[str, Any]:
    rng = random.Random(215)
    contract = {"dataset_urn": "ds://prices_v1", "enforcement": "flag", "owner_team": "Pricing", "tier": 1,
                "runbook_url": f"{RUNBOOKS}/prices_v1",
                "schema": {"type": "object", "required": ["sku", "price", "currency", "valid_from"],
                           "properties": {"sku": {"type": "string"}, "price": {"type": "number"},
                                          "currency": {"type": "string"}, "valid_from": {"type": "string"}}}}

    def good(n: int, r: random.Random) -> dict[str, Any]:
        return {"sku": f"SKU-{r.randint(10000, 99999)}", "price": round(r.uniform(1, 300), 2), "currency": "USD",
                "valid_from": "2026-09-01T00:00:00Z"}

    def bad(value: dict[str, Any], r: random.Random) -> dict[str, Any]:
        value["price"] = f"{value['price']:.2f}"
        return value

    now = utc_at("2026-09-01T14:30:00+00:00")
    release = utc_at("2026-09-01T14:05:00+00:00")
    full = stream(rng, topic="prices.updated", producer="svc://pricing-service", schema_id=3,
                  start=utc_at("2026-09-01T13:50:00+00:00"), end=now, good=good, bad=bad,
                  first_bad=release + timedelta(seconds=30), share=0.4, key="px")
    arrived = []
    for record in full.records:  # the gate's consumer runs ~6 minutes behind: the last minutes have not arrived
        ingest = record.ts + timedelta(minutes=6, seconds=rng.randint(0, 20))
        if ingest <= now:
            record.doc["ingest_time"] = stamp(ingest, UTC)
            arrived.append(record)
    s = Stream(arrived)
    events = [deploy("deploy-pricing-v4.0.0", "svc://pricing-service", release, "v4.0.0", "d4c3b2a", "pricing")]
    return scenario(
        "spring-pricing-stale-evidence-consumer-lag",
        "pricing-service v4.0.0 serializes BigDecimal prices as strings (TYPE_MISMATCH on price), and the gate's "
        "consumer is ~6 minutes behind the topic: the incident opens but is tagged stale evidence.",
        now,
        contracts=[contract],
        mappings=[{"topic": "prices.updated", "schema_id": 3, "dataset_urn": "ds://prices_v1",
                   "producer_urn": "svc://pricing-service"}],
        lineage=[("ds://prices_v1", "ds://curated/price_history")],
        events=events, messages=s.messages,
        expect={"incidents": [contract_incident(
            "ds://prices_v1", "TYPE_MISMATCH", "price", s, "v4.0.0", ["deploy-pricing-v4.0.0"],
            ["ds://curated/price_history"], stale=True)],
            "rca": [{**rca("ds://prices_v1", "cause_identified", "TYPE_MISMATCH", "v4.0.0",
                           ["deploy-pricing-v4.0.0", s.first_bad.ref]), "next_checks_nonempty": True}]},
    )


def checkout_duplicated_out_of_order() -> dict[str, Any]:
    rng = random.Random(216)

    def bad(value: dict[str, Any], r: random.Random) -> dict[str, Any]:
        value["currency"] = value["currency"].lower()
        return value

    release = utc_at("2026-09-15T12:10:00+00:00")
    s = stream(rng, topic="orders.created", producer="svc://checkout-service", schema_id=42,
               start=utc_at("2026-09-15T11:55:00+00:00"), end=utc_at("2026-09-15T12:30:00+00:00"), good=order, bad=bad,
               first_bad=release + timedelta(seconds=45), share=0.3, partitions=3, key="o")
    delivered = shuffled_with_duplicates(s.messages, rng, 0.12)
    twice = f"{(len(delivered) - len(s.messages)) / len(s.messages):.0%}"
    events = [deploy("deploy-checkout-v2.10.0", "svc://checkout-service", release, "v2.10.0", "0e1f2a3", "orders")]
    return scenario(
        "checkout-duplicated-out-of-order",
        "checkout-service v2.10.0 serializes currency enums in lower case (usd). The gate's consumer group "
        f"rebalanced mid-incident: records from three partitions arrive interleaved and {twice} of them twice. The "
        "answer must be the one the ordered, deduplicated stream gives.",
        utc_at("2026-09-15T12:30:00+00:00"),
        **orders_topic(),
        events=events, messages=delivered,
        expect={"incidents": [contract_incident(
            "ds://orders_v1", "ENUM_VIOLATION", "currency", s, "v2.10.0", ["deploy-checkout-v2.10.0"],
            ["ds://curated/orders_enriched"])],
            "rca": [rca("ds://orders_v1", "cause_identified", "ENUM_VIOLATION", "v2.10.0",
                        ["deploy-checkout-v2.10.0", s.first_bad.ref])]},
    )
