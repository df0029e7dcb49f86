"""Fake GitHub and GitLab servers for tests and demos: real HTTP on loopback, repositories as real bare git
repositories, and every request checked against the forge's published API shape before it is served.

- GitHub: the body of each request is validated with githubkit's models of GitHub's published OpenAPI description
  (the version githubkit sends, in X-GitHub-Api-Version), unknown body fields and query parameters are refused.
- GitLab: each route's required and allowed parameters and their values as GitLab's REST API documents them.

A request that does not fit gets the forge's own error status (401, 404, 422 or 400) with what was wrong, and is
kept in `refused`, so a test can assert that none was. Pull requests can be merged or closed as a person would.

    with FakeGitHub(tmp / "gh", token="t") as gh:
        gh.add_repository("acme/inventory-api", Path("examples/fleet/inventory-api"))
        forge = GitHubForge("t", base_url=gh.url)
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import uvicorn
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Handler = Callable[..., Awaitable[Any]]


class Refused(Exception):
    """The forge's error answer. `shape`: the request did not fit the published API (kept in `refused`); a 404 for
    a branch or pull request that does not exist is an ordinary answer."""

    def __init__(self, status: int, message: str, shape: bool | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.shape = status != 404 if shape is None else shape


@dataclass
class _Pull:
    number: int
    branch: str
    base: str
    title: str
    body: str
    state: str = "open"  # open | closed | merged
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)  # users, and teams as org/slug
    assignees: list[str] = field(default_factory=list)


@dataclass
class _Issue:
    number: int
    title: str
    body: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)


class _Server:
    """A bare repository per project under `root`, a route table matched on the raw (still encoded) path, and a
    uvicorn server on a free loopback port while the context is open."""

    routes: list[tuple[str, re.Pattern[str], str]] = []
    prefix = ""

    def __init__(self, root: Path, token: str) -> None:
        self.root, self.token = root.resolve(), token
        self.root.mkdir(parents=True, exist_ok=True)
        self.pulls: dict[str, list[_Pull]] = {}
        self.issues: dict[str, list[_Issue]] = {}
        self.requests: list[tuple[str, str]] = []
        self.refused: list[tuple[str, str, int, str]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/{rest:path}", self._dispatch,
                                           methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
        self.url = ""

    # -- the server ---------------------------------------------------------------------------------------------
    def __enter__(self) -> _Server:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the fake {type(self).__name__} did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}{self.prefix}"
        self._sock = sock
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    async def _dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path", b"").decode().split("?", 1)[0]
        self.requests.append((request.method, raw))
        try:
            self._authorize(request)
            for method, pattern, name in self.routes:
                found = pattern.fullmatch(raw)
                if found and method == request.method:
                    params = {k: unquote(v) for k, v in found.groupdict().items()}
                    body = await request.body()
                    data = json.loads(body) if body else {}
                    with self._lock:
                        result = getattr(self, name)(request, data, **params)
                    return JSONResponse(result[1], status_code=result[0]) if isinstance(result, tuple) \
                        else JSONResponse(result)
            raise Refused(404, f"{request.method} {raw} is not a route of the published API this fake serves", True)
        except Refused as exc:
            if exc.shape:
                self.refused.append((request.method, raw, exc.status, exc.message))
            return JSONResponse({"message": exc.message}, status_code=exc.status)
        except subprocess.CalledProcessError as exc:  # git refused: an unknown sha, a bad mode, a bad tree
            message = (exc.stderr or b"").decode(errors="replace").strip()
            self.refused.append((request.method, raw, 422, message))
            return JSONResponse({"message": f"Validation Failed: {message}"}, status_code=422)
        except json.JSONDecodeError as exc:
            self.refused.append((request.method, raw, 400, str(exc)))
            return JSONResponse({"message": f"Problems parsing JSON: {exc}"}, status_code=400)

    def _authorize(self, request: Request) -> None:
        raise NotImplementedError

    # -- repositories ---------------------------------------------------------------------------------------------
    def bare(self, repo: str) -> Path:
        path = self.root / f"{repo}.git"
        if not path.is_dir():
            raise Refused(404, f"{repo}: Not Found")
        return path

    def add_repository(self, repo: str, source: Path, branch: str = "main") -> Path:
        """Host `source` (a folder; its files become one commit on `branch`) as `repo`; returns a checkout of it
        whose origin is this forge's URL for it, as a fleet operator's clone would be."""
        bare = self.root / f"{repo}.git"
        _git("init", "--quiet", "--bare", f"--initial-branch={branch}", bare, cwd=self.root)
        checkout = self.root.parent / "checkouts" / repo
        shutil.copytree(source, checkout, ignore=shutil.ignore_patterns(".git", "node_modules", "target"))
        _git("init", "--quiet", f"--initial-branch={branch}", cwd=checkout)
        _git("add", "--all", cwd=checkout)
        _git("commit", "--quiet", "-m", f"Import {source.name}", cwd=checkout, env=_who("Fleet", "fleet@example.com"))
        _git("push", "--quiet", bare, f"HEAD:refs/heads/{branch}", cwd=checkout)
        _git("remote", "add", "origin", self.clone_url(repo), cwd=checkout)
        self.pulls[repo] = []
        return checkout

    def clone_url(self, repo: str) -> str:
        raise NotImplementedError

    def _ref(self, bare: Path, branch: str) -> str | None:
        try:
            return _git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=bare).strip()
        except subprocess.CalledProcessError:
            return None

    def _commit(self, bare: Path, sha: str) -> dict[str, str]:
        try:
            out = _git("show", "-s", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%B", sha, cwd=bare)
        except subprocess.CalledProcessError:
            raise Refused(404, f"No commit found for SHA: {sha}") from None
        tree, parents, name, email, date, message = out.split("\0", 5)
        return {"sha": sha, "tree": tree, "parents": parents, "name": name, "email": email, "date": date,
                "message": message.rstrip("\n") + "\n" if message.strip() else ""}

    def _pull(self, repo: str, number: int) -> _Pull:
        for pull in self.pulls.get(repo, []):
            if pull.number == number:
                return pull
        raise Refused(404, f"{repo}#{number}: Not Found")

    # -- what a person does on the forge's page --------------------------------------------------------------------
    def merge(self, repo: str, number: int) -> None:
        """Merge (the base moves to the head: the bot's branch is always one commit on the base)."""
        pull = self._pull(repo, number)
        bare = self.bare(repo)
        head = self._ref(bare, pull.branch)
        _git("update-ref", f"refs/heads/{pull.base}", str(head), cwd=bare)
        pull.state = "merged"

    def close(self, repo: str, number: int) -> None:
        self._pull(repo, number).state = "closed"


class FakeGitHub(_Server):
    """GitHub's REST API (the part the PR-bot uses), at `url` (githubkit's base_url)."""

    prefix = "/api/v3"
    _R = r"/api/v3/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
    routes = [
        ("GET", re.compile(_R), "get_repository"),
        ("GET", re.compile(_R + r"/git/ref/(?P<ref>.+)"), "get_ref"),
        ("POST", re.compile(_R + r"/git/refs"), "create_ref"),
        ("PATCH", re.compile(_R + r"/git/refs/(?P<ref>.+)"), "update_ref"),
        ("POST", re.compile(_R + r"/git/blobs"), "create_blob"),
        ("POST", re.compile(_R + r"/git/trees"), "create_tree"),
        ("POST", re.compile(_R + r"/git/commits"), "create_commit"),
        ("GET", re.compile(_R + r"/git/commits/(?P<sha>[0-9a-f]{40})"), "get_commit"),
        ("GET", re.compile(_R + r"/pulls"), "list_pulls"),
        ("POST", re.compile(_R + r"/pulls"), "create_pull"),
        ("PATCH", re.compile(_R + r"/pulls/(?P<number>\d+)"), "update_pull"),
        ("POST", re.compile(_R + r"/issues/(?P<number>\d+)/labels"), "add_labels"),
        ("POST", re.compile(_R + r"/pulls/(?P<number>\d+)/requested_reviewers"), "request_reviewers"),
        ("POST", re.compile(_R + r"/issues/(?P<number>\d+)/assignees"), "add_assignees"),
        ("POST", re.compile(_R + r"/issues"), "create_issue"),
        ("PATCH", re.compile(_R + r"/issues/(?P<number>\d+)"), "update_issue"),
    ]

    def __init__(self, root: Path, token: str) -> None:
        super().__init__(root, token)
        from githubkit.versions import LATEST_VERSION, VERSIONS

        self.api_version = LATEST_VERSION
        self._models: ModuleType = importlib.import_module(f"githubkit_schemas.{VERSIONS[LATEST_VERSION]}.models")
        self._rest = f"githubkit_schemas.{VERSIONS[LATEST_VERSION]}.rest"

    def __enter__(self) -> FakeGitHub:
        super().__enter__()
        return self

    def clone_url(self, repo: str) -> str:
        return f"https://github.example/{repo}.git"

    def _authorize(self, request: Request) -> None:
        given = request.headers.get("authorization", "")
        if given not in (f"token {self.token}", f"Bearer {self.token}"):
            raise Refused(401, "Bad credentials")
        version = request.headers.get("x-github-api-version")
        if version != self.api_version:
            raise Refused(400, f"X-GitHub-Api-Version {version!r} is not {self.api_version}")

    def _body(self, model: str, data: Any) -> dict[str, Any]:
        """The body validated by the model of GitHub's published description; fields it does not name refused."""
        cls: type[BaseModel] = getattr(self._models, model)
        known = {f.alias or n for n, f in cls.model_fields.items()}
        if not isinstance(data, dict) or set(data) - known:
            extra = sorted(set(data) - known) if isinstance(data, dict) else type(data).__name__
            raise Refused(422, f"Invalid request: {extra} not allowed by {model}")
        try:
            cls.model_validate(data)
        except ValidationError as exc:
            raise Refused(422, f"Invalid request: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
        return data

    def _query(self, request: Request, client: str, operation: str) -> dict[str, str]:
        cls = getattr(importlib.import_module(f"{self._rest}.{client.lower()}"), f"{client}Client")
        allowed = set(inspect.signature(getattr(cls, operation)).parameters) - {"self", "owner", "repo", "headers",
                                                                                "stream"}
        query = dict(request.query_params)
        if set(query) - allowed:
            raise Refused(422, f"unknown query parameters {sorted(set(query) - allowed)} for {operation}")
        return query

    def _repo_json(self, repo: str) -> dict[str, Any]:
        return {"id": abs(hash(repo)) % 10**8, "name": repo.split("/")[1], "full_name": repo,
                "default_branch": "main", "html_url": f"https://github.example/{repo}", "private": True}

    def get_repository(self, request: Request, data: Any, owner: str, name: str) -> Any:
        self.bare(f"{owner}/{name}")
        return self._repo_json(f"{owner}/{name}")

    def _ref_json(self, repo: str, ref: str, sha: str) -> dict[str, Any]:
        return {"ref": ref, "node_id": "REF", "url": f"{self.url}/repos/{repo}/git/{ref}",
                "object": {"type": "commit", "sha": sha, "url": f"{self.url}/repos/{repo}/git/commits/{sha}"}}

    def get_ref(self, request: Request, data: Any, owner: str, name: str, ref: str) -> Any:
        repo = f"{owner}/{name}"
        if not ref.startswith("heads/"):
            raise Refused(404, "Not Found")
        sha = self._ref(self.bare(repo), ref.removeprefix("heads/"))
        if sha is None:
            raise Refused(404, "Not Found")
        return self._ref_json(repo, f"refs/{ref}", sha)

    def create_ref(self, request: Request, data: Any, owner: str, name: str) -> Any:
        repo, body = f"{owner}/{name}", self._body("ReposOwnerRepoGitRefsPostBody", data)
        bare = self.bare(repo)
        if not body["ref"].startswith("refs/heads/") or self._ref(bare, body["ref"][11:]) is not None:
            raise Refused(422, "Reference already exists")
        self._commit(bare, body["sha"])
        _git("update-ref", body["ref"], body["sha"], cwd=bare)
        return 201, self._ref_json(repo, body["ref"], body["sha"])

    def update_ref(self, request: Request, data: Any, owner: str, name: str, ref: str) -> Any:
        repo, body = f"{owner}/{name}", self._body("ReposOwnerRepoGitRefsRefPatchBody", data)
        bare = self.bare(repo)
        old = self._ref(bare, ref.removeprefix("heads/"))
        if old is None:
            raise Refused(422, "Reference does not exist")
        ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", old, body["sha"]], cwd=bare).returncode == 0
        if not ancestor and not body.get("force"):
            raise Refused(422, "Update is not a fast forward")
        _git("update-ref", f"refs/{ref}", body["sha"], cwd=bare)
        return self._ref_json(repo, f"refs/{ref}", body["sha"])

    def create_blob(self, request: Request, data: Any, owner: str, name: str) -> Any:
        body = self._body("ReposOwnerRepoGitBlobsPostBody", data)
        content = (base64.b64decode(body["content"]) if body.get("encoding") == "base64"
                   else body["content"].encode())
        sha = _git("hash-object", "-w", "--stdin", cwd=self.bare(f"{owner}/{name}"), input=content).strip()
        return 201, {"sha": sha, "url": f"{self.url}/repos/{owner}/{name}/git/blobs/{sha}"}

    def create_tree(self, request: Request, data: Any, owner: str, name: str) -> Any:
        body = self._body("ReposOwnerRepoGitTreesPostBody", data)
        bare = self.bare(f"{owner}/{name}")
        with _index(bare, body.get("base_tree")) as index:
            for entry in body["tree"]:
                self._body("ReposOwnerRepoGitTreesPostBodyPropTreeItems", entry)
                if entry.get("sha") is None and "content" not in entry:
                    index.remove(entry["path"])
                    continue
                sha = entry.get("sha") or _git("hash-object", "-w", "--stdin", cwd=bare,
                                               input=entry["content"].encode()).strip()
                index.add(entry["mode"], sha, entry["path"])
            tree = index.write()
        return 201, {"sha": tree, "url": f"{self.url}/repos/{owner}/{name}/git/trees/{tree}", "tree": [],
                     "truncated": False}

    def create_commit(self, request: Request, data: Any, owner: str, name: str) -> Any:
        repo, body = f"{owner}/{name}", self._body("ReposOwnerRepoGitCommitsPostBody", data)
        bare = self.bare(repo)
        author = body.get("author") or {"name": "fake", "email": "fake@github.example"}
        env = _who(author["name"], author["email"], author.get("date"))
        parents = [a for p in body.get("parents", []) for a in ("-p", p)]
        sha = _git("commit-tree", body["tree"], *parents, cwd=bare, env=env, input=body["message"].encode()).strip()
        return 201, self._commit_json(repo, self._commit(bare, sha))

    def _commit_json(self, repo: str, c: dict[str, str]) -> dict[str, Any]:
        person = {"name": c["name"], "email": c["email"], "date": c["date"]}
        return {"sha": c["sha"], "node_id": "C", "url": f"{self.url}/repos/{repo}/git/commits/{c['sha']}",
                "html_url": f"https://github.example/{repo}/commit/{c['sha']}", "author": person,
                "committer": person, "message": c["message"], "tree": {"sha": c["tree"], "url": ""},
                "parents": [{"sha": p, "url": "", "html_url": ""} for p in c["parents"].split()],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                 "verified_at": None}}

    def get_commit(self, request: Request, data: Any, owner: str, name: str, sha: str) -> Any:
        return self._commit_json(f"{owner}/{name}", self._commit(self.bare(f"{owner}/{name}"), sha))

    def _pull_json(self, repo: str, pull: _Pull) -> dict[str, Any]:
        bare = self.bare(repo)
        head = self._ref(bare, pull.branch) or ""
        owner = repo.split("/")[0]
        return {"number": pull.number, "state": "open" if pull.state == "open" else "closed",
                "title": pull.title, "body": pull.body, "html_url": f"https://github.example/{repo}/pull/{pull.number}",
                "merged_at": "2026-01-01T00:00:00Z" if pull.state == "merged" else None,
                "labels": [{"name": n} for n in pull.labels],
                "head": {"ref": pull.branch, "sha": head, "label": f"{owner}:{pull.branch}"},
                "base": {"ref": pull.base, "sha": self._ref(bare, pull.base) or "", "label": f"{owner}:{pull.base}"}}

    def list_pulls(self, request: Request, data: Any, owner: str, name: str) -> Any:
        repo, query = f"{owner}/{name}", self._query(request, "Pulls", "list")
        self.bare(repo)
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise Refused(422, f"state {state!r} is not open, closed or all")
        head = query.get("head")
        pulls = [p for p in self.pulls[repo] if (state == "all" or (p.state == "open") == (state == "open"))
                 and (head is None or f"{owner}:{p.branch}" == head)]
        return [self._pull_json(repo, p) for p in sorted(pulls, key=lambda p: -p.number)]

    def create_pull(self, request: Request, data: Any, owner: str, name: str) -> Any:
        repo, body = f"{owner}/{name}", self._body("ReposOwnerRepoPullsPostBody", data)
        bare = self.bare(repo)
        if self._ref(bare, body["head"]) is None or self._ref(bare, body["base"]) is None:
            raise Refused(422, "Validation Failed: head or base does not exist")
        if any(p.branch == body["head"] and p.state == "open" for p in self.pulls[repo]):
            raise Refused(422, f"A pull request already exists for {owner}:{body['head']}.")
        pull = _Pull(self._next_number(repo), body["head"], body["base"], body.get("title", ""),
                     body.get("body", ""))
        self.pulls[repo].append(pull)
        return 201, self._pull_json(repo, pull)

    def update_pull(self, request: Request, data: Any, owner: str, name: str, number: str) -> Any:
        repo, body = f"{owner}/{name}", self._body("ReposOwnerRepoPullsPullNumberPatchBody", data)
        pull = self._pull(repo, int(number))
        pull.title, pull.body = body.get("title", pull.title), body.get("body", pull.body)
        if body.get("state") in ("open", "closed") and pull.state != "merged":
            pull.state = body["state"]
        return self._pull_json(repo, pull)

    def add_labels(self, request: Request, data: Any, owner: str, name: str, number: str) -> Any:
        body = self._body("ReposOwnerRepoIssuesIssueNumberLabelsPostBodyOneof0", data)
        pull = self._pull(f"{owner}/{name}", int(number))
        pull.labels += [str(label) for label in body["labels"] if label not in pull.labels]
        return [{"id": i, "name": n, "color": "ededed", "default": False, "node_id": "L", "url": "",
                 "description": None} for i, n in enumerate(pull.labels)]


    def request_reviewers(self, request: Request, data: Any, owner: str, name: str, number: str) -> Any:
        body = self._body("ReposOwnerRepoPullsPullNumberRequestedReviewersPostBodyAnyof0", data)
        repo = f"{owner}/{name}"
        pull = self._pull(repo, int(number))
        pull.reviewers += [str(r) for r in body.get("reviewers") or []]
        pull.reviewers += [f"{owner}/{t}" for t in body.get("team_reviewers") or []]
        return self._pull_json(repo, pull)

    def add_assignees(self, request: Request, data: Any, owner: str, name: str, number: str) -> Any:
        body = self._body("ReposOwnerRepoIssuesIssueNumberAssigneesPostBody", data)
        repo = f"{owner}/{name}"
        pull = self._pull(repo, int(number))
        pull.assignees += [str(a) for a in body.get("assignees") or []]
        return {"number": pull.number, "assignees": [{"login": a} for a in pull.assignees]}

    def _next_number(self, repo: str) -> int:
        """Issues and pull requests share one sequence of numbers per repository, as on GitHub."""
        return 1 + max([p.number for p in self.pulls.get(repo, [])] + [i.number for i in self.issues.get(repo, [])]
                       + [0])

    def _issue_json(self, repo: str, issue: _Issue) -> dict[str, Any]:
        return {"number": issue.number, "title": issue.title, "body": issue.body, "state": issue.state,
                "html_url": f"https://github.example/{repo}/issues/{issue.number}",
                "labels": [{"name": n} for n in issue.labels]}

    def create_issue(self, request: Request, data: Any, owner: str, name: str) -> Any:
        repo, body = f"{owner}/{name}", self._body("ReposOwnerRepoIssuesPostBody", data)
        self.bare(repo)
        issue = _Issue(self._next_number(repo), str(body["title"]), str(body.get("body") or ""),
                       labels=[str(label) for label in body.get("labels") or []])
        self.issues.setdefault(repo, []).append(issue)
        return 201, self._issue_json(repo, issue)

    def update_issue(self, request: Request, data: Any, owner: str, name: str, number: str) -> Any:
        repo, body = f"{owner}/{name}", self._body("ReposOwnerRepoIssuesIssueNumberPatchBody", data)
        for issue in self.issues.get(repo, []):
            if issue.number == int(number):
                issue.title, issue.body = body.get("title", issue.title), body.get("body", issue.body)
                return self._issue_json(repo, issue)
        raise Refused(404, f"{repo}#{number}: Not Found")


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
    ]

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
                "web_url": f"https://gitlab.example/{repo}/-/merge_requests/{pull.number}", "labels": pull.labels}

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
                     else list(labels or []))
        self.pulls[repo].append(pull)
        return 201, self._mr_json(repo, pull)

    def update_merge_request(self, request: Request, data: Any, project: str, iid: str) -> Any:
        repo, body = self._project_path(project), self._shape("update_merge_request", data)
        pull = self._pull(repo, int(iid))
        pull.title, pull.body = body.get("title", pull.title), body.get("description", pull.body)
        return self._mr_json(repo, pull)


