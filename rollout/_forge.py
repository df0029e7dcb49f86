"""The one seam to every forge: GitHub, GitLab and `local` (bare repositories + PR records in the rca database)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rollout._git import BranchHead, git
from rollout._model import PullRequest, PullRequestDraft, RolloutError


@dataclass(frozen=True)
class Checkout:
    """A work tree of a forge repository at its default branch, where the bot makes its change."""

    repo: str  # the forge's name for it: owner/name, group/project, or the local repository's name
    path: Path
    base: str  # the default branch
    base_sha: str


class Forge(Protocol):
    """What the bot needs from a forge. Implementations: LocalForge, GitHubForge, GitLabForge."""

    kind: str

    def checkout(self, source: Path, workdir: Path) -> Checkout:
        """A fresh work tree of the repository `source` is a checkout (or, for `local`, a folder) of."""
        ...

    def find_pull_request(self, repo: str, branch: str) -> PullRequest | None:
        """The bot's pull request from `branch`, in any state (the newest when there are several)."""
        ...

    def branch_head(self, repo: str, branch: str) -> BranchHead | None:
        ...

    def push(self, checkout: Checkout, branch: str) -> str:
        """Make `branch` on the forge the work tree's HEAD (one commit on the base); returns its sha."""
        ...

    def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        ...

    def update_pull_request(self, repo: str, number: int, draft: PullRequestDraft) -> PullRequest:
        ...

    def open_issue(self, repo: str, title: str, body: str) -> int:
        """Open an issue (a campaign's tracking issue); returns its number."""
        ...

    def update_issue(self, repo: str, number: int, title: str, body: str) -> None:
        ...


def local_clone(source: Path, destination: Path) -> None:
    """A clone of a local checkout into an empty `destination`, at the checkout's HEAD."""
    if not (source / ".git").exists():
        raise RolloutError(f"{source} is not a git checkout; the {source} repository must be cloned first")
    git("clone", "--quiet", "--no-hardlinks", source.resolve(), destination, cwd=destination.parent)


_REMOTE = re.compile(r"^(?:[a-z+]+://(?:[^@/]+@)?[^/]+/|[^@]+@[^:]+:)(?P<path>.+?)(?:\.git)?/?$")


def remote_path(checkout: Path) -> str:
    """owner/name (or group/sub/project) from the checkout's `origin` URL."""
    url = git("remote", "get-url", "origin", cwd=checkout).strip()
    found = _REMOTE.match(url)
    if not found:
        raise RolloutError(f"{checkout}: cannot read the repository's path from its origin {url!r}")
    return found.group("path")


def clone_at(source: Path, work: Path, repo: str, base: str, base_sha: str) -> Checkout:
    """A fresh clone of the local checkout `source` at the forge's `base_sha`, which the checkout must have: the
    change is made on what the forge has, never on a stale or unpushed local state."""
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    local_clone(source, work)
    try:
        git("cat-file", "-e", f"{base_sha}^{{commit}}", cwd=work)
    except RolloutError:
        raise RolloutError(f"{source} does not have {repo}'s {base} head {base_sha[:12]}: `git -C {source} pull` "
                           "first, so the change is made on what the forge has") from None
    git("checkout", "--quiet", "--detach", base_sha, cwd=work)
    return Checkout(repo, work, base, base_sha)
