"""The bot's pull requests in the rca database (table rollout_pull_requests): the `local` forge's own, and a record
of every one it opened on GitHub or GitLab, for the rollout's rings and dashboards."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select

from evidence import Store, rollout_issues
from evidence import rollout_pull_requests as table
from rollout._model import Archetype, PullRequest, PullRequestRecord, PullRequestState, RolloutError


class PullRequestLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, forge: str, repo: str, number: int) -> PullRequestRecord | None:
        stmt = select(table).where(table.c.forge == forge, table.c.repo == repo, table.c.number == number)
        with self.store.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _record(row) if row is not None else None

    def for_branch(self, forge: str, repo: str, branch: str) -> PullRequestRecord | None:
        """The newest pull request from `branch`."""
        stmt = (select(table).where(table.c.forge == forge, table.c.repo == repo, table.c.branch == branch)
                .order_by(table.c.number.desc()).limit(1))
        with self.store.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _record(row) if row is not None else None

    def records(self, forge: str | None = None, repo: str | None = None,
                state: PullRequestState | None = None) -> list[PullRequestRecord]:
        conditions = [c for c in (table.c.forge == forge if forge else None, table.c.repo == repo if repo else None,
                                  table.c.state == state if state else None) if c is not None]
        stmt = select(table).where(*conditions).order_by(table.c.forge, table.c.repo, table.c.number)
        with self.store.engine.connect() as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def next_number(self, forge: str, repo: str) -> int:
        stmt = select(func.max(table.c.number)).where(table.c.forge == forge, table.c.repo == repo)
        with self.store.engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0) + 1

    def save(self, record: PullRequestRecord) -> None:
        """Insert or replace the record of (forge, repo, number); created_at is kept from the first save."""
        pr = record.pull_request
        values = _row(record)
        key = (table.c.forge == pr.forge, table.c.repo == pr.repo, table.c.number == pr.number)
        with self.store.writing() as conn:
            existing = conn.execute(select(table.c.created_at).where(*key)).first()
            if existing is None:
                conn.execute(table.insert().values(**values))
            else:
                values.pop("created_at")
                conn.execute(table.update().where(*key).values(**values))


def _row(record: PullRequestRecord) -> dict[str, Any]:
    pr = record.pull_request
    return {"forge": pr.forge, "repo": pr.repo, "number": pr.number, "kind": record.kind, "branch": pr.branch,
            "base": pr.base, "archetype": record.archetype.value, "title": pr.title[:255], "body": record.body,
            "state": pr.state, "url": pr.url, "head_sha": pr.head_sha, "sdk_version": record.sdk_version,
            "ring": record.ring, "dry_run": record.dry_run, "created_at": record.created_at,
            "updated_at": record.updated_at, "closed_at": record.closed_at, "merged_at": record.merged_at,
            "reviewers": orjson.dumps(list(record.reviewers)).decode(),
            "assignees": orjson.dumps(list(record.assignees)).decode()}


def _record(row: Any) -> PullRequestRecord:
    v = row._mapping
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
        t = rollout_issues
        with self.store.writing() as conn:
            number = int(conn.execute(select(func.max(t.c.number)).where(t.c.forge == forge, t.c.repo == repo))
                         .scalar() or 0) + 1
            conn.execute(t.insert().values(forge=forge, repo=repo, number=number, title=title[:255], body=body,
                                           state="open", created_at=now, updated_at=now))
        return number

    def update(self, forge: str, repo: str, number: int, title: str, body: str, now: datetime) -> None:
        t = rollout_issues
        with self.store.writing() as conn:
            done = conn.execute(t.update().where(t.c.forge == forge, t.c.repo == repo, t.c.number == number)
                                .values(title=title[:255], body=body, updated_at=now))
        if done.rowcount == 0:
            raise RolloutError(f"no issue {repo}#{number} on the {forge} forge")

    def issues(self, forge: str, repo: str | None = None) -> list[dict[str, Any]]:
        t = rollout_issues
        stmt = select(t).where(t.c.forge == forge, *([t.c.repo == repo] if repo else [])).order_by(t.c.repo,
                                                                                                    t.c.number)
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]
