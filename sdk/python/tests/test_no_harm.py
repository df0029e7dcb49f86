"""No harm, proved against real local servers that are down, reset connections, answer 500, or sleep 5 s.

For each: the business call's latency matches a baseline measured in the same run with the SDK off,
no call ever waits on the backend, memory stays bounded, every event is accounted for (delivered or
dropped by reason), nothing raises, and the log says so once rather than once per event.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import time
import tracemalloc

import pytest

from autopilot import Client, Settings

PAYLOAD = b"x" * 2048
BAD_BACKENDS = ["down", "reset", "500", "sleep"]


def business_call(client: Client, i: int) -> None:
    """Some fixed work that a request handler might do, plus one event."""
    digest = PAYLOAD
    for _ in range(20):
        digest = hashlib.sha256(digest).digest()
    client.emit("JobRunStarted", {"run_id": f"run-{i}", "digest": digest[:4].hex()})


def timed_calls(client: Client, count: int, start: int = 0) -> list[float]:
    durations = []
    for i in range(start, start + count):
        began = time.perf_counter()
        business_call(client, i)
        durations.append(time.perf_counter() - began)
    return durations


@pytest.fixture
def bad_endpoint(request, backend_factory, closed_port_url):
    if request.param == "down":
        return closed_port_url
    return backend_factory(request.param).url


@pytest.mark.parametrize("bad_endpoint", BAD_BACKENDS, indirect=True)
def test_business_latency_is_unchanged_and_nothing_waits_on_the_backend(bad_endpoint, make_client, caplog):
    # The SDK's timeout (1 s) is far above anything a call may take here: a call that waited on
    # the backend would stand out, and against the sleeping server it would wait the full second.
    client = make_client(bad_endpoint, timeout=1.0, connect_timeout=1.0, queue_size=256)
    disabled = Client(Settings())
    baseline, with_sdk = [], []
    with caplog.at_level(logging.DEBUG, logger="autopilot"):
        for round_ in range(6):  # interleaved rounds, so machine load hits both sides alike
            baseline += timed_calls(disabled, 150, round_ * 150)
            with_sdk += timed_calls(client, 150, round_ * 150)
    base, sdk = statistics.median(baseline), statistics.median(with_sdk)
    assert sdk <= base * 1.5 + 20e-6, f"median {sdk * 1e6:.1f} us with the SDK vs {base * 1e6:.1f} us without"
    assert max(with_sdk) < 0.5, f"a business call took {max(with_sdk):.3f} s: it waited on the backend"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 5, [r.getMessage() for r in warnings]  # once per problem, not per event


@pytest.mark.parametrize("bad_endpoint", BAD_BACKENDS, indirect=True)
def test_every_event_is_accounted_for_and_memory_stays_bounded(bad_endpoint, make_client):
    client = make_client(bad_endpoint, queue_size=200, batch_size=50)
    tracemalloc.start()
    try:
        for i in range(2_000):
            business_call(client, i)
        early, _ = tracemalloc.get_traced_memory()
        for i in range(2_000, 20_000):
            business_call(client, i)
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Kept events would take ~9 MB here (18,000 x ~500 bytes); bounded, growth is noise from the
    # test's own server threads and allocator state, well under 1 MiB.
    assert late - early < 1024 * 1024, f"memory grew by {(late - early) / 1024:.0f} KiB after the queue filled"
    assert client.stats()["queued"] <= 200
    client.shutdown(0.5)
    client._worker.thread.join(3.0)  # the last in-flight attempt reports back
    stats = client.stats()
    dropped = stats["signals_dropped"]
    assert stats["delivered"] == 0
    assert stats["delivered"] + sum(dropped.values()) == 20_000, dropped
    assert dropped["queue_full"] > 0
    assert dropped["killed"] == 0 and dropped["rejected"] == 0


def test_a_healthy_backend_gets_every_event_and_the_circuit_stays_closed(backend, make_client):
    client = make_client(backend.url, queue_size=5000, batch_size=100)
    for i in range(2_000):
        business_call(client, i)
    assert client.flush(5.0)
    assert len({e["id"] for e in backend.events}) == 2_000
    assert client.stats()["delivered"] == 2_000 and client.stats()["circuit"] == "closed"


def test_the_circuit_opens_against_a_dead_backend_and_stops_the_knocking(closed_port_url, make_client, backend):
    client = make_client(closed_port_url, circuit_failures=3, circuit_reset=60.0, batch_size=1)
    for i in range(50):
        client.emit("JobRunStarted", {"run_id": f"r{i}"})
    client.flush(2.0)
    stats = client.stats()
    assert stats["circuit"] == "open"
    assert stats["signals_dropped"]["circuit_open"] > 0


def test_after_an_outage_the_half_open_probe_resumes_delivery(backend_factory, make_client):
    backend = backend_factory("500")
    now = [0.0]  # the client's monotonic clock (the circuit's reset timer runs on it), moved by the test
    client = make_client(backend.url, circuit_failures=2, circuit_reset=0.3, max_retries=1, monotonic=lambda: now[0])
    client.emit("JobRunStarted", {"run_id": "during"})
    assert client.flush(2.0)
    assert client.stats()["circuit"] == "open"
    backend.mode = "ok"
    now[0] += 0.35  # past circuit_reset: the next send is the half-open probe
    client.emit("JobRunStarted", {"run_id": "after"})
    assert client.flush(2.0)
    assert client.stats()["circuit"] == "closed"
    assert [e["data"]["run_id"] for e in backend.events] == ["after"]


def test_shutdown_against_a_sleeping_backend_is_bounded(backend_factory, make_client):
    backend = backend_factory("sleep", sleep_s=5.0)
    client = make_client(backend.url, timeout=5.0, connect_timeout=1.0)
    for i in range(10):
        client.emit("JobRunStarted", {"run_id": f"r{i}"})
    assert backend.wait_for(lambda b: len(b.peers) > 0)  # the worker is now waiting on the sleeping server
    began = time.monotonic()
    client.shutdown(0.3)
    assert time.monotonic() - began < 1.0
