"""Owner routing on GitHub, through githubkit against the fake GitHub: GitHub refuses a whole review request (422)
when one handle is not a collaborator, so the handles GitHub takes are kept, the campaign's fallback owner is asked
when it takes none, and a pull request that is already open never fails its onboarding over routing."""

from __future__ import annotations

from pathlib import Path

from rollout import Archetype, FakeGitHub, GitHubForge, PullRequestDraft
from rollout._git import git

from .conftest import FLEET


def draft(branch: str, reviewers: tuple[str, ...], fallback: str | None = None,
          assignees: tuple[str, ...] = ()) -> PullRequestDraft:
    return PullRequestDraft(branch, "main", "t", "body", "onboard", Archetype.PYTHON_SERVICE, "0.1.0", 2, "not_run",
                            reviewers=reviewers, assignees=assignees, fallback_owner=fallback)


def opened(fake: FakeGitHub, forge: GitHubForge, source: Path, branch: str,
           d: PullRequestDraft) -> tuple[list[str], list[str]]:
    """Open a pull request from a one-file change on `branch`; the reviewers and assignees the fake recorded."""
    checkout = forge.checkout(source, source.parent / f"work-{branch}")
    (checkout.path / "NOTES.md").write_text(f"{branch}\n")
    git("add", "NOTES.md", cwd=checkout.path)
    git("-c", "user.name=bot", "-c", "user.email=bot@example.com", "commit", "-qm", "onboard", cwd=checkout.path)
    forge.push(checkout, branch)
    number = forge.open_pull_request(checkout.repo, d).number
    [pull] = [p for p in fake.pulls[checkout.repo] if p.number == number]
    return pull.reviewers, pull.assignees


def test_the_collaborators_github_takes_are_kept_and_the_fallback_asked_when_it_takes_none(tmp_path: Path) -> None:
    with FakeGitHub(tmp_path / "gh", token="s3cret") as fake:
        source = fake.add_repository("acme/pricing-service", FLEET / "pricing-service")
        for handle in ("alice", "acme/pricing", "carol"):
            fake.add_collaborator(handle)
        forge = GitHubForge("s3cret", fake.url)
        # all collaborators: one request; the first user asked is assigned (a team cannot be)
        assert opened(fake, forge, source, "b1", draft("b1", ("@acme/pricing", "@Alice"))) == (
            ["Alice", "acme/pricing"], ["Alice"])
        # @ghost is not a collaborator: GitHub refuses the request, the others are asked one by one
        assert opened(fake, forge, source, "b2", draft("b2", ("@ghost", "@alice"), fallback="@carol")) == (
            ["alice"], ["alice"])
        # nobody GitHub takes: the fallback owner
        assert opened(fake, forge, source, "b3", draft("b3", ("@ghost", "@acme/nobody"), fallback="@carol")) == (
            ["carol"], ["carol"])
        # nobody and no fallback: the pull request is open, unrouted, and no error
        assert opened(fake, forge, source, "b4", draft("b4", ("@ghost",))) == ([], [])
        # the draft's own assignees win; one GitHub cannot assign is left out, as GitHub does
        assert opened(fake, forge, source, "b5", draft("b5", ("@acme/pricing",), assignees=("@carol", "@ghost"))) == (
            ["acme/pricing"], ["carol"])
        assert fake.refused == []
