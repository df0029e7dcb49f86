"""The bot's pull requests in the rca database (table rollout_pull_requests): the `local` forge's own, and a record
of every one it opened on GitHub or GitLab, for the rollout's rings and dashboards."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from evidence import (
    IssueRow,
    PullRequestRow,
    Store,
    issue_rows,
    next_pull_request_number,
    open_issue_row,
    pull_request_rows,
    save_pull_request_row,
    update_issue_row,
)
from rollout._model import Archetype, PullRequest, PullRequestRecord, PullRequestState, RolloutError


class PullRequestLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, forge: str, repo: str, number: int) -> PullRequestRecord | None:
        return next((_record(row) for row in pull_request_rows(self.store, forge, repo, number=number)), None)

    def for_branch(self, forge: str, repo: str, branch: str) -> PullRequestRecord | None:
        """The newest pull request from `branch`."""
        rows = pull_request_rows(self.store, forge, repo, branch=branch, newest_only=True)
        return _record(rows[0]) if rows else None

    def records(self, forge: str | None = None, repo: str | None = None,
                state: PullRequestState | None = None) -> list[PullRequestRecord]:
        return [_record(row) for row in pull_request_rows(self.store, forge or None, repo or None, state or None)]

    def next_number(self, forge: str, repo: str) -> int:
        return next_pull_request_number(self.store, forge, repo)

    def save(self, record: PullRequestRecord) -> None:
        """Insert or replace the record of (forge, repo, number); created_at is kept from the first save."""
        save_pull_request_row(self.store, _row(record))


def _row(record: PullRequestRecord) -> PullRequestRow:
    pr = record.pull_request
    return {"forge": pr.forge, "repo": pr.repo, "number": pr.number, "kind": record.kind, "branch": pr.branch,
            "base": pr.base, "archetype": record.archetype.value, "title": pr.title[:255], "body": record.body,
            "state": pr.state, "url": pr.url, "head_sha": pr.head_sha, "sdk_version": record.sdk_version,
            "ring": record.ring, "dry_run": record.dry_run, "created_at": record.created_at,
            "updated_at": record.updated_at, "closed_at": record.closed_at, "merged_at": record.merged_at,
            "reviewers": orjson.dumps(list(record.reviewers)).decode(),
            "assignees": orjson.dumps(list(record.assignees)).decode()}


def _record(v: PullRequestRow) -> PullRequestRecord:
    pr = PullRequest(v["forge"], v["repo"], v["number"], v["url"], v["branch"], v["base"], v["title"], v["state"],
                     v["head_sha"])
    return PullRequestRecord(pr, v["kind"], Archetype(v["archetype"]), v["body"], v["sdk_version"], v["ring"],
                             v["dry_run"], v["created_at"], v["updated_at"], v["closed_at"], v["merged_at"],
                             tuple(orjson.loads(v["reviewers"] or "[]")), tuple(orjson.loads(v["assignees"] or "[]")))


def updated(record: PullRequestRecord, now: datetime, **changes: Any) -> PullRequestRecord:
    """A copy of the record with `changes` (on it or its pull request) and updated_at = now."""
    pr_fields = set(PullRequest.__dataclass_fields__)
    pr = record.pull_request
    pr_changes = {k: v for k, v in changes.items() if k in pr_fields}
    own = {k: v for k, v in changes.items() if k not in pr_fields}
    return replace(record, pull_request=replace(pr, **pr_changes), updated_at=now, **own)


class IssueLog:
    """The local forge's issues (a campaign's tracking issue), in table rollout_issues."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open(self, forge: str, repo: str, title: str, body: str, now: datetime) -> int:
        return open_issue_row(self.store, forge, repo, title[:255], body, now)

    def update(self, forge: str, repo: str, number: int, title: str, body: str, now: datetime) -> None:
        if not update_issue_row(self.store, forge, repo, number, title[:255], body, now):
            raise RolloutError(f"no issue {repo}#{number} on the {forge} forge")

    def issues(self, forge: str, repo: str | None = None) -> list[IssueRow]:
        return issue_rows(self.store, forge, repo)
