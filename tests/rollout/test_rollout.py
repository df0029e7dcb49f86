"""The PR-bot on the local forge, on fake GitHub and GitLab servers (real HTTP on loopback), and through the CLI:
one pull request per repository however often it runs, never a reopened one, formatting kept."""

from __future__ import annotations

import difflib
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import githubkit
import gitlab
import httpx
import pytest

from evidence._store import Store
from rca.cli import run
from rollout import (
    ONBOARD_BRANCH,
    Archetype,
    FakeGitHub,
    FakeGitLab,
    GitHubForge,
    GitLabForge,
    LocalForge,
    PullRequestLog,
    RingPlan,
    Rollout,
    RolloutSettings,
    detect,
)
from support import FixedClock

from .conftest import FLEET, REPOS


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def local_bot(store: Store, settings: RolloutSettings, clock: FixedClock) -> tuple[Rollout, LocalForge]:
    log = PullRequestLog(store)
    forge = LocalForge(settings.forge_root, log, clock)
    return Rollout(forge, log, clock, settings), forge


def test_each_example_repository_is_its_archetype(settings: RolloutSettings) -> None:
    found = {name: detect(FLEET / name, settings) for name in REPOS}
    assert {name: d.archetype for name, d in found.items()} == {
        "inventory-api": Archetype.GO_MODULE, "notifications-service": Archetype.NODE_SERVICE,
        "orders-rollup-job": Archetype.PYSPARK_JOB, "payments-service": Archetype.SPRING_BOOT_MAVEN,
        "pricing-service": Archetype.PYTHON_SERVICE}
    assert not any(d.onboarded for d in found.values())


def test_an_unknown_repository_is_skipped_with_the_reason(store: Store, settings: RolloutSettings, tmp_path: Path,
                                                          clock: FixedClock) -> None:
    docs = tmp_path / "handbook"
    docs.mkdir()
    (docs / "README.md").write_text("# The handbook\n")
    bot, _ = local_bot(store, settings, clock)
    [result] = bot.onboard([docs])
    assert (result.outcome, result.archetype, result.pull_request) == ("skipped", None, None)
    assert "pom.xml" in result.reason and "go.mod" in result.reason, result.reason


def test_reruns_update_one_pull_request_and_a_closed_one_is_never_reopened(
        store: Store, settings: RolloutSettings, clock: FixedClock, fleet_copy: Callable[..., Path]) -> None:
    source = fleet_copy("pricing-service")
    bot, forge = local_bot(store, settings, clock)
    first = bot.onboard([source])[0]
    assert (first.outcome, first.branch) == ("opened", ONBOARD_BRANCH), first.reason
    clock.advance(hours=1)
    assert bot.onboard([source])[0].outcome == "unchanged"
    # another ring plan changes the branch: the same pull request is updated, its number kept
    moved = Rollout(forge, bot.log, clock, settings, RingPlan(1)).onboard([source])[0]
    assert moved.outcome == "updated" and moved.pull_request is not None and first.pull_request is not None
    assert moved.pull_request.number == first.pull_request.number
    records = bot.log.records("local")
    assert [(r.pull_request.number, r.pull_request.state, r.kind) for r in records] == [(1, "open", "onboard")]
    body = records[0].body
    sections = re.findall(r"^## (.+)$", body, re.MULTILINE)
    assert sections == ["What changed", "Why it is safe", "How to roll back", "Ring plan", "Dry run"], body
    assert "\n\n## Why it is safe" in body and "AUTOPILOT_ENABLED=false" in body and "git revert -m 1" in body
    assert "| 1 | prod | the first production cohort | **this service**" in body  # RingPlan(1) above
    assert records[0].created_at < records[0].updated_at

    forge.close("pricing-service", 1)
    again = bot.onboard([source])[0]
    assert again.outcome == "skipped" and "closed without merging" in again.reason
    assert [r.pull_request.state for r in bot.log.records("local")] == ["closed"]


def test_a_merged_onboarding_makes_the_repository_onboarded_and_removable(
        store: Store, settings: RolloutSettings, clock: FixedClock, fleet_copy: Callable[..., Path]) -> None:
    source = fleet_copy("pricing-service")
    bot, forge = local_bot(store, settings, clock)
    assert bot.onboard([source])[0].outcome == "opened"
    forge.merge("pricing-service", 1)
    again = bot.onboard([source])[0]
    assert again.outcome == "skipped" and again.reason.startswith("already onboarded"), again.reason
    removal = bot.remove([source])[0]
    assert removal.outcome == "opened" and removal.pull_request is not None
    record = bot.log.get("local", "pricing-service", removal.pull_request.number)
    assert record is not None and record.kind == "remove"
    assert "git revert" in record.body or "revert" in record.body.lower()


