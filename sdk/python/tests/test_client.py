"""emit / flush / shutdown against the shipped FakeTransport: batching, retries, drops by reason."""

from __future__ import annotations

import datetime
import json
import logging
import socket
import threading
import time
import tracemalloc
from decimal import Decimal

import pytest

import autopilot
from autopilot import Client, Settings, start_trace, use_trace
from autopilot.testing import FakeTransport, HttpResponse, TransportError


def drops(client, **expected):
    """The drop counters, all reasons, with the given ones set."""
    return {**dict.fromkeys(autopilot.DROP_REASONS, 0), **expected} == client.signals_dropped()


def test_events_are_batched_and_delivered(make_client, validate_event):
    fake = FakeTransport()
    client = make_client(transport=fake, batch_size=10)
    for i in range(25):
        assert client.emit("JobRunStarted", {"run_id": f"r{i}"})
    assert client.flush(2.0)
    assert [e["data"]["run_id"] for e in fake.events] == [f"r{i}" for i in range(25)]
    assert all(len(batch) <= 10 for batch in fake.batches())
    post = fake.posts[0]
    assert post.headers["Content-Type"] == "application/cloudevents-batch+json"
    assert post.url == "http://rca.test/v1/events"
    for event in fake.events:
        validate_event(event)
        assert event["source"] == "svc://checkout-service"
    assert client.stats()["delivered"] == 25 and drops(client)


def test_the_token_is_sent_as_a_bearer(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake, token="s3cret")
    client.emit("JobRunStarted", {"run_id": "r"})
    client.flush(2.0)
    assert fake.posts[0].headers["Authorization"] == "Bearer s3cret"


def test_emit_copies_its_data_so_later_changes_do_not_leak(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake)
    data = {"run_id": "before"}
    client.emit("JobRunStarted", data)
    data["run_id"] = "after"
    client.flush(2.0)
    assert fake.events[0]["data"]["run_id"] == "before"


def test_attributes_given_to_emit_are_kept(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake)
    client.emit(
        "DatasetWriteCommitted",
        {"dataset_urn": "ds://x"},
        subject="ds://x",
        event_id="commit-1",
        time="2026-01-18T01:47:00-05:00",
        source="job://nightly",
        extensions={"partitionkey": "x"},
    )
    client.flush(2.0)
    event = fake.events[0]
    assert (event["id"], event["time"], event["source"], event["subject"], event["partitionkey"]) == (
        "commit-1",
        "2026-01-18T01:47:00-05:00",
        "job://nightly",
        "ds://x",
        "x",
    )


def test_events_carry_the_trace_in_use(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake)
    context = start_trace()
    with use_trace(context):
        client.emit("JobRunStarted", {"run_id": "traced"})
    client.emit("JobRunStarted", {"run_id": "plain"})
    client.flush(2.0)
    by_run = {e["data"]["run_id"]: e for e in fake.events}
    assert by_run["traced"]["traceparent"] == context.traceparent
    assert "traceparent" not in by_run["plain"]


def test_retries_resend_the_same_ids(make_client):
    answers = iter([HttpResponse(503, {}, b""), TransportError("timeout", "slow")])

    def flaky(request):
        if request.method == "POST":
            answer = next(answers, None)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return None

    fake = FakeTransport(flaky)
    client = make_client(transport=fake)
    client.emit("JobRunStarted", {"run_id": "r1"})
    client.emit("JobRunStarted", {"run_id": "r2"})
    assert client.flush(3.0)
    bodies = [[e["id"] for e in json.loads(p.body)] for p in fake.posts]
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert client.stats()["delivered"] == 2 and drops(client)


def test_retry_after_is_honoured_on_429(make_client):
    stamps = []

    def throttled(request):
        if request.method == "POST":
            stamps.append(time.monotonic())
            if len(stamps) == 1:
                return HttpResponse(429, {"retry-after": "0.3"}, b"")
        return None

    client = make_client(transport=FakeTransport(throttled), backoff_max=1.0)
    client.emit("JobRunStarted", {"run_id": "r"})
    assert client.flush(3.0)
    assert stamps[1] - stamps[0] >= 0.29


