"""`rca rollout plan|advance|promote|pause|resume|status` on examples/fleet-campaign.yaml: the plan lists rings and
owners; a refused promotion names the failing gate and the repositories behind it and exits 1."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from rca.cli import run

CAMPAIGN = Path(__file__).resolve().parents[2] / "examples" / "fleet-campaign.yaml"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RCA_DATABASE_URL", f"sqlite:///{tmp_path / 'rca.db'}")
    monkeypatch.setenv("RCA_ROLLOUT_FORGE_ROOT", str(tmp_path / "forge"))
    monkeypatch.setenv("RCA_ROLLOUT_WORKDIR", str(tmp_path / "work"))


def test_plan_promote_refused_pause_and_status(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rollout", "plan", str(CAMPAIGN), "--json"]) == 0
    planned = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["ring"], r["repo"], r["language"], r["owners"], r["zone"], r["producer_urn"]) for r in planned] == [
        ("ring-1", "inventory-api", "go", ["@acme/platform"], "Europe/Berlin", "svc://inventory-api"),
        ("ring-1", "payments-service", "java", ["@acme/platform"], "Europe/Berlin", "svc://payments-service"),
        ("ring-2", "notifications-service", "node", ["@acme/platform"], "Europe/Berlin",
         "svc://notifications-service"),
        ("ring-2", "orders-rollup-job", "python", ["@acme/platform"], "Europe/Berlin", "job://orders-rollup-job"),
        ("ring-2", "pricing-service", "python", ["@acme/platform"], "Europe/Berlin", "svc://pricing-service")]

    assert run(["rollout", "promote", "fleet-demo", "ring-1", "staging"]) == 1
    out, err = capsys.readouterr()
    assert "FAILED prs_merged: inventory-api, payments-service: 2 of 2 onboarding pull requests not merged" in out
    assert "promotion of ring-1 to staging refused: gate prs_merged failed for inventory-api, payments-service" in err
    assert run(["rollout", "promote", "fleet-demo", "ring-1", "prod"]) == 1
    assert "ring-1 is at off; the next step is staging" in capsys.readouterr().err

    assert run(["rollout", "pause", "fleet-demo", "--reason", "freeze"]) == 0
    assert run(["rollout", "advance", "fleet-demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("the campaign is paused (freeze)") == 5, out
    assert run(["rollout", "promote", "fleet-demo", "ring-1", "staging"]) == 1
    assert "fleet-demo is paused (freeze); `rca rollout resume fleet-demo` first" in capsys.readouterr().err
    assert run(["rollout", "resume", "fleet-demo"]) == 0
    assert "fleet-demo resumed" in capsys.readouterr().out

    assert run(["rollout", "status", "fleet-demo", "--json", "--at", "2026-03-02T10:00:00+00:00"]) == 0
    status = orjson.loads(capsys.readouterr().out)
    assert (status["paused"], [r["flag"] for r in status["rings"]], status["tracking_issue"]) == (
        False, ["off", "off"], 1)
    assert [(r["ring"], r["repos"], r["pending"]) for r in status["figures"]["rings"]] == [("ring-1", 2, 2),
                                                                                           ("ring-2", 3, 3)]
    assert run(["rollout", "status", "nothing"]) == 1
    assert "no campaign 'nothing'; `rca rollout plan CAMPAIGN.yaml` creates it" in capsys.readouterr().err


def test_a_bad_campaign_file_is_an_error_naming_the_field(env: None, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("name: c\nrepos: [x]\nfallback_owner: '@p'\nrings: [{name: ring-1}]\n")
    assert run(["rollout", "plan", str(bad)]) == 1
    assert "c.yaml: rings.0: Value error, ring-1: give repos (a list of names) or a rule" in capsys.readouterr().err
