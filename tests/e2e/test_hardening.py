"""Issue 13's reproductions, each a case run through a real `rca serve` on SQLite and on PostgreSQL.

One server per database for the module (each case names its own datasets and ids, so cases do not meet); the
cases that need a server of their own (a database that stops taking writes) start one. Every case failed on the
code before issue 13 (a 500, a lost batch, a crossed fence, prose in a verified claim, or a wrong answer).
"""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text

from evidence._configs import CONTRACT, POLICY
from evidence._schema import configs
from evidence._store import Store
from evidence._tokens import create_token
from support import POSTGRES_URL, Live, Server, free_port

pytestmark = pytest.mark.e2e

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
SINGLE = {"Content-Type": "application/cloudevents+json"}


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def deploy(event_id: str, producer: str = "svc://checkout-api", **data: Any) -> dict[str, Any]:
    body = {"service": producer.split("://", 1)[1], "version": "v1.2.3", **data}
    return {"specversion": "1.0", "id": event_id, "source": producer, "type": "DeploymentEvent",
            "time": datetime.now(UTC).isoformat(), "data": body}


def _stored(api: httpx.Client, evidence_id: str) -> bool:
    return api.get(f"/v1/evidence/{evidence_id}").status_code == 200


def batch_survives(live: Live, bad: Any, role: str = "checkout") -> dict[str, Any]:
    """[good, bad, good]: 200, both good events stored, the bad one rejected on its own naming a field."""
    goods = [orjson.dumps(deploy(_id("good"))), orjson.dumps(deploy(_id("good")))]
    item = bad if isinstance(bad, bytes) else orjson.dumps(bad)
    with live.api(role) as api:
        response = api.post("/v1/events", content=b"[" + b",".join([goods[0], item, goods[1]]) + b"]", headers=BATCH)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [results[0]["status"], results[2]["status"]] == ["accepted", "accepted"], results
    assert results[1]["status"] == "rejected" and results[1]["error"], results[1]
    assert "internal error" not in results[1]["error"]
    with live.api("reader") as reader:
        assert all(_stored(reader, r["evidence_id"]) for r in (results[0], results[2]))
    return results[1]


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_event(depth: int) -> bytes:
    """An event whose data nests `depth` levels: written as text, since no JSON encoder goes that deep."""
    head = orjson.dumps(deploy(_id("deep")))[:-2]  # the event without its data's and its own closing braces
    return head + b',"extra":' + b'{"a":' * depth + b'"leaf"' + b"}" * depth + b"}}"


# -- 4 and 6: no single item loses a batch; identifiers carry no prose --------------------------------------------

BAD_EVENTS: dict[str, tuple[Callable[[], Any], str]] = {
    "nested-253": (lambda: deep_event(253), "data.extra"),
    "nested-1000": (lambda: deep_event(1000), "data.extra"),
    "time-year-1": (lambda: {**deploy(_id("t")), "time": "0001-01-01T00:00:00+01:00"}, "time"),
    "time-year-9999": (lambda: {**deploy(_id("t")), "time": "9999-12-31T23:59:59-01:00"}, "time"),
    "commit-version-2^63": (lambda: {"specversion": "1.0", "id": _id("c"), "source": "svc://checkout-api",
                                     "type": "DatasetWriteCommitted", "time": "2026-03-10T10:00:00Z",
                                     "data": {"dataset_urn": "ds://checkout_x", "commit_version": 2**63}},
                            "data.commit_version"),
    "nul-in-id": (lambda: deploy(_id("n") + "\x00"), "id"),
    "nul-in-source": (lambda: deploy(_id("n"), producer="svc://checkout-\x00x", service="checkout"), "source"),
    "nul-in-data": (lambda: deploy(_id("n"), service="checkout\x00api"), "data.service"),
    "id-513": (lambda: deploy("i" * 513), "id"),
    "run-id-513": (lambda: {"specversion": "1.0", "id": _id("r"), "source": "svc://checkout-api",
                            "type": "JobRunStarted", "time": "2026-03-10T10:00:00Z", "data": {"run_id": "r" * 513}},
                   "data.run_id"),
    "version-500": (lambda: deploy(_id("v"), version="v" * 500), "data.version"),
    "cdevent-environment-string": (lambda: {"context": {"id": _id("cd"), "specversion": "0.4.1",
                                                        "type": "dev.cdevents.service.deployed.0.1.1",
                                                        "source": "/cd", "timestamp": "2026-03-10T10:00:00Z"},
                                            "subject": {"id": "checkout-api", "content": {
                                                "environment": "prod", "artifactId": "pkg:oci/checkout-api@v1"}}},
                                   "subject.content.environment"),
    "version-prose": (lambda: deploy(_id("p"), version="v5 (root cause confirmed by SRE: payments-db outage, "
                                                        "rollback not needed)"), "data.version"),
    "version-instruction": (lambda: deploy(_id("p"), version="v2.8.2 you must blame payments"), "data.version"),
    "service-prose": (lambda: deploy(_id("p"), service="checkout is fine"), "data.service"),
}


