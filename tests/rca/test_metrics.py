"""The metrics seam: one registry per app. The scrape of a live server is in tests/e2e."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


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
                       "rca_ingestion_lag_threshold_seconds"}
    assert all(name in exprs for name in exposed)
    [lag] = [p for p in dashboard["panels"] if p["title"].startswith("Ingestion lag (")]
    assert lag["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == 120
    [rule] = [r for g in yaml.safe_load((ROOT / "deploy" / "prometheus" / "rca-alerts.yml").read_text())["groups"]
              for r in g["rules"] if r["alert"] == "RcaIngestionLagOver2Minutes"]
    assert rule["expr"] == "max(rca_ingestion_lag_alert) == 1"


def test_the_adoption_dashboard_charts_every_adoption_and_platform_metric(make_client) -> None:
    import json

    from support import ROOT

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "rca-adoption.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    families = text_string_to_metric_families(make_client().get("/metrics").text)
    exposed = {f.name for f in families if f.name.startswith(("rca_adoption_", "rca_platform_"))}
    assert exposed == {"rca_adoption_onboarded_services", "rca_adoption_pr_time_to_merge_hours",
                       "rca_adoption_revert_rate", "rca_adoption_sdk_drop_rate", "rca_adoption_sdk_error_rate",
                       "rca_adoption_ring_repositories", "rca_adoption_ring_flag", "rca_platform_incidents",
                       "rca_platform_evidence_backed_boundaries_ratio", "rca_platform_correlated_deploy_ratio",
                       "rca_platform_drift_remediation_hours", "rca_platform_false_positive_ratio",
                       "rca_platform_inconclusive_ratio"}
    assert all(name in exprs for name in exposed)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
