"""Owner routing on GitLab, through python-gitlab against the fake GitLab: `@user` and `@group` handles become the
user ids GitLab's merge request API takes, a handle GitLab does not know falls back to the campaign's fallback owner,
and each handle is looked up once per run however many merge requests name it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from evidence._store import Store
from rollout import (
    Archetype,
    Campaigns,
    CampaignSpec,
    FakeGitLab,
    GitLabForge,
    PullRequestDraft,
    PullRequestLog,
    Rollout,
    RolloutSettings,
)
from support import FixedClock

from .conftest import FLEET

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def people(fake: FakeGitLab) -> None:
    fake.add_user("bob")
    fake.add_user("carol")
    fake.add_user("mallory", state="blocked")
    fake.add_group("acme/pricing", {"alice": 30, "dave": 20, "mallory": 40, "erin": 40})  # dave: reporter


def draft(reviewers: tuple[str, ...], assignees: tuple[str, ...] = (), fallback: str | None = None) -> PullRequestDraft:
    return PullRequestDraft("b", "main", "t", "body", "onboard", Archetype.PYTHON_SERVICE, "0.1.0", 2, "not_run",
                            reviewers=reviewers, assignees=assignees, fallback_owner=fallback)


def lookups(fake: FakeGitLab) -> list[str]:
    return [path.removeprefix("/api/v4/") for method, path in fake.requests
            if method == "GET" and path.startswith(("/api/v4/users", "/api/v4/groups/"))]


def test_handles_resolve_to_user_ids_and_an_unknown_one_falls_back(tmp_path: Path) -> None:
    with FakeGitLab(tmp_path / "gl", token="s3cret") as fake:
        people(fake)
        forge = GitLabForge("s3cret", fake.url)
        ids = {name: fake.users[name][0] for name in ("alice", "bob", "carol", "erin")}
        # a group: its active members who may review (developer or above), in GitLab's order; then a user
        assert forge.route(draft(("@acme/pricing", "@Bob"))) == (
            (ids["alice"], ids["erin"], ids["bob"]), (ids["alice"],))
        assert forge.route(draft(("@acme/pricing",), ("@bob",))) == ((ids["alice"], ids["erin"]), (ids["bob"],))
        # nobody GitLab knows (an unknown user, an unknown group, a blocked user): the fallback owner
        assert forge.route(draft(("@ghost", "@acme/nobody", "@mallory"), fallback="@carol")) == (
            (ids["carol"],), (ids["carol"],))
        assert forge.route(draft(("@ghost",))) == ((), ())  # no fallback either: nobody asked, and no error
        # each handle looked up once (usernames are case-insensitive): @acme/pricing and @bob were asked twice
        assert lookups(fake) == ["groups/acme%2Fpricing/members", "users?username=Bob", "users?username=ghost",
                                 "groups/acme%2Fnobody/members", "users?username=mallory", "users?username=carol"]
        assert fake.refused == []


def test_a_gitlab_campaign_sends_the_owners_ids_and_looks_each_handle_up_once(
        store: Store, settings: RolloutSettings, tmp_path: Path) -> None:
    clock = FixedClock(MONDAY)
    with FakeGitLab(tmp_path / "gl", token="s3cret") as fake:
        people(fake)
        pricing = fake.add_repository("acme/pricing-service", FLEET / "pricing-service")
        payments = fake.add_repository("acme/payments-service", FLEET / "payments-service")
        fake.add_repository("acme/rollout-campaigns", FLEET / "pricing-service")
        (pricing / "CODEOWNERS").write_text("* @acme/pricing @bob\n")
        (payments / "CODEOWNERS").write_text("* @ghost\n")
        forge = GitLabForge("s3cret", fake.url)
        log = PullRequestLog(store)
        campaigns = Campaigns(store, forge, Rollout(forge, log, clock, settings), clock)
        spec = CampaignSpec.parse({"name": "c", "repos": [str(pricing), str(payments)], "fallback_owner": "@carol",
                                   "tracking_repo": "acme/rollout-campaigns",
                                   "rings": [{"name": "ring-1", "rule": {}}]}, "test")
        campaigns.plan(spec)
        done = campaigns.advance("c")
        assert done.opened == {"payments-service": 1, "pricing-service": 1}, (done.held, done.failed)
        [pricing_mr] = fake.pulls["acme/pricing-service"]
        assert (pricing_mr.reviewers, pricing_mr.assignees) == (["alice", "erin", "bob"], ["alice"])
        [payments_mr] = fake.pulls["acme/payments-service"]
        assert (payments_mr.reviewers, payments_mr.assignees) == (["carol"], ["carol"])  # @ghost: the fallback
        # each handle once in the run: @acme/pricing is the pricing-service's reviewer and its assignee
        assert sorted(lookups(fake)) == ["groups/acme%2Fpricing/members", "users?username=bob",
                                         "users?username=carol", "users?username=ghost"]
        fake.merge("acme/pricing-service", 1)
        clock.advance(hours=1)
        assert campaigns.advance("c").merged == ("pricing-service",)
        [issue] = fake.issues["acme/rollout-campaigns"]  # the tracking issue, on GitLab too
        assert issue.title == "rca rollout: c" and issue.labels == ["rca-rollout"]
        assert "| pricing-service | ring-1 | @acme/pricing | merged | #1 |" in issue.body
        assert fake.refused == []
        # the records keep the handles (what the owners are), the forge got the ids
        assert sorted(r.reviewers for r in log.records("gitlab")) == [("@acme/pricing", "@bob"), ("@ghost",)]