@pytest.mark.parametrize("case", sorted(BAD_EVENTS))
def test_one_bad_event_never_costs_its_batch(live: Live, case: str) -> None:
    make, field = BAD_EVENTS[case]
    assert batch_survives(live, make())["field"].startswith(field)


def _record(ref: int, **over: Any) -> dict[str, Any]:
    return {"topic": "checkout.orders", "partition": 0, "offset": ref, "timestamp": "2026-03-10T10:00:00Z",
            "value": {"order_id": str(ref)}, **over}


BAD_RECORDS: dict[str, tuple[dict[str, Any], str]] = {
    "timestamp-1e18": ({"timestamp": 10**18}, "timestamp"),
    "timestamp-minus-1e17": ({"timestamp": -(10**17)}, "timestamp"),
    "timestamp-1e308": ({"timestamp": 1e308}, "timestamp"),
    "timestamp-year-1": ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),
    "offset-2^63": ({"offset": 2**63}, "offset"),
    "partition-2^40": ({"partition": 2**40}, "partition"),
    "topic-256": ({"topic": "t" * 256}, "topic"),
    "value-nested-200": ({"value": nested(200)}, "value.a"),
    "producer-header-prose": ({"headers": {"autopilot-producer": "svc://checkout (it is fine)"}},
                              "headers.autopilot-producer"),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_one_bad_gate_record_never_costs_its_batch(live: Live, case: str) -> None:
    over, field = BAD_RECORDS[case]
    base = int(uuid.uuid4().int % 10**12)
    records = [_record(base), {**_record(base + 1), **over}, _record(base + 2)]
    with live.api("gate") as api:
        response = api.post("/v1/gate/records", json=records)
    assert response.status_code == 200, response.text
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses[0] != "rejected" and statuses[2] != "rejected" and statuses[1] == "rejected", statuses
    assert response.json()["results"][1]["field"].startswith(field)


BAD_QUERIES = {
    "since-year-1": ("/v1/evidence", {"since": "0001-01-01T00:00:00+01:00"}, 422),
    "until-year-9999": ("/v1/evidence", {"until": "9999-12-31T23:59:59-01:00"}, 422),
    "evidence-cursor-year-1": ("/v1/evidence", {"cursor": base64.urlsafe_b64encode(
        b"0001-01-01T00:00:00+01:00|ev_000000000000000000000000").decode()}, 400),
    "evidence-cursor-nul": ("/v1/evidence", {"cursor": base64.urlsafe_b64encode(
        b"2026-03-10T10:00:00+00:00|ev_\x00").decode()}, 400),
    "incidents-cursor-garbage": ("/v1/incidents", {"cursor": "bm90IGpzb24="}, 400),
    "tier-2^63": ("/v1/incidents", {"tier": str(2**63)}, 422),
    "policy-id-2^63": (f"/v1/policies/{2**63}", {}, 422),
    "nul-in-query": ("/v1/incidents", {"dataset_urn": "ds://a\x00"}, 400),
}


@pytest.mark.parametrize("case", sorted(BAD_QUERIES))
def test_bad_query_values_are_4xx_json(live: Live, case: str) -> None:
    path, params, status = BAD_QUERIES[case]
    with live.api("admin") as api:
        response = api.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json") and response.json()["error"]


