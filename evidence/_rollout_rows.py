"""The rollout's tables (rollout_pull_requests, rollout_issues, rollout_campaigns): the one place their SQL is
written. Rows come out typed, one TypedDict per table (their columns by name); rollout/ turns them into its own
types."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict, cast

from sqlalchemy import Connection, Table, func, select

from evidence._rows import list_rows
from evidence._schema import rollout_campaigns, rollout_issues, rollout_pull_requests
from evidence._store import Store

_PR = rollout_pull_requests


class PullRequestRow(TypedDict):
    """A row of rollout_pull_requests: one onboarding (or removal) pull request the bot opened."""

    forge: str
    repo: str
    number: int
    kind: Literal["onboard", "remove"]
    branch: str
    base: str
    archetype: str
    title: str
    body: str
    state: Literal["open", "closed", "merged"]
    url: str
    head_sha: str
    sdk_version: str
    ring: int
    dry_run: Literal["passed", "failed", "not_run"]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    merged_at: datetime | None
    reviewers: str  # a JSON list of handles
    assignees: str  # a JSON list of handles


class IssueRow(TypedDict):
    """A row of rollout_issues: an issue of the local forge (a campaign's tracking issue)."""

    forge: str
    repo: str
    number: int
    title: str
    body: str
    state: str
    created_at: datetime
    updated_at: datetime


class CampaignRow(TypedDict):
    """A row of rollout_campaigns: a campaign's definition and state, as JSON."""

    name: str
    definition: str
    state: str
    created_at: datetime
    updated_at: datetime


def pull_request_rows(store: Store, forge: str | None = None, repo: str | None = None, state: str | None = None,
                      number: int | None = None, branch: str | None = None,
                      newest_only: bool = False) -> list[PullRequestRow]:
    """Pull request records matching what is given, by (forge, repo, number); `newest_only`: the highest number."""
    order = ("number",) if newest_only else ("forge", "repo", "number")
    rows = [cast(PullRequestRow, dict(row._mapping))
            for row in list_rows(store, _PR, order, forge=forge, repo=repo, state=state, number=number, branch=branch)]
    return rows[-1:] if newest_only else rows


def _next_number(conn: Connection, table: Table, forge: str, repo: str) -> int:
    """The number after the repository's last (1 for its first)."""
    last = conn.execute(select(func.max(table.c.number)).where(table.c.forge == forge, table.c.repo == repo)).scalar()
    return int(last or 0) + 1


def next_pull_request_number(store: Store, forge: str, repo: str) -> int:
    with store.engine.connect() as conn:
        return _next_number(conn, _PR, forge, repo)


def save_pull_request_row(store: Store, values: PullRequestRow) -> None:
    """Insert or replace the record of (forge, repo, number); created_at is kept from the first save."""
    key = (_PR.c.forge == values["forge"], _PR.c.repo == values["repo"], _PR.c.number == values["number"])
    with store.writing() as conn:
        if conn.execute(select(_PR.c.created_at).where(*key)).first() is None:
            conn.execute(_PR.insert().values(**values))
        else:
            conn.execute(_PR.update().where(*key).values({k: v for k, v in values.items() if k != "created_at"}))


def open_issue_row(store: Store, forge: str, repo: str, title: str, body: str, now: datetime) -> int:
    """A new open issue, numbered after the repository's last; its number."""
    t = rollout_issues
    with store.writing() as conn:
        number = _next_number(conn, t, forge, repo)
        conn.execute(t.insert().values(forge=forge, repo=repo, number=number, title=title, body=body, state="open",
                                       created_at=now, updated_at=now))
    return number


def update_issue_row(store: Store, forge: str, repo: str, number: int, title: str, body: str,
                     now: datetime) -> bool:
    """Rewrite an issue's title and body; False when there is no such issue."""
    t = rollout_issues
    with store.writing() as conn:
        done = conn.execute(t.update().where(t.c.forge == forge, t.c.repo == repo, t.c.number == number)
                            .values(title=title, body=body, updated_at=now))
    return bool(done.rowcount)


def issue_rows(store: Store, forge: str, repo: str | None = None) -> list[IssueRow]:
    return [cast(IssueRow, dict(row._mapping))
            for row in list_rows(store, rollout_issues, ("repo", "number"), forge=forge, repo=repo or None)]


def campaign_rows(store: Store, name: str | None = None) -> list[CampaignRow]:
    """Stored campaigns (one, when named), by name."""
    return [cast(CampaignRow, dict(row._mapping)) for row in list_rows(store, rollout_campaigns, ("name",), name=name)]


def campaign_names(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [row.name for row in conn.execute(select(rollout_campaigns.c.name).order_by(rollout_campaigns.c.name))]


def save_campaign_row(store: Store, name: str, values: dict[str, Any], now: datetime) -> None:
    """Insert or update a campaign's row (created_at set on insert)."""
    t = rollout_campaigns
    with store.writing() as conn:
        if conn.execute(select(t.c.name).where(t.c.name == name)).first() is None:
            conn.execute(t.insert().values(name=name, created_at=now, **values))
        else:
            conn.execute(t.update().where(t.c.name == name).values(**values))
