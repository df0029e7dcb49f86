"""`rca policies` and `rca readiness` on the database."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from detectors._scenario import load_into, load_scenario
from evidence._store import Store
from rca.cli import app as cli
from support import REFERENCE, ROOT

runner = CliRunner()
SLOW = load_scenario(REFERENCE / "spark_job_running_slow.yaml")
PAYMENTS = load_scenario(ROOT / "evals" / "scenarios" / "payments_healthy_topic.yaml")


@pytest.fixture
def db(store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("RCA_DATABASE_URL", database_url)
    return store


def test_policies_suggest_accept_and_list(db: Store) -> None:
    scenario = copy.deepcopy(SLOW)
    scenario.policies = []
    load_into(db, scenario)
    at = ["--at", "2026-01-19T02:15:00-05:00"]
    zone = ["--timezone", "ds://curated/orders_enriched=America/New_York"]
    shown = runner.invoke(cli, ["policies", "suggest", *at, *zone], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "update by 02:00 America/New_York, cron 0 1 * * *; owner orders, tier 3" in shown.stdout
    accepted = runner.invoke(cli, ["policies", "suggest", *at, *zone, "--accept", "--json"])
    [draft] = json.loads(accepted.stdout)["items"]
    assert draft["status"] == "accepted"
    listed = json.loads(runner.invoke(cli, ["policies", "list", "--json"]).stdout)["items"]
    assert [d["status"] for d in listed] == ["accepted"]
    assert runner.invoke(cli, ["policies", "suggest", "--timezone", "nonsense"]).exit_code == 2


def test_readiness_readable_and_json(db: Store) -> None:
    scenario = copy.deepcopy(PAYMENTS)
    for message in scenario.messages:
        message["headers"].pop("traceparent", None)
    scenario.contracts = [c.model_copy(update={"runbook_url": None}) for c in scenario.contracts]
    load_into(db, scenario)
    at = ["--at", "2026-08-25T10:30:00+00:00", "--dataset", "ds://payments_settlements"]
    shown = runner.invoke(cli, ["readiness", *at])
    assert shown.exit_code == 0, shown.output
    assert "ds://payments_settlements (dataset) readiness is 69%" in shown.stdout
    assert "-> attach a runbook (runbook_url) for ds://payments_settlements" in shown.stdout
    [item] = json.loads(runner.invoke(cli, ["readiness", *at, "--json"]).stdout)["items"]
    assert item["backlog"][0] == "add trace anchors (traceparent) for 1 producer: svc://payments-service"
