import json

from detectors._scenario import load_scenario
from support import REFERENCE, bearer

SPRING = load_scenario(REFERENCE / "spring_missing_customer_id.yaml")


def configure(client, admin) -> None:
    for plural, items in (("contracts", SPRING.contracts), ("mappings", SPRING.mappings),
                          ("lineage-edges", SPRING.lineage)):
        for spec in items:
            body = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
            assert client.post(f"/v1/{plural}", json=body, headers=admin).status_code == 201


def test_records_through_the_gate_then_incidents_through_the_api(make_client, tokens, clock, store) -> None:
    from evidence._tokens import create_token

    client = make_client(auth=True)
    admin, reader = bearer(tokens["admin"]), bearer(tokens["reader"])
    gate = bearer(create_token(store, "orders-gate", "writer", ["kafka://orders.*"], clock())[1])
    configure(client, admin)
    assert client.post("/v1/events", json=SPRING.events, headers=bearer(tokens["admin"])).status_code == 200
    refused = client.post("/v1/gate/records", json=SPRING.messages[:5], headers=bearer(tokens["checkout"]))
    assert refused.status_code == 403 and "kafka://orders.created" in refused.json()["message"]
    for start in range(0, len(SPRING.messages), 100):
        response = client.post("/v1/gate/records", json=SPRING.messages[start : start + 100], headers=gate)
        assert response.status_code == 200, response.text
    clock.now = SPRING.now
    detect = client.post("/v1/detect", headers=admin).json()
    assert len(detect["opened"]) == 1
    [incident] = client.get("/v1/incidents", headers=reader).json()["items"]
    assert (incident["reason_code"], incident["field"], incident["first_bad_time"]) == (
        "REQUIRED_FIELD_MISSING", "customer_id", "2026-03-10T10:21:04Z")
    assert incident["correlated_deploys"][0]["version"] == "v2.8.1"
    assert client.get(f"/v1/incidents/{incident['id']}", headers=reader).json() == incident
    assert client.get("/v1/incidents/inc_nope", headers=reader).status_code == 404
    assert client.get("/v1/incidents", params={"owner_team": "nobody"}, headers=reader).json()["items"] == []
    first_bad = client.get(f"/v1/evidence/{incident['evidence_ids'][0]}", headers=reader).json()
    assert first_bad["source_ref"] == "orders.created/0/5191"
    assert first_bad["payload"]["violations"][0]["field"] == "customer_id"


def test_change_requests_through_the_api(client) -> None:
    configure(client, {})
    drifted = [dict(m, schema_id=43) for m in SPRING.messages[:3]]
    body = client.post("/v1/gate/records", content=json.dumps(drifted), headers={"Content-Type": "application/json"})
    assert body.json()["held"] == 3
    [request] = client.get("/v1/change-requests", params={"status": "open"}).json()["items"]
    assert client.get(f"/v1/change-requests/{request['id']}").json()["held"] == 3
    approved = client.post(f"/v1/change-requests/{request['id']}/approve", json={"note": "schema 43 is orders v1"})
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved" and approved.json()["replayed"]["accepted"] == 3
    again = client.post(f"/v1/change-requests/{request['id']}/reject", json={})
    assert again.status_code == 409 and "already approved" in again.json()["message"]
    assert client.post("/v1/change-requests/cr_nope/approve").status_code == 404
    mappings = client.get("/v1/mappings").json()["items"]
    assert sorted(str(m["schema_id"]) for m in mappings) == ["42", "43"]


def test_the_list_pages_render_their_json_in_the_request_thread_not_on_the_event_loop(client, monkeypatch) -> None:
    # Issue 13: a dict returned by a sync route is walked by FastAPI's jsonable_encoder on the event loop; pages of
    # 200 incidents or evidence records stalled every other request (/metrics included) under load.
    import fastapi.routing

    walked: list[object] = []
    monkeypatch.setattr(fastapi.routing, "jsonable_encoder", lambda value, *a, **k: walked.append(value) or value)
    deploy = {"specversion": "1.0", "id": "d-1", "source": "svc://a", "type": "DeploymentEvent",
              "time": "2026-03-10T10:20:00Z", "data": {"service": "a", "version": "v1"}}
    assert client.post("/v1/events", json=[deploy]).status_code == 200
    for path in ("/v1/incidents?status=all&limit=200", "/v1/evidence?limit=200&payload=false",
                 "/v1/evidence?limit=1"):
        response = client.get(path)
        assert response.status_code == 200 and "items" in response.json(), path
    assert walked == []