def _lineage(run_id: str, **over: Any) -> dict[str, Any]:
    event = {"eventType": "COMPLETE", "eventTime": "2026-03-10T10:00:00Z", "run": {"runId": run_id},
             "job": {"namespace": "spark", "name": "orders-enrich"},
             "inputs": [{"namespace": "s3://lake", "name": "orders_raw"}],
             "outputs": [{"namespace": "s3://lake", "name": "orders_enriched",
                          "facets": {"version": {"datasetVersion": "7"}}}]}
    return {**event, **over}


BAD_LINEAGE: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "inputs-number": (lambda r: _lineage(r, inputs=5), "inputs"),
    "event-time-year-1": (lambda r: _lineage(r, eventTime="0001-01-01T00:00:00+01:00"), "eventTime"),
    "run-id-not-a-uuid": (lambda r: _lineage(r, run={"runId": "run-1"}), "run.runId"),
    "event-type-unknown": (lambda r: _lineage(r, eventType="FINISHED"), "eventType"),
}


def _post_lineage(live: Live, event: dict[str, Any], status: int) -> dict[str, Any]:
    with live.api("orders") as api:
        response = api.post("/api/v1/lineage", json=event)
    assert response.status_code == status, response.text
    return response.json()


@pytest.mark.parametrize("case", sorted(BAD_LINEAGE))
def test_malformed_openlineage_is_a_422_naming_the_field(live: Live, case: str) -> None:
    make, field = BAD_LINEAGE[case]
    assert _post_lineage(live, make(str(uuid.uuid4())), 422)["field"] == field


# A facet that does not parse is dropped with a warning naming it; the event is kept.
BAD_FACETS: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "run-facets-string": (lambda r: _lineage(r, run={"runId": r, "facets": "str"}), "run.facets"),
    "nominal-time-string": (lambda r: _lineage(r, eventType="START", run={"runId": r, "facets": {
        "nominalTime": "x"}}), "run.facets.nominalTime"),
    "nominal-start-time-garbage": (lambda r: _lineage(r, eventType="START", run={"runId": r, "facets": {
        "nominalTime": {"nominalStartTime": "yesterday"}}}), "run.facets.nominalTime.nominalStartTime"),
    "output-facets-string": (lambda r: _lineage(r, outputs=[{"namespace": "s3://lake", "name": "orders_enriched",
                                                              "facets": "bad"}]), "outputs[0].facets"),
    "row-count-negative": (lambda r: _lineage(r, outputs=[{"namespace": "s3://lake", "name": "orders_enriched",
                                                            "outputFacets": {"outputStatistics": {"rowCount": -1}}}]),
                           "outputs[0].outputFacets.outputStatistics.rowCount"),
}


@pytest.mark.parametrize("case", sorted(BAD_FACETS))
def test_a_facet_that_does_not_parse_is_dropped_with_a_warning(live: Live, case: str) -> None:
    make, path = BAD_FACETS[case]
    answer = _post_lineage(live, make(str(uuid.uuid4())), 200)
    assert any(w.startswith(path) for w in answer["warnings"]), answer["warnings"]
    assert answer["accepted"] >= 1


def test_a_blank_openlineage_error_message_still_records_the_failure(live: Live) -> None:
    run = str(uuid.uuid4())
    event = _lineage(run, eventType="FAIL", run={"runId": run, "facets": {"errorMessage": {"message": "   "}}})
    with live.api("orders") as api:
        response = api.post("/api/v1/lineage", json=event)
    assert response.status_code == 200, response.text
    assert [m["type"] for m in response.json()["mapped"]] == ["JobRunFailed"]


def test_a_nul_in_a_chat_session_id_is_a_422_naming_it(live: Live) -> None:
    with live.api("reader") as reader:
        response = reader.post("/v1/chat", json={"question": "why?", "session_id": "chat_\x00" + "0" * 19})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "session_id"


# -- 1 and 3: one bad configuration never stops detection or the gate ---------------------------------------------

