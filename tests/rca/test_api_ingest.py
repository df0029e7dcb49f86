import json

import pytest

from evidence import ConfigError
from support import CONFORMANCE, bearer, deployment

BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def test_999_good_and_1_bad_stores_the_999_and_names_the_bad_one(client) -> None:
    events = [deployment(f"e-{i}", time=f"2026-03-10T10:{i // 60 % 60:02d}:{i % 60:02d}+00:00") for i in range(1000)]
    events[500]["data"].pop("version")
    response = client.post("/v1/events", content=json.dumps(events), headers=BATCH)
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (999, 0, 1)
    assert body["results"][500] == {
        "id": "e-500", "source": "svc://checkout-service", "status": "rejected", "field": "data.version",
        "error": "Event 'e-500' (source svc://checkout-service): 'data.version' is required"}
    assert client.get("/v1/evidence", params={"limit": 1000, "payload": False}).json()["next_cursor"] is None
    assert len(client.get("/v1/evidence", params={"limit": 1000}).json()["items"]) == 999


@pytest.mark.parametrize("run_id", [5, 1.5, True, ["r-1"], {"id": "r-1"}])
def test_an_extra_run_id_that_is_not_text_is_kept_in_the_payload_only(client, run_id) -> None:
    # A deploy declares no run_id, so one in its data is an extension: any JSON. Only text names a run; the rest is
    # kept as sent (it once reached PostgreSQL's COPY as a number and failed the whole batch with a 500).
    event = deployment("d-run")
    event["data"]["run_id"] = run_id
    response = client.post("/v1/events", content=json.dumps([event, deployment("d-next")]), headers=BATCH)
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    stored = client.get(f"/v1/evidence/{response.json()['results'][0]['evidence_id']}").json()
    assert stored["run_id"] is None
    assert stored["payload"]["data"]["run_id"] == run_id


def test_a_single_event_and_its_duplicate(client) -> None:
    headers = {"Content-Type": "application/cloudevents+json"}
    first = client.post("/v1/events", content=json.dumps(deployment("d-1")), headers=headers)
    again = client.post("/v1/events", content=json.dumps(deployment("d-1")), headers=headers)
    assert first.status_code == again.status_code == 200
    assert [first.json()["results"][0]["status"], again.json()["results"][0]["status"]] == ["accepted", "duplicate"]


def test_a_single_bad_event_is_422_naming_it(client) -> None:
    response = client.post("/v1/events", json={**deployment("d-2"), "specversion": "0.3"})
    assert response.status_code == 422
    assert response.json()["results"][0]["field"] == "specversion"


