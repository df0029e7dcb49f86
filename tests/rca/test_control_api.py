"""The control plane through the API: drafts, readiness, false positives, quality rates, /metrics access."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from detectors._scenario import load_into, load_scenario
from support import REFERENCE, ROOT, bearer

SPRING = load_scenario(REFERENCE / "spring_missing_customer_id.yaml")
SLOW = load_scenario(REFERENCE / "spark_job_running_slow.yaml")
PAYMENTS = load_scenario(ROOT / "evals" / "scenarios" / "payments_healthy_topic.yaml")


def test_drafts_are_suggested_listed_accepted_and_dismissed(make_client, tokens, store, clock) -> None:
    scenario = copy.deepcopy(SLOW)
    scenario.policies = []
    load_into(store, scenario)
    clock.now = SLOW.now
    client = make_client(auth=True)
    admin, reader = bearer(tokens["admin"]), bearer(tokens["reader"])
    assert client.post("/v1/policy-drafts/suggest", headers=reader).status_code == 403
    suggested = client.post("/v1/policy-drafts/suggest", json={"timezones": {
        "ds://curated/orders_enriched": "America/New_York"}}, headers=admin)
    [draft] = suggested.json()["items"]
    assert (draft["kind"], draft["spec"]["expected_update_by"], draft["status"]) == ("policy", "02:00", "draft")
    assert client.get("/v1/policy-drafts", params={"status": "draft"}, headers=reader).json()["items"] == [draft]
    bad = client.post(f"/v1/policy-drafts/{draft['id']}/accept", json={"edits": {"timezone": "Mars/Olympus"}},
                      headers=admin)
    assert bad.status_code == 422
    accepted = client.post(f"/v1/policy-drafts/{draft['id']}/accept", json={"edits": {"tier": 1}}, headers=admin)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    [policy] = client.get("/v1/policies", headers=reader).json()["items"]
    assert (policy["expected_update_by"], policy["tier"]) == ("02:00", 1)
    again = client.post(f"/v1/policy-drafts/{draft['id']}/dismiss", headers=admin)
    assert again.status_code == 409 and "already accepted" in again.json()["message"]
    assert client.post("/v1/policy-drafts/pd_nope/accept", headers=admin).status_code == 404


def test_readiness_of_the_brief_example(client, store, clock) -> None:
    scenario = copy.deepcopy(PAYMENTS)
    for message in scenario.messages:
        message["headers"].pop("traceparent", None)
    scenario.contracts = [c.model_copy(update={"runbook_url": None}) for c in scenario.contracts]
    load_into(store, scenario)
    clock.now = PAYMENTS.now
    [dataset] = client.get("/v1/readiness", params={"dataset_urn": "ds://payments_settlements"}).json()["items"]
    assert dataset["score"] == 69
    assert {c["name"]: c["met"] for c in dataset["criteria"]} == {
        "trace_anchors": False, "identity_confidence": True, "deploy_correlation": True,
        "policy_completeness": False}
    assert dataset["backlog"] == ["add trace anchors (traceparent) for 1 producer: svc://payments-service",
                                  "attach a runbook (runbook_url) for ds://payments_settlements"]
    everything = client.get("/v1/readiness").json()["items"]
    assert [(r["kind"], r["subject"]) for r in everything] == [
        ("dataset", "ds://payments_settlements"), ("producer", "svc://payments-service")]


def test_a_false_positive_leaves_the_open_list_is_not_reopened_and_counts_in_quality(client, store, clock) -> None:
    load_into(store, SPRING)
    clock.now = SPRING.now
    assert len(client.post("/v1/detect").json()["opened"]) == 1
    [incident] = client.get("/v1/incidents").json()["items"]
    assert client.post(f"/v1/incidents/{incident['id']}/false-positive", json={}).status_code == 422
    marked = client.post(f"/v1/incidents/{incident['id']}/false-positive", json={"reason": "test traffic"})
    assert marked.status_code == 200
    assert marked.json()["false_positive"] == {"reason": "test traffic", "by": "auth-disabled",
                                               "at": "2026-03-10T10:30:00Z"}
    assert client.get("/v1/incidents").json()["items"] == []
    clock.advance(minutes=1)
    assert client.post("/v1/detect").json()["opened"] == []
    [closed] = client.get("/v1/incidents", params={"status": "false_positive"}).json()["items"]
    assert closed["id"] == incident["id"]
    assert client.post("/v1/incidents/inc_nope/false-positive", json={"reason": "x"}).status_code == 404
    by_dataset = client.get("/v1/quality").json()
    assert by_dataset["items"] == [{"dataset": "ds://orders_v1", "incidents": 1, "false_positives": 1, "rcas": 0,
                                    "inconclusive": 0, "false_positive_rate": 1.0, "inconclusive_rate": None}]
    [day] = client.get("/v1/quality", params={"by": "day"}).json()["items"]
    assert day["day"] == "2026-03-10" and day["false_positive_rate"] == 1.0


def test_quality_counts_inconclusive_rcas(client, store, clock) -> None:
    scenario = copy.deepcopy(SPRING)
    scenario.events = [e for e in scenario.events if e["type"] != "DeploymentEvent"]  # a symptom without a cause
    load_into(store, scenario)
    clock.now = SPRING.now
    client.post("/v1/detect")
    [row] = client.get("/v1/quality").json()["items"]
    assert (row["rcas"], row["inconclusive"], row["inconclusive_rate"], row["false_positive_rate"]) == (1, 1, 1.0, 0.0)


def test_metrics_need_a_reader_token_unless_public(make_client, tokens) -> None:
    client = make_client(auth=True)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(tokens["checkout"])).status_code == 403
    scraped = client.get("/metrics", headers=bearer(tokens["reader"]))
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(scraped.text)}
    assert {"rca_ingestion_lag_seconds", "rca_ingestion_lag_p95_seconds", "rca_ingestion_lag_alert"} <= names
    assert make_client(auth=True, metrics_public=True).get("/metrics").status_code == 200


def test_records_of_a_mapped_dataset_without_a_contract_feed_readiness_and_a_contract_draft(client, clock) -> None:
    client.post("/v1/mappings", json={"topic": "refunds.created", "dataset_urn": "ds://refunds",
                                      "producer_urn": "svc://refund-service"}).raise_for_status()
    records = [{"topic": "refunds.created", "partition": 0, "offset": i, "key": f"r-{i}",
                "timestamp": f"2026-03-10T10:{i:02d}:00Z",
                "headers": {"autopilot-producer": "svc://refund-service",
                            "traceparent": f"00-{i + 1:032x}-{i + 1:016x}-01"},
                "value": {"refund_id": f"r-{i}", "amount": 3.5 + i, "reason": ["damaged", "late"][i % 2]}}
               for i in range(20)]
    stored = client.post("/v1/gate/records", json=records).json()
    assert (stored["accepted"], stored["held"]) == (20, 0)
    evidence = client.get("/v1/evidence", params={"dataset_urn": "ds://refunds", "limit": 100}).json()["items"]
    assert len(evidence) == 20 and all(e["payload"]["no_contract"] and not e["payload"]["violations"]
                                       for e in evidence)
    clock.now = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    [readiness] = client.get("/v1/readiness", params={"dataset_urn": "ds://refunds"}).json()["items"]
    assert readiness["score"] > 0
    assert {c["name"]: c["met"] for c in readiness["criteria"]}["trace_anchors"] is True
    drafts = client.post("/v1/policy-drafts/suggest", json={}).json()["items"]
    [contract] = [d for d in drafts if d["kind"] == "contract"]
    assert contract["spec"]["dataset_urn"] == "ds://refunds"
    assert contract["spec"]["schema"]["required"] == ["amount", "reason", "refund_id"]
    assert contract["spec"]["schema"]["properties"]["reason"]["enum"] == ["damaged", "late"]
