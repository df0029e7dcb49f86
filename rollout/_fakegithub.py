"""The fake GitHub: GitHub's REST API (the part the PR-bot uses), checked against githubkit's models of
GitHub's published OpenAPI description (see rollout._fakeforge)."""

from __future__ import annotations

import base64
import importlib
import inspect
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from rollout._fakeforge import Refused, _git, _index, _Issue, _Pull, _Server, _who


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
        # Lower-cased logins and org/team slugs who may review and be assigned; None (until the first
        # add_collaborator): anyone, as when every owner in a test is a collaborator.
        self.collaborators: set[str] | None = None

    def add_collaborator(self, handle: str) -> None:
        """A user (login) or team (org/slug) with access to the repositories: who GitHub lets review."""
        self.collaborators = (self.collaborators or set()) | {handle.lstrip("@").lower()}

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
        asked = [str(r) for r in body.get("reviewers") or []]
        asked += [f"{owner}/{t}" for t in body.get("team_reviewers") or []]
        if self.collaborators is not None and any(a.lower() not in self.collaborators for a in asked):
            # GitHub's answer when one of them is not a collaborator: the whole request is refused.
            raise Refused(422, "Reviews may only be requested from collaborators. One or more of the users or teams "
                               f"you specified is not a collaborator of the {repo} repository.", shape=False)
        pull.reviewers += asked
        return self._pull_json(repo, pull)

    def add_assignees(self, request: Request, data: Any, owner: str, name: str, number: str) -> Any:
        body = self._body("ReposOwnerRepoIssuesIssueNumberAssigneesPostBody", data)
        repo = f"{owner}/{name}"
        pull = self._pull(repo, int(number))
        pull.assignees += [str(a) for a in body.get("assignees") or []
                           if self.collaborators is None or str(a).lower() in self.collaborators]  # others: left out
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


