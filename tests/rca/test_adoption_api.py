"""GET /v1/adoption, GET /v1/sdk-health and the adoption gauges on /metrics: one report, readers only."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from evidence._store import Store
from evidence._tokens import create_token
from support import FixedClock, bearer


def _health(clock: FixedClock, producer: str, delivered: int, rejected: int) -> dict[str, object]:
    return {"specversion": "1.0", "id": f"h-{producer}", "source": producer, "type": "SdkHealth",
            "time": (clock() - timedelta(minutes=5)).isoformat(),
            "data": {"language": "python", "sdk_version": "0.1.0", "instance": "i", "delivered": delivered,
                     "dropped": {"rejected": rejected, "queue_full": rejected}, "queue_depth": 0, "circuit": "closed"}}


def test_sdk_health_adoption_and_metrics_agree(make_client, clock: FixedClock) -> None:
    client = make_client()
    sent = client.post("/v1/events", json=[_health(clock, "svc://a", 960, 20), _health(clock, "svc://b", 100, 0)])
    assert sent.status_code == 200 and sent.json()["accepted"] == 2
    items = client.get("/v1/sdk-health").json()["items"]
    assert [(i["producer_urn"], i["drop_rate"], i["dropped_total"]) for i in items] == [
        ("svc://a", 0.04, 40), ("svc://b", 0.0, 0)]
    assert client.get("/v1/sdk-health", params={"producer": "svc://b"}).json()["items"][0]["producer_urn"] == "svc://b"
    assert client.get("/v1/sdk-health", params={"hours": 0}).status_code == 422
    report = client.get("/v1/adoption").json()
    assert [(s["producer_urn"], s["drop_rate"], s["error_rate"]) for s in report["sdk"]] == [
        ("svc://a", 0.04, 0.02), ("svc://b", 0.0, 0.0)]
    assert report["platform"]["incidents"] == 0 and report["rings"] == []
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    drops = {s.labels["producer"]: s.value for s in families["rca_adoption_sdk_drop_rate"].samples}
    assert drops == {"svc://a": 0.04, "svc://b": 0.0}


def test_adoption_needs_a_reader_token(make_client, store: Store, clock: FixedClock) -> None:
    client = make_client(auth=True)
    writer = create_token(store, "w", "writer", ["svc://a"], clock())[1]
    reader = create_token(store, "r", "reader", [], clock())[1]
    for path in ("/v1/adoption", "/v1/sdk-health"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=bearer(writer)).status_code == 403
        assert client.get(path, headers=bearer(reader)).status_code == 200
