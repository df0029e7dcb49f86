"""GitHub (or GitHub Enterprise) through githubkit: the branch is written with the Git data API (blobs, a tree on
the base's, one commit, the ref), so the bot needs a token and a local checkout, never push access over SSH."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from rollout._forge import Checkout, clone_at, remote_path
from rollout._git import BranchHead, changes, git, recorded_tree
from rollout._model import PullRequest, PullRequestDraft, PullRequestState, RolloutError


class GitHubForge:
    kind = "github"

    def __init__(self, token: str, base_url: str = "https://api.github.com") -> None:
        if not token:
            raise RolloutError("the github forge needs a token: set RCA_ROLLOUT_GITHUB_TOKEN (contents and pull "
                               "requests: write)")
        self.client = GitHub(token, base_url=base_url, http_cache=False, auto_retry=False, timeout=30)

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs).json()
        except RequestFailed as exc:
            status = exc.response.status_code
            raise RolloutError(f"GitHub refused {what} (HTTP {status}: {exc.response.text[:300]}); check the token's "
                               "access to the repository") from exc

    @staticmethod
    def _split(repo: str) -> tuple[str, str]:
        owner, _, name = repo.partition("/")
        if not owner or not name:
            raise RolloutError(f"{repo!r} is not owner/name; the checkout's origin must be a GitHub repository")
        return owner, name

    def checkout(self, source: Path, workdir: Path) -> Checkout:
        repo = remote_path(source)
        owner, name = self._split(repo)
        info = self._call(f"reading {repo}", self.client.rest.repos.get, owner, name)
        base = str(info["default_branch"])
        ref = self._call(f"reading {repo}'s {base}", self.client.rest.git.get_ref, owner, name, f"heads/{base}")
        base_sha = str(ref["object"]["sha"])
        return clone_at(source, workdir.resolve() / repo.replace("/", "--"), repo, base, base_sha)

    def find_pull_request(self, repo: str, branch: str) -> PullRequest | None:
        owner, name = self._split(repo)
        found = self._call(f"listing {repo}'s pull requests", self.client.rest.pulls.list, owner, name,
                           state="all", head=f"{owner}:{branch}", per_page=100)
        mine = [p for p in found if p["head"]["ref"] == branch]
        return self._pull_request(repo, max(mine, key=lambda p: p["number"])) if mine else None

    def branch_head(self, repo: str, branch: str) -> BranchHead | None:
        owner, name = self._split(repo)
        try:
            ref: Any = self.client.rest.git.get_ref(owner, name, f"heads/{branch}").json()
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return None
            raise RolloutError(f"GitHub refused reading {repo}'s {branch} (HTTP {exc.response.status_code})") from exc
        sha = str(ref["object"]["sha"])
        commit = self._call(f"reading commit {sha}", self.client.rest.git.get_commit, owner, name, sha)
        return BranchHead(sha, recorded_tree(str(commit["message"])))

    def push(self, checkout: Checkout, branch: str) -> str:
        """One commit on the base with the work tree's changes, then the branch points at it (forced: the branch
        is the bot's own; branch_head refused a branch with someone else's commit before this)."""
        owner, name = self._split(checkout.repo)
        rest = self.client.rest.git
        entries: list[dict[str, Any]] = []
        for change in changes(checkout.path, checkout.base_sha):
            if change.content is None:
                entries.append({"path": change.path, "mode": "100644", "type": "blob", "sha": None})
                continue
            blob = self._call(f"uploading {change.path}", rest.create_blob, owner, name,
                              content=base64.b64encode(change.content).decode(), encoding="base64")
            entries.append({"path": change.path, "mode": "100755" if change.executable else "100644",
                            "type": "blob", "sha": blob["sha"]})
        base_tree = git("rev-parse", f"{checkout.base_sha}^{{tree}}", cwd=checkout.path).strip()
        tree = self._call("writing the tree", rest.create_tree, owner, name, tree=entries, base_tree=base_tree)
        message = git("log", "-1", "--format=%B", "HEAD", cwd=checkout.path)
        who = git("log", "-1", "--format=%an%x00%ae%x00%aI", "HEAD", cwd=checkout.path).strip().split("\0")
        person = {"name": who[0], "email": who[1], "date": who[2]}
        commit = self._call("writing the commit", rest.create_commit, owner, name, message=message, tree=tree["sha"],
                            parents=[checkout.base_sha], author=person, committer=person)
        sha = str(commit["sha"])
        if self.branch_head(checkout.repo, branch) is None:
            self._call(f"creating {branch}", rest.create_ref, owner, name, ref=f"refs/heads/{branch}", sha=sha)
        else:
            self._call(f"moving {branch}", rest.update_ref, owner, name, f"heads/{branch}", sha=sha, force=True)
        return sha

    def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        owner, name = self._split(repo)
        made = self._call(f"opening a pull request on {repo}", self.client.rest.pulls.create, owner, name,
                          title=draft.title, head=draft.branch, base=draft.base, body=draft.body,
                          maintainer_can_modify=True)
        self._call(f"labelling #{made['number']}", self.client.rest.issues.add_labels, owner, name, made["number"],
                   labels=list(draft.labels))
        self._route(repo, int(made["number"]), draft)
        return self._pull_request(repo, made)

    def _route(self, repo: str, number: int, draft: PullRequestDraft) -> None:
        """Owner routing: `@org/team` handles are team reviewers (by slug), `@user` handles user reviewers. GitHub
        refuses a whole request (422) when one handle is not a collaborator, so the handles are then asked one at a
        time and the ones GitHub takes kept; when it takes none, the campaign's fallback owner is asked. The pull
        request is open by then: routing that fails leaves it without reviewers rather than failing the
        onboarding. Assignees: the draft's users, else the first user who was asked to review (a team cannot be
        assigned)."""
        owner, name = self._split(repo)
        asked = self._ask(owner, name, number, draft.reviewers)
        if not asked and draft.fallback_owner:
            asked = self._ask(owner, name, number, (draft.fallback_owner,))
        assignees = [h.lstrip("@") for h in draft.assignees if "/" not in h] or \
            [h.lstrip("@") for h in asked if "/" not in h][:1]
        if assignees:
            # GitHub leaves out, without an error, whoever cannot be assigned.
            self._call(f"assigning #{number}", self.client.rest.issues.add_assignees, owner, name, number,
                       assignees=assignees)

    def _ask(self, owner: str, name: str, number: int, handles: tuple[str, ...]) -> tuple[str, ...]:
        """The handles GitHub accepted as reviewers of #number: all in one request, or one by one after a 422."""
        if not handles:
            return ()
        try:
            self._request_reviewers(owner, name, number, handles)
            return handles
        except RequestFailed as exc:
            if exc.response.status_code != 422:
                raise RolloutError(f"GitHub refused asking reviewers on #{number} (HTTP {exc.response.status_code}: "
                                   f"{exc.response.text[:300]}); check the token's access to the repository") from exc
        if len(handles) == 1:
            return ()
        return tuple(h for h in handles if self._ask(owner, name, number, (h,)))

    def _request_reviewers(self, owner: str, name: str, number: int, handles: tuple[str, ...]) -> None:
        self.client.rest.pulls.request_reviewers(
            owner, name, number, reviewers=[h.lstrip("@") for h in handles if "/" not in h],
            team_reviewers=[h.rsplit("/", 1)[-1] for h in handles if "/" in h])

    def open_issue(self, repo: str, title: str, body: str) -> int:
        owner, name = self._split(repo)
        made = self._call(f"opening an issue on {repo}", self.client.rest.issues.create, owner, name, title=title,
                          body=body, labels=["rca-rollout"])
        return int(made["number"])

    def update_issue(self, repo: str, number: int, title: str, body: str) -> None:
        owner, name = self._split(repo)
        self._call(f"updating {repo}#{number}", self.client.rest.issues.update, owner, name, number, title=title,
                   body=body)

    def update_pull_request(self, repo: str, number: int, draft: PullRequestDraft) -> PullRequest:
        owner, name = self._split(repo)
        done = self._call(f"updating {repo}#{number}", self.client.rest.pulls.update, owner, name, number,
                          title=draft.title, body=draft.body)
        return self._pull_request(repo, done)

    def _pull_request(self, repo: str, data: dict[str, Any]) -> PullRequest:
        state: PullRequestState = ("merged" if data.get("merged_at") else
                                   "open" if data["state"] == "open" else "closed")
        return PullRequest(self.kind, repo, int(data["number"]), str(data["html_url"]), str(data["head"]["ref"]),
                           str(data["base"]["ref"]), str(data["title"]), state, str(data["head"]["sha"]))