def test_a_pom_with_comments_crlf_and_tabs_keeps_every_byte_but_the_added_lines(
        store: Store, settings: RolloutSettings, clock: FixedClock, fleet_copy: Callable[..., Path]) -> None:
    source = fleet_copy("payments-service")
    pom = source / "pom.xml"
    text = pom.read_text()
    assert "\t" in text, "the example pom is indented with tabs"
    text = text.replace("<dependencies>", "<dependencies>\n\t\t<!-- the web layer -->", 1)
    text = text.replace("<properties>", "<properties>  <!-- keep: release train  -->", 1)
    original = text.replace("\n", "\r\n").encode()
    pom.write_bytes(original)
    bot, _ = local_bot(store, settings, clock)
    assert bot.onboard([source])[0].outcome == "opened"
    work = settings.workdir / "payments-service"
    diff = git("diff", "main", ONBOARD_BRANCH, "--", "pom.xml", cwd=work)
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert removed == [] and any("autopilot-spring-boot-starter" in line for line in added), diff
    changed = subprocess.run(["git", "show", f"{ONBOARD_BRANCH}:pom.xml"], cwd=work, capture_output=True,
                             check=True).stdout
    assert all(line.endswith(b"\r\n") for line in changed.splitlines(keepends=True))
    assert all(line.startswith("\t") for line in added), "added lines are indented like their neighbours: tabs"
    # byte for byte, line endings included: every original line is still there, only insertions between them
    matcher = difflib.SequenceMatcher(None, original.splitlines(keepends=True), changed.splitlines(keepends=True),
                                      autojunk=False)
    assert {op for op, *_ in matcher.get_opcodes()} == {"equal", "insert"}