def test_retries_are_bounded_then_the_events_count_as_timeout(make_client):
    fake = FakeTransport(lambda r: HttpResponse(500, {}, b"") if r.method == "POST" else None)
    client = make_client(transport=fake, max_retries=2, circuit_failures=100)
    client.emit("JobRunStarted", {"run_id": "r"})
    assert client.flush(3.0)
    assert len(fake.posts) == 3  # the first try and two retries
    assert drops(client, timeout=1)


@pytest.mark.parametrize("status", [400, 401, 403, 413, 415, 422])
def test_4xx_is_not_retried_and_counts_as_rejected(make_client, status, caplog):
    fake = FakeTransport(lambda r: HttpResponse(status, {}, b"{}") if r.method == "POST" else None)
    client = make_client(transport=fake)
    with caplog.at_level(logging.WARNING, logger="autopilot"):
        for i in range(3):
            client.emit("JobRunStarted", {"run_id": f"r{i}"})
        assert client.flush(2.0)
    assert len(fake.posts) == 1
    assert drops(client, rejected=3)
    assert "AUTOPILOT_TOKEN" in caplog.text


def test_items_the_service_rejects_count_as_rejected(make_client):
    def partial(request):
        if request.method != "POST":
            return None
        batch = json.loads(request.body)
        results = [
            {"id": e["id"], "source": e["source"], "status": "rejected" if e["data"]["run_id"] == "bad" else "accepted"}
            for e in batch
        ]
        answer = {"accepted": 2, "duplicate": 0, "rejected": 1, "results": results}
        return HttpResponse(200, {}, json.dumps(answer).encode())

    client = make_client(transport=FakeTransport(partial))
    for run_id in ("a", "bad", "c"):
        client.emit("JobRunStarted", {"run_id": run_id})
    assert client.flush(2.0)
    assert client.stats()["delivered"] == 2 and drops(client, rejected=1)


def test_an_unknown_type_or_missing_field_is_dropped_before_sending(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake)
    assert client.emit("OrderCreated", {"x": 1}) is False
    assert client.emit("DeploymentEvent", {"service": "s"}) is True  # no version: caught by the worker
    assert client.flush(2.0)
    assert fake.posts == [] and drops(client, rejected=2)


def test_a_full_queue_drops_and_counts_without_waiting(make_client):
    gate, posting = threading.Event(), threading.Event()

    def stuck(request):
        if request.method == "POST":
            posting.set()
            gate.wait(2.0)
        return None

    client = make_client(transport=FakeTransport(stuck), queue_size=5, batch_size=1)
    client.emit("JobRunStarted", {"run_id": "in-flight"})
    assert posting.wait(5.0)  # the worker now holds that one in a stuck POST
    results = [client.emit("JobRunStarted", {"run_id": f"r{i}"}) for i in range(20)]
    gate.set()
    assert results.count(True) == 5
    assert client.signals_dropped()["queue_full"] == 15


def test_events_older_than_max_age_are_dropped(make_client):
    gate, posting = threading.Event(), threading.Event()

    def stuck(request):
        if request.method == "POST":
            posting.set()
            gate.wait(2.0)
        return None

    now = [0.0]  # the client's monotonic clock, moved by the test
    fake = FakeTransport(stuck)
    client = make_client(transport=fake, max_age=0.2, batch_size=1, monotonic=lambda: now[0])
    try:
        client.emit("JobRunStarted", {"run_id": "first"})
        assert posting.wait(5.0)  # the worker holds the first in a stuck POST
        client.emit("JobRunStarted", {"run_id": "waits-too-long"})
        now[0] = 0.2  # exactly max_age: still fresh
        assert client.signals_dropped()["timeout"] == 0
        now[0] = 0.3  # past max_age while it waits
        gate.set()
        assert client.flush(2.0)
        assert client.signals_dropped()["timeout"] == 1
        assert [e["data"]["run_id"] for e in fake.events] == ["first"]
    finally:
        gate.set()