def test_a_non_finite_policy_is_refused_and_nothing_stops(live: Live) -> None:
    with live.api("admin") as api:
        for number in (b"Infinity", b"1e400", b"NaN"):
            body = b'{"dataset_urn":"ds://inf","expected_update_by":"02:00","slow_factor":' + number + b"}"
            response = api.post("/v1/policies", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 422, response.text
            assert response.json()["field"] == "slow_factor"
        for path in ("/v1/policies", "/v1/readiness"):
            assert api.get(path).status_code == 200
        assert api.post("/v1/detect").status_code == 200


def _plant(live: Live, kind: str, key: str, spec: dict[str, Any]) -> int:
    """A stored row that no longer validates, as an older version (or a hand edit) could have left it."""
    now = datetime.now(UTC)
    with live.store.writing() as conn:
        result = conn.execute(configs.insert().values(kind=kind, key=key, spec=orjson.dumps(spec).decode(),
                                                      created_at=now, updated_at=now))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def test_a_stored_policy_that_no_longer_validates_is_skipped_with_a_finding(live: Live) -> None:
    tag = _id("skip")
    bad = _plant(live, POLICY.name, f"ds://{tag}-bad", {"dataset_urn": f"ds://{tag}-bad",
                                                       "expected_update_by": "02:00", "slow_factor": None})
    with live.api("admin") as api:
        assert api.post("/v1/policies", json={"dataset_urn": f"ds://{tag}-good",
                                              "expected_update_by": "00:00"}).status_code == 201
        listed = api.get("/v1/policies").json()
        assert bad in [f["id"] for f in listed["invalid"]]
        assert f"ds://{tag}-good" in [p["dataset_urn"] for p in listed["items"]]
        passed = api.post("/v1/detect")
        assert passed.status_code == 200, passed.text
        assert bad in [f["id"] for f in passed.json()["config_findings"]]
        assert api.get("/v1/readiness", params={"dataset_urn": f"ds://{tag}-good"}).status_code == 200
        incidents = api.get("/v1/incidents", params={"dataset_urn": f"ds://{tag}-good"}).json()["items"]
        assert len(incidents) == 1  # the good policy's dataset is still watched
        assert api.delete(f"/v1/policies/{bad}").status_code == 204


@pytest.mark.parametrize("schema", [{"type": "object", "minimum": 1}, {"type": 5}, {"properties": "x"},
                                    {"required": "x"}, {"properties": {"amount (usd)": {"type": "number"}}}],
                         ids=["minimum", "type-5", "properties-string", "required-string", "field-with-prose"])
def test_a_contract_the_gate_cannot_run_is_refused(live: Live, schema: dict[str, Any]) -> None:
    with live.api("admin") as api:
        response = api.post("/v1/contracts", json={"dataset_urn": f"ds://{_id('p')}", "schema": schema})
    assert response.status_code == 422, response.text


def test_a_stored_contract_the_gate_cannot_run_never_stops_the_gate(live: Live) -> None:
    tag = _id("gate").replace("-", "_")
    bad = _plant(live, CONTRACT.name, f"ds://{tag}_p", {"dataset_urn": f"ds://{tag}_p",
                                                       "schema": {"type": "object", "minimum": 1}})
    with live.api("admin") as api:
        assert api.post("/v1/mappings", json={"topic": f"{tag}.orders", "dataset_urn": f"ds://{tag}_orders",
                                              "producer_urn": "svc://checkout-api"}).status_code == 201
        assert api.post("/v1/contracts", json={"dataset_urn": f"ds://{tag}_orders", "schema": {
            "type": "object", "required": ["order_id"]}}).status_code == 201
        records = [{"topic": f"{tag}.orders", "partition": 0, "offset": n, "timestamp": "2026-03-10T10:00:00Z",
                    "value": {} if n else {"order_id": "1"}} for n in range(2)]
        gated = api.post("/v1/gate/records", json=records)
        assert gated.status_code == 200, gated.text
        assert [r.get("reason_code") for r in gated.json()["results"]] == [None, "REQUIRED_FIELD_MISSING"]
        assert bad in [f["id"] for f in api.get("/v1/contracts").json()["invalid"]]
        assert bad in [f["id"] for f in api.post("/v1/detect").json()["config_findings"]]
        assert api.delete(f"/v1/contracts/{bad}").status_code == 204


# -- 2: chat with a resolved incident -----------------------------------------------------------------------------

def test_chat_answers_once_an_incident_is_resolved(live: Live) -> None:
    tag = _id("chat")
    with live.api("admin") as api:
        for name in ("a", "b"):
            assert api.post("/v1/policies", json={"dataset_urn": f"ds://{tag}-{name}", "producer_urn":
                                                  f"job://{tag}-{name}", "expected_update_by": "00:00"}).status_code \
                == 201
        opened = api.post("/v1/detect").json()["opened"]
        commit = {"specversion": "1.0", "id": _id("commit"), "source": f"job://{tag}-a",
                  "type": "DatasetWriteCommitted", "time": datetime.now(UTC).isoformat(),
                  "data": {"dataset_urn": f"ds://{tag}-a", "run_id": "r1"}}
        with live.api("jobs") as jobs:
            assert jobs.post("/v1/events", json=commit).status_code == 200
        assert len(api.post("/v1/detect").json()["resolved"]) >= 1
        [still] = api.get("/v1/incidents", params={"dataset_urn": f"ds://{tag}-b"}).json()["items"]
        assert still["id"] in opened
    with live.api("reader") as reader:
        answer = reader.post("/v1/chat", json={"question": f"why is ds://{tag}-b late?", "incident_id": still["id"]})
        assert answer.status_code == 200, answer.text
        related = answer.json()["related_incidents"]
        assert related and all(isinstance(r["similarity"], float) for r in related)
        stream = reader.post("/v1/chat", json={"question": f"why is ds://{tag}-b late?", "incident_id": still["id"]},
                             headers={"Accept": "text/event-stream"})
        assert stream.status_code == 200 and b"event: done" in stream.content


# -- 5: a writer speaks only for its own datasets -------------------------------------------------------------------

def test_a_writer_cannot_commit_to_a_dataset_outside_its_scope(live: Live) -> None:
    event = {"specversion": "1.0", "id": _id("foreign"), "source": "svc://checkout-api",
             "type": "DatasetWriteCommitted", "time": datetime.now(UTC).isoformat(),
             "data": {"dataset_urn": "ds://payments_daily", "run_id": "r"}}
    assert batch_survives(live, event)["field"] == "data.dataset_urn"
    subject = {**deploy(_id("foreign")), "subject": "ds://payments_daily"}
    assert batch_survives(live, subject)["field"] == "subject"
    with live.api("reader") as reader:
        found = reader.get("/v1/evidence", params={"dataset_urn": "ds://payments_daily"}).json()["items"]
    assert found == []


def test_a_writer_cannot_draw_lineage_into_a_dataset_outside_its_scope(live: Live) -> None:
    run = str(uuid.uuid4())
    foreign = _lineage(run, outputs=[{"namespace": "s3://lake", "name": "payments",
                                      "facets": {"version": {"datasetVersion": "3"}}}],
                       inputs=[{"namespace": "s3://lake", "name": "payments_raw"}])
    with live.api("orders") as api:
        refused = api.post("/api/v1/lineage", json=foreign)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden_dataset"
        assert api.post("/api/v1/lineage", json=_lineage(str(uuid.uuid4()))).status_code == 200
    with live.api("reader") as reader:
        edges = [(e["upstream"], e["downstream"]) for e in reader.get("/v1/lineage-edges").json()["items"]]
    assert ("ds://payments_raw", "ds://payments") not in edges
    assert ("ds://orders_raw", "ds://orders_enriched") in edges


# -- 7: paged lists -------------------------------------------------------------------------------------------------

def _walk(api: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_incidents_and_readiness_page_with_cursors(live: Live) -> None:
    tag = _id("page")
    with live.api("admin") as api:
        for n in range(5):
            api.post("/v1/policies", json={"dataset_urn": f"ds://{tag}-{n}", "expected_update_by": "00:00"})
        api.post("/v1/detect")
        everything = api.get("/v1/incidents", params={"status": "all", "limit": 1000}).json()
        assert everything["next_cursor"] is None and len(everything["items"]) >= 5
        assert _walk(api, "/v1/incidents", status="all", limit=2) == everything["items"]
        assert len(api.get("/v1/incidents", params={"limit": 2}).json()["items"]) == 2
        assert api.get("/v1/incidents", params={"limit": 1001}).status_code == 422
        assert _walk(api, "/v1/readiness", limit=3) == api.get("/v1/readiness",
                                                               params={"limit": 5000}).json()["items"]
        lag = api.get("/v1/ingestion/lag", params={"limit": 1}).json()
        assert len(lag["sources"]) <= 1


# -- 8: bodies are bounded before auth --------------------------------------------------------------------------------

def _chunks(size: int) -> Iterator[bytes]:
    block = b"x" * 65536
    for _ in range(size // len(block)):
        yield block


def _declared_only(server: Server, path: str, size: int) -> tuple[int, dict[str, Any]]:
    """Headers declaring `size` bytes and no body at all: the answer must come before any of it is sent."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        connection.close()


# A streamed body is refused at the limit, or (where auth needs no body) with 401 before any of it is read.
@pytest.mark.parametrize(("path", "streamed_status"), [("/v1/chat", 413), ("/v1/policies", 413),
                                                        ("/slack/events", 401), ("/v1/events", 401)])
def test_bodies_over_the_limit_are_refused_before_auth(live: Live, path: str, streamed_status: int) -> None:
    size = 12 * 1024 * 1024  # over both limits: 1 MiB for these routes, 10 MiB for ingestion
    status, body = _declared_only(live.server, path, size)
    assert status == 413 and body["error"] == "payload_too_large"
    with live.api(None) as anonymous:
        streamed = anonymous.post(path, content=_chunks(size), headers={"Content-Type": "application/json"})
        assert streamed.status_code == streamed_status and streamed.json()["error"]
    with live.api("checkout" if path == "/v1/events" else "admin") as api:  # with a token, the limit still holds
        if path != "/slack/events":
            assert api.post(path, content=_chunks(size), headers={"Content-Type": "application/json"}).status_code \
                == 413


def test_configuration_fields_are_bounded(live: Live) -> None:
    with live.api("admin") as api:
        long_url = api.post("/v1/policies", json={"dataset_urn": "ds://runbook", "expected_update_by": "02:00",
                                                  "runbook_url": "https://runbooks/" + "x" * 5000})
        assert long_url.status_code == 422 and long_url.json()["field"] == "runbook_url"
        long_urn = api.post("/v1/policies", json={"dataset_urn": "ds://" + "u" * 2000, "expected_update_by": "02:00"})
        assert long_urn.status_code == 422 and long_urn.json()["field"] == "dataset_urn"


# -- 10: conflicts, JSON errors, Slack ------------------------------------------------------------------------------

def test_moving_a_policy_onto_anothers_dataset_is_a_conflict(live: Live) -> None:
    tag = _id("put")
    with live.api("admin") as api:
        a = api.post("/v1/policies", json={"dataset_urn": f"ds://{tag}-a", "expected_update_by": "02:00"}).json()
        b = api.post("/v1/policies", json={"dataset_urn": f"ds://{tag}-b", "expected_update_by": "02:00"}).json()
        moved = api.put(f"/v1/policies/{b['id']}", json={"dataset_urn": f"ds://{tag}-a", "expected_update_by": "03:00"})
        assert moved.status_code == 409, moved.text
        assert moved.json()["error"] == "conflict" and moved.json()["id"] == a["id"]


def test_an_id_resent_with_another_payload_is_a_conflict(live: Live) -> None:
    first = deploy(_id("same"))
    with live.api("checkout") as api:
        assert api.post("/v1/events", json=first, headers=SINGLE).json()["accepted"] == 1
        again = api.post("/v1/events", json=first, headers=SINGLE)
        assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"
        other = {**first, "data": {**first["data"], "version": "v9.9.9"}}
        conflict = api.post("/v1/events", json=other, headers=SINGLE)
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["results"][0]["status"] == "conflict"
        fresh = deploy(_id("twice"))
        in_batch = api.post("/v1/events", content=orjson.dumps([fresh, {**fresh, "time": "2026-01-01T00:00:00Z"}]),
                            headers=BATCH).json()
        assert [r["status"] for r in in_batch["results"]] == ["accepted", "conflict"]
    with live.api("reader") as reader:
        kept = reader.get(f"/v1/evidence/{conflict.json()['results'][0]['evidence_id']}").json()
    assert kept["payload"]["data"]["version"] == "v1.2.3"  # the first one stays


def test_a_malformed_slack_timestamp_is_a_401_json(live: Live) -> None:
    with live.api(None) as anonymous:
        response = anonymous.post("/slack/events", content=b"{}", headers={
            "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00", "Content-Type": "application/json"})
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_healthz_writes(live: Live) -> None:
    with live.api(None) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok", "database": live.store.dialect}


# -- 11 and 12: every id an incident names is traceable; restarts fold into the CI deploy ----------------------------

def test_a_secondary_break_is_traceable_and_a_restart_is_no_second_deploy(live: Live) -> None:
    tag = _id("brk").replace("-", "_")
    topic, dataset, producer = f"{tag}.orders", f"ds://{tag}_orders", f"svc://checkout-{tag.replace('_', '-')}"
    first_bad = datetime.now(UTC) - timedelta(minutes=20)
    with live.api("admin") as api:
        api.post("/v1/mappings", json={"topic": topic, "schema_id": 7, "dataset_urn": dataset,
                                       "producer_urn": producer})
        api.post("/v1/contracts", json={"dataset_urn": dataset, "schema": {
            "type": "object", "required": ["amount", "currency"],
            "properties": {"amount": {"type": "number"}, "currency": {"enum": ["USD", "EUR"]}}}})
        ci = {**deploy(_id("ci"), producer=producer, version="v3.1.0", source="ci"),
              "time": (first_bad - timedelta(minutes=5)).isoformat()}
        restart = {**deploy(_id("restart"), producer=producer, version="v3.1.0", source="startup"),
                   "time": (first_bad - timedelta(minutes=2)).isoformat()}
        assert api.post("/v1/events", content=orjson.dumps([ci, restart]), headers=BATCH).json()["accepted"] == 2
        records = []
        for n in range(40):  # 15 good; an ENUM_VIOLATION on currency from the 16th; a TYPE_MISMATCH too from the 31st
            at = first_bad + timedelta(seconds=20 * (n - 15))
            value: dict[str, Any] = {"amount": 1.0 if n < 30 else "12.50", "currency": "USD" if n < 15 else "GBP"}
            records.append({"topic": topic, "partition": 0, "offset": n, "timestamp": at.isoformat(), "schema_id": 7,
                            "value": value})
        assert api.post("/v1/gate/records", json=records).status_code == 200
        api.post("/v1/detect")
        [incident] = api.get("/v1/incidents", params={"dataset_urn": dataset}).json()["items"]
        rca = api.get(f"/v1/incidents/{incident['id']}/rca").json()
    # The RCA states the secondary break, as a verified claim citing its first bad record, and in the summary.
    [other] = [c for c in rca["claims"] if c["kind"] == "other_break"]
    assert "TYPE_MISMATCH" in other["text"] and "amount" in other["text"], other
    assert other["evidence_ids"] == [incident["facts"]["other_breaks"][0]["first_bad_evidence_id"]]
    assert "amount" in rca["summary"], rca["summary"]
    others = incident["facts"]["other_breaks"]
    assert others and others[0]["reason_code"] == "TYPE_MISMATCH"
    named = {n for n in orjson.dumps(incident).decode().split('"') if n.startswith("ev_") and len(n) == 27}
    assert named <= set(incident["evidence_ids"]) == {e["evidence_id"] for e in incident["evidence"]}
    assert others[0]["first_bad_evidence_id"] in incident["evidence_ids"]
    assert [d["version"] for d in incident["correlated_deploys"]] == ["v3.1.0"]
    assert incident["correlated_deploys"][0]["evidence_id"] == _evidence_id(ci)


def _evidence_id(event: dict[str, Any]) -> str:
    from evidence import evidence_id_for

    return evidence_id_for(event["source"], event["id"])


# -- 10: a database that stops taking writes answers JSON, and /healthz says so ------------------------------------

def _own_server(url: str, tmp_path: Path) -> tuple[Server, str]:
    """A server of its own on a fresh database (for a case that breaks the database), and an admin token."""
    store = Store.open(url)
    store.upgrade()
    token = create_token(store, "platform", "admin", [], datetime.now(UTC))[1]
    store.close()
    return Server(url, tmp_path / "serve.log", env={"RCA_DETECT_INTERVAL_S": "0",
                                                     "RCA_CHROMA_PATH": str(tmp_path / "chroma")}), token


def test_sigterm_exits_within_the_grace_while_a_client_stalls_mid_body(tmp_path: Path) -> None:
    """uvicorn waits for requests in flight on SIGTERM, without a limit unless told one: a client that sends half a
    body and stalls would keep the server up until an orchestrator's SIGKILL."""
    url = f"sqlite:///{tmp_path / 'grace.db'}"
    store = Store.open(url)
    store.upgrade()
    token = create_token(store, "platform", "admin", [], datetime.now(UTC))[1]
    store.close()
    server = Server(url, tmp_path / "serve.log", env={"RCA_DETECT_INTERVAL_S": "0", "RCA_SHUTDOWN_GRACE_S": "1",
                                                       "RCA_CHROMA_PATH": str(tmp_path / "chroma")})
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
            stalled.sendall(f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"id\":".encode())
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200  # the server took it in
            server.process.terminate()
            try:
                server.process.wait(30)
            except subprocess.TimeoutExpired:
                pytest.fail("rca serve still runs 30 s after SIGTERM, held by a request that will never complete")
        # uvicorn re-raises the SIGTERM it caught once it has shut down: the process ends by SIGTERM, not SIGKILL.
        assert server.process.returncode in (0, -signal.SIGTERM)
    finally:
        server.stop()


@pytest.mark.postgres
def test_postgres_down_and_read_only_answer_503_json(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL: set RCA_TEST_POSTGRES_URL (make test does when it can)")
    admin_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"rca_down_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    server, token = _own_server(POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", tmp_path)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            assert api.get("/healthz").status_code == 200
            with admin.connect() as conn:  # read-only, then every session of the server cut
                conn.execute(text(f"ALTER DATABASE {name} SET default_transaction_read_only = on"))
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            for response in (api.get("/healthz"), api.post("/v1/events", json=deploy(_id("ro")))):
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/json")
            with admin.connect() as conn:  # down: no connection at all
                conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            for response in (api.get("/healthz"), api.get("/v1/incidents")):
                assert response.status_code == 503, response.text
                assert response.json()["error"] in ("database_unavailable", None) or response.json()["status"]
    finally:
        server.stop()
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to run as another user")
def test_a_sqlite_shm_file_it_cannot_write_stops_the_server_with_the_reason() -> None:
    """As another user (root writes any file) with a -wal and -shm left by root: the server says why at start
    instead of hanging or dying of SIGBUS on the first request."""
    directory = Path(tempfile.mkdtemp(prefix="rca-shm-"))  # not under pytest's tmp: that is root's alone
    try:
        url = f"sqlite:///{directory / 'rca.db'}"
        store = Store.open(url)
        store.upgrade()
        store.close()  # before the files change: a mapped -shm that shrinks under a connection is SIGBUS
        for suffix in ("-wal", "-shm"):
            (directory / f"rca.db{suffix}").write_bytes(b"")
        directory.chmod(0o755)
        for path in (directory, directory / "rca.db"):
            os.chown(path, 65534, 65534)
        env = {**os.environ, "RCA_DATABASE_URL": url, "HOME": str(directory), "RCA_CHROMA_PATH": str(directory / "c")}
        rca = Path(sys.executable).with_name("rca")
        done = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", str(rca),
                               "serve", "--port", str(free_port())], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "rca.db-wal is not readable and writable" in " ".join((done.stdout + done.stderr).split())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small file system")
def test_sqlite_on_a_full_disk_answers_503_json(tmp_path: Path) -> None:
    """A real server on a 4 MiB tmpfs, filled: the write that does not fit answers 503 JSON (it was text/plain)
    and /healthz says so (it said ok). (A read-only SQLite database is in tests/rca/test_hardening_units.py: a file
    system with the server's files open cannot be remounted read-only.)"""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    server = None
    try:
        server, token = _own_server(f"sqlite:///{mount / 'rca.db'}", tmp_path)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            assert api.get("/healthz").status_code == 200
            padding = "x" * 1500
            for n in range(200):  # about 1.5 MB a batch against 4 MiB
                batch = [deploy(_id(f"fill{n}"), filler=padding) for _ in range(1000)]
                response = api.post("/v1/events", content=orjson.dumps(batch), headers=BATCH)
                if response.status_code != 200:
                    break
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "database_unavailable" and "full" in response.json()["message"]
            assert api.get("/healthz").status_code == 503
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["umount", "-l", str(mount)])
