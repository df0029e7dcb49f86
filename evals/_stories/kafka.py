"""Kafka records for the contract gate: a topic's traffic with the truth its expectations are written from
(first bad, last good, bad rates), Confluent framing and Avro encoding, the contracts several stories share, and the
contract incident a stream should open."""

from __future__ import annotations

import base64
import copy
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from evals._stories.documents import RUNBOOKS, UTC, stamp


def traceparent(rng: random.Random) -> str:
    return f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"


@dataclass
class Record:
    ts: datetime
    ref: str
    bad: bool
    doc: dict[str, Any]


@dataclass
class Stream:
    """A topic's traffic as the story sent it, with the truth the expectations are written from."""

    records: list[Record]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [r.doc for r in self.records]

    @property
    def first_bad(self) -> Record:
        return next(r for r in self.records if r.bad)

    @property
    def last_good(self) -> Record:
        boundary = self.first_bad.ts
        return [r for r in self.records if not r.bad and r.ts < boundary][-1]

    def bad_rate(self, tolerance: float = 0.02) -> dict[str, float]:
        boundary = self.first_bad.ts
        before = [r for r in self.records if boundary - timedelta(hours=1) <= r.ts < boundary]
        after = [r for r in self.records if r.ts >= boundary]
        share = lambda rs: round(sum(r.bad for r in rs) / len(rs), 3) if rs else 0.0  # noqa: E731
        return {"before": share(before), "after": share(after), "tolerance": tolerance}

    def bad_refs(self) -> list[str]:
        return [r.ref for r in self.records if r.bad]


def stream(rng: random.Random, *, topic: str, producer: str | None, schema_id: int | None, start: datetime,
           end: datetime, good: Callable[[int, random.Random], Any],
           bad: Callable[[Any, random.Random], Any] | None = None, first_bad: datetime | None = None,
           share: float = 0.0, bad_until: datetime | None = None, gap: tuple[int, int] = (6, 10),
           partitions: int = 1, offset: int = 5000, trace_share: float = 1.0, key: str = "k",
           schema_for: Callable[[bool], int | None] | None = None,
           headers_for: Callable[[int, random.Random], dict[str, str]] | None = None,
           gaps: Callable[[datetime], tuple[int, int]] | None = None) -> Stream:
    """Records every few seconds from start to end; from `first_bad` on, the first record and then a `share`
    of them are made bad by `bad` (until `bad_until`). Offsets grow per partition in time order."""
    records: list[Record] = []
    offsets = [offset + 1000 * p for p in range(partitions)]
    moment = start
    n = 0
    forced = False
    while True:
        low, high = gaps(moment) if gaps else gap
        moment = moment + timedelta(seconds=rng.randint(low, high))
        if moment > end:
            break
        value = good(n, rng)
        is_bad = False
        if bad is not None and first_bad is not None and moment >= first_bad and (
                bad_until is None or moment <= bad_until):
            is_bad = not forced or rng.random() < share
            forced = True
        if is_bad:
            assert bad is not None
            value = bad(copy.deepcopy(value), rng)
        partition = rng.randrange(partitions)
        headers = {"autopilot-producer": producer, "autopilot-env": "prod"} if producer else {}
        if headers_for is not None:
            headers = headers_for(n, rng)
        tp = traceparent(rng)
        # With partial tracing, the first bad record is one of the untraced ones (it makes the story's point).
        first_of_break = is_bad and not any(r.bad for r in records)
        if rng.random() < trace_share and not (first_of_break and trace_share < 1.0):
            headers["traceparent"] = tp
        doc = {"topic": topic, "partition": partition, "offset": offsets[partition], "timestamp": stamp(moment, UTC),
               "key": f"{key}-{100000 + n}",
               "schema_id": schema_for(is_bad) if schema_for else schema_id, "headers": headers, "value": value}
        records.append(Record(moment, f"{topic}/{partition}/{offsets[partition]}", is_bad, doc))
        offsets[partition] += 1
        n += 1
    return Stream(records)


