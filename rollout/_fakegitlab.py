"""The fake GitLab: GitLab's REST API v4 (the part the PR-bot uses), each route's parameters as GitLab's REST
documentation gives them (see rollout._fakeforge)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from starlette.requests import Request

from rollout._fakeforge import Refused, _git, _index, _Issue, _Pull, _Server, _who

# GitLab's REST API (docs.gitlab.com/api): per route, the parameters it requires and those it allows.
_GITLAB_SHAPES: dict[str, tuple[set[str], set[str]]] = {
    "create_commit": ({"branch", "commit_message", "actions"},
                      {"start_branch", "start_sha", "start_project", "author_email", "author_name", "stats", "force"}),
    "list_merge_requests": (set(), {"state", "source_branch", "target_branch", "labels", "order_by", "sort", "page",
                                    "per_page", "pagination", "view", "scope", "author_id", "search"}),
    "create_merge_request": ({"source_branch", "target_branch", "title"},
                             {"description", "labels", "remove_source_branch", "squash", "assignee_id",
                              "assignee_ids", "reviewer_ids", "milestone_id", "target_project_id",
                              "allow_collaboration", "approvals_before_merge"}),
    "update_merge_request": (set(), {"title", "description", "labels", "add_labels", "remove_labels", "state_event",
                                     "target_branch", "remove_source_branch", "squash", "assignee_ids",
                                     "reviewer_ids", "milestone_id", "discussion_locked", "allow_collaboration"}),
    # GET /users (users.md): `username` is an exact, case-insensitive match
    "list_users": (set(), {"username", "search", "active", "blocked", "external", "humans", "exclude_internal",
                           "without_project_bots", "page", "per_page", "pagination", "order_by", "sort"}),
    # GET /groups/:id/members (members.md): the group's direct members
    "list_group_members": (set(), {"query", "user_ids", "skip_users", "show_seat_info", "state", "page",
                                   "per_page", "pagination"}),
    "create_issue": ({"title"}, {"description", "labels", "assignee_ids", "confidential", "milestone_id",
                                 "due_date", "issue_type"}),
    "update_issue": (set(), {"title", "description", "labels", "add_labels", "remove_labels", "state_event",
                             "assignee_ids", "confidential", "milestone_id", "due_date", "discussion_locked"}),
}
_GITLAB_ACTION = ({"action", "file_path"}, {"content", "encoding", "previous_path", "last_commit_id",
                                            "execute_filemode"})


class FakeGitLab(_Server):
    """GitLab's REST API v4 (the part the PR-bot uses), at `url` (python-gitlab's url)."""

    _P = r"/api/v4/projects/(?P<project>[^/]+)"
    routes = [
        ("GET", re.compile(_P), "get_project"),
        ("GET", re.compile(_P + r"/repository/branches/(?P<branch>[^/]+)"), "get_branch"),
        ("POST", re.compile(_P + r"/repository/commits"), "create_commit"),
        ("GET", re.compile(_P + r"/merge_requests"), "list_merge_requests"),
        ("POST", re.compile(_P + r"/merge_requests"), "create_merge_request"),
        ("PUT", re.compile(_P + r"/merge_requests/(?P<iid>\d+)"), "update_merge_request"),
        ("POST", re.compile(_P + r"/issues"), "create_issue"),
        ("PUT", re.compile(_P + r"/issues/(?P<iid>\d+)"), "update_issue"),
        ("GET", re.compile(r"/api/v4/users"), "list_users"),
        ("GET", re.compile(r"/api/v4/groups/(?P<group>[^/]+)/members"), "list_group_members"),
    ]

    def __init__(self, root: Path, token: str) -> None:
        super().__init__(root, token)
        self.users: dict[str, tuple[int, str]] = {}  # lower-cased username -> (id, state)
        self.groups: dict[str, list[tuple[str, int]]] = {}  # full path -> (username, access level) of direct members

    # -- people, as an administrator sets them up ----------------------------------------------------------------
    def add_user(self, username: str, state: str = "active") -> int:
        """A user (state active or blocked); returns its numeric id."""
        user_id = self.users.get(username.lower(), (len(self.users) + 101, state))[0]
        self.users[username.lower()] = (user_id, state)
        return user_id

    def add_group(self, path: str, members: dict[str, int]) -> None:
        """A group (its full path, e.g. acme/team-billing) with its direct members: username -> access level."""
        for username in members:
            if username.lower() not in self.users:
                self.add_user(username)
        self.groups[path] = list(members.items())

    def username(self, user_id: int) -> str:
        for name, (found, _) in self.users.items():
            if found == user_id:
                return name
        raise Refused(400, f"user {user_id} does not exist")

    def __enter__(self) -> FakeGitLab:
        super().__enter__()
        return self

    def clone_url(self, repo: str) -> str:
        return f"git@gitlab.example:{repo}.git"

    def _authorize(self, request: Request) -> None:
        if request.headers.get("private-token") != self.token:
            raise Refused(401, "401 Unauthorized")

    def _project_path(self, project: str) -> str:
        """A project is named by its URL-encoded path or its numeric id."""
        if project.isdigit():
            for repo in self.pulls:
                if self._id(repo) == int(project):
                    return repo
            raise Refused(404, "404 Project Not Found")
        self.bare(project)
        return project

    @staticmethod
    def _id(repo: str) -> int:
        return sum(ord(c) * (i + 1) for i, c in enumerate(repo)) % 10**6 + 1

    def _shape(self, route: str, data: dict[str, Any], query: dict[str, str] | None = None) -> dict[str, Any]:
        values = {**(query or {}), **data}
        required, allowed = _GITLAB_SHAPES[route]
        missing, unknown = required - set(values), set(values) - required - allowed
        if missing or unknown:
            raise Refused(400, f"{route}: missing {sorted(missing)}, not allowed {sorted(unknown)}")
        return values

    def get_project(self, request: Request, data: Any, project: str) -> Any:
        repo = self._project_path(project)
        return {"id": self._id(repo), "path_with_namespace": repo, "default_branch": "main",
                "web_url": f"https://gitlab.example/{repo}", "name": repo.rsplit("/", 1)[-1]}

    def get_branch(self, request: Request, data: Any, project: str, branch: str) -> Any:
        repo = self._project_path(project)
        bare = self.bare(repo)
        sha = self._ref(bare, branch)
        if sha is None:
            raise Refused(404, "404 Branch Not Found")
        return {"name": branch, "merged": False, "protected": branch == "main", "default": branch == "main",
                "web_url": f"https://gitlab.example/{repo}/-/tree/{branch}",
                "commit": self._commit_json(self._commit(bare, sha))}

    @staticmethod
    def _commit_json(c: dict[str, str]) -> dict[str, Any]:
        return {"id": c["sha"], "short_id": c["sha"][:8], "title": c["message"].split("\n", 1)[0],
                "message": c["message"], "author_name": c["name"], "author_email": c["email"],
                "created_at": c["date"], "parent_ids": c["parents"].split()}

    def create_commit(self, request: Request, data: Any, project: str) -> Any:
        repo, body = self._project_path(project), self._shape("create_commit", data)
        bare = self.bare(repo)
        start = body.get("start_sha") or self._ref(bare, body.get("start_branch") or body["branch"])
        existing = self._ref(bare, body["branch"])
        if existing is not None and body.get("start_sha") is None and body.get("start_branch") is None:
            start = existing
        if existing is not None and start != existing and not body.get("force"):
            raise Refused(400, f"A branch called '{body['branch']}' already exists")
        if start is None:
            raise Refused(400, "You can only create or edit files when you are on a branch")
        if not isinstance(body["actions"], list) or not body["actions"]:
            raise Refused(400, "actions is missing or empty")
        base_tree = self._commit(bare, start)["tree"]
        with _index(bare, base_tree) as index:
            for action in body["actions"]:
                required, allowed = _GITLAB_ACTION
                if not isinstance(action, dict) or required - set(action) or set(action) - required - allowed:
                    raise Refused(400, f"actions: {action!r} does not fit {sorted(required | allowed)}")
                path, kind = action["file_path"], action["action"]
                present = index.has(path)
                if kind == "create" and present:
                    raise Refused(400, f"A file with this name already exists: {path}")
                if kind in ("update", "delete") and not present:
                    raise Refused(400, f"A file with this name doesn't exist: {path}")
                if kind == "delete":
                    index.remove(path)
                    continue
                if kind not in ("create", "update"):
                    raise Refused(400, f"actions: action {kind!r} is not create, delete, move, update or chmod")
                if action.get("encoding", "text") not in ("text", "base64"):
                    raise Refused(400, "actions: encoding does not have a valid value")
                content = (base64.b64decode(action.get("content", "")) if action.get("encoding") == "base64"
                           else str(action.get("content", "")).encode())
                sha = _git("hash-object", "-w", "--stdin", cwd=bare, input=content).strip()
                index.add("100755" if action.get("execute_filemode") else "100644", sha, path)
            tree = index.write()
        env = _who(body.get("author_name", "fake"), body.get("author_email", "fake@gitlab.example"))
        sha = _git("commit-tree", tree, "-p", start, cwd=bare, env=env, input=body["commit_message"].encode()).strip()
        _git("update-ref", f"refs/heads/{body['branch']}", sha, cwd=bare)
        return 201, self._commit_json(self._commit(bare, sha))

    def _mr_json(self, repo: str, pull: _Pull) -> dict[str, Any]:
        return {"id": self._id(repo) * 1000 + pull.number, "iid": pull.number, "project_id": self._id(repo),
                "title": pull.title, "description": pull.body,
                "state": {"open": "opened"}.get(pull.state, pull.state), "source_branch": pull.branch,
                "target_branch": pull.base, "sha": self._ref(self.bare(repo), pull.branch) or "",
                "web_url": f"https://gitlab.example/{repo}/-/merge_requests/{pull.number}", "labels": pull.labels,
                "reviewers": [self._user_json(n) for n in pull.reviewers],
                "assignees": [self._user_json(n) for n in pull.assignees]}

    def list_merge_requests(self, request: Request, data: Any, project: str) -> Any:
        repo = self._project_path(project)
        query = self._shape("list_merge_requests", {}, dict(request.query_params))
        state = query.get("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise Refused(400, "state does not have a valid value")
        found = [p for p in self.pulls[repo] if (state == "all" or self._mr_json(repo, p)["state"] == state)
                 and query.get("source_branch") in (None, p.branch)]
        return [self._mr_json(repo, p) for p in sorted(found, key=lambda p: -p.number)]

    def create_merge_request(self, request: Request, data: Any, project: str) -> Any:
        repo, body = self._project_path(project), self._shape("create_merge_request", data)
        if any(p.branch == body["source_branch"] and p.state == "open" for p in self.pulls[repo]):
            raise Refused(409, "Another open merge request already exists for this source branch")
        if self._ref(self.bare(repo), body["source_branch"]) is None:
            raise Refused(400, "Source branch does not exist")
        labels = body.get("labels", "")
        pull = _Pull(len(self.pulls[repo]) + 1, body["source_branch"], body["target_branch"], body["title"],
                     body.get("description", ""), labels=labels.split(",") if isinstance(labels, str) and labels
                     else list(labels or []), reviewers=self._people(body, "reviewer_ids"),
                     assignees=self._people(body, "assignee_ids"))
        self.pulls[repo].append(pull)
        return 201, self._mr_json(repo, pull)

    def _people(self, body: dict[str, Any], key: str) -> list[str]:
        """The usernames of `key`'s user ids: an array of integers, each a user of this GitLab."""
        ids = body.get(key) or []
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise Refused(400, f"{key} is invalid: an array of user ids (integers), got {ids!r}")
        return [self.username(i) for i in ids]

    def update_merge_request(self, request: Request, data: Any, project: str, iid: str) -> Any:
        repo, body = self._project_path(project), self._shape("update_merge_request", data)
        pull = self._pull(repo, int(iid))
        pull.title, pull.body = body.get("title", pull.title), body.get("description", pull.body)
        if "reviewer_ids" in body:
            pull.reviewers = self._people(body, "reviewer_ids")
        if "assignee_ids" in body:
            pull.assignees = self._people(body, "assignee_ids")
        return self._mr_json(repo, pull)

    def _issue_json(self, repo: str, issue: _Issue) -> dict[str, Any]:
        return {"id": self._id(repo) * 1000 + issue.number, "iid": issue.number, "project_id": self._id(repo),
                "title": issue.title, "description": issue.body, "state": "opened" if issue.state == "open"
                else issue.state, "labels": issue.labels,
                "web_url": f"https://gitlab.example/{repo}/-/issues/{issue.number}"}

    def create_issue(self, request: Request, data: Any, project: str) -> Any:
        repo, body = self._project_path(project), self._shape("create_issue", data)
        labels = body.get("labels", "")
        issues = self.issues.setdefault(repo, [])
        issue = _Issue(len(issues) + 1, str(body["title"]), str(body.get("description") or ""),
                       labels=labels.split(",") if isinstance(labels, str) and labels else list(labels or []))
        issues.append(issue)
        return 201, self._issue_json(repo, issue)

    def update_issue(self, request: Request, data: Any, project: str, iid: str) -> Any:
        repo, body = self._project_path(project), self._shape("update_issue", data)
        for issue in self.issues.get(repo, []):
            if issue.number == int(iid):
                issue.title, issue.body = body.get("title", issue.title), body.get("description", issue.body)
                return self._issue_json(repo, issue)
        raise Refused(404, "404 Issue Not Found")

    def _user_json(self, username: str) -> dict[str, Any]:
        user_id, state = self.users[username.lower()]
        return {"id": user_id, "username": username, "name": username.title(), "state": state,
                "web_url": f"https://gitlab.example/{username}"}

    def list_users(self, request: Request, data: Any) -> Any:
        query = self._shape("list_users", {}, dict(request.query_params))
        wanted = query.get("username")
        return [self._user_json(name) for name in sorted(self.users) if wanted is None or name == wanted.lower()]

    def list_group_members(self, request: Request, data: Any, group: str) -> Any:
        self._shape("list_group_members", {}, dict(request.query_params))
        if group not in self.groups:
            raise Refused(404, "404 Group Not Found")
        return [{**self._user_json(name), "access_level": level} for name, level in self.groups[group]]


