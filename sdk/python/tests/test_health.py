"""SdkHealth (CONTRACT.md section 15): off by default; when on, a periodic event with this process's counters, queue
and circuit, valid against the envelope schema, and never a cost to the host when building it fails."""

from __future__ import annotations

import time

import autopilot
from autopilot.testing import FakeTransport, HttpResponse


def _health(fake: FakeTransport) -> list[dict]:
    return [e for e in fake.events if e["type"] == "SdkHealth"]


def test_no_health_event_unless_an_interval_is_set(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake)
    assert client.emit("JobRunStarted", {"run_id": "r1"})
    time.sleep(0.3)
    assert client.flush(2.0)
    assert _health(fake) == [] and len(fake.events) == 1


def test_health_events_carry_counters_by_reason_queue_and_circuit(make_client, validate_event):
    fake = FakeTransport()
    client = make_client(transport=fake, health_interval=0.3, queue_size=5, batch_size=100, flush_interval=5.0)
    for i in range(8):  # 5 fit the queue, 3 are dropped as queue_full
        client.emit("JobRunStarted", {"run_id": f"r{i}"})
    assert client.flush(2.0)
    deadline = time.monotonic() + 5
    while len(_health(fake)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    first, second = _health(fake)[:2]
    for event in (first, second):
        validate_event(event)
        assert event["source"] == "svc://checkout-service"
    data = first["data"]
    assert (data["language"], data["sdk_version"], data["env"]) == ("python", autopilot.__version__, "test")
    assert data["dropped"] == {**dict.fromkeys(autopilot.DROP_REASONS, 0), "queue_full": 3}
    assert data["queue_capacity"] == 5 and data["circuit"] == "closed" and data["interval_s"] == 0.3
    assert data["queue_depth"] >= 0 and data["instance"] == second["data"]["instance"]
    assert second["data"]["delivered"] >= 5  # the first batch and the first health event were delivered since


def test_the_circuit_state_is_reported_when_the_backend_fails(make_client):
    failing = True

    def handler(request):
        return HttpResponse(500, {}, b"down") if failing else None

    fake = FakeTransport(handler)
    client = make_client(transport=fake, health_interval=0.1, max_retries=0, circuit_failures=1, circuit_reset=60)
    client.emit("JobRunStarted", {"run_id": "r1"})
    deadline = time.monotonic() + 3
    while client.stats()["circuit"] != "open" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.stats()["circuit"] == "open"
    time.sleep(0.3)  # health events come due while the circuit is open: dropped as circuit_open, never raised
    assert client.signals_dropped()["circuit_open"] >= 1


def test_a_failing_health_builder_costs_the_host_nothing(make_client, monkeypatch):
    fake = FakeTransport()
    client = make_client(transport=fake, health_interval=0.05)
    monkeypatch.setattr(client, "_report_health", lambda: 1 / 0)
    client._worker.report_health = client._report_health
    assert client.emit("JobRunStarted", {"run_id": "r1"})
    time.sleep(0.2)
    assert client.flush(2.0)
    assert [e["type"] for e in fake.events] == ["JobRunStarted"]
