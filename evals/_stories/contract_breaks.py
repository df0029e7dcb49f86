"""Contract stories, one kind of break each, every one after its producer's own deploy: a nested required field
missing, a type mismatch, an enum violation, a null in reject mode, and two undecodable values (Avro frames,
`[object Object]`)."""

from __future__ import annotations

import base64
import json
import random
from datetime import timedelta
from typing import Any

from evals._stories.documents import RUNBOOKS, deploy, rca, scenario, utc_at
from evals._stories.kafka import (
    avro_long,
    avro_string,
    contract_incident,
    frame,
    order,
    orders_contract,
    settlement,
    settlements_contract,
    share,
    stream,
)


def checkout_canary_missing_shipping_country() -> dict[str, Any]:
    rng = random.Random(201)
    address = {"type": "object", "required": ["line1", "city", "country"],
               "properties": {"line1": {"type": "string"}, "city": {"type": "string"},
                              "country": {"type": "string"}}}
    contract = orders_contract(["shipping_address"], shipping_address=address)

    def good(n: int, r: random.Random) -> dict[str, Any]:
        value = order(n, r)
        city, country = r.choice([("Austin", "US"), ("Leeds", "GB"), ("Lyon", "FR"), ("Porto", "PT")])
        value["shipping_address"] = {"line1": f"{r.randint(1, 999)} Main St", "city": city, "country": country}
        return value

    def bad(value: dict[str, Any], r: random.Random) -> dict[str, Any]:
        del value["shipping_address"]["country"]
        return value

    canary = utc_at("2026-03-12T14:02:00+00:00")
    s = stream(rng, topic="orders.created", producer="svc://checkout-service", schema_id=42,
               start=utc_at("2026-03-12T13:50:00+00:00"), end=utc_at("2026-03-12T14:25:00+00:00"), good=good, bad=bad,
               first_bad=canary + timedelta(seconds=40), share=0.08, key="o")
    events = [
        deploy("deploy-payments-v1.5.0", "svc://payments-service", utc_at("2026-03-12T13:58:00+00:00"), "v1.5.0",
               "2c4e6a8", "payments"),
        deploy("deploy-checkout-v2.9.0-canary", "svc://checkout-service", canary, "v2.9.0-canary", "b7a1c3e",
               "orders"),
    ]
    return scenario(
        "spring-checkout-canary-missing-shipping-country",
        "checkout-service v2.9.0 went to a canary at 14:02; the canary's new address mapper drops "
        f"shipping_address.country, so {share(s)} of OrdersCreated since then break the contract. "
        "payments-service deployed 4 minutes earlier and is not the cause.",
        utc_at("2026-03-12T14:25:00+00:00"),
        contracts=[contract],
        mappings=[{"topic": "orders.created", "schema_id": 42, "dataset_urn": "ds://orders_v1",
                   "producer_urn": "svc://checkout-service"}],
        lineage=[("ds://orders_v1", "ds://curated/orders_enriched"),
                 ("ds://curated/orders_enriched", "ds://curated/daily_revenue")],
        events=events, messages=s.messages,
        expect={"incidents": [contract_incident(
            "ds://orders_v1", "REQUIRED_FIELD_MISSING", "shipping_address.country", s, "v2.9.0-canary",
            ["deploy-checkout-v2.9.0-canary"], ["ds://curated/orders_enriched", "ds://curated/daily_revenue"])],
            "rca": [rca("ds://orders_v1", "cause_identified", "REQUIRED_FIELD_MISSING", "v2.9.0-canary",
                        ["deploy-checkout-v2.9.0-canary", s.first_bad.ref], ["deploy-payments-v1.5.0"])]},
    )


