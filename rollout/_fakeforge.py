"""Fake GitHub and GitLab servers for tests and demos: real HTTP on loopback, repositories as real bare git
repositories, and every request checked against the forge's published API shape before it is served. This module
is what both share (the server, the bare repositories, what a person does on the forge's page); FakeGitHub is in
rollout._fakegithub, FakeGitLab in rollout._fakegitlab.

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

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


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
        self.requests: list[tuple[str, str]] = []  # method, path?query as sent
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
        query = request.scope.get("query_string", b"").decode()
        self.requests.append((request.method, f"{raw}?{query}" if query else raw))
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
