"""The brief's four weeks for 20 Spring services, on the local forge with a fake clock: week 1 onboarding pull
requests (flags off) within every limit, one owner closes theirs (never reopened); week 2 staging, signals seen;
week 3 prod for ring-1 (5 services), refused first because one service's SDK drops too much; week 4 the other 15
(ring-2). Every limit is checked at every step from the pull request records themselves (not by the campaign's own
limit code), and the final state and every KPI are asserted against figures this test works out on its own."""

from __future__ import annotations

import re
import shutil
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from evidence._controls import effective_control, get_control
from evidence._ingest import ingest_events
from evidence._schema import incidents as incidents_table
from evidence._store import Store
from rca._adoption import metric_families, report
from rca.cli import run
from rollout import (
    CampaignRefused,
    Campaigns,
    CampaignSpec,
    IssueLog,
    LocalForge,
    PullRequestLog,
    Rollout,
    RolloutError,
    RolloutSettings,
)
from support import FixedClock

from .conftest import FLEET

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
NAMES = [f"orders-svc-{i:02d}" for i in range(1, 21)]
RING_1 = NAMES[:5]
DROPPY = "orders-svc-03"  # its SDK drops 7% of its events in staging
CLOSER = "orders-svc-18"  # its owner closes the onboarding pull request
ROLLED_BACK = "orders-svc-10"  # a deploy rolled back in week 4
ZONES = {"team-checkout": "Europe/Berlin", "@acme/team-billing": "America/New_York",
         "@acme/team-ledger": "Asia/Kolkata", "team-search": "Australia/Sydney", "@acme/platform": "UTC"}
LIMITS = {"prs_per_hour": 2, "max_open_prs": 6, "per_owner_open": 2, "wave_size": 5, "wave_interval_hours": 24}


def envs(campaigns: Campaigns, names: list[str]) -> dict[str, tuple[str, str]]:
    """Each service's flag in staging and prod, as the campaign keeps it."""
    repos = campaigns.get("orders-spring").state.repos
    return {n: (repos[n].flag("staging"), repos[n].flag("prod")) for n in names}


def obeyed(store: Store, names: list[str]) -> dict[str, tuple[bool, bool]]:
    """What an SDK that names its environment is told (GET /v1/control/{producer}?env=): enabled in staging, prod."""
    found = {}
    for name in names:
        staging = effective_control(store, f"svc://{name}", environment="staging") or {}
        prod = effective_control(store, f"svc://{name}", environment="prod") or {}
        found[name] = (bool(staging.get("enabled")), bool(prod.get("enabled")))
    return found


def owner_of(index: int) -> str:
    if index in (4, 8):
        return "@acme/platform"  # no catalog entry, no CODEOWNERS: the fallback owner
    return {1: "team-checkout", 2: "@acme/team-billing", 3: "@acme/team-ledger", 0: "team-search"}[index % 4]


def make_service(root: Path, index: int) -> Path:
    """A copy of examples/fleet/payments-service named orders-svc-NN, owned as owner_of(index) says."""
    name = NAMES[index - 1]
    target = root / name
    shutil.copytree(FLEET / "payments-service", target, ignore=shutil.ignore_patterns("target"))
    pom = target / "pom.xml"
    pom.write_text(pom.read_text().replace("<artifactId>payments-service</artifactId>",
                                           f"<artifactId>{name}</artifactId>", 1))
    yml = target / "src" / "main" / "resources" / "application.yml"
    yml.write_text(yml.read_text().replace("name: payments-service", f"name: {name}"))
    owner = owner_of(index)
    if owner in ("team-checkout", "team-search"):
        zone = "\n    rca.dev/timezone: Australia/Sydney" if owner == "team-search" else ""
        (target / "catalog-info.yaml").write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
            f"  name: {name}\n  annotations:\n    rca.dev/domain: orders\n    rca.dev/tier: \"{1 + index % 3}\"{zone}\n"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: group:default/{owner}\n")
    elif owner.startswith("@acme/team"):
        (target / ".github" / "CODEOWNERS").write_text(f"# owners\n*.md @acme/docs\n* {owner}\n/docs/ @acme/docs\n")
    return target


