"""The campaign's rules one by one: owners from the catalog or CODEOWNERS, ring assignment, each limit, each
promotion gate refusing with the repositories behind it, and campaign definitions that do not hold together."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from evidence._ingest import ingest_events
from evidence._schema import incidents as incidents_table
from evidence._store import Store
from rollout import (
    Campaigns,
    CampaignSpec,
    FakeGitHub,
    GateSettings,
    GitHubForge,
    Limits,
    PullRequestLog,
    Rollout,
    RolloutError,
    RolloutSettings,
    codeowners_for_root,
    describe,
)
from rollout._gates import GateRepo, error_rate, evaluate, instrumentation_incidents
from rollout._limits import Candidate, Opened, backoff_until, decide
from rollout._spec import assign_rings
from support import FixedClock

from .conftest import FLEET

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_codeowners_gives_the_owners_of_the_last_rule_for_the_whole_repository() -> None:
    text = "# comment\n* @acme/old\n/docs/ @acme/docs\n*.java @acme/java\n* @acme/payments @alice # the team\n"
    assert codeowners_for_root(text) == ("@acme/payments", "@alice")
    assert codeowners_for_root("/src/ @acme/src\n") == ()
    assert codeowners_for_root("[Backend] @acme/backend\n/api/ @acme/api\n") == ("@acme/backend",)  # GitLab section


def test_the_catalog_wins_over_codeowners_and_the_fallback_is_last(tmp_path: Path) -> None:
    repo = tmp_path / "payments-service"
    shutil.copytree(FLEET / "payments-service", repo)
    assert (describe(repo, "@acme/platform").owners, describe(repo, "@acme/platform").owner_source) == (
        ("@acme/platform",), "fallback")
    (repo / "CODEOWNERS").write_text("* @acme/payments\n")
    assert describe(repo, "@acme/platform").owners == ("@acme/payments",)
    (repo / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: pay}\nspec: {owner: nobody}\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-service\n  labels:\n"
        "    tier: \"1\"\nspec:\n  type: service\n  owner: group:default/team-payments\n  system: payments\n")
    found = describe(repo, "@acme/platform")
    assert (found.owners, found.owner_source, found.domain, found.tier, found.language, found.producer_urn) == (
        ("team-payments",), "catalog", "payments", 1, "java", "svc://payments-service")
    job = describe(FLEET / "orders-rollup-job", "@acme/platform")
    assert (job.language, job.producer_urn) == ("python", "job://orders-rollup-job")
    (repo / "catalog-info.yaml").write_text("kind: Component\nmetadata:\n  name: x\n  labels: {tier: high}\n")
    with pytest.raises(RolloutError, match=r"catalog-info.yaml: tier 'high' is not a number"):
        describe(repo, "@acme/platform")


def spec(**changes: object) -> CampaignSpec:
    raw = {"name": "c", "repos": [str(FLEET / n) for n in ("payments-service", "inventory-api", "pricing-service")],
           "fallback_owner": "@acme/platform",
           "rings": [{"name": "ring-0", "repos": ["inventory-api"]}, {"name": "ring-1", "rule": {"language": "java"}},
                     {"name": "ring-2", "rule": {}}], **changes}
    return CampaignSpec.parse(raw, "campaign.yaml")


def test_rings_by_list_then_by_rule_and_every_repository_in_one() -> None:
    repos = [describe(Path(p), "@acme/platform") for p in spec().repos]
    assert assign_rings(spec(), repos) == {"inventory-api": "ring-0", "payments-service": "ring-1",
                                           "pricing-service": "ring-2"}
    narrow = spec(rings=[{"name": "ring-1", "rule": {"language": "java"}}])
    with pytest.raises(RolloutError, match=r"no ring takes inventory-api, pricing-service; list them or add a rule"):
        assign_rings(narrow, repos)
    with pytest.raises(RolloutError, match=r"ring-0 lists checkout, which is not one of the campaign's repositories"):
        assign_rings(spec(rings=[{"name": "ring-0", "repos": ["checkout"]}, {"name": "ring-2", "rule": {}}]), repos)


@pytest.mark.parametrize(("changes", "message"), [
    ({"rings": [{"name": "ring-2", "rule": {}}, {"name": "ring-1", "rule": {}}]}, "rings must be distinct and in"),
    ({"rings": [{"name": "ring-1", "repos": ["a"], "rule": {}}]}, "give repos or a rule, not both"),
    ({"rings": [{"name": "ring-3", "rule": {}}]}, r"rings\.0\.name"),
    ({"limits": {"prs_per_hour": 0}}, r"limits\.prs_per_hour"),
    ({"limits": {"owner_timezones": {"@a": "Mars/Olympus"}}}, "unknown time zone 'Mars/Olympus'"),
    ({"limits": {"schedule": {"days": ["someday"]}}}, "unknown day 'someday'"),
    ({"gates": {"max_drop_rate": 2}}, r"gates\.max_drop_rate"),
    ({"surprise": 1}, "surprise"),
])
def test_a_campaign_that_does_not_hold_together_is_refused_naming_the_field(changes: dict[str, object],
                                                                           message: str) -> None:
    with pytest.raises(RolloutError, match=message):
        spec(**changes)


def test_campaign_yaml_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("name: c\nrepos: [a, /abs/b]\nfallback_owner: '@p'\nrings:\n"
                                     "  - {name: ring-1, rule: {}}\n")
    assert CampaignSpec.from_yaml(tmp_path / "c.yaml").repos == (str(tmp_path / "a"), "/abs/b")
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(RolloutError, match="a campaign is a YAML mapping"):
        CampaignSpec.from_yaml(tmp_path / "bad.yaml")


def c(repo: str, owner: str = "@a", zone: str = "UTC") -> Candidate:
    return Candidate(repo, owner, zone)


def test_hourly_open_per_owner_and_wave_limits_count_each_choice() -> None:
    limits = Limits(prs_per_hour=3, max_open_prs=4, per_owner_open=2, wave_size=3, wave_interval_hours=24)
    chosen = decide([c("r1"), c("r2"), c("r3"), c("r4", "@b")], [], {}, limits, MONDAY)
    assert [(x.repo, wave) for x, wave in chosen.open] == [("r1", 1), ("r2", 1), ("r4", 1)]
    assert chosen.held == {"r3": "@a has 2 open (per_owner_open)"}
    opened = [Opened("r1", "@a", MONDAY, 1, True), Opened("r2", "@b", MONDAY, 1, False),
              Opened("r3", "@c", MONDAY, 1, False)]
    later = decide([c("r4", "@d")], opened, {}, limits, MONDAY + timedelta(minutes=30))
    assert later.held == {"r4": "3 pull requests opened in the last hour (prs_per_hour)"}
    later = decide([c("r4", "@d")], opened, {}, limits, MONDAY + timedelta(hours=2))
    assert later.held == {"r4": "wave 1 is full (3); wave 2 starts 24 h after wave 1"}
    later = decide([c("r4", "@d")], opened, {}, limits, MONDAY + timedelta(hours=24))
    assert [(x.repo, wave) for x, wave in later.open] == [("r4", 2)]
    full = [Opened(f"o{i}", f"@o{i}", MONDAY - timedelta(days=3), 1, True) for i in range(4)]
    assert decide([c("r9", "@z")], full, {}, limits, MONDAY).held == {"r9": "4 pull requests open (max_open_prs 4)"}


def test_schedules_are_each_owners_own_time_zone() -> None:
    limits = Limits()
    at = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # Monday: 17:30 in Berlin, 11:30 in New York, 03:30 Tue in Sydney
    found = decide([c("berlin", "@de", "Europe/Berlin"), c("ny", "@us", "America/New_York"),
                    c("sydney", "@au", "Australia/Sydney")], [], {}, limits, at)
    assert [x.repo for x, _ in found.open] == ["ny"]
    assert found.held == {"berlin": "outside @de's schedule (Europe/Berlin)",
                          "sydney": "outside @au's schedule (Australia/Sydney)"}
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert decide([c("r", "@x")], [], {}, limits, saturday).held == {"r": "outside @x's schedule (UTC)"}


def test_an_owner_who_closes_a_pull_request_is_left_alone_longer_each_time() -> None:
    limits = Limits(backoff_days=7)
    once = [MONDAY]
    assert backoff_until(once, limits) == MONDAY + timedelta(days=7)
    assert backoff_until([MONDAY - timedelta(days=1), MONDAY], limits) == MONDAY + timedelta(days=14)
    held = decide([c("r", "@a")], [], {"@a": once}, limits, MONDAY + timedelta(days=6))
    assert held.held == {"r": "@a closed a pull request: backing off until 2026-03-09 10:00Z"}
    assert decide([c("r", "@a")], [], {"@a": once}, limits, MONDAY + timedelta(days=7)).open


def event(when: datetime, source: str, kind: str, data: dict[str, object], ident: str) -> dict[str, object]:
    return {"specversion": "1.0", "id": ident, "source": source, "type": kind, "time": when.isoformat(), "data": data}


def test_each_gate_refuses_naming_the_repositories_behind_it(store: Store) -> None:
    merged = MONDAY - timedelta(days=10)
    flag_on = MONDAY - timedelta(days=3)
    repos = [GateRepo("a", "svc://a", merged, "merged"), GateRepo("b", "svc://b", merged, "merged"),
             GateRepo("c", "svc://c", None, "opened")]
    items = [event(flag_on + timedelta(hours=1), "svc://a", "DeploymentEvent",
                   {"service": "a", "version": "1", "env": "staging"}, "a-staging"),
             event(flag_on - timedelta(hours=1), "svc://b", "DeploymentEvent",  # before the flag: does not count
                   {"service": "b", "version": "1", "env": "staging"}, "b-staging"),
             event(MONDAY - timedelta(hours=2), "svc://a", "SdkHealth",
                   {"language": "java", "sdk_version": "1", "delivered": 990, "dropped": {"timeout": 10}}, "a-h"),
             event(MONDAY - timedelta(hours=2), "svc://b", "SdkHealth",
                   {"language": "java", "sdk_version": "1", "delivered": 900, "dropped": {"rejected": 100}}, "b-h")]
    assert ingest_events(store, items, MONDAY).accepted == len(items)
    results = {g.name: g for g in evaluate(store, repos, "prod", {"staging": flag_on}, GateSettings(), MONDAY)}
    assert (results["prs_merged"].passed, results["prs_merged"].repos) == (False, ("c",))
    assert (results["staging_signal"].passed, results["staging_signal"].repos) == (False, ("b", "c"))
    assert (results["sdk_drop_rate"].passed, results["sdk_drop_rate"].repos) == (False, ("b", "c"))
    assert "b: drop rate 10.0% > 1.0% (100 dropped, most rejected)" in results["sdk_drop_rate"].detail
    assert "c: no SdkHealth in 24 h" in results["sdk_drop_rate"].detail
    lenient = GateSettings(require_sdk_health=False, max_drop_rate=0.2)
    assert evaluate(store, repos, "prod", {"staging": flag_on}, lenient, MONDAY)[2].passed
    # to staging, only the merges count
    assert [g.name for g in evaluate(store, repos, "staging", {}, GateSettings(), MONDAY)] == ["prs_merged"]


def test_error_rate_compares_the_window_after_the_flag_with_the_one_before(store: Store) -> None:
    flag_on = MONDAY - timedelta(days=2)
    runs = []
    for i in range(10):  # before: 1 failure in 10; after: 3 in 10
        before, after = flag_on - timedelta(hours=i + 1), flag_on + timedelta(hours=i + 1)
        runs.append(event(before, "job://j", "JobRunFailed" if i == 0 else "JobRunCompleted", {"run_id": f"b{i}"},
                          f"b{i}"))
        runs.append(event(after, "job://j", "JobRunFailed" if i < 3 else "JobRunCompleted", {"run_id": f"a{i}"},
                          f"a{i}"))
    assert ingest_events(store, runs, MONDAY).accepted == 20
    repo = [GateRepo("j", "job://j", flag_on - timedelta(days=1), "merged")]
    up = error_rate(store, repo, flag_on, GateSettings(), MONDAY)
    assert (up.passed, up.repos, up.detail) == (False, ("j",), "j: 10.0% -> 30.0%")
    assert error_rate(store, repo, flag_on, GateSettings(error_rate_tolerance=0.25), MONDAY).passed


def test_an_incident_correlated_with_the_deploy_that_shipped_the_sdk_blocks_the_ring(store: Store) -> None:
    merged, flag_on = MONDAY - timedelta(days=5), MONDAY - timedelta(days=2)
    repos = [GateRepo("a", "svc://a", merged, "merged"), GateRepo("b", "svc://b", merged, "merged")]

    def add(ident: str, producer: str, deploy_time: datetime, detected: datetime) -> None:
        body = {"id": ident, "producer_urn": producer, "correlated_deploys": [
            {"producer_urn": producer, "time": deploy_time.isoformat().replace("+00:00", "Z")}]}
        with store.writing() as conn:
            conn.execute(incidents_table.insert().values(
                id=ident, dataset_urn="ds://x", kind="contract", status="open", reason_code="X", detected_at=detected,
                updated_at=detected, body=orjson.dumps(body).decode()))

    add("inc_old_deploy", "svc://b", merged - timedelta(days=1), MONDAY - timedelta(days=1))  # a deploy before the SDK
    add("inc_before_flag", "svc://a", merged + timedelta(hours=1), flag_on - timedelta(hours=1))
    assert instrumentation_incidents(store, repos, flag_on, MONDAY).passed
    add("inc_sdk", "svc://a", merged + timedelta(days=1), MONDAY - timedelta(hours=1))
    found = instrumentation_incidents(store, repos, flag_on, MONDAY)
    assert (found.passed, found.repos) == (False, ("a",)) and "a: inc_sdk" in found.detail


def test_on_github_owners_are_asked_to_review_and_the_campaign_has_one_tracking_issue(
        store: Store, settings: RolloutSettings, tmp_path: Path) -> None:
    clock = FixedClock(MONDAY)
    with FakeGitHub(tmp_path / "gh", token="s3cret") as fake:
        pricing = fake.add_repository("acme/pricing-service", FLEET / "pricing-service")
        payments = fake.add_repository("acme/payments-service", FLEET / "payments-service")
        fake.add_repository("acme/rollout-campaigns", FLEET / "pricing-service")
        (pricing / "CODEOWNERS").write_text("* @acme/pricing @bob\n")
        forge = GitHubForge("s3cret", fake.url)
        log = PullRequestLog(store)
        campaigns = Campaigns(store, forge, Rollout(forge, log, clock, settings), clock)
        campaigns.plan(spec(repos=[str(pricing), str(payments)], tracking_repo="acme/rollout-campaigns",
                            rings=[{"name": "ring-1", "rule": {}}]))
        done = campaigns.advance("c")
        assert done.opened == {"payments-service": 1, "pricing-service": 1}, (done.held, done.failed)
        [pricing_pull] = fake.pulls["acme/pricing-service"]
        assert (pricing_pull.reviewers, pricing_pull.assignees) == (["bob", "acme/pricing"], ["bob"])
        [payments_pull] = fake.pulls["acme/payments-service"]
        assert (payments_pull.reviewers, payments_pull.assignees) == (["acme/platform"], [])  # a team: not assignable
        [issue] = fake.issues["acme/rollout-campaigns"]
        assert issue.title == "rca rollout: c" and issue.labels == ["rca-rollout"]
        assert "| pricing-service | ring-1 | @acme/pricing | opened | #1 |" in issue.body
        fake.merge("acme/pricing-service", 1)
        clock.advance(hours=1)
        assert campaigns.advance("c").merged == ("pricing-service",)
        [issue] = fake.issues["acme/rollout-campaigns"]  # the same issue, rewritten
        assert "| pricing-service | ring-1 | @acme/pricing | merged | #1 |" in issue.body
        assert fake.refused == []


def test_each_service_is_judged_from_when_its_own_flag_turned_on_in_staging(store: Store) -> None:
    merged, ring_on = MONDAY - timedelta(days=10), MONDAY - timedelta(days=5)
    late = MONDAY - timedelta(days=1)  # b joined the ring later: its flag turned on in staging yesterday
    repos = [GateRepo("a", "svc://a", merged, "merged", {"staging": ring_on}),
             GateRepo("b", "svc://b", merged, "merged", {"staging": late})]
    items = [event(ring_on + timedelta(hours=1), source, "DeploymentEvent",
                   {"service": source[6:], "version": "1", "env": "staging"}, f"{source}-staging")
             for source in ("svc://a", "svc://b")]  # b's signal is from before its own flag: it does not count
    assert ingest_events(store, items, MONDAY).accepted == 2
    signal = evaluate(store, repos, "prod", {"staging": ring_on}, GateSettings(), MONDAY)[1]
    assert (signal.name, signal.passed, signal.repos) == ("staging_signal", False, ("b",))
    assert "no staging signal" in signal.detail


def test_a_rings_flag_is_what_all_its_active_services_reached_and_old_states_convert_once() -> None:
    from rollout._flags import legacy_flags, reached, ring_flag
    from rollout._program import CampaignState, RepoState, RingState

    on = MONDAY - timedelta(days=3)
    assert [reached(f) for f in ({}, {"staging": on}, {"staging": on, "prod": on}, {"prod": on})] == [
        "off", "staging", "prod", "off"]  # prod without staging is not a step the plan has
    assert ring_flag([{"staging": on, "prod": on}, {"staging": on}]) == "staging"
    assert ring_flag([], "prod") == "prod"  # a ring with no active service keeps its flag
    assert legacy_flags("prod", {"staging": on, "prod": MONDAY}) == {"staging": on, "prod": MONDAY}

    def repo(name: str, status: str, flags: dict[str, datetime] | None = None) -> RepoState:
        return RepoState(repo=name, source=name, ring="ring-1", owners=("@o",), owner_source="fallback", zone="UTC",
                         status=status, flags=flags or {})  # type: ignore[arg-type]

    # a campaign saved when flags were per ring: its merged services get the ring's flags, once
    old = CampaignState(rings=[RingState(name="ring-1", flag="prod", since={"staging": on, "prod": MONDAY})],
                        repos={"a": repo("a", "merged"), "d": repo("d", "declined"), "p": repo("p", "pending")})
    old.settle()  # p (pending: never promoted) is off, and holds the ring back
    assert (old.repos["a"].flags, old.repos["d"].flags, old.repos["p"].flags, old.ring("ring-1").flag) == (
        {"staging": on, "prod": MONDAY}, {}, {}, "off")
    del old.repos["p"]
    old.settle()
    assert old.ring("ring-1").flag == "prod"
    # a service that joins the ring afterwards starts off everywhere and holds the ring's flag back
    old.repos["e"] = repo("e", "merged")
    old.settle()
    assert (old.repos["e"].flag("staging"), old.repos["e"].flag("prod"), old.ring("ring-1").flag) == (
        "off", "off", "off")


def test_a_later_joiner_is_promoted_without_turning_its_ring_mates_off_in_prod(
        store: Store, settings: RolloutSettings, tmp_path: Path) -> None:
    from evidence import effective_control, put_environment_flag
    from rollout import LocalForge

    clock = FixedClock(MONDAY)
    log = PullRequestLog(store)
    forge = LocalForge(settings.forge_root, log, clock)
    campaigns = Campaigns(store, forge, Rollout(forge, log, clock, settings), clock)
    campaign = campaigns.plan(spec(rings=[{"name": "ring-1", "rule": {}}]))
    state = campaign.state
    earlier = MONDAY - timedelta(days=7)
    for name in ("payments-service", "inventory-api"):  # already on in staging and prod
        state.repos[name].status, state.repos[name].merged_at = "merged", earlier
        state.repos[name].flags = {"staging": earlier, "prod": earlier}
        put_environment_flag(store, f"svc://{name}", "prod", True, earlier)
    state.repos["pricing-service"].status = "merged"  # joined later: merged, off everywhere
    state.repos["pricing-service"].merged_at = MONDAY - timedelta(days=1)
    campaigns._save(campaign.spec, state, MONDAY)
    assert campaigns.get("c").state.ring("ring-1").flag == "off"  # held back by pricing-service
    assert all(g.passed for g in campaigns.promote("c", "ring-1", "staging"))
    after = campaigns.get("c").state
    assert after.repos["pricing-service"].flags == {"staging": MONDAY}
    assert after.repos["payments-service"].flags == {"staging": earlier, "prod": earlier}  # kept, times too
    assert after.ring("ring-1").flag == "staging"

    def enabled(name: str, env: str) -> bool:
        return bool((effective_control(store, f"svc://{name}", environment=env) or {}).get("enabled"))

    assert [(enabled(n, "staging"), enabled(n, "prod")) for n in ("payments-service", "pricing-service")] == [
        (True, True), (True, False)]