def go_partial_tracing_quantity_type() -> dict[str, Any]:
    rng = random.Random(202)
    contract = {"dataset_urn": "ds://inventory_adjustments_v1", "enforcement": "flag",
                "owner_team": "Supply Chain Platform", "tier": 1,
                "runbook_url": f"{RUNBOOKS}/inventory_adjustments_v1",
                "schema": {"type": "object", "required": ["sku", "warehouse_id", "quantity", "reason"],
                           "properties": {"sku": {"type": "string"}, "warehouse_id": {"type": "string"},
                                          "quantity": {"type": "integer"},
                                          "reason": {"type": "string",
                                                     "enum": ["RECEIVED", "SOLD", "DAMAGED", "RETURNED"]}}}}

    def good(n: int, r: random.Random) -> dict[str, Any]:
        return {"sku": f"SKU-{r.randint(10000, 99999)}", "warehouse_id": r.choice(["DAL1", "RNO2", "ATL3"]),
                "quantity": r.randint(-20, 200),
                "reason": r.choice(["RECEIVED", "SOLD", "SOLD", "DAMAGED", "RETURNED"])}

    def bad(value: dict[str, Any], r: random.Random) -> dict[str, Any]:
        value["quantity"] = str(value["quantity"])
        return value

    release = utc_at("2026-04-02T09:31:00+00:00")
    s = stream(rng, topic="inventory.adjustments", producer="svc://inventory-go", schema_id=118,
               start=utc_at("2026-04-02T09:15:00+00:00"), end=utc_at("2026-04-02T09:52:00+00:00"), good=good, bad=bad,
               first_bad=release + timedelta(seconds=75), share=0.35, trace_share=0.6, key="adj")
    untraced = sum("traceparent" not in m["headers"] for m in s.messages)
    assert "traceparent" not in s.first_bad.doc["headers"] and untraced > 60
    events = [deploy("deploy-inventory-go-v1.14.0", "svc://inventory-go", release, "v1.14.0", "3d9e0b2",
                     "supply-chain")]
    return scenario(
        "go-inventory-partial-tracing-quantity-type",
        "inventory-go v1.14.0 (bulk-import path) sends quantity as a JSON string; only some Go workers have the "
        f"tracing middleware, so {untraced / len(s.records):.0%} of records (the first bad one included) carry no "
        "traceparent. Attribution "
        "comes from the approved mapping, and the deploy still correlates.",
        utc_at("2026-04-02T09:52:00+00:00"),
        contracts=[contract],
        mappings=[{"topic": "inventory.adjustments", "schema_id": 118, "dataset_urn": "ds://inventory_adjustments_v1",
                   "producer_urn": "svc://inventory-go"}],
        lineage=[("ds://inventory_adjustments_v1", "ds://curated/inventory_positions")],
        events=events, messages=s.messages,
        expect={"incidents": [contract_incident(
            "ds://inventory_adjustments_v1", "TYPE_MISMATCH", "quantity", s, "v1.14.0",
            ["deploy-inventory-go-v1.14.0"], ["ds://curated/inventory_positions"])],
            "rca": [rca("ds://inventory_adjustments_v1", "cause_identified", "TYPE_MISMATCH", "v1.14.0",
                        ["deploy-inventory-go-v1.14.0", s.first_bad.ref])]},
    )


def payments_status_enum_violation() -> dict[str, Any]:
    rng = random.Random(205)

    def bad(value: dict[str, Any], r: random.Random) -> dict[str, Any]:
        value["status"] = "PARTIALLY_REFUNDED"
        return value

    release = utc_at("2026-05-06T11:40:00+00:00")
    s = stream(rng, topic="payments.settlements", producer="svc://payments-service", schema_id=77,
               start=utc_at("2026-05-06T11:25:00+00:00"), end=utc_at("2026-05-06T12:02:00+00:00"), good=settlement,
               bad=bad, first_bad=release + timedelta(seconds=95), share=0.1, key="st")
    events = [deploy("deploy-payments-v3.3.0", "svc://payments-service", utc_at("2026-05-05T09:00:00+00:00"),
                     "v3.3.0", "1a2b3c4", "payments"),
              deploy("deploy-payments-v3.4.0", "svc://payments-service", release, "v3.4.0", "5d6e7f8", "payments")]
    return scenario(
        "spring-payments-status-enum-violation",
        "payments-service v3.4.0 adds partial refunds and starts emitting status PARTIALLY_REFUNDED, which the "
        f"settlements contract does not list; {share(s)} of settlements since 11:41 violate the enum.",
        utc_at("2026-05-06T12:02:00+00:00"),
        contracts=[settlements_contract()],
        mappings=[{"topic": "payments.settlements", "schema_id": 77, "dataset_urn": "ds://payments_settlements",
                   "producer_urn": "svc://payments-service"}],
        lineage=[("ds://payments_settlements", "ds://curated/settlement_ledger"),
                 ("ds://payments_settlements", "ds://curated/payments_reconciliation")],
        events=events, messages=s.messages,
        expect={"incidents": [contract_incident(
            "ds://payments_settlements", "ENUM_VIOLATION", "status", s, "v3.4.0", ["deploy-payments-v3.4.0"],
            ["ds://curated/settlement_ledger", "ds://curated/payments_reconciliation"])],
            "rca": [rca("ds://payments_settlements", "cause_identified", "ENUM_VIOLATION", "v3.4.0",
                        ["deploy-payments-v3.4.0", s.first_bad.ref], ["deploy-payments-v3.3.0"])]},
    )


