"""The `local` forge: bare git repositories under one folder, pull requests as records in the rca database. For
demos, tests and air-gapped fleets whose forge the bot cannot reach; merge and close are here too, as a person
would do them on a forge's page."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rollout._forge import Checkout
from rollout._git import BranchHead, git, identity, recorded_tree
from rollout._model import PullRequest, PullRequestDraft, PullRequestRecord, RolloutError
from rollout._records import IssueLog, PullRequestLog, updated

Clock = Callable[[], datetime]
DEFAULT_BRANCH = "main"


class LocalForge:
    kind = "local"

    def __init__(self, root: Path, log: PullRequestLog, clock: Clock, author: tuple[str, str] = (
            "rca rollout", "rollout@rca.invalid")) -> None:
        self.root, self.log, self.clock, self.author = root.resolve(), log, clock, author

    def bare(self, repo: str) -> Path:
        return self.root / f"{repo}.git"

    def checkout(self, source: Path, workdir: Path) -> Checkout:
        """Work on the hosted copy of `source`: a folder or a checkout not hosted yet is imported first (its files
        as one commit on `main`, or the checkout's history)."""
        repo = re.sub(r"[^A-Za-z0-9._-]+", "-", source.resolve().name)
        bare = self.bare(repo)
        if not bare.exists():
            self._import(source, bare)
        work = workdir.resolve() / repo
        shutil.rmtree(work, ignore_errors=True)
        work.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "--quiet", bare, work, cwd=work.parent)
        base = git("symbolic-ref", "--short", "HEAD", cwd=work).strip()
        return Checkout(repo, work, base, git("rev-parse", "HEAD", cwd=work).strip())

    def _import(self, source: Path, bare: Path) -> None:
        if not source.is_dir():
            raise RolloutError(f"{source} is not a folder; pass a repository's folder or checkout")
        bare.parent.mkdir(parents=True, exist_ok=True)
        if (source / ".git").exists():
            git("clone", "--quiet", "--bare", source.resolve(), bare, cwd=bare.parent)
            return
        git("init", "--quiet", "--bare", f"--initial-branch={DEFAULT_BRANCH}", bare, cwd=bare.parent)
        with tempfile.TemporaryDirectory(prefix="rollout-import-") as scratch:
            work = Path(scratch) / "work"
            shutil.copytree(source, work, ignore=shutil.ignore_patterns(".git", "node_modules", "target", ".venv",
                                                                          "__pycache__", "*.egg-info", "build"))
            git("init", "--quiet", f"--initial-branch={DEFAULT_BRANCH}", cwd=work)
            git("add", "--all", cwd=work)
            git("commit", "--quiet", "-m", f"Import {source.name}", cwd=work, env=self._who())
            git("push", "--quiet", bare, f"HEAD:refs/heads/{DEFAULT_BRANCH}", cwd=work)

    def _who(self) -> dict[str, str]:
        return identity(*self.author, self.clock())

    def find_pull_request(self, repo: str, branch: str) -> PullRequest | None:
        record = self.log.for_branch(self.kind, repo, branch)
        return record.pull_request if record is not None else None

    def branch_head(self, repo: str, branch: str) -> BranchHead | None:
        bare = self.bare(repo)
        try:
            sha = git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=bare).strip()
        except RolloutError:
            return None
        return BranchHead(sha, recorded_tree(git("log", "-1", "--format=%B", sha, cwd=bare)))

    def push(self, checkout: Checkout, branch: str) -> str:
        git("push", "--quiet", "--force", self.bare(checkout.repo), f"HEAD:refs/heads/{branch}", cwd=checkout.path)
        return git("rev-parse", "HEAD", cwd=checkout.path).strip()

    def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        number = self.log.next_number(self.kind, repo)
        pr = PullRequest(self.kind, repo, number, f"{self.bare(repo).as_uri()}#pull/{number}", draft.branch,
                         draft.base, draft.title, "open", self._head(repo, draft.branch))
        now = self.clock()
        self.log.save(PullRequestRecord(pr, draft.kind, draft.archetype, draft.body, draft.sdk_version, draft.ring,
                                        draft.dry_run, now, now, reviewers=draft.reviewers,
                                        assignees=draft.assignees))
        return pr

    def update_pull_request(self, repo: str, number: int, draft: PullRequestDraft) -> PullRequest:
        record = self._record(repo, number)
        fresh = updated(record, self.clock(), title=draft.title, body=draft.body, dry_run=draft.dry_run,
                        head_sha=self._head(repo, draft.branch), ring=draft.ring, sdk_version=draft.sdk_version,
                        reviewers=draft.reviewers or record.reviewers, assignees=draft.assignees or record.assignees)
        self.log.save(fresh)
        return fresh.pull_request

    def open_issue(self, repo: str, title: str, body: str) -> int:
        """An issue (a campaign's tracking issue) on `repo`, which need not be a hosted repository."""
        return IssueLog(self.log.store).open(self.kind, repo, title, body, self.clock())

    def update_issue(self, repo: str, number: int, title: str, body: str) -> None:
        IssueLog(self.log.store).update(self.kind, repo, number, title, body, self.clock())

    # -- what a person does on the forge ------------------------------------------------------------------------
    def merge(self, repo: str, number: int) -> PullRequest:
        """Merge the pull request into its base (a merge commit), as the forge's button does."""
        record = self._record(repo, number)
        pr = record.pull_request
        if pr.state != "open":
            raise RolloutError(f"{repo}#{number} is {pr.state}; only an open pull request can be merged")
        with tempfile.TemporaryDirectory(prefix="rollout-merge-") as scratch:
            work = Path(scratch) / "work"
            git("clone", "--quiet", "--branch", pr.base, self.bare(repo), work, cwd=Path(scratch))
            git("fetch", "--quiet", "origin", pr.branch, cwd=work)
            git("merge", "--quiet", "--no-ff", "-m", f"Merge pull request #{number} from {pr.branch}", "FETCH_HEAD",
                cwd=work, env=self._who())
            git("push", "--quiet", "origin", f"HEAD:refs/heads/{pr.base}", cwd=work)
        now = self.clock()
        merged = updated(record, now, state="merged", merged_at=now, closed_at=now)
        self.log.save(merged)
        return merged.pull_request

    def close(self, repo: str, number: int) -> PullRequest:
        """Close without merging: the bot never reopens it."""
        record = self._record(repo, number)
        if record.pull_request.state != "open":
            raise RolloutError(f"{repo}#{number} is {record.pull_request.state} already")
        now = self.clock()
        closed = updated(record, now, state="closed", closed_at=now)
        self.log.save(closed)
        return closed.pull_request

    def _record(self, repo: str, number: int) -> PullRequestRecord:
        record = self.log.get(self.kind, repo, number)
        if record is None:
            raise RolloutError(f"no pull request {repo}#{number} on the local forge; `rca rollout prs` lists them")
        return record

    def _head(self, repo: str, branch: str) -> str:
        head = self.branch_head(repo, branch)
        return head.sha if head is not None else ""