class Forge:
    """The people: each owner merges their pull request after a few hours; one closes theirs."""

    def __init__(self, forge: LocalForge, log: PullRequestLog, clock: FixedClock) -> None:
        self.forge, self.log, self.clock = forge, log, clock
        self.merged: dict[str, datetime] = {}
        self.opened: dict[str, datetime] = {}
        self.closed: dict[str, datetime] = {}

    def act(self) -> None:
        now = self.clock()
        for record in self.log.records("local", state="open"):
            repo = record.pull_request.repo
            self.opened.setdefault(repo, record.created_at)
            age = now - record.created_at
            index = NAMES.index(repo) + 1
            if repo == CLOSER and age >= timedelta(hours=1):
                self.forge.close(repo, record.pull_request.number)
                self.closed[repo] = now
            elif repo != CLOSER and age >= timedelta(hours=2 + index * 7 % 5):
                self.forge.merge(repo, record.pull_request.number)
                self.merged[repo] = now


def check_limits(log: PullRequestLog, now: datetime) -> None:
    """Every limit, worked out from the pull request records (created_at, state, the routed reviewers)."""
    records = log.records("local")
    created = sorted(r.created_at for r in records)
    for moment in created:  # any rolling hour
        assert sum(1 for t in created if moment - timedelta(hours=1) < t <= moment) <= LIMITS["prs_per_hour"], moment
    open_now = [r for r in records if r.pull_request.state == "open"]
    assert len(open_now) <= LIMITS["max_open_prs"], now
    owners = [r.reviewers[0] for r in open_now]
    assert all(owners.count(o) <= LIMITS["per_owner_open"] for o in owners), (now, owners)
    by_repo = [r.pull_request.repo for r in records]
    assert len(by_repo) == len(set(by_repo)), "one pull request per repository per campaign"
    for r in records:  # within the owner's schedule, in the owner's time zone
        local = r.created_at.astimezone(ZoneInfo(ZONES[r.reviewers[0]]))
        assert local.weekday() < 5 and 9 <= local.hour < 17, (r.pull_request.repo, local)
    wave_start, in_wave = None, 0  # waves of 5, each starting at least 24 h after the one before
    for t in created:
        if wave_start is None or in_wave == LIMITS["wave_size"]:
            assert wave_start is None or t - wave_start >= timedelta(hours=24), t
            wave_start, in_wave = t, 0
        in_wave += 1


def signal(store: Store, now: datetime, name: str, event_type: str, data: dict[str, Any], ident: str) -> None:
    event = {"specversion": "1.0", "id": ident, "source": f"svc://{name}", "type": event_type,
             "time": now.isoformat(), "data": data}
    assert ingest_events(store, [event], now).accepted == 1


def health(store: Store, now: datetime, name: str, day: int, env: str, instance: str = "1") -> None:
    index = NAMES.index(name) + 1
    delivered = 1000 * day
    dropped = {"queue_full": 0, "timeout": 0, "circuit_open": 0, "killed": 0, "rejected": (index % 3) * day}
    if name == DROPPY and instance == "1":
        dropped = {**dropped, "rejected": 0, "queue_full": 80 * day}
    if instance != "1":
        dropped = {k: 0 for k in dropped}
    signal(store, now, name, "SdkHealth", {"language": "java", "sdk_version": "0.1.0", "instance": f"{name}-{instance}",
                                           "env": env, "delivered": delivered, "dropped": dropped, "queue_depth": 3,
                                           "queue_capacity": 2048, "circuit": "closed"},
           f"health-{name}-{instance}-{day}-{env}")


def incident(ident: str, kind: str, status: str, detected: datetime, resolved: datetime | None,
             **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": ident, "dataset_urn": f"ds://orders/{ident}", "kind": kind, "status": status,
            "reason_code": {"contract": "REQUIRED_FIELD_MISSING", "freshness": "JOB_RUNNING_SLOW",
                            "drift": "UNMAPPED_SCHEMA"}[kind],
            "detected_at": detected.isoformat().replace("+00:00", "Z"),
            "updated_at": (resolved or detected).isoformat().replace("+00:00", "Z"),  # as the incident store sets it
            "resolved_at": resolved.isoformat().replace("+00:00", "Z") if resolved else None,
            "first_bad_time": detected.isoformat().replace("+00:00", "Z"), "last_good_time": None,
            "current_watermark": None, "expected_watermark": None, "field": None, "bad_rate": None,
            "correlated_deploys": [], "correlated_run": None, "failure_class": None, "impacted_downstream": [],
            "stale_evidence": False, "producer_urn": None, "owner_team": "orders", "tier": 1, "runbook_url": None,
            "facts": {}, "evidence_ids": [], "evidence": []}
    body.update(fields)
    return body