def fulfillment_null_warehouse_rejected() -> dict[str, Any]:
    rng = random.Random(206)
    contract = {"dataset_urn": "ds://shipments_v2", "enforcement": "reject", "owner_team": "Fulfillment", "tier": 1,
                "runbook_url": f"{RUNBOOKS}/shipments_v2",
                "schema": {"type": "object", "required": ["shipment_id", "order_id", "warehouse_id", "carrier"],
                           "properties": {"shipment_id": {"type": "string"}, "order_id": {"type": "string"},
                                          "warehouse_id": {"type": "string"},
                                          "carrier": {"type": "string", "enum": ["UPS", "FEDEX", "DHL", "PICKUP"]},
                                          "tracking_number": {"type": ["string", "null"]}}}}

    def good(n: int, r: random.Random) -> dict[str, Any]:
        carrier = r.choice(["UPS", "FEDEX", "DHL", "PICKUP"])
        return {"shipment_id": f"sh-{300000 + n}", "order_id": f"o-{r.randint(100000, 199999)}",
                "warehouse_id": r.choice(["DAL1", "RNO2", "ATL3"]), "carrier": carrier,
                "tracking_number": None if carrier == "PICKUP" else f"1Z{r.getrandbits(40):010X}"}

    def bad(value: dict[str, Any], r: random.Random) -> dict[str, Any]:
        value.update(warehouse_id=None, carrier="PICKUP", tracking_number=None)
        return value

    release = utc_at("2026-05-19T16:10:00+00:00")
    s = stream(rng, topic="fulfillment.shipments", producer="svc://fulfillment-service", schema_id=12,
               start=utc_at("2026-05-19T15:55:00+00:00"), end=utc_at("2026-05-19T16:32:00+00:00"), good=good, bad=bad,
               first_bad=release + timedelta(seconds=50), share=0.22, key="sh")
    events = [deploy("deploy-fulfillment-v7.1.0", "svc://fulfillment-service", release, "v7.1.0", "6c5b4a3",
                     "fulfillment")]
    return scenario(
        "spring-fulfillment-null-warehouse-rejected",
        "fulfillment-service v7.1.0 routes click-and-collect orders through a new path that sets warehouse_id to null. "
        f"The shipments contract is enforced in reject mode: {share(s)} of records since 16:10:50 are blocked with "
        "NULL_NOT_ALLOWED.",
        utc_at("2026-05-19T16:32:00+00:00"),
        contracts=[contract],
        mappings=[{"topic": "fulfillment.shipments", "schema_id": 12, "dataset_urn": "ds://shipments_v2",
                   "producer_urn": "svc://fulfillment-service"}],
        lineage=[("ds://shipments_v2", "ds://curated/delivery_sla_daily")],
        events=events, messages=s.messages,
        expect={"incidents": [contract_incident(
            "ds://shipments_v2", "NULL_NOT_ALLOWED", "warehouse_id", s, "v7.1.0", ["deploy-fulfillment-v7.1.0"],
            ["ds://curated/delivery_sla_daily"])],
            "rca": [rca("ds://shipments_v2", "cause_identified", "NULL_NOT_ALLOWED", "v7.1.0",
                        ["deploy-fulfillment-v7.1.0", s.first_bad.ref])]},
    )


