"""The CloudEvents HTTP binding's three modes on POST /v1/events, `data_base64`, and events without `time`."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson
import pytest

from evidence import InvalidEvent, evidence_id_for
from evidence._ingest import to_record
from support import deployment

DATA = {"service": "checkout-service", "version": "v2.8.1", "env": "prod"}
HEADERS = {"ce-specversion": "1.0", "ce-id": "deploy-1", "ce-source": "svc://checkout-service",
           "ce-type": "DeploymentEvent", "ce-time": "2026-03-10T10:20:00Z", "Content-Type": "application/json"}


def _stored(client, event_id: str, source: str = "svc://checkout-service") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get(f"/v1/evidence/{evidence_id_for(source, event_id)}")
    assert response.status_code == 200, response.text
    return response.json()


def test_binary_mode_reads_the_ce_headers_and_the_body(client) -> None:
    headers = {**HEADERS, "ce-subject": "ds%3A%2F%2Forders_v1",  # percent-encoded, as the binding allows
               "ce-traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    response = client.post("/v1/events", content=orjson.dumps(DATA), headers=headers)
    assert response.status_code == 200, response.text
    record = _stored(client, "deploy-1")
    assert (record["type"], record["event_time"], record["dataset_urn"]) == (
        "DeploymentEvent", "2026-03-10T10:20:00Z", "ds://orders_v1")
    assert record["traceparent"].startswith("00-4bf92f35")
    assert record["payload"]["data"] == DATA


@pytest.mark.parametrize(("drop", "field", "says"), [
    ("ce-type", "type", "is required and must be one of"),
    ("ce-id", "id", "is required"),
    ("ce-source", "source", "is required"),
])
def test_a_binary_event_without_an_attribute_names_it(client, drop: str, field: str, says: str) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != drop}
    response = client.post("/v1/events", content=orjson.dumps(DATA), headers=headers)
    assert response.status_code == 422, response.text
    [result] = response.json()["results"]
    assert result["field"] == field and says in result["error"]


def test_binary_mode_refuses_what_it_cannot_read(client) -> None:
    bad_time = client.post("/v1/events", content=orjson.dumps(DATA), headers={**HEADERS, "ce-time": "yesterday"})
    assert (bad_time.status_code, bad_time.json()["field"]) == (422, "time")
    xml = client.post("/v1/events", content=b"<deploy/>", headers={**HEADERS, "Content-Type": "application/xml"})
    assert xml.status_code == 415 and "evidence data is JSON" in xml.json()["message"]
    broken = client.post("/v1/events", content=b"{", headers=HEADERS)
    assert broken.status_code == 400 and broken.json()["error"] == "malformed_json"


def test_structured_mode_still_wins_over_stray_ce_headers(client) -> None:
    event = deployment("structured-1")
    response = client.post("/v1/events", content=orjson.dumps(event),
                           headers={"Content-Type": "application/cloudevents+json", "ce-id": "ignored"})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["id"] == "structured-1"


def _base64(value: Any) -> str:
    return base64.b64encode(orjson.dumps(value)).decode()


def test_data_base64_is_decoded_into_data(client) -> None:
    event = {k: v for k, v in deployment("b64-1").items() if k != "data"}
    batch = [{**event, "data_base64": _base64(DATA)},
             {**event, "id": "b64-2", "datacontenttype": "application/json", "data_base64": _base64(DATA)},
             {**event, "id": "b64-3", "data": DATA, "data_base64": _base64(DATA)},
             {**event, "id": "b64-4", "data_base64": "not base64!"},
             {**event, "id": "b64-5", "datacontenttype": "text/plain", "data_base64": _base64(DATA)}]
    results = client.post("/v1/events", json=batch).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected", "rejected", "rejected"]
    assert {r["field"] for r in results[2:]} == {"data_base64"}
    assert "exclusive" in results[2]["error"] and "base64 of a JSON object" in results[3]["error"]
    assert "must be JSON" in results[4]["error"]
    assert _stored(client, "b64-1")["payload"]["data"] == DATA


def test_an_event_without_time_takes_its_arrival_and_says_so(client, clock) -> None:
    event = {k: v for k, v in deployment("timeless-1").items() if k != "time"}
    assert client.post("/v1/events", json=event).status_code == 200
    record = _stored(client, "timeless-1")
    assert record["event_time"] == record["ingest_time"] == clock().isoformat().replace("+00:00", "Z")
    assert record["payload"]["rca:time"] == "ingest"
    clock.advance(minutes=5)  # a retry later is the same event, not a conflict
    assert client.post("/v1/events", json=event).json()["results"][0]["status"] == "duplicate"


def test_a_replay_needs_a_time_it_cannot_take_from_an_arrival() -> None:
    event = {k: v for k, v in deployment("timeless-2").items() if k != "time"}
    with pytest.raises(InvalidEvent) as caught:
        to_record(event, None)
    assert caught.value.field == "time"
    record = to_record({**event, "ingesttime": "2026-03-10T10:00:00Z"}, None, trust_ingesttime=True)
    assert record.event_time == datetime.fromisoformat("2026-03-10T10:00:00+00:00")