def test_the_cli_lists_each_repository_and_two_runs_give_one_pull_request_each(
        tmp_path: Path, artifacts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RCA_DATABASE_URL", f"sqlite:///{tmp_path / 'rca.db'}")
    monkeypatch.setenv("RCA_ROLLOUT_FORGE_ROOT", str(tmp_path / "forge"))
    monkeypatch.setenv("RCA_ROLLOUT_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("RCA_ROLLOUT_ARTIFACTS_DIR", str(artifacts))
    repos = [str(FLEET / name) for name in REPOS]
    assert run(["rollout", "open", "--forge", "local", *repos]) == 0
    table = capsys.readouterr().out
    for name, archetype in (("inventory-api", "go-module"), ("notifications-service", "node-service"),
                            ("orders-rollup-job", "pyspark-job"), ("payments-service", "spring-boot-maven"),
                            ("pricing-service", "python-service")):
        row = next(line for line in table.splitlines() if f" {name} " in line)
        assert archetype in row and "opened" in row and ONBOARD_BRANCH in row and "#1 file://" in row, row
    assert run(["rollout", "open", "--forge", "local", "--json", *repos]) == 0
    second = capsys.readouterr().out
    assert second.count('"outcome":"unchanged"') == 5, second
    assert run(["rollout", "prs", "--json"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert sorted(re.search(r'"repo":"([^"]+)"', line).group(1) for line in listed) == REPOS  # type: ignore[union-attr]
    for name in REPOS:  # one branch per bare repository, besides main
        refs = git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=tmp_path / "forge" / f"{name}.git")
        assert sorted(refs.split()) == sorted(["main", ONBOARD_BRANCH])


def test_the_cli_says_what_is_wrong_with_a_forge_it_cannot_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RCA_DATABASE_URL", f"sqlite:///{tmp_path / 'rca.db'}")
    monkeypatch.delenv("RCA_ROLLOUT_GITHUB_TOKEN", raising=False)
    assert run(["rollout", "open", "--forge", "github", str(FLEET / "pricing-service")]) == 1
    assert "RCA_ROLLOUT_GITHUB_TOKEN" in capsys.readouterr().err


# --- GitHub and GitLab, against fake servers that check each request against the published API ----------------

@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_forge_gets_one_pull_request_per_repository_and_never_a_reopened_one(
        kind: str, store: Store, settings: RolloutSettings, clock: FixedClock, tmp_path: Path) -> None:
    fake_class = FakeGitHub if kind == "github" else FakeGitLab
    with fake_class(tmp_path / kind, token="s3cret") as fake:
        checkouts = [fake.add_repository(f"acme/{name}", FLEET / name) for name in ("pricing-service",
                                                                                    "payments-service")]
        forge = GitHubForge("s3cret", fake.url) if kind == "github" else GitLabForge("s3cret", fake.url)
        log = PullRequestLog(store)
        bot = Rollout(forge, log, clock, settings)
        first = bot.onboard(checkouts)
        assert [r.outcome for r in first] == ["opened", "opened"], [r.reason for r in first]
        assert bot.onboard(checkouts)[0].outcome == "unchanged"
        assert {repo: [p.number for p in pulls] for repo, pulls in fake.pulls.items()} == {
            "acme/pricing-service": [1], "acme/payments-service": [1]}
        pull = fake.pulls["acme/pricing-service"][0]
        assert pull.branch == ONBOARD_BRANCH and "How to roll back" in pull.body
        assert set(pull.labels) == {"autopilot", "rca-rollout"}
        # the branch on the forge holds exactly the change the bot made locally
        bare = tmp_path / kind / "acme" / "pricing-service.git"
        work = settings.workdir / "acme--pricing-service"
        assert git("rev-parse", f"{ONBOARD_BRANCH}^{{tree}}", cwd=bare) == git("rev-parse", "HEAD^{tree}", cwd=work)

        fake.close("acme/pricing-service", 1)
        fake.merge("acme/payments-service", 1)
        again = bot.onboard(checkouts)
        assert again[0].outcome == "skipped" and "closed without merging" in again[0].reason
        # the checkout is behind the forge's main now: the bot says so rather than change a stale tree
        assert again[1].outcome == "failed" and "pull" in again[1].reason, again[1].reason
        git("pull", "--quiet", "--ff-only", str(tmp_path / kind / "acme" / "payments-service.git"), "main",
            cwd=checkouts[1])
        merged = bot.onboard(checkouts[1:])[0]
        assert merged.outcome == "skipped" and merged.reason.startswith("already onboarded"), merged.reason
        assert [p.state for p in fake.pulls["acme/pricing-service"]] == ["closed"]
        assert fake.refused == []
        assert {r.pull_request.repo for r in log.records(kind)} == {"acme/pricing-service", "acme/payments-service"}


def test_the_fake_github_refuses_what_github_would(tmp_path: Path) -> None:
    with FakeGitHub(tmp_path / "gh", token="s3cret") as fake:
        fake.add_repository("acme/pricing-service", FLEET / "pricing-service")
        client = githubkit.GitHub("s3cret", base_url=fake.url, http_cache=False)
        headers = {"Authorization": "token s3cret", "X-GitHub-Api-Version": fake.api_version}
        url = f"{fake.url}/repos/acme/pricing-service/pulls"
        unknown = httpx.post(url, json={"head": "x", "base": "main", "reviewers": ["a"]}, headers=headers)
        assert unknown.status_code == 422 and "reviewers" in unknown.json()["message"]
        wrong_type = httpx.post(url, json={"head": "x", "base": 7}, headers=headers)
        assert wrong_type.status_code == 422
        assert httpx.get(url, params={"status": "all"}, headers=headers).status_code == 422
        assert httpx.get(url, headers={**headers, "Authorization": "token nope"}).status_code == 401
        assert httpx.get(f"{fake.url}/repos/acme/pricing-service/merge-it", headers=headers).status_code == 404
        assert len(fake.refused) == 5
        assert client.rest.repos.get("acme", "pricing-service").json()["default_branch"] == "main"


def test_the_fake_gitlab_refuses_what_gitlab_would(tmp_path: Path) -> None:
    with FakeGitLab(tmp_path / "gl", token="s3cret") as fake:
        fake.add_repository("acme/pricing-service", FLEET / "pricing-service")
        project = gitlab.Gitlab(fake.url, private_token="s3cret").projects.get("acme/pricing-service")
        mrs = f"{fake.url}/api/v4/projects/acme%2Fpricing-service/merge_requests"
        untitled = httpx.post(mrs, json={"source_branch": "main", "target_branch": "main", "reviewers": [1]},
                              headers={"PRIVATE-TOKEN": "s3cret"})
        assert untitled.status_code == 400 and "title" in untitled.text and "reviewers" in untitled.text
        with pytest.raises(gitlab.exceptions.GitlabCreateError):
            project.commits.create({"branch": "x", "commit_message": "m", "start_branch": "main",
                                    "actions": [{"action": "create", "file_path": "pyproject.toml", "content": "x"}]})
        with pytest.raises(gitlab.exceptions.GitlabAuthenticationError):
            gitlab.Gitlab(fake.url, private_token="nope").projects.get("acme/pricing-service")
        assert [status for *_, status, _ in fake.refused] == [400, 400, 401]