@pytest.mark.parametrize(("content", "headers", "status", "error"), [
    (b"[]", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    (b"[]", {}, 415, "unsupported_media_type"),
    (b"{not json", {"Content-Type": "application/json"}, 400, "malformed_json"),
    (b"[]", {"Content-Type": "application/cloudevents+json"}, 400, "bad_request"),
    (b"{}", {"Content-Type": "application/cloudevents-batch+json"}, 400, "bad_request"),
    (b'"text"', {"Content-Type": "application/json"}, 400, "bad_request"),
])
def test_bad_requests_get_a_json_error(client, content, headers, status, error) -> None:
    response = client.post("/v1/events", content=content, headers=headers)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["message"]


def test_oversized_bodies_get_413(make_client) -> None:
    client = make_client(max_body_bytes=4096)
    big = json.dumps([deployment(f"e-{i}") for i in range(100)])
    response = client.post("/v1/events", content=big, headers=BATCH)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    chunked = client.post("/v1/events", content=iter([big.encode()]), headers=BATCH)  # no Content-Length
    assert chunked.status_code == 413


def test_too_many_items_get_413(make_client) -> None:
    client = make_client(max_batch_items=10)
    response = client.post("/v1/events", json=[deployment(f"e-{i}") for i in range(11)])
    assert response.status_code == 413
    assert "limit is 10" in response.json()["message"]


def test_tokens_are_required_and_scoped_to_producers(make_client, tokens) -> None:
    client = make_client(auth=True)
    assert client.post("/v1/events", json=deployment("a")).status_code == 401
    assert client.post("/v1/events", json=deployment("a"), headers=bearer("rca_w_nope")).status_code == 401
    ok = client.post("/v1/events", json=deployment("a"), headers=bearer(tokens["checkout"]))
    assert ok.status_code == 200
    foreign = client.post("/v1/events", json=deployment("c", "svc://payments-service"),
                          headers=bearer(tokens["checkout"]))
    assert foreign.status_code == 403
    assert "svc://payments-service" in foreign.json()["message"]
    assert foreign.json()["sources"] == ["svc://payments-service"]
    # in a batch, the foreign event is rejected on its own and the producer's own is stored
    mixed = client.post("/v1/events", json=[deployment("b"), deployment("c", "svc://payments-service")],
                        headers=bearer(tokens["checkout"]))
    assert mixed.status_code == 200
    assert [r["status"] for r in mixed.json()["results"]] == ["accepted", "rejected"]
    assert mixed.json()["results"][1]["field"] == "source"
    assert "not svc://payments-service" in mixed.json()["results"][1]["error"]
    assert client.post("/v1/events", json=deployment("d"), headers=bearer(tokens["reader"])).status_code == 403
    assert client.post("/v1/events", json=deployment("e", "svc://any"), headers=bearer(tokens["admin"])).status_code \
        == 200
    # writers send, they do not read; readers read
    assert client.get("/v1/evidence", headers=bearer(tokens["checkout"])).status_code == 403
    assert len(client.get("/v1/evidence", headers=bearer(tokens["reader"])).json()["items"]) == 3


def test_openlineage_conformance_payloads_are_accepted_and_mapped(make_client, tokens) -> None:
    client = make_client(auth=True)
    for name, types in [("openlineage_full_complete_event.json", ["JobRunCompleted", "DatasetWriteCommitted"]),
                        ("openlineage_spark_start_event.json", ["JobRunStarted"])]:
        payload = json.loads((CONFORMANCE / name).read_text())
        response = client.post("/api/v1/lineage", json=payload, headers=bearer(tokens["jobs"]))
        assert response.status_code == 200, response.text
        assert [m["type"] for m in response.json()["mapped"]] == types
        assert response.json()["accepted"] == len(types)
    refused = client.post("/api/v1/lineage", json=payload, headers=bearer(tokens["checkout"]))
    assert refused.status_code == 403 and "job://namespace/jobName" in refused.json()["message"]


RUN_ID = "3f0b9c1e-2d4a-4b6c-8e7f-0a1b2c3d4e5f"


def test_the_openlineage_dataset_naming_is_a_setting(make_client) -> None:
    client = make_client(openlineage_dataset_urn="ds://{namespace_path}/{name}")
    event = {"eventType": "COMPLETE", "eventTime": "2026-01-19T06:40:00Z", "run": {"runId": RUN_ID},
             "job": {"namespace": "spark", "name": "orders_enriched_batch"},
             "outputs": [{"namespace": "s3://lake", "name": "curated/orders_enriched",
                          "facets": {"version": {"datasetVersion": "7"}}}]}
    assert client.post("/api/v1/lineage", json=event).status_code == 200
    [commit] = client.get("/v1/evidence", params={"type": "DatasetWriteCommitted"}).json()["items"]
    assert commit["dataset_urn"] == "ds://lake/curated/orders_enriched"
    with pytest.raises(ConfigError, match="RCA_OPENLINEAGE_DATASET_URN"):
        make_client(openlineage_dataset_urn="ds://{table}")


def test_openlineage_lineage_edges_are_recorded(client) -> None:
    event = {"eventType": "COMPLETE", "eventTime": "2026-01-19T06:40:00Z", "run": {"runId": RUN_ID},
             "job": {"namespace": "spark", "name": "orders_enriched_batch"},
             "inputs": [{"namespace": "s3://lake", "name": "raw/orders"}],
             "outputs": [{"namespace": "s3://lake", "name": "curated/orders_enriched",
                          "facets": {"version": {"datasetVersion": "7"}}}]}
    assert client.post("/api/v1/lineage", json=event).status_code == 200
    edges = client.get("/v1/lineage-edges").json()["items"]
    assert [(e["upstream"], e["downstream"]) for e in edges] == [("ds://raw/orders", "ds://curated/orders_enriched")]


def test_a_bad_openlineage_event_names_the_field(client) -> None:
    response = client.post("/api/v1/lineage", json={"eventType": "START", "run": {"runId": "r"}, "job": {"name": "j"}})
    assert response.status_code == 422
    assert response.json()["field"] == "eventTime"
    timed = {"eventType": "START", "eventTime": "2026-01-19T06:40:00Z", "run": {"runId": "r"}, "job": {"name": "j"}}
    response = client.post("/api/v1/lineage", json=timed)
    assert (response.status_code, response.json()["field"]) == (422, "run.runId")
    assert "must be a UUID" in response.json()["message"]


def test_cdevents_are_accepted_on_the_events_endpoint(make_client, store, tokens) -> None:
    client = make_client(auth=True)
    payload = json.loads((CONFORMANCE / "cdevents_service_deployed.json").read_text())
    from evidence._tokens import create_token
    myapp = create_token(store, "myapp-cd", "writer", ["svc://myapp"], client.app.state.clock())[1]
    assert client.post("/v1/events", json=payload, headers=bearer(tokens["checkout"])).status_code == 403
    response = client.post("/v1/events", json=payload, headers=bearer(myapp))
    assert response.status_code == 200
    assert response.json()["results"][0]["source"] == "svc://myapp"


def test_evidence_reads_by_id_filter_and_page(client) -> None:
    client.post("/v1/events", json=[deployment(f"d-{i}", time=f"2026-03-10T10:0{i}:00Z") for i in range(5)])
    page = client.get("/v1/evidence", params={"producer_urn": "svc://checkout-service", "limit": 2}).json()
    assert [i["source_ref"] for i in page["items"]] == ["d-0", "d-1"]
    nxt = client.get("/v1/evidence", params={"producer_urn": "svc://checkout-service", "limit": 2,
                                             "cursor": page["next_cursor"]}).json()
    assert [i["source_ref"] for i in nxt["items"]] == ["d-2", "d-3"]
    window = client.get("/v1/evidence", params={"since": "2026-03-10T05:01:00-05:00",
                                                "until": "2026-03-10T10:03:00Z"}).json()
    assert [i["source_ref"] for i in window["items"]] == ["d-1", "d-2"]
    one = client.get(f"/v1/evidence/{page['items'][0]['evidence_id']}").json()
    assert one["payload"]["id"] == "d-0" and one["event_time"] == "2026-03-10T10:00:00Z"
    assert client.get("/v1/evidence/ev_missing").status_code == 404
    assert client.get("/v1/evidence", params={"since": "2026-03-10T10:00:00"}).status_code == 422
    assert client.get("/v1/evidence", params={"cursor": "garbage"}).status_code == 400


def test_ingest_time_is_stamped_by_the_server_and_lag_is_reported(client, clock) -> None:
    claimed = {**deployment("late", time="2026-03-10T10:29:00Z"), "ingesttime": "2026-03-10T10:29:00Z"}
    client.post("/v1/events", json=[claimed, deployment("on-time", time="2026-03-10T10:29:58Z")])
    record = client.get("/v1/evidence", params={"limit": 1}).json()["items"][0]
    assert record["ingest_time"] == "2026-03-10T10:30:00Z"  # the producer's claim is not trusted
    lag = client.get("/v1/ingestion/lag").json()
    assert lag["window_s"] == 300
    assert lag["sources"]["svc://checkout-service"] == {"count": 2, "p50_s": 2.0, "p95_s": 60.0, "max_s": 60.0,
                                                         "backfill": 0}


def test_an_openlineage_array_answers_each_event_on_its_own(client) -> None:
    good = {"eventType": "START", "eventTime": "2026-01-19T06:40:00Z", "run": {"runId": RUN_ID},
            "job": {"namespace": "spark", "name": "orders_enriched_batch"}}
    bad = {**good, "run": {"runId": "not-a-uuid"}}
    dropped = {**good, "eventType": "RUNNING", "run": {"runId": RUN_ID, "facets": {"nominalTime": 5}}}
    response = client.post("/api/v1/lineage", json=[good, bad, dropped])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["field"] == "run.runId" and "must be a UUID" in results[1]["error"]
    assert results[2]["warnings"] == ["run.facets.nominalTime is not an object: dropped, the rest of the event is kept"]
    assert [m["type"] for m in results[2]["mapped"]] == ["JobRunHeartbeat"]
    again = client.post("/api/v1/lineage", json=[good]).json()
    assert again["duplicate"] == 1
