"""The metrics seam: one registry per app. The scrape of a live server is in tests/e2e."""

from __future__ import annotations

import json
from datetime import timedelta

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rca._metrics import _LAG, observe_all


def test_each_app_counts_in_its_own_registry(make_client) -> None:
    first, second = make_client(), make_client()
    event = {"specversion": "1.0", "id": "d-1", "source": "svc://a", "type": "DeploymentEvent",
             "time": "2026-03-10T10:20:00Z", "data": {"service": "a", "version": "v1"}}
    assert first.post("/v1/events", json=event).status_code == 200

    def accepted(client) -> float:
        families = text_string_to_metric_families(client.get("/metrics").text)
        return sum(s.value for f in families for s in f.samples
                   if s.name == "rca_ingest_events_total" and s.labels.get("status") == "accepted")

    assert (accepted(first), accepted(second)) == (1.0, 0.0)


def test_the_grafana_dashboard_charts_every_metric_and_the_lag_threshold(make_client) -> None:
    import json

    import yaml

    from support import ROOT

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "rca-backbone.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    families = text_string_to_metric_families(make_client().get("/metrics").text)
    exposed = {f.name for f in families if not f.name.endswith("_created")
               and not f.name.startswith(("rca_adoption_", "rca_platform_"))}  # the adoption dashboard's (below)
    assert exposed == {"rca_ingest_events", "rca_resolution_latency_seconds", "rca_drift_detection_seconds",
                       "rca_incident_creation_latency_seconds", "rca_detector_pass_duration_seconds",
                       "rca_verifier_rejections", "rca_ingestion_lag_seconds", "rca_ingestion_lag_alert",
                       "rca_ingestion_lag_threshold_seconds", "rca_ingestion_lag_p95_seconds",
                       "rca_ingestion_lag_age_seconds", "rca_ingest_backfill_events", "rca_http_refused_requests",
                       "rca_slack_announcements"}
    assert all(name in exprs for name in exposed)
    [lag] = [p for p in dashboard["panels"] if p["title"].startswith("Ingestion lag (")]
    assert lag["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == 120
    [rule] = [r for g in yaml.safe_load((ROOT / "deploy" / "prometheus" / "rca-alerts.yml").read_text())["groups"]
              for r in g["rules"] if r["alert"] == "RcaIngestionLagOver2Minutes"]
    assert rule["expr"] == "max(rca_ingestion_lag_alert) == 1"


def _samples(client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    families = text_string_to_metric_families(client.get("/metrics", headers=headers).text)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def _types(client) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(client.get("/metrics").text)}


def test_lag_is_a_histogram_with_no_quantile_label_and_the_verdict_a_plain_gauge(make_client) -> None:
    client = make_client()
    types = _types(client)
    assert (types["rca_ingestion_lag_seconds"], types["rca_ingestion_lag_p95_seconds"],
            types["rca_ingestion_lag_alert"], types["rca_http_refused_requests"]) == (
        "histogram", "gauge", "gauge", "counter")
    assert not any("quantile" in dict(labels) for _, labels in _samples(client))


def _deploy(event_id: str, time: str) -> dict[str, object]:
    return {"specversion": "1.0", "id": event_id, "source": "svc://a", "type": "DeploymentEvent", "time": time,
            "data": {"service": "a", "version": "v1"}}


def test_lag_is_measured_at_arrival_and_a_backfill_never_raises_the_stale_alert(make_client, clock) -> None:
    client = make_client()
    # Last year's history replayed: a backfill, counted apart, no lag, no alert.
    old = [_deploy(f"old-{i}", "2025-03-10T10:00:00Z") for i in range(5)]
    assert client.post("/v1/events", json=old).json()["accepted"] == 5
    seen = _samples(client)
    assert seen[("rca_ingest_backfill_events_total", (("endpoint", "/v1/events"),))] == 5
    assert seen[("rca_ingestion_lag_seconds_count", (("endpoint", "/v1/events"),))] == 0
    assert seen[("rca_ingestion_lag_alert", ())] == 0
    assert seen[("rca_ingestion_lag_p95_seconds", ())] == 0
    # Live evidence ten minutes late: lag, observed as it arrived, and the alert (threshold 120 s).
    late = (clock() - timedelta(minutes=10)).isoformat()
    assert client.post("/v1/events", json=[_deploy(f"late-{i}", late) for i in range(3)]).json()["accepted"] == 3
    seen = _samples(client)
    assert seen[("rca_ingestion_lag_seconds_count", (("endpoint", "/v1/events"),))] == 3
    assert seen[("rca_ingestion_lag_seconds_sum", (("endpoint", "/v1/events"),))] == 1800
    assert seen[("rca_ingestion_lag_p95_seconds", ())] == 600
    assert seen[("rca_ingestion_lag_alert", ())] == 1
    assert seen[("rca_ingest_backfill_events_total", (("endpoint", "/v1/events"),))] == 5


def test_ingests_are_labelled_by_endpoint_and_format(make_client) -> None:
    from support import CONFORMANCE

    client = make_client()
    cdevent = json.loads((CONFORMANCE / "cdevents_service_deployed.json").read_text())
    assert client.post("/v1/events", json=[cdevent, _deploy("d-1", "2026-03-10T10:20:00Z")]).status_code == 200
    lineage = json.loads((CONFORMANCE / "openlineage_full_complete_event.json").read_text())
    assert client.post("/api/v1/lineage", json=lineage).status_code == 200
    seen = _samples(client)

    def accepted(endpoint: str, format: str) -> float:
        return seen.get(("rca_ingest_events_total", (("endpoint", endpoint), ("format", format),
                                                      ("status", "accepted"))), 0.0)

    assert (accepted("/v1/events", "cdevents"), accepted("/v1/events", "cloudevents")) == (1, 1)
    assert accepted("/api/v1/lineage", "openlineage") >= 1


def test_refused_requests_are_counted_by_route_and_reason(make_client, tokens) -> None:
    client = make_client(auth=True, max_request_bytes=1024)
    reader, admin = {"Authorization": f"Bearer {tokens['reader']}"}, {"Authorization": f"Bearer {tokens['admin']}"}
    assert client.post("/v1/events", json=[]).status_code == 401
    assert client.post("/v1/events", json=[], headers=reader).status_code == 403
    assert client.post("/v1/events", content=b"x", headers={**admin, "Content-Type": "text/plain"}).status_code == 415
    assert client.post("/v1/policies", json={"dataset_urn": "nope"}, headers=admin).status_code == 422
    assert client.post("/v1/policies", content=b"{" * 2000, headers={**admin, "Content-Type": "application/json"}
                       ).status_code == 413
    assert client.get("/v1/nothing-here", headers=admin).status_code == 404
    seen = _samples(client, **reader)

    def refused(endpoint: str, reason: str) -> float:
        return seen.get(("rca_http_refused_requests_total", (("endpoint", endpoint), ("reason", reason))), 0.0)

    assert [refused("/v1/events", r) for r in ("unauthorized", "forbidden", "unsupported_media_type")] == [1, 1, 1]
    assert (refused("/v1/policies", "invalid"), refused("/v1/policies", "payload_too_large")) == (1, 1)
    assert refused("unmatched", "not_found") == 1


def test_the_adoption_dashboard_charts_every_adoption_and_platform_metric(make_client) -> None:
    import json

    from support import ROOT

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "rca-adoption.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    families = text_string_to_metric_families(make_client().get("/metrics").text)
    exposed = {f.name for f in families if f.name.startswith(("rca_adoption_", "rca_platform_"))}
    assert exposed == {"rca_adoption_onboarded_services", "rca_adoption_pr_time_to_merge_hours",
                       "rca_adoption_pr_time_to_merge_hours_week", "rca_adoption_revert_rate",
                       "rca_adoption_reverts_week", "rca_adoption_sdk_drop_rate", "rca_adoption_sdk_error_rate",
                       "rca_adoption_ring_repositories", "rca_adoption_ring_flag", "rca_adoption_ring_services_on",
                       "rca_platform_incidents",
                       "rca_platform_evidence_backed_boundaries_ratio", "rca_platform_correlated_deploy_ratio",
                       "rca_platform_drift_remediation_hours", "rca_platform_false_positive_ratio",
                       "rca_platform_inconclusive_ratio", "rca_platform_report_age_seconds"}
    assert all(name in exprs for name in exposed)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_a_scrape_reads_a_few_rows_a_source_not_every_row_of_the_stale_window(make_client, store, clock) -> None:
    # Issue 13: the scrape parsed every row that arrived in the stale window (hundreds of thousands under load) and
    # timed out. Counted, not timed: the statements the scrape issues are run again and their rows counted.
    from sqlalchemy import event

    client = make_client()
    for batch in range(4):  # 2,000 rows of two sources in the window, lags of 0 to 499 s
        sent = [{**_deploy(f"w{batch}-{i}", (clock() - timedelta(seconds=i)).isoformat()),
                 "source": f"svc://s{batch % 2}"} for i in range(500)]
        assert client.post("/v1/events", json=sent).json()["accepted"] == 500
    statements: list[tuple[str, object]] = []

    def issued(conn, cursor, statement, parameters, context, executemany) -> None:
        if "evidence" in statement and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", issued)
    try:
        seen = _samples(client)
    finally:
        event.remove(store.engine, "before_cursor_execute", issued)
    assert seen[("rca_ingestion_lag_p95_seconds", ())] == 474  # nearest rank 950 of 0..499 s twice, both sources
    assert seen[("rca_ingestion_lag_alert", ())] == 1
    assert 0 <= seen[("rca_ingestion_lag_age_seconds", ())] < 60
    assert statements
    with store.engine.connect() as conn:
        rows = sum(len(conn.exec_driver_sql(sql, params).all()) for sql, params in statements)  # type: ignore[arg-type]
    assert rows <= 10


def test_a_scrape_serves_the_last_reading_while_a_slow_one_is_under_way_and_never_starts_two() -> None:
    import threading

    from rca._metrics import OffScrape

    release, calls = threading.Event(), []

    def compute() -> int:
        calls.append(1)
        if len(calls) > 1:
            release.wait(30)
        return len(calls)

    figure = OffScrape("test", compute, max_age_s=0.0, wait_s=0.05)
    assert figure.get()[0] == 1
    for _ in range(5):  # the second reading hangs: each scrape waits 0.05 s, then serves the first, older and older
        value, age = figure.get()
        assert value == 1 and age is not None and age > 0
    assert len(calls) == 2
    release.set()
    assert any(figure.get()[0] >= 2 for _ in range(200))  # then the next scrapes serve the newer readings


def test_observing_a_batch_at_once_exposes_what_observing_each_value_does() -> None:
    values = [0.0, 0.001, 0.5, 1.0, 1.0000001, 59.9, 60.0, 3600.0, 1e9, 7.25]
    edges = [b for b in _LAG if b != float("inf")]
    values += edges + [b * 1.5 for b in edges]
    one, many = CollectorRegistry(), CollectorRegistry()
    each, batch = (Histogram("lag_seconds", "lag", ["endpoint"], buckets=_LAG, registry=r) for r in (one, many))
    for value in values:
        each.labels("/v1/events").observe(value)
    observe_all(batch.labels("/v1/events"), values)
    observe_all(batch.labels("/v1/events"), [])

    def exposed(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
        return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(generate_latest(registry)
                .decode()) for s in family.samples if not s.name.endswith("_created")]

    assert exposed(many) == exposed(one)
    assert ("lag_seconds_count", {"endpoint": "/v1/events"}, float(len(values))) in exposed(many)
