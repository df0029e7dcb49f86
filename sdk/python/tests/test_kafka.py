"""autopilot.kafka.Producer against a real Kafka broker (RCA_TEST_KAFKA_BOOTSTRAP; scripts/with-kafka starts one)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

import autopilot  # noqa: E402
from autopilot import start_trace, use_trace  # noqa: E402
from autopilot.kafka import Producer, with_identity  # noqa: E402
from autopilot.testing import FakeTransport  # noqa: E402


def wait_until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(scope="module")
def kafka() -> str:
    bootstrap = os.environ.get("RCA_TEST_KAFKA_BOOTSTRAP")
    if bootstrap:
        return bootstrap
    reason = "no Kafka broker: set RCA_TEST_KAFKA_BOOTSTRAP, or run under scripts/with-kafka (make test does)"
    if os.environ.get("RCA_REQUIRE_KAFKA") == "1" or os.environ.get("CI"):
        pytest.fail(f"{reason}; RCA_REQUIRE_KAFKA=1 or CI is set, so the Kafka tests must run")
    pytest.skip(reason)


@pytest.fixture
def topic(kafka: str) -> str:
    name = f"autopilot-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka})  # kept alive until the topic exists
    for future in admin.create_topics([NewTopic(name, 1, 1)]).values():
        future.result(30)
    return name


def read_headers(kafka: str, topic: str, count: int) -> list[dict[str, bytes]]:
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    out: list = []
    for _ in range(60):
        out += [m for m in consumer.consume(100, 0.5) if m.error() is None]
        if len(out) >= count:
            break
    consumer.close()
    assert len(out) == count
    return [dict(m.headers() or []) for m in sorted(out, key=lambda m: m.offset())]


def test_every_record_carries_the_identity_headers(kafka, topic, make_client):
    client = make_client(transport=FakeTransport(), env="prod", version="v2.8.1")
    producer = Producer({"bootstrap.servers": kafka}, client=client)
    context = start_trace()
    with use_trace(context):
        producer.produce(topic, value=b'{"order_id": "o-1"}', key=b"o-1")
        producer.produce(topic, b"{}", b"o-2", headers={"traceparent": b"00-caller-set-it"})  # the caller's wins
        producer.produce(topic, b"{}", b"o-3", 0, None, 0, [("tenant", b"eu")])  # every argument positional
    assert producer.flush(30) == 0
    first, second, third = read_headers(kafka, topic, 3)
    identity = {"autopilot-producer": b"svc://checkout-service", "autopilot-env": b"prod",
                "autopilot-version": b"v2.8.1"}
    assert first == {**identity, "traceparent": context.traceparent.encode()}
    assert second == {**identity, "traceparent": b"00-caller-set-it"}
    assert third == {"tenant": b"eu", **identity, "traceparent": context.traceparent.encode()}


def test_disabled_or_killed_adds_nothing(kafka, topic, make_client):
    fake = FakeTransport()
    fake.set_control(killed=True)
    killed = make_client(transport=fake)
    assert wait_until(lambda: killed.stats()["control"]["killed"])
    autopilot.configure()  # the process-wide client, disabled (AUTOPILOT_ENABLED unset)
    try:
        by_killed = Producer({"bootstrap.servers": kafka}, client=killed)
        by_killed.produce(topic, b"{}", headers=[("tenant", b"eu")])
        assert by_killed.flush(30) == 0
        disabled = Producer({"bootstrap.servers": kafka})
        disabled.produce(topic, b"{}")
        assert disabled.flush(30) == 0
    finally:
        autopilot.shutdown(0.2)
    assert read_headers(kafka, topic, 2) == [{"tenant": b"eu"}, {}]


def test_headers_that_cannot_be_built_never_stop_the_record(kafka, topic, make_client, monkeypatch):
    client = make_client(transport=FakeTransport())

    def broken(traceparent=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(client, "kafka_headers", broken)
    assert with_identity({"a": b"1"}, client) == {"a": b"1"}
    producer = Producer({"bootstrap.servers": kafka}, client=client)
    producer.produce(topic, b"{}", headers={"a": b"1"})
    assert producer.flush(30) == 0
    assert read_headers(kafka, topic, 1) == [{"a": b"1"}]
