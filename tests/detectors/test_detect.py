"""The detector pass: incidents opened, updated, resolved; stale evidence; lineage impact."""

from datetime import UTC, datetime, timedelta

import pytest

import detectors._detect as detect
from detectors import DetectSettings, intake_records, run_detectors, stored_incident, stored_incidents
from detectors._scenario import load_into, load_scenario
from evidence import LineageEdge, to_json
from evidence._configs import LINEAGE, Configs
from support import REFERENCE, ROOT

SPRING = REFERENCE / "spring_missing_customer_id.yaml"
NOT_TRIGGERED = REFERENCE / "spark_job_not_triggered.yaml"


def good(offset: int, at: datetime, ingest: datetime | None = None) -> dict:
    record = {"topic": "orders.created", "partition": 0, "offset": offset, "timestamp": at.isoformat(),
              "schema_id": 42, "headers": {"autopilot-producer": "svc://checkout-service"},
              "value": {"order_id": f"o-{offset}", "customer_id": "c-1", "amount": 1.0, "currency": "USD"}}
    if ingest:
        record["ingest_time"] = ingest.isoformat()
    return record


def test_an_incident_opens_updates_and_resolves(store) -> None:
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    first = run_detectors(store, scenario.now)
    [incident] = [to_json(i) for i in first.incidents]
    assert first.opened == [incident["id"]]
    assert incident["detected_at"] == "2026-03-10T10:30:00Z"
    # a later pass updates the same incident rather than opening a second one
    later = scenario.now + timedelta(minutes=10)
    second = run_detectors(store, later)
    assert second.opened == [] and [i.id for i in second.incidents] == [incident["id"]]
    assert stored_incident(store, incident["id"])["updated_at"] == "2026-03-10T10:40:00Z"
    assert stored_incident(store, incident["id"])["detected_at"] == "2026-03-10T10:30:00Z"
    # good records only for more than the recovery window: resolved
    healed_at = scenario.now + timedelta(minutes=90)
    intake_records(store, [good(6000 + i, scenario.now + timedelta(minutes=i)) for i in range(80)], healed_at)
    third = run_detectors(store, healed_at)
    assert third.resolved == [incident["id"]] and third.incidents == []
    assert stored_incidents(store) == []
    [resolved] = stored_incidents(store, status="resolved")
    assert resolved["resolved_at"] == "2026-03-10T12:00:00Z"


def test_impact_follows_lineage_transitively(store) -> None:
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    Configs(store).put(LINEAGE, LineageEdge(upstream="ds://curated/orders_enriched", downstream="ds://bi/revenue"),
                       scenario.now)
    [incident] = [to_json(i) for i in run_detectors(store, scenario.now).incidents]
    assert incident["impacted_downstream"] == ["ds://bi/revenue", "ds://curated/orders_enriched"]


@pytest.mark.parametrize("action", ["tag", "pause"])
def test_lagging_ingestion_tags_or_pauses_incidents(store, action) -> None:
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    now = scenario.now
    # the last five minutes of records arrived four minutes late
    late = [good(7000 + i, now - timedelta(seconds=10 * i + 1), ingest=now - timedelta(seconds=10 * i + 1)
                 + timedelta(minutes=4)) for i in range(20)]
    intake_records(store, late, None, trust_ingest_time=True)
    result = run_detectors(store, now + timedelta(minutes=4), DetectSettings(stale_action=action))
    if action == "tag":
        [incident] = [to_json(i) for i in result.incidents]
        assert incident["stale_evidence"] is True
        assert incident["facts"]["ingestion_lag_p95_s"] >= 230
    else:
        assert result.incidents == [] and result.paused == ["ds://orders_v1 contract"]


def test_a_backfill_of_old_records_never_tags_incidents_stale(store) -> None:
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    now = scenario.now
    # last week's records of the same topic replayed now: each arrives days after its time, and that is not lag
    replayed = [good(8000 + i, now - timedelta(days=7, seconds=i), ingest=now) for i in range(20)]
    intake_records(store, replayed, None, trust_ingest_time=True)
    [incident] = [to_json(i) for i in run_detectors(store, now + timedelta(minutes=1)).incidents]
    assert incident["stale_evidence"] is False
    # with the boundary past a week, the same arrivals are lag, and stale
    [incident] = run_detectors(store, now + timedelta(minutes=1),
                               DetectSettings(backfill_after_s=30 * 86400.0)).incidents
    assert incident.stale_evidence is True


def test_freshness_incident_carries_ownership_from_the_policy(store) -> None:
    scenario = load_scenario(NOT_TRIGGERED)
    load_into(store, scenario)
    [incident] = [to_json(i) for i in run_detectors(store, scenario.now).incidents]
    assert (incident["owner_team"], incident["tier"], incident["runbook_url"]) == (
        "Orders Analytics", 1, "https://runbooks.example.com/orders_enriched")
    # before the deadline the same evidence is not an incident
    assert run_detectors(store, datetime(2026, 1, 19, 7, 0, tzinfo=UTC)).incidents == []


EVALS = ROOT / "evals" / "scenarios"


@pytest.mark.parametrize("name", ["spark_daily_revenue_oom_after_deploy.yaml",
                                  "spark_upi_wrong_partition_utc_dt.yaml",
                                  "spark_settlement_ledger_upstream_late.yaml",
                                  "spark_customer_ltv_slow_new_code_ref.yaml"])
def test_freshness_reads_the_same_records_by_index_and_by_scan(store, monkeypatch, name) -> None:
    """Few policies read their datasets' records by index, many read runs and commits in one scan: same incidents."""
    scenario = load_scenario(EVALS / name)
    load_into(store, scenario)
    by_index = run_detectors(store, scenario.now).incidents
    monkeypatch.setattr(detect, "_FEW_POLICIES", 0)
    by_scan = run_detectors(store, scenario.now).incidents
    assert by_index and [i.facts for i in by_scan] == [i.facts for i in by_index]
