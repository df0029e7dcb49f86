"""Every backbone metric, scraped from a real `rca serve` and read with prometheus-client's own parser."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from detectors._scenario import load_scenario
from support import REFERENCE

SPRING = load_scenario(REFERENCE / "spring_missing_customer_id.yaml")
# A model that proposes one claim citing nothing and one citing an id that does not exist.
CLAIMS = {"claims": [
    {"text": "The deploy broke it.", "kind": "deploy_correlated", "evidence_ids": [], "params": []},
    {"text": "customer_id went missing.", "kind": "contract_break", "evidence_ids": ["ev_000000000000000000000000"],
     "params": []},
]}


class _Model(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(CLAIMS)},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def model_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _shift(value: str, by: timedelta) -> str:
    return (datetime.fromisoformat(value.replace("Z", "+00:00")) + by).isoformat()


def metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_metric_after_events_gate_records_a_pass_and_an_rca(serve, model_url: str, tmp_path: Path) -> None:
    server = serve(f"sqlite:///{tmp_path / 'rca.db'}", "--insecure-no-auth", env={
        "RCA_DETECT_INTERVAL_S": "0", "RCA_LLM_MODEL": "scripted", "RCA_LLM_BASE_URL": model_url,
        "RCA_LLM_TIMEOUT": "10", "RCA_CHROMA_PATH": str(tmp_path / "chroma")})
    # The reference story, moved so that it ends now: its records arrive up to half an hour late.
    shift = datetime.now(UTC).replace(microsecond=0) - SPRING.now
    events = copy.deepcopy(SPRING.events)
    for event in events:
        event["time"] = _shift(event["time"], shift)
    messages = copy.deepcopy(SPRING.messages)
    for message in messages:
        message["timestamp"] = _shift(message["timestamp"], shift)
        message.pop("ingest_time", None)
    drifted = dict(messages[-1], offset=99_999, schema_id=43)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for plural, items in (("contracts", SPRING.contracts), ("mappings", SPRING.mappings)):
            for spec in items:
                body = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
                assert client.post(f"/v1/{plural}", json=body).status_code == 201
        assert client.post("/v1/events", json=events).json()["accepted"] == len(events)
        assert client.post("/v1/events", json=[{"id": "x"}]).json()["rejected"] == 1
        batches = [messages[i : i + 150] for i in range(0, len(messages), 150)] + [[drifted]]
        for batch in batches:
            assert client.post("/v1/gate/records", json=batch).status_code == 200
        detect = client.post("/v1/detect").json()
        assert len(detect["opened"]) == 2  # the contract break and the drift
        incidents = {i["kind"]: i for i in client.get("/v1/incidents").json()["items"]}
        rca = client.get(f"/v1/incidents/{incidents['contract']['id']}/rca").json()
    assert {(r["kind"], r["reason"]) for r in rca["rejected_claims"]} >= {("deploy_correlated", "no_citation"),
                                                                         ("contract_break", "not_found")}
    assert "The deploy broke it." not in json.dumps(rca)  # the audit names proposals; it never repeats their words
    assert incidents["contract"]["stale_evidence"] is True

    seen = metrics(server.url)

    def value(name: str, **labels: str) -> float:
        return seen[(name, tuple(sorted(labels.items())))]

    events_, gate = {"endpoint": "/v1/events", "format": "cloudevents"}, {"endpoint": "/v1/gate/records",
                                                                          "format": "kafka"}
    assert value("rca_ingest_events_total", **events_, status="accepted") == len(events)
    assert value("rca_ingest_events_total", **events_, status="rejected") == 1
    assert value("rca_ingest_events_total", **gate, status="accepted") == len(messages)
    assert value("rca_ingest_events_total", **gate, status="held") == 1
    assert value("rca_resolution_latency_seconds_count") == len(batches)
    assert 0 < value("rca_resolution_latency_seconds_sum") < 60
    assert value("rca_detector_pass_duration_seconds_count", trigger="api") == 1
    assert value("rca_incident_creation_latency_seconds_count", kind="contract") == 1
    assert value("rca_incident_creation_latency_seconds_count", kind="drift") == 1
    # First bad was ingested seconds ago (all records arrived just now), not when it happened 9 minutes ago.
    assert 0 <= value("rca_incident_creation_latency_seconds_sum", kind="contract") < 120
    assert value("rca_drift_detection_seconds_count") == 1
    assert value("rca_verifier_rejections_total", reason="no_citation") >= 1
    assert value("rca_verifier_rejections_total", reason="not_found") >= 1
    assert value("rca_ingestion_lag_p95_seconds") > 120
    # Each stored event is observed as it arrives: as lag, or (the story's deploy of days before) as a backfill.
    assert value("rca_ingestion_lag_seconds_count", endpoint="/v1/events") + value(
        "rca_ingest_backfill_events_total", endpoint="/v1/events") == len(events)
    assert value("rca_ingestion_lag_alert") == 1
    assert value("rca_ingestion_lag_threshold_seconds") == 120