def frame(schema_id: int, payload: bytes) -> dict[str, str]:
    """A Confluent-framed value as the HTTP API carries bytes: {"base64": ...}."""
    return {"base64": base64.b64encode(bytes([0]) + struct.pack(">I", schema_id) + payload).decode("ascii")}


def avro_long(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = z & 0x7F
        z >>= 7
        if z:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def avro_string(s: str) -> bytes:
    raw = s.encode()
    return avro_long(len(raw)) + raw


def orders_contract(extra_required: list[str] | None = None, **more: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"order_id": {"type": "string"}, "customer_id": {"type": "string"},
                             "amount": {"type": "number"},
                             "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]},
                             "note": {"type": "string"}}
    props.update(more)
    return {"dataset_urn": "ds://orders_v1", "enforcement": "flag", "owner_team": "Checkout Platform", "tier": 1,
            "runbook_url": f"{RUNBOOKS}/orders_v1",
            "schema": {"type": "object",
                       "required": ["order_id", "customer_id", "amount", "currency", *(extra_required or [])],
                       "properties": props}}


def orders_topic() -> dict[str, Any]:
    """orders.created as checkout-service writes it: the orders contract, the rule that maps schema 42 to it, and
    the table it feeds (a scenario's contracts, mappings and lineage)."""
    return {"contracts": [orders_contract()],
            "mappings": [{"topic": "orders.created", "schema_id": 42, "dataset_urn": "ds://orders_v1",
                          "producer_urn": "svc://checkout-service"}],
            "lineage": [("ds://orders_v1", "ds://curated/orders_enriched")]}

def order(n: int, rng: random.Random) -> dict[str, Any]:
    return {"order_id": f"o-{100000 + n}", "customer_id": f"c-{rng.randint(1000, 9999)}",
            "amount": round(rng.uniform(5, 400), 2), "currency": rng.choice(["USD", "EUR", "GBP"])}


def share(s: Stream) -> str:
    """The bad share after first bad, as the story's text says it ("12%")."""
    return f"{s.bad_rate()['after']:.0%}"


def contract_incident(dataset: str, reason: str, fld: str | None, s: Stream, deploy_version: str | None,
                      deploys: list[str], downstream: list[str] | None = None, *, stale: bool = False,
                      rate: bool = True) -> dict[str, Any]:
    inc: dict[str, Any] = {"dataset_urn": dataset, "kind": "contract", "reason_code": reason}
    if fld is not None:
        inc["field"] = fld
    inc["first_bad_time"] = stamp(s.first_bad.ts, UTC)
    inc["last_good_time"] = stamp(s.last_good.ts, UTC)
    inc["correlated_deploy"] = deploy_version
    if rate:
        inc["bad_rate"] = s.bad_rate()
    inc["stale_evidence"] = stale
    if downstream:
        inc["impacted_downstream_includes"] = downstream
    inc["evidence_includes"] = [*deploys, s.first_bad.ref, s.last_good.ref]
    return inc


def settlements_contract(**over: Any) -> dict[str, Any]:
    out = {"dataset_urn": "ds://payments_settlements", "enforcement": "flag", "owner_team": "Payments Platform",
           "tier": 1, "runbook_url": f"{RUNBOOKS}/payments_settlements",
           "schema": {"type": "object", "required": ["settlement_id", "merchant_id", "amount_minor", "currency",
                                                     "status"],
                      "properties": {"settlement_id": {"type": "string"}, "merchant_id": {"type": "string"},
                                     "amount_minor": {"type": "integer"},
                                     "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
                                     "status": {"type": "string",
                                                "enum": ["SETTLED", "PENDING", "FAILED", "REVERSED"]}}}}
    out.update(over)
    return out


def settlement(n: int, r: random.Random) -> dict[str, Any]:
    return {"settlement_id": f"st-{200000 + n}", "merchant_id": f"m-{r.randint(100, 999)}",
            "amount_minor": r.randint(1000, 900000), "currency": r.choice(["EUR", "EUR", "USD", "GBP"]),
            "status": r.choice(["SETTLED", "SETTLED", "SETTLED", "PENDING", "FAILED"])}
