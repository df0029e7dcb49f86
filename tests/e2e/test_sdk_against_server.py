"""The Python SDK against a real `rca serve`: scoped token, evidence stored, kill switch obeyed."""

import time

import httpx
import pytest

from autopilot import Client, Settings
from evidence._store import Store
from evidence._tokens import create_token
from support import FixedClock

pytestmark = pytest.mark.e2e


def test_the_sdk_delivers_evidence_and_obeys_the_kill_switch(serve, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'rca.db'}"
    with Store.open(url) as store:
        store.ensure_schema()
        now = FixedClock()()
        writer = create_token(store, "checkout-ci", "writer", ["svc://checkout-service"], now)[1]
        admin = create_token(store, "platform", "admin", [], now)[1]
    server = serve(url, env={"RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": str(tmp_path / "chroma")})
    client = Client(Settings(enabled=True, endpoint=server.url, token=writer, service="checkout-service",
                             env="prod", version="v2.8.1", flush_interval=0.05, control_poll_interval=0.2))
    try:
        client.emit("DeploymentEvent", {"service": "checkout-service", "version": "v2.8.2", "commit": "9a8b7c6"})
        client.emit("DeploymentEvent", {"service": "checkout-service", "version": "v2.8.3"}, source="svc://other")
        assert client.flush(timeout=10)
        with Store.open(url) as store:
            stored = store.records(producer_urns=["svc://checkout-service"], types=["DeploymentEvent"])
        versions = sorted(r.data["version"] for r in stored)
        assert versions == ["v2.8.1", "v2.8.2"]  # the start-up event and the emitted one
        assert [r.data["source"] for r in stored if r.data["version"] == "v2.8.1"] == ["startup"]
        # the token may not write another producer's events: refused and counted, never raised
        assert client.signals_dropped()["rejected"] >= 1

        killed = httpx.put(f"{server.url}/v1/control/svc://checkout-service", json={"killed": True},
                           headers={"Authorization": f"Bearer {admin}"})
        assert killed.status_code == 200 and killed.json()["killed"] is True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not client.stats()["control"].get("killed"):
            time.sleep(0.1)
        client.emit("DeploymentEvent", {"service": "checkout-service", "version": "v2.8.4"})
        client.flush(timeout=5)
        assert client.signals_dropped()["killed"] >= 1
        with Store.open(url) as store:
            assert not [r for r in store.records(producer_urns=["svc://checkout-service"])
                        if r.data.get("version") == "v2.8.4"]
    finally:
        client.shutdown(timeout=5)