def store_incident(store: Store, body: dict[str, Any]) -> None:
    detected = datetime.fromisoformat(body["detected_at"].replace("Z", "+00:00"))
    resolved = datetime.fromisoformat(body["resolved_at"].replace("Z", "+00:00")) if body["resolved_at"] else None
    with store.writing() as conn:
        conn.execute(incidents_table.insert().values(
            id=body["id"], dataset_urn=body["dataset_urn"], kind=body["kind"], status=body["status"],
            reason_code=body["reason_code"], detected_at=detected, updated_at=resolved or detected,
            resolved_at=resolved, owner_team="orders", tier=1, body=orjson.dumps(body).decode()))


def test_four_weeks_twenty_spring_services(store: Store, database_url: str, settings: RolloutSettings, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clock = FixedClock(START)
    sources = [make_service(tmp_path / "fleet", i) for i in range(1, 21)]
    spec = CampaignSpec.parse({
        "name": "orders-spring", "repos": [str(s) for s in sources], "fallback_owner": "@acme/platform",
        "rings": [{"name": "ring-1", "repos": RING_1}, {"name": "ring-2", "rule": {"language": "java"}}],
        "limits": {**LIMITS, "owner_timezones": {k: v for k, v in ZONES.items() if k != "team-search"}},
        "gates": {"max_drop_rate": 0.01, "health_window_hours": 24},
    }, "test")
    log = PullRequestLog(store)
    forge = LocalForge(settings.forge_root, log, clock)
    campaigns = Campaigns(store, forge, Rollout(forge, log, clock, settings), clock)
    people = Forge(forge, log, clock)

    planned = campaigns.plan(spec)
    repos = planned.state.repos
    assert [repos[n].ring for n in NAMES] == ["ring-1"] * 5 + ["ring-2"] * 15
    assert {n: (repos[n].owner, repos[n].owner_source, repos[n].zone) for n in ("orders-svc-01", "orders-svc-02",
                                                                               "orders-svc-04", "orders-svc-12")} == {
        "orders-svc-01": ("team-checkout", "catalog", "Europe/Berlin"),
        "orders-svc-02": ("@acme/team-billing", "codeowners", "America/New_York"),
        "orders-svc-04": ("@acme/platform", "fallback", "UTC"),
        "orders-svc-12": ("team-search", "catalog", "Australia/Sydney")}
    assert (repos["orders-svc-01"].language, repos["orders-svc-01"].domain, repos["orders-svc-01"].tier,
            repos["orders-svc-01"].producer_urn) == ("java", "orders", 2, "svc://orders-svc-01")

    # -- week 1: onboarding pull requests, flags off, hour by hour ---------------------------------------------
    paused_at = START + timedelta(days=1, hours=12)
    for hour in range(7 * 24):
        clock.now = START + timedelta(hours=hour)
        if clock.now == paused_at:
            campaigns.pause("orders-spring", "change freeze")
        if clock.now == paused_at + timedelta(hours=3):
            campaigns.resume("orders-spring")
        before = len(log.records("local"))
        step = campaigns.advance("orders-spring")
        if paused_at <= clock.now < paused_at + timedelta(hours=3):
            assert step.opened == {} and len(log.records("local")) == before
            assert all("paused (change freeze)" in why for why in step.held.values())
        people.act()
        check_limits(log, clock.now)
    records = log.records("local")
    assert len(records) == 20 and len(people.merged) == 19 and list(people.closed) == [CLOSER]
    assert all(r.reviewers == (repos[r.pull_request.repo].owner,) for r in records)
    assert all(r.assignees == (repos[r.pull_request.repo].owner,) for r in records)
    assert all("AUTOPILOT_ENABLED=false" in r.body or "enabled: false" in r.body for r in records)
    state = campaigns.get("orders-spring").state
    assert state.repos[CLOSER].status == "declined" and "never reopens" in state.repos[CLOSER].reason
    assert list(state.closures) == ["@acme/team-billing"]
    assert all(r.flag == "off" for r in state.rings)
    # a later run (and a re-plan) never proposes the closed one again
    campaigns.plan(spec)
    campaigns.advance("orders-spring")
    assert [r.pull_request.state for r in log.records("local", repo=CLOSER)] == ["closed"]

    # -- week 2: staging; signals from staging ------------------------------------------------------------------
    clock.now = START + timedelta(days=7, hours=9)
    with pytest.raises(RolloutError, match="ring-2 is at off; the next step is staging"):
        campaigns.promote("orders-spring", "ring-2", "prod")
    for ring in ("ring-1", "ring-2"):
        results = campaigns.promote("orders-spring", ring, "staging")
        assert [g.name for g in results] == ["prs_merged"] and all(g.passed for g in results)
    live = [n for n in NAMES if n != CLOSER]
    assert all(get_control(store, "producer", f"svc://{n}").enabled for n in live)  # type: ignore[union-attr]
    assert get_control(store, "producer", f"svc://{CLOSER}") is None
    # on in staging, off in prod: in the campaign's state and for an SDK that names its environment
    assert envs(campaigns, live) == {n: ("on", "off") for n in live}
    assert envs(campaigns, [CLOSER]) == {CLOSER: ("off", "off")}
    assert obeyed(store, live) == {n: (True, False) for n in live}
    for name in live:
        clock.now = START + timedelta(days=7, hours=10)
        signal(store, clock.now, name, "DeploymentEvent", {"service": name, "version": "1.4.0", "env": "staging",
                                                           "source": "startup"}, f"start-{name}-staging")

    def daily_health(first: int, last: int) -> None:
        for day in range(first, last + 1):  # each service's SdkHealth at noon: staging until its ring is in prod
            clock.now = START + timedelta(days=day, hours=12)
            for name in live:
                if name == DROPPY and day >= 14:
                    continue  # the fixed instance reports from day 14 on (below)
                prod = (name in RING_1 and day >= 15) or (name not in RING_1 and day >= 21)
                health(store, clock.now, name, day, "prod" if prod else "staging")

    daily_health(8, 13)

    # -- week 3: ring-1 to prod, refused for the one dropping SDK, then promoted -------------------------------
    clock.now = START + timedelta(days=14, hours=10)
    with pytest.raises(CampaignRefused) as refused:
        campaigns.promote("orders-spring", "ring-1", "prod")
    assert [(g.name, g.repos) for g in refused.value.failing] == [("sdk_drop_rate", (DROPPY,))]
    assert re.search(r"gate sdk_drop_rate failed for orders-svc-03: orders-svc-03: drop rate 7\.4% > 1\.0% "
                     r"\(\d+ dropped, most queue_full\)", str(refused.value)), str(refused.value)
    assert campaigns.get("orders-spring").state.ring("ring-1").flag == "staging"
    assert obeyed(store, RING_1) == {n: (True, False) for n in RING_1}  # the refusal turned nothing on
    for hour in (12, 13, 14):  # the fix ships at noon with a new instance; the old one's last word was yesterday's
        health(store, START + timedelta(days=14, hours=hour), DROPPY, hour - 11, "staging", instance="2")
    daily_health(14, 14)
    clock.now = START + timedelta(days=15, hours=10)
    for day in (15,):
        health(store, START + timedelta(days=day, hours=9), DROPPY, 4, "staging", instance="2")
    passed = campaigns.promote("orders-spring", "ring-1", "prod")
    assert [g.name for g in passed] == ["prs_merged", "staging_signal", "sdk_drop_rate", "no_instrumentation_incident",
                                        "error_rate_not_up"] and all(g.passed for g in passed)
    # week 3: ring-1's services are on in prod, ring-2's on in staging and still off in prod
    ring_2 = [n for n in live if n not in RING_1]
    assert envs(campaigns, RING_1) == {n: ("on", "on") for n in RING_1}
    assert envs(campaigns, ring_2) == {n: ("on", "off") for n in ring_2}
    assert obeyed(store, live) == {n: (True, n in RING_1) for n in live}
    assert [(r.name, r.flag) for r in campaigns.get("orders-spring").state.rings] == [("ring-1", "prod"),
                                                                                    ("ring-2", "staging")]

    # incidents of the platform's own KPIs (week 3): one on ring-1's orders-svc-05 after the deploy that shipped
    # the SDK, one freshness, one drift resolved in 5 h, one false positive
    merged_05 = people.merged["orders-svc-05"]
    store_incident(store, incident("inc_a", "contract", "open", START + timedelta(days=16), None,
                                   producer_urn="svc://orders-svc-05",
                                   last_good_time=(START + timedelta(days=15, hours=23)).isoformat(),
                                   evidence_ids=["ev_a1", "ev_a2"], field="customer_id",
                                   facts={"first_bad_evidence_id": "ev_a1", "last_good_evidence_id": "ev_a0",
                                          "bad_count": 3},
                                   correlated_deploys=[{"producer_urn": "svc://orders-svc-05", "version": "1.5.0",
                                                        "service": "orders-svc-05", "evidence_id": "ev_a2",
                                                        "time": (merged_05 + timedelta(days=3)).isoformat()}]))
    store_incident(store, incident("inc_b", "freshness", "open", START + timedelta(days=17), None,
                                   last_good_time=(START + timedelta(days=16)).isoformat(), evidence_ids=["ev_b1"]))
    store_incident(store, incident("inc_c", "drift", "resolved", START + timedelta(days=18),
                                   START + timedelta(days=18, hours=5), evidence_ids=["ev_c1"]))
    store_incident(store, incident("inc_d", "contract", "false_positive", START + timedelta(days=19),
                                   START + timedelta(days=19, hours=1)))

    # -- week 4: ring-2 (the other 15, one of which declined) to prod ---------------------------------------------
    daily_health(15, 20)
    clock.now = START + timedelta(days=21, hours=10)
    assert all(g.passed for g in campaigns.promote("orders-spring", "ring-2", "prod"))
    clock.now = START + timedelta(days=22, hours=15)
    signal(store, clock.now, ROLLED_BACK, "DeploymentEvent", {"service": ROLLED_BACK, "version": "1.5.1", "env": "prod",
                                                              "status": "rolled_back"}, "rollback-10")
    daily_health(21, 27)
    for day in (21, 24, 27):
        health(store, START + timedelta(days=day, hours=13), DROPPY, day, "prod", instance="2")
    clock.now = START + timedelta(days=27, hours=18)
    campaigns.advance("orders-spring")

    # -- the final state ------------------------------------------------------------------------------------------
    final = campaigns.get("orders-spring").state
    assert [(r.name, r.flag) for r in final.rings] == [("ring-1", "prod"), ("ring-2", "prod")]
    assert {n: final.repos[n].status for n in NAMES} == {n: "declined" if n == CLOSER else "merged" for n in NAMES}
    assert all(get_control(store, "producer", f"svc://{n}").ring == (1 if n in RING_1 else 2)  # type: ignore[union-attr]
               for n in live)
    [issue] = IssueLog(store).issues("local")
    assert issue["repo"] == "rollout-campaigns" and issue["title"] == "rca rollout: orders-spring"
    rows = [line for line in issue["body"].splitlines() if line.startswith("| orders-svc-")]
    assert len(rows) == 20 and f"| {CLOSER} | ring-2 | @acme/team-billing | declined | #1 |" in issue["body"]
    assert "| ring-1 | prod |" in issue["body"] and "| ring-2 | prod |" in issue["body"]
    assert [e.what for e in final.log if e.what.startswith(("promoted", "refused"))] == [
        "promoted ring-1 -> staging", "promoted ring-2 -> staging", "refused ring-1 -> prod",
        "promoted ring-1 -> prod", "promoted ring-2 -> prod"]

    # -- every KPI, against figures worked out here ---------------------------------------------------------------
    figures = report(store, clock.now)
    merged_week = {(t - timedelta(days=t.weekday())).date().isoformat() for t in people.merged.values()}
    assert merged_week == {"2026-01-05"}
    assert [(w.week, w.language, w.onboarded, w.total) for w in figures.onboarding] == [("2026-01-05", "java", 19, 19)]
    hours = [(people.merged[n] - people.opened[n]).total_seconds() / 3600 for n in people.merged]
    assert figures.median_time_to_merge_hours == statistics.median(hours)
    assert (figures.reverts.onboarded, figures.reverts.rolled_back, figures.reverts.reverted_prs,
            figures.reverts.rate) == (19, 1, 0, round(1 / 19, 4))
    # over time: every merge in week 1, the rollback in week 4 (day 22); the weeks run to the report's
    assert [(w.week, w.merged, w.median_hours) for w in figures.time_to_merge_weekly] == [
        ("2026-01-05", 19, round(statistics.median(hours), 3)), ("2026-01-12", 0, None), ("2026-01-19", 0, None),
        ("2026-01-26", 0, None)]
    assert [(w.week, w.reverted, w.onboarded, w.rate) for w in figures.reverts_weekly] == [
        ("2026-01-05", 0, 19, 0.0), ("2026-01-12", 0, 19, 0.0), ("2026-01-19", 0, 19, 0.0),
        ("2026-01-26", 1, 19, round(1 / 19, 4))]
    gauges = {f.name: [s.value for s in f.samples] for f in metric_families(figures)}
    assert gauges["rca_adoption_ring_services_on"] == [5, 5, 14, 14]  # ring-1 staging, prod; ring-2 staging, prod
    assert (gauges["rca_adoption_pr_time_to_merge_hours_week"], gauges["rca_adoption_reverts_week"],
            gauges["rca_adoption_revert_rate"]) == ([], [1.0], [round(1 / 19, 4)])  # no merge in week 4
    sdk = {s.producer_urn: s for s in figures.sdk}
    assert len(sdk) == 19
    assert sdk["svc://orders-svc-01"].drop_rate == round(1 / 1001, 6)  # index 1: 1 rejected per 1000 delivered
    assert sdk["svc://orders-svc-02"].error_rate == round(2 / 1002, 6)
    assert sdk[f"svc://{DROPPY}"].drop_rate == 0.0  # the fixed instance; the old one left the 7-day window
    assert [(r.ring, r.flag, r.repos, r.merged, r.declined, r.staging_on, r.prod_on) for r in figures.rings] == [
        ("ring-1", "prod", 5, 5, 0, 5, 5), ("ring-2", "prod", 15, 14, 1, 14, 14)]
    flags = {f.repo: (f.staging, f.prod) for f in figures.flags}
    assert flags[CLOSER] == (None, None)
    assert flags["orders-svc-01"] == ("2026-01-12T09:00:00Z", "2026-01-20T10:00:00Z")  # ring-1: days 7 and 15
    assert flags["orders-svc-12"] == ("2026-01-12T09:00:00Z", "2026-01-26T10:00:00Z")  # ring-2: days 7 and 21
    assert obeyed(store, live) == {n: (True, True) for n in live}
    platform = figures.platform
    assert (platform.incidents, platform.evidence_backed_boundaries, platform.correlated_deploy,
            platform.drift_remediation_hours, platform.false_positive_rate) == (4, 0.5, 0.25, 5.0, 0.25)
    assert platform.inconclusive_rate == 1.0  # none of the three RCAs' evidence is in the store: nothing verifies

    # -- `rca rollout status` prints the same figures -------------------------------------------------------------
    monkeypatch.setenv("RCA_DATABASE_URL", database_url)
    monkeypatch.setenv("RCA_ROLLOUT_FORGE_ROOT", str(settings.forge_root))
    at = clock.now.isoformat()
    capsys.readouterr()
    assert run(["rollout", "status", "orders-spring", "--json", "--at", at]) == 0
    assert orjson.loads(capsys.readouterr().out)["figures"] == figures.as_json()
    assert run(["rollout", "status", "orders-spring", "--at", at]) == 0
    table = capsys.readouterr().out
    for text in ("ring-1", "prod", "declined", CLOSER, "on since 2026-01-20 10:00Z", "on in prod",
                 f"{figures.median_time_to_merge_hours:g} h", "5.26%",
                 "50.00%", "25.00%", "5 h", "100.00%", "week of 2026-01-05", "(19 merged)",
                 "(1 reverted in the week, of 19)"):
        assert text in table, (text, table)