def test_values_json_cannot_hold_are_sent_as_text(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake)
    client.emit("JobRunStarted", {"run_id": "r", "scheduled": datetime.date(2026, 1, 1), "cost": Decimal("1.5")})
    assert client.flush(2.0)
    assert fake.events[0]["data"]["scheduled"] == "2026-01-01" and fake.events[0]["data"]["cost"] == "1.5"


def test_an_unencodable_event_is_dropped_alone(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake)
    loop: dict = {}
    loop["self"] = loop
    client.emit("JobRunStarted", {"run_id": "bad", "loop": loop})
    client.emit("JobRunStarted", {"run_id": "good"})
    assert client.flush(2.0)
    assert [e["data"]["run_id"] for e in fake.events] == ["good"] and drops(client, rejected=1)


def test_a_transport_that_raises_anything_is_contained(make_client):
    def broken(request):
        raise RuntimeError("a bug in a user's transport")

    client = make_client(transport=FakeTransport(broken), max_retries=0)
    assert client.emit("JobRunStarted", {"run_id": "r"})
    assert client.flush(2.0)
    assert drops(client, timeout=1)


def test_drops_are_exported_in_a_header_when_asked(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake, export_drops=True)
    client.emit("OrderCreated", {})
    client.emit("JobRunStarted", {"run_id": "r"})
    client.flush(2.0)
    assert fake.posts[0].headers["Autopilot-Signals-Dropped"] == (
        "queue_full=0,timeout=0,circuit_open=0,killed=0,rejected=1"
    )


def test_shutdown_delivers_what_is_queued_then_emit_is_a_no_op(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake, flush_interval=60.0)
    for i in range(3):
        client.emit("JobRunStarted", {"run_id": f"r{i}"})
    assert client.shutdown(2.0)
    assert len(fake.events) == 3
    assert client.emit("JobRunStarted", {"run_id": "late"}) is False
    assert client.shutdown(1.0)  # twice is fine


def test_flush_is_bounded_by_its_timeout(make_client):
    release = threading.Event()

    def slow(request):
        if request.method == "POST":
            release.wait(5.0)  # a send that outlasts the flush
        return None

    client = make_client(transport=FakeTransport(slow), timeout=1.0)
    client.emit("JobRunStarted", {"run_id": "r"})
    started = time.monotonic()
    try:
        assert client.flush(0.05) is False
        assert time.monotonic() - started < 0.2
    finally:
        release.set()
    assert client.flush(2.0) is True


def test_kafka_headers_identify_the_producer(make_client):
    client = make_client(transport=FakeTransport(), env="prod", version="v2.8.1")
    context = start_trace()
    with use_trace(context):
        headers = client.kafka_headers()
    assert headers == [
        ("autopilot-producer", b"svc://checkout-service"),
        ("autopilot-env", b"prod"),
        ("autopilot-version", b"v2.8.1"),
        ("traceparent", context.traceparent.encode()),
    ]
    assert client.kafka_headers()[-1][0] == "autopilot-version"
    assert Client(Settings()).kafka_headers() == []


# -- off means off ---------------------------------------------------------------------------------


def test_disabled_starts_no_thread_and_opens_no_socket(monkeypatch):
    def no_sockets(*args, **kwargs):
        raise AssertionError("a disabled SDK opened a socket")

    monkeypatch.setattr(socket, "socket", no_sockets)
    threads = threading.active_count()
    client = autopilot.configure()
    for _ in range(100):
        assert autopilot.emit("JobRunStarted", {"run_id": "r"}) is False
    assert autopilot.flush(1.0) and autopilot.shutdown(1.0)
    assert client.active is False and threading.active_count() == threads
    assert autopilot.kafka_headers() == []
    assert autopilot.stats()["enabled"] is False


def test_disabled_emit_allocates_nothing():
    client = Client(Settings())
    data = {"run_id": "r"}
    client.emit("JobRunStarted", data)  # warm up
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(10_000):
            client.emit("JobRunStarted", data)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename") if "autopilot" in str(stat))
    assert grown <= 0