class _index:
    """A scratch git index on a base tree: add and remove paths, then write the tree."""

    def __init__(self, bare: Path, base_tree: str | None) -> None:
        self.bare, self.base_tree = bare, base_tree

    def __enter__(self) -> _index:
        handle, name = tempfile.mkstemp(prefix="fake-forge-index-")
        os.close(handle)
        os.unlink(name)
        self.env = {"GIT_INDEX_FILE": name}
        if self.base_tree:
            _git("read-tree", self.base_tree, cwd=self.bare, env=self.env)
        return self

    def __exit__(self, *_: object) -> None:
        Path(self.env["GIT_INDEX_FILE"]).unlink(missing_ok=True)

    def has(self, path: str) -> bool:
        return bool(_git("ls-files", "--cached", "--", path, cwd=self.bare, env=self.env).strip())

    def add(self, mode: str, sha: str, path: str) -> None:
        _git("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}", cwd=self.bare, env=self.env)

    def remove(self, path: str) -> None:
        _git("update-index", "--force-remove", "--", path, cwd=self.bare, env=self.env)

    def write(self) -> str:
        return _git("write-tree", cwd=self.bare, env=self.env).strip()


def _who(name: str, email: str, date: str | None = None) -> dict[str, str]:
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email}
    if date:
        env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return env


def _git(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    done = subprocess.run(["git", *map(str, args)], cwd=cwd, env={**os.environ, **(env or {})}, input=input,
                          capture_output=True, check=True)
    return done.stdout.decode()
