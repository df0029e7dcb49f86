"""`kill -9` of the server in the middle of a stream loses no event whose batch got a 2xx."""

import threading
import time

import httpx
import orjson
import pytest

from evidence._store import Store

pytestmark = pytest.mark.e2e


def _batch(n: int, size: int = 250) -> list[dict]:
    return [{"specversion": "1.0", "id": f"b{n}-e{i}", "source": "svc://checkout-service", "type": "DeploymentEvent",
             "time": "2026-03-10T10:20:00Z", "data": {"service": "checkout-service", "version": f"v{n}.{i}"}}
            for i in range(size)]


def test_kill_minus_9_loses_no_acknowledged_event(serve, database_url) -> None:
    server = serve(database_url, "--insecure-no-auth")
    acknowledged: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            n = 0
            while not stop.is_set():
                try:
                    response = client.post("/v1/events", content=orjson.dumps(_batch(n)),
                                           headers={"Content-Type": "application/cloudevents-batch+json"})
                    if 200 <= response.status_code < 300:
                        acknowledged.append(n)
                except httpx.TransportError as exc:
                    failures.append(type(exc).__name__)
                n += 1

    sender = threading.Thread(target=stream)
    sender.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill9()  # while the sender is mid-stream
    time.sleep(0.5)
    stop.set()
    sender.join(30)
    assert len(acknowledged) >= 20
    assert failures, "the kill should have cut the stream"

    with Store.open(database_url) as store:
        stored = {r.source_ref for r in store.records(producer_urns=["svc://checkout-service"])}
    missing = [e["id"] for n in acknowledged for e in _batch(n) if e["id"] not in stored]
    assert missing == []
    # and a restarted server serves the same store
    again = serve(database_url, "--insecure-no-auth")
    assert httpx.get(f"{again.url}/healthz").json()["status"] == "ok"
