"""GitLab (gitlab.com or self-managed) through python-gitlab: the branch is one commit written by the Commits API
(create/update/delete actions on the base, forced onto the bot's branch), the pull request a merge request."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gitlab
from gitlab.exceptions import GitlabError

from rollout._forge import Checkout, clone_at, remote_path
from rollout._git import BranchHead, changes, git, recorded_tree
from rollout._model import PullRequest, PullRequestDraft, PullRequestState, RolloutError

T = TypeVar("T")

_STATES: dict[str, PullRequestState] = {"opened": "open", "merged": "merged", "closed": "closed", "locked": "closed"}
DEVELOPER = 30  # GitLab's access levels: 10 guest, 20 reporter, 30 developer (may review), 40 maintainer, 50 owner
MAX_GROUP_REVIEWERS = 5  # a group handle asks at most this many of its members, so a large group is not paged


class GitLabForge:
    kind = "gitlab"

    def __init__(self, token: str, url: str = "https://gitlab.com") -> None:
        if not token:
            raise RolloutError("the gitlab forge needs a token: set RCA_ROLLOUT_GITLAB_TOKEN (scope api)")
        self.client = gitlab.Gitlab(url, private_token=token, timeout=30, retry_transient_errors=False)
        self._projects: dict[str, Any] = {}
        self._people: dict[str, tuple[int, ...]] = {}  # handle -> user ids, looked up once per forge (one run)

    @staticmethod
    def _call(what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except GitlabError as exc:
            raise RolloutError(f"GitLab refused {what} (HTTP {exc.response_code}: {str(exc.error_message)[:300]}); "
                               "check the token's access to the project") from exc

    def _project(self, repo: str) -> Any:
        if repo not in self._projects:
            self._projects[repo] = self._call(f"reading {repo}", lambda: self.client.projects.get(repo))
        return self._projects[repo]

    def checkout(self, source: Path, workdir: Path) -> Checkout:
        repo = remote_path(source)
        project = self._project(repo)
        base = str(project.default_branch)
        branch = self._call(f"reading {repo}'s {base}", lambda: project.branches.get(base))
        return clone_at(source, workdir.resolve() / repo.replace("/", "--"), repo, base, str(branch.commit["id"]))

    def find_pull_request(self, repo: str, branch: str) -> PullRequest | None:
        project = self._project(repo)
        found = self._call(f"listing {repo}'s merge requests", lambda: project.mergerequests.list(
            source_branch=branch, state="all", get_all=True))
        mine = [mr.attributes for mr in found if mr.attributes["source_branch"] == branch]
        return self._pull_request(repo, max(mine, key=lambda mr: mr["iid"])) if mine else None

    def branch_head(self, repo: str, branch: str) -> BranchHead | None:
        project = self._project(repo)
        try:
            found = project.branches.get(branch)
        except GitlabError as exc:
            if exc.response_code == 404:
                return None
            raise RolloutError(f"GitLab refused reading {repo}'s {branch} (HTTP {exc.response_code})") from exc
        return BranchHead(str(found.commit["id"]), recorded_tree(str(found.commit["message"])))

    def push(self, checkout: Checkout, branch: str) -> str:
        project = self._project(checkout.repo)
        actions: list[dict[str, Any]] = []
        for change in changes(checkout.path, checkout.base_sha):
            if change.content is None:
                actions.append({"action": "delete", "file_path": change.path})
                continue
            existed = _exists(checkout.path, checkout.base_sha, change.path)
            actions.append({"action": "update" if existed else "create", "file_path": change.path,
                            "content": base64.b64encode(change.content).decode(), "encoding": "base64",
                            "execute_filemode": change.executable})
        message = git("log", "-1", "--format=%B", "HEAD", cwd=checkout.path)
        who = git("log", "-1", "--format=%an%x00%ae", "HEAD", cwd=checkout.path).strip().split("\0")
        commit = self._call(f"writing {branch}", lambda: project.commits.create({
            "branch": branch, "start_sha": checkout.base_sha, "force": True, "commit_message": message,
            "author_name": who[0], "author_email": who[1], "actions": actions}))
        return str(commit.id)

    def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        project = self._project(repo)
        reviewers, assignees = self.route(draft)
        made = self._call(f"opening a merge request on {repo}", lambda: project.mergerequests.create({
            "source_branch": draft.branch, "target_branch": draft.base, "title": draft.title,
            "description": draft.body, "labels": ",".join(draft.labels), "remove_source_branch": True,
            **({"reviewer_ids": list(reviewers)} if reviewers else {}),
            **({"assignee_ids": list(assignees)} if assignees else {})}))
        return self._pull_request(repo, made.attributes)

    def route(self, draft: PullRequestDraft) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Owner routing: GitLab takes user ids. Reviewers: every handle's users (the draft's fallback owner's
        when none resolves); the assignee: the first of the assignee handles' users, else the first reviewer (one,
        as GitLab Free allows). A handle the forge does not know resolves to nobody, and is not an error."""
        reviewers = self._users(draft.reviewers) or self._users((draft.fallback_owner,) if draft.fallback_owner
                                                               else ())
        assignees = self._users(draft.assignees)[:1] or reviewers[:1]
        return reviewers, assignees

    def _users(self, handles: tuple[str, ...]) -> tuple[int, ...]:
        found: list[int] = []
        for handle in handles:
            for user in self._resolve(handle):
                if user not in found:
                    found.append(user)
        return tuple(found)

    def _resolve(self, handle: str) -> tuple[int, ...]:
        """`@user`: GET /users?username= (an exact match); `@group/subgroup` (a CODEOWNERS group): the group's
        direct members who may review (active, Developer or above), at most MAX_GROUP_REVIEWERS, in GitLab's order
        (GET /groups/:id/members). Cached: a fleet's twenty merge requests for one owner look it up once."""
        name = handle.strip().lstrip("@")
        key = name.lower()  # GitLab's usernames and group paths are case-insensitive
        if key not in self._people:
            if "/" in name:
                group = self.client.groups.get(name, lazy=True)
                try:
                    members = group.members.list(get_all=True)
                except GitlabError as exc:
                    if exc.response_code != 404:
                        raise RolloutError(f"GitLab refused listing group {name}'s members (HTTP "
                                           f"{exc.response_code}); the token needs read_api") from exc
                    members = []
                ids = [int(m.attributes["id"]) for m in members if m.attributes.get("state") == "active"
                       and int(m.attributes.get("access_level") or 0) >= DEVELOPER][:MAX_GROUP_REVIEWERS]
            else:
                users = self._call(f"looking up user {name}", lambda: self.client.users.list(username=name,
                                                                                           get_all=True))
                ids = [int(u.attributes["id"]) for u in users if str(u.attributes.get("username")).lower()
                       == name.lower() and u.attributes.get("state") == "active"]
            self._people[key] = tuple(ids)
        return self._people[key]

    def update_pull_request(self, repo: str, number: int, draft: PullRequestDraft) -> PullRequest:
        project = self._project(repo)
        done = self._call(f"updating {repo}!{number}", lambda: project.mergerequests.update(
            number, {"title": draft.title, "description": draft.body}))
        return self._pull_request(repo, done)

    def open_issue(self, repo: str, title: str, body: str) -> int:
        project = self._project(repo)
        made = self._call(f"opening an issue on {repo}", lambda: project.issues.create(
            {"title": title, "description": body, "labels": "rca-rollout"}))
        return int(made.attributes["iid"])

    def update_issue(self, repo: str, number: int, title: str, body: str) -> None:
        project = self._project(repo)
        self._call(f"updating {repo}#{number}", lambda: project.issues.update(number, {"title": title,
                                                                                      "description": body}))

    def _pull_request(self, repo: str, data: dict[str, Any]) -> PullRequest:
        return PullRequest(self.kind, repo, int(data["iid"]), str(data["web_url"]), str(data["source_branch"]),
                           str(data["target_branch"]), str(data["title"]), _STATES.get(str(data["state"]), "closed"),
                           str(data.get("sha") or ""))


def _exists(work: Path, sha: str, path: str) -> bool:
    try:
        git("cat-file", "-e", f"{sha}:{path}", cwd=work)
    except RolloutError:
        return False
    return True
