"""The Adoption page in real headless Chromium against `rca serve --demo` over a database that also holds a fleet
campaign, the bot's pull requests and SdkHealth: the KPI tiles, the three charts and the per-service table show the
figures GET /v1/adoption gives, which this test also works out by hand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from e2e.test_console_browser import OUTPUT, serve_demo

from evidence._ingest import ingest_events
from evidence._store import Store
from rca._demo import load_demo
from rollout import (
    Archetype,
    Campaigns,
    CampaignSpec,
    LocalForge,
    PullRequest,
    PullRequestLog,
    PullRequestRecord,
    Rollout,
    RolloutSettings,
)

FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet"
pytestmark = pytest.mark.e2e


def _record(repo: str, archetype: Archetype, opened: datetime, hours: float | None) -> PullRequestRecord:
    merged = opened + timedelta(hours=hours) if hours is not None else None
    pull = PullRequest("local", repo, 1, f"file:///forge/{repo}.git#pull/1", "rca/autopilot-onboarding", "main",
                       "Onboard", "merged" if merged else "open", "0" * 40)
    return PullRequestRecord(pull, "onboard", archetype, "body", "0.1.0", 2, "passed", opened, merged or opened,
                             merged, merged, ("@acme/team",), ("@acme/team",))


def _health(now: datetime, producer: str, delivered: int, dropped: int) -> dict[str, object]:
    return {"specversion": "1.0", "id": f"health-{producer}", "source": producer, "type": "SdkHealth",
            "time": (now - timedelta(hours=1)).isoformat(),
            "data": {"language": "java", "sdk_version": "0.1.0", "instance": "i1", "delivered": delivered,
                     "dropped": {"queue_full": dropped, "rejected": 0}, "queue_depth": 1, "circuit": "closed"}}


@pytest.fixture(scope="module")
def adoption_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("adoption")
    url = f"sqlite:///{tmp / 'rca.db'}"
    store = Store.open(url)
    store.upgrade()
    now = load_demo(store)
    week = now - timedelta(days=now.weekday() + 14)  # the Monday two weeks before
    log = PullRequestLog(store)
    for repo, archetype, opened, hours in (
            ("payments-service", Archetype.SPRING_BOOT_MAVEN, week, 4), ("ledger-service", Archetype.SPRING_BOOT_MAVEN,
                                                                          week, 8),
            ("inventory-api", Archetype.GO_MODULE, week + timedelta(days=7), 2),
            ("pricing-service", Archetype.PYTHON_SERVICE, week + timedelta(days=8), 30),
            ("notifications-service", Archetype.NODE_SERVICE, week + timedelta(days=9), None)):
        log.save(_record(repo, archetype, opened, hours))
    settings = RolloutSettings(forge_root=tmp / "forge", workdir=tmp / "work")
    forge = LocalForge(settings.forge_root, log, lambda: now)
    campaigns = Campaigns(store, forge, Rollout(forge, log, lambda: now, settings), lambda: now)
    spec = CampaignSpec.parse({"name": "fleet", "repos": [str(FLEET / n) for n in sorted(os.listdir(FLEET))],
                               "fallback_owner": "@acme/platform",
                               "rings": [{"name": "ring-1", "repos": ["payments-service", "inventory-api"]},
                                         {"name": "ring-2", "rule": {}}]}, "test")
    campaign = campaigns.plan(spec)
    state = campaign.state
    for name in ("payments-service", "inventory-api", "pricing-service"):
        state.repos[name].status = "merged"
    state.repos["notifications-service"].status = "opened"
    for name in ("payments-service", "inventory-api"):  # ring-1: on in staging, then in prod
        state.repos[name].flags = {"staging": now - timedelta(days=6), "prod": now - timedelta(days=2)}
    state.repos["pricing-service"].flags = {"staging": now - timedelta(days=1)}  # ring-2 holds back: not all on
    campaigns._save(spec, state, now)
    assert ingest_events(store, [_health(now, "svc://payments-service", 9700, 300),
                                 _health(now, "svc://inventory-api", 5000, 0)], now).accepted == 2
    store.engine.dispose()

    with serve_demo(tmp, url) as base:
        yield base


def test_the_adoption_page_charts_the_rollout_and_shows_the_kpis(adoption_url: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    figures = httpx.get(f"{adoption_url}/v1/adoption", timeout=30).json()
    # worked out by hand from the records above: merges after 2, 4, 8 and 30 hours; 3 of 10300 and 0 of 5000
    assert figures["median_time_to_merge_hours"] == 6.0
    assert [(w["language"], w["onboarded"], w["total"]) for w in figures["onboarding"]] == [
        ("go", 0, 0), ("go", 1, 1), ("java", 2, 2), ("java", 0, 2), ("python", 0, 0), ("python", 1, 1)]
    assert [(s["producer_urn"], s["drop_rate"]) for s in figures["sdk"]] == [
        ("svc://inventory-api", 0.0), ("svc://payments-service", 0.03)]
    assert figures["platform"]["incidents"] >= 2  # the demo stories' incidents
    assert [(r["ring"], r["flag"], r["staging_on"], r["prod_on"]) for r in figures["rings"]] == [
        ("ring-1", "prod", 2, 2), ("ring-2", "off", 1, 0)]
    # per week of merge: 4 and 8 h in the first week, 2 and 30 h in the second, none in the current one; no revert
    assert [(w["merged"], w["median_hours"]) for w in figures["time_to_merge_weekly"]] == [(2, 6.0), (2, 16.0),
                                                                                         (0, None)]
    assert [(w["onboarded"], w["rate"]) for w in figures["reverts_weekly"]] == [(2, 0.0), (4, 0.0), (4, 0.0)]

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{adoption_url}/")
    page.get_by_role("link", name="Adoption").click()
    page.wait_for_url("**/adoption")
    expect(page.locator("#kpi-ttm .value")).to_have_text("6 h")
    platform = figures["platform"]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.2f}%"

    expect(page.locator("#kpi-boundaries .value")).to_have_text(pct(platform["evidence_backed_boundaries"]))
    expect(page.locator("#kpi-deploy .value")).to_have_text(pct(platform["correlated_deploy"]))
    expect(page.locator("#kpi-fp .value")).to_have_text(pct(platform["false_positive_rate"]))
    expect(page.locator("#kpi-inconclusive .value")).to_have_text(pct(platform["inconclusive_rate"]))
    expect(page.locator("#kpi-revert .value")).to_have_text(pct(figures["reverts"]["rate"]))
    onboarding = page.locator("#chart-onboarding svg")
    expect(onboarding.locator("path.series")).to_have_count(3)  # go, java, python
    expect(onboarding).to_contain_text("java 2")
    ttm = page.locator("#chart-ttm svg")
    expect(ttm.locator("circle.week-point")).to_have_count(2)  # the empty current week is a gap, not a zero
    expect(ttm.locator("path.series")).to_have_count(1)
    expect(ttm.locator("text.point-label")).to_have_text(["6 h", "16 h"])
    reverts = page.locator("#chart-reverts svg")
    expect(reverts.locator("circle.week-point")).to_have_count(3)
    expect(reverts.locator("text.point-label")).to_have_text(["0.00%"] * 3)
    rings = page.locator("#chart-rings svg")
    expect(rings).to_contain_text("fleet ring-1 (prod)")
    expect(rings).to_contain_text("fleet ring-2 (off)")  # two of its three services are not on in staging yet
    flags = page.locator("#flags-table")
    expect(flags.locator('tr[data-repo="payments-service"] td[data-env="prod"]')).to_contain_text("on since")
    expect(flags.locator('tr[data-repo="pricing-service"] td[data-env="staging"]')).to_contain_text("on since")
    expect(flags.locator('tr[data-repo="pricing-service"] td[data-env="prod"]')).to_have_text("off")
    expect(flags.locator("td.flag.on")).to_have_count(5)  # 2 x (staging, prod) + pricing's staging
    expect(rings).to_contain_text("2/2 merged")
    expect(page.locator("#chart-sdk svg rect.bad")).to_have_count(1)  # payments-service: 3% > 1%
    expect(page.locator('#sdk-table tr[data-producer="svc://payments-service"] .drop')).to_have_text("3.00%")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "console-adoption.png"), full_page=True)
    assert errors == []
