"""`rca gate consume` against a real Kafka broker: boundaries, poison records, quarantine copies.

The crash and rebalance stories (kill -9, two consumers) are in tests/e2e/test_gate_consumer_group.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer

from detectors import contract_breaks, run_detectors
from detectors._wire import frame
from evidence import to_json
from evidence._store import Store
from rca._kafka import ConsumerOptions, ConsumerStats, GateConsumer
from support import GATE_T0 as T0
from support import PRODUCER, FixedClock, configure_orders, new_topic, order, produce, record


def consume(store: Store, bootstrap: str, *topics: str, **options: Any) -> ConsumerStats:
    """One consumer-group member, in this process, until every partition is read to its end."""
    config = {"bootstrap.servers": bootstrap, **options.pop("config", {})}
    member = GateConsumer(store, ConsumerOptions(config, f"gate-{uuid.uuid4().hex[:8]}", topics, stop_at_end=True,
                                                 **options), FixedClock(T0 + timedelta(hours=1)))
    stop = threading.Event()
    guard = threading.Timer(120, stop.set)  # a hung consumer fails the test instead of the suite's timeout
    guard.start()
    try:
        member.run(stop)
    finally:
        guard.cancel()
    assert not stop.is_set(), "the consumer did not reach the end of its partitions within 120 s"
    return member.stats


def test_one_bad_record_among_100000_gives_the_exact_boundary(kafka: str, tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'rca.db'}")
    store.upgrade()
    topic = new_topic(kafka, "orders.created")
    configure_orders(store, topic)
    bad = 50_000
    produce(kafka, topic, (record(i, order(i, customer_id=None) if i == bad else order(i)) for i in range(100_000)))
    stats = consume(store, kafka, topic)
    assert stats.records == {topic: 100_000}

    [found] = contract_breaks(store.counters(["ds://orders_v1"]), T0 + timedelta(hours=1))
    assert (found.reason_code, found.field) == ("REQUIRED_FIELD_MISSING", "customer_id")
    assert (found.first_bad_ref, found.first_bad_time) == (f"{topic}/0/{bad}", T0 + timedelta(milliseconds=bad))
    assert (found.last_good_ref, found.last_good_time) == (f"{topic}/0/{bad - 1}",
                                                           T0 + timedelta(milliseconds=bad - 1))
    assert (found.bad_count, found.total_after) == (1, 100_000 - bad)
    # Every record counted exactly once, and the stored boundary records are citable evidence.
    assert sum(c.count for c in store.counters() if c.reason_code in ("", "*")) == 100_000
    [incident] = [to_json(i) for i in run_detectors(store, T0 + timedelta(hours=1)).incidents]
    assert (incident["first_bad_time"], incident["last_good_time"]) == ("2026-03-10T10:00:50Z",
                                                                        "2026-03-10T10:00:49.999000Z")
    store.close()


def test_poison_records_are_findings_and_their_partition_goes_on(kafka: str, store: Store) -> None:
    topic = new_topic(kafka, "orders.created", **{"max.message.bytes": str(16 * 1024 * 1024)})
    configure_orders(store, topic)
    poison = {
        2: b"this is not JSON",
        4: b"\x01\x00\x00\x00\x2a" + orjson.dumps(order(4)),  # a frame with the wrong magic byte
        6: b'{"order_id": "o-6", ' + b" " * (10 * 1024 * 1024) + b'"customer_id": "c-6"}',  # a 10 MB value
        8: frame(42, b"\x02\x0co-8"),  # Avro after a Confluent header: no registry, so undecodable
    }
    produce(kafka, topic, (record(i, poison.get(i, order(i)), ms=1000) for i in range(12)),
            **{"message.max.bytes": 16 * 1024 * 1024})
    stats = consume(store, kafka, topic)
    assert stats.records == {topic: 12} and stats.poison == {topic: 4}

    found = {o.source_ref: o for o in store.records(dataset_urns=["ds://orders_v1"])}
    details = {ref.rsplit("/", 1)[1]: o.payload["violations"][0]["detail"] for ref, o in found.items()
               if o.reason_code == "UNDECODABLE_MESSAGE"}
    assert set(details) == {"2", "4", "6", "8"}
    assert details["2"] == "value is neither JSON nor a Confluent frame: Expecting value: line 1 column 1 (char 0)"
    assert details["4"].startswith("value is neither JSON nor a Confluent frame (first byte 0x01")
    assert details["6"].startswith("value is 10,485,8") and "over the gate's limit of 1,048,576 bytes" in details["6"]
    assert "likely Avro or Protobuf" in details["8"]
    # The 10 MB value is stored as its size, hash and first bytes, not as 10 MB of evidence.
    big = found[f"{topic}/0/6"].payload["value"]
    assert big["size"] > 10 * 1024 * 1024 and big["truncated"] and len(big["base64"]) < 400
    # Records after each poison record were gated: the partition did not stop.
    assert sum(c.count for c in store.counters() if c.reason_code == "") == 8
    assert found[f"{topic}/0/11"].reason_code is None


def test_reject_copies_exactly_the_bad_records_to_the_dead_letter_topic(kafka: str, store: Store) -> None:
    topic = new_topic(kafka, "orders.created", partitions=2)
    configure_orders(store, topic, enforcement="reject", valid_topic="{topic}.rca-valid")
    bad = {17: order(17, customer_id=None), 230: order(230, currency="JPY"), 611: b"\x00\x00\x00"}
    produce(kafka, topic, (record(i, bad.get(i, order(i)), partition=i % 2) for i in range(1000)))
    stats = consume(store, kafka, topic)
    assert stats.dead_lettered == {f"{topic}.rca-rejected": 3, f"{topic}.rca-valid": 997}

    copies = read_all(kafka, f"{topic}.rca-rejected", 3)
    headers = [dict((k, v.decode()) for k, v in m.headers() if k.startswith("rca-")) for m in copies]
    version = headers[0]["rca-contract-version"]
    assert version.startswith("sha256:")
    expected = sorted((str(i % 2), i // 2, reason, fld) for i, reason, fld in (
        (17, "REQUIRED_FIELD_MISSING", "customer_id"), (230, "ENUM_VIOLATION", "currency"),
        (611, "UNDECODABLE_MESSAGE", "")))
    assert sorted((h["rca-original-partition"], int(h["rca-original-offset"]), h["rca-reason-code"], h["rca-field"])
                  for h in headers) == expected
    assert {h["rca-original-topic"] for h in headers} == {topic}
    assert {h["rca-contract-version"] for h in headers} == {version}
    by_offset = {(int(h["rca-original-partition"]), int(h["rca-original-offset"])): m
                 for h, m in zip(headers, copies, strict=True)}
    copy17 = by_offset[(1, 8)]
    assert (copy17.key(), orjson.loads(copy17.value()), copy17.timestamp()[1]) == (
        b"o-17", order(17, customer_id=None), record(17, b"")["timestamp_ms"])
    assert ("autopilot-producer", PRODUCER.encode()) in copy17.headers()
    valid = read_all(kafka, f"{topic}.rca-valid", 997)
    assert sorted(orjson.loads(m.value())["order_id"] for m in valid) == sorted(
        f"o-{i}" for i in range(1000) if i not in bad)


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    while len(out) < expected and datetime.now(UTC) < deadline:
        out += [m for m in consumer.consume(1000, 0.5) if m.error() is None]
    extra = [m for m in consumer.consume(1000, 1.0) if m.error() is None]  # nothing more may arrive
    consumer.close()
    assert len(out) == expected and not extra, f"{len(out)} + {len(extra)} records on {topic}, expected {expected}"
    return out


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Store]:  # these tests need a file the consumer's own connections can share
    store = Store.open(f"sqlite:///{tmp_path / 'rca.db'}")
    store.upgrade()
    yield store
    store.close()