def test_the_module_functions_use_one_process_wide_client():
    fake = FakeTransport()
    client = autopilot.configure(transport=fake, enabled=True, endpoint="http://rca.test", service="svc",
                                 flush_interval=0.05, startup_event=False)
    assert autopilot.get_client() is client
    assert autopilot.emit("JobRunStarted", {"run_id": "r"})
    assert autopilot.flush(2.0)
    assert fake.events[0]["source"] == "svc://svc"
    assert autopilot.stats()["delivered"] == 1
    assert autopilot.signals_dropped() == dict.fromkeys(autopilot.DROP_REASONS, 0)
    replacement = autopilot.configure(transport=fake, enabled=False)
    assert autopilot.get_client() is replacement and client.emit("JobRunStarted", {"run_id": "x"}) is False


def test_the_startup_deployment_event_goes_once_per_process():
    fake = FakeTransport()
    settings = dict(enabled=True, endpoint="http://rca.test", service="payments-service", version="v1.4.0",
                    env="prod", flush_interval=0.05)
    autopilot.configure(transport=fake, **settings)
    autopilot.configure(transport=fake, **settings)  # a reconfigure is not a new process
    autopilot.flush(2.0)
    startups = [e for e in fake.events if e["type"] == "DeploymentEvent"]
    assert len(startups) == 1
    assert startups[0]["data"] == {
        "service": "payments-service",
        "version": "v1.4.0",
        "source": "startup",
        "env": "prod",
        "deploy_ref": "payments-service@v1.4.0",
        "status": "succeeded",
    }


def test_no_startup_event_when_ci_sends_deploys():
    fake = FakeTransport()
    autopilot.configure(transport=fake, enabled=True, endpoint="http://rca.test", service="s", startup_event=False,
                        flush_interval=0.05)
    autopilot.emit("JobRunStarted", {"run_id": "r"})
    autopilot.flush(2.0)
    assert [e["type"] for e in fake.events] == ["JobRunStarted"]


def test_data_that_is_not_a_mapping_is_dropped_and_counted(make_client):
    client = make_client(transport=FakeTransport())
    assert client.emit("JobRunStarted", ["not", "a", "mapping", "of", "fields"]) is False
    assert client.emit("JobRunStarted", 42) is False
    assert drops(client, rejected=2)


def test_a_timer_flush_sends_what_was_queued_not_what_arrives_while_it_sends():
    """Under a steady emitter a timer flush must stay one batch. Were it to drain until the queue is
    empty, events arriving during each send would keep it going: a stream of tiny batches, each a
    full HTTP exchange (measured in benchmarks/sdk_emit.py before the fix: 20 events a batch, not
    512, and 4% of a CPU-bound host's throughput)."""
    now = [0.0]  # the worker's clock: a timer flush is due only when the test moves it
    posts = []

    def arrivals_during_send(request):
        if request.method == "POST" and len(posts) < 10:
            posts.append(request)
            for i in range(3):
                client.emit("JobRunStarted", {"run_id": f"during-{len(posts)}-{i}"})
        return None

    fake = FakeTransport(arrivals_during_send)
    settings = Settings(enabled=True, endpoint="http://rca.test", service="checkout", flush_interval=0.05,
                        startup_event=False)
    client = Client(settings, transport=fake, monotonic=lambda: now[0])
    try:
        for i in range(3):
            client.emit("JobRunStarted", {"run_id": f"before-{i}"})
        time.sleep(0.2)
        assert fake.posts == []  # the clock has not moved: nothing is due
        now[0] = 1.0
        deadline = time.monotonic() + 5
        while not fake.posts and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time enough for a draining loop to send all ten
        assert [len(batch) for batch in fake.batches()] == [3]
        assert [e["data"]["run_id"] for e in fake.events] == ["before-0", "before-1", "before-2"]
        now[0] = 2.0  # the next tick sends what arrived during the first send
        deadline = time.monotonic() + 5
        while len(fake.posts) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert [len(batch) for batch in fake.batches()] == [3, 3]
        assert client.flush(2.0)  # flush() drains everything, arrivals during its sends included
        assert len(fake.events) == 3 + 3 * 10
    finally:
        client.shutdown(1.0)