def loyalty_avro_framed_undecodable() -> dict[str, Any]:
    rng = random.Random(207)
    contract = {"dataset_urn": "ds://loyalty_points_v1", "enforcement": "flag", "owner_team": "Loyalty", "tier": 2,
                "runbook_url": f"{RUNBOOKS}/loyalty_points_v1",
                "schema": {"type": "object", "required": ["member_id", "points", "reason"],
                           "properties": {"member_id": {"type": "string"}, "points": {"type": "integer"},
                                          "reason": {"type": "string"}}}}

    def raw(n: int, r: random.Random) -> dict[str, Any]:
        return {"member_id": f"m-{r.randint(100000, 999999)}", "points": r.randint(1, 900),
                "reason": r.choice(["purchase", "review", "referral"])}

    def good(n: int, r: random.Random) -> dict[str, str]:
        return frame(30, json.dumps(raw(n, r), separators=(",", ":")).encode())

    def avro(value: dict[str, str], r: random.Random) -> dict[str, str]:
        body = json.loads(base64.b64decode(value["base64"])[5:])
        payload = avro_string(body["member_id"]) + avro_long(body["points"]) + avro_string(body["reason"])
        return frame(31, payload)

    release = utc_at("2026-06-09T10:05:00+00:00")
    s = stream(rng, topic="loyalty.points", producer="svc://loyalty-service", schema_id=30,
               start=utc_at("2026-06-09T09:50:00+00:00"), end=utc_at("2026-06-09T10:27:00+00:00"), good=good, bad=avro,
               first_bad=release + timedelta(seconds=30), share=0.75, key="m",
               schema_for=lambda is_bad: 31 if is_bad else 30)
    events = [deploy("deploy-loyalty-v2.0.0", "svc://loyalty-service", release, "v2.0.0", "0b1c2d3", "loyalty")]
    return scenario(
        "spring-loyalty-avro-framed-undecodable",
        "loyalty-service v2.0.0 switched its Kafka serializer from JSON Schema to Avro (new schema id 31); the topic "
        "rule maps loyalty.points whatever the schema, and the gate cannot read Avro without the registry, so "
        f"{share(s)} of "
        "records during the rollout are UNDECODABLE_MESSAGE (Confluent frames with a binary payload).",
        utc_at("2026-06-09T10:27:00+00:00"),
        contracts=[contract],
        mappings=[{"topic": "loyalty.points", "dataset_urn": "ds://loyalty_points_v1",
                   "producer_urn": "svc://loyalty-service"}],
        lineage=[("ds://loyalty_points_v1", "ds://curated/member_balances")],
        events=events, messages=s.messages,
        expect={"incidents": [contract_incident(
            "ds://loyalty_points_v1", "UNDECODABLE_MESSAGE", None, s, "v2.0.0", ["deploy-loyalty-v2.0.0"],
            ["ds://curated/member_balances"])],
            "rca": [rca("ds://loyalty_points_v1", "cause_identified", "UNDECODABLE_MESSAGE", "v2.0.0",
                        ["deploy-loyalty-v2.0.0", s.first_bad.ref])]},
    )


def node_notifications_object_object() -> dict[str, Any]:
    rng = random.Random(208)
    contract = {"dataset_urn": "ds://notifications_sent_v1", "enforcement": "flag", "owner_team": "Messaging",
                "tier": 3, "runbook_url": f"{RUNBOOKS}/notifications_sent_v1",
                "schema": {"type": "object", "required": ["notification_id", "user_id", "channel"],
                           "properties": {"notification_id": {"type": "string"}, "user_id": {"type": "string"},
                                          "channel": {"type": "string", "enum": ["EMAIL", "SMS", "PUSH"]}}}}

    def good(n: int, r: random.Random) -> dict[str, Any]:
        return {"notification_id": f"n-{400000 + n}", "user_id": f"u-{r.randint(1000, 9999)}",
                "channel": r.choice(["EMAIL", "EMAIL", "SMS", "PUSH"])}

    release = utc_at("2026-06-23T19:12:00+00:00")
    s = stream(rng, topic="notifications.sent", producer="svc://notifications-node", schema_id=5,
               start=utc_at("2026-06-23T18:58:00+00:00"), end=utc_at("2026-06-23T19:35:00+00:00"), good=good,
               bad=lambda v, r: "[object Object]", first_bad=release + timedelta(seconds=20), share=0.3, key="n")
    events = [deploy("deploy-notifications-v3.7.2", "svc://notifications-node", release, "v3.7.2", "e9d8c7b",
                     "messaging")]
    return scenario(
        "node-notifications-object-object-undecodable",
        "notifications-node hotfix v3.7.2 passes an object where the push path expects a string, so "
        f"{share(s)} of records "
        "are the literal text [object Object]: not JSON at all.",
        utc_at("2026-06-23T19:35:00+00:00"),
        contracts=[contract],
        mappings=[{"topic": "notifications.sent", "schema_id": 5, "dataset_urn": "ds://notifications_sent_v1",
                   "producer_urn": "svc://notifications-node"}],
        events=events, messages=s.messages,
        expect={"incidents": [contract_incident(
            "ds://notifications_sent_v1", "UNDECODABLE_MESSAGE", None, s, "v3.7.2", ["deploy-notifications-v3.7.2"])],
            "rca": [rca("ds://notifications_sent_v1", "cause_identified", "UNDECODABLE_MESSAGE", "v3.7.2",
                        ["deploy-notifications-v3.7.2", s.first_bad.ref])]},
    )
