"""The rollout's tables (rollout_pull_requests, rollout_issues, rollout_campaigns): the one place their SQL is
written. Rows come out as their column values by name; rollout/ turns them into its own types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from evidence._schema import rollout_campaigns, rollout_issues, rollout_pull_requests
from evidence._store import Store

_PR = rollout_pull_requests


def _rows(store: Store, stmt: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]


def pull_request_rows(store: Store, forge: str | None = None, repo: str | None = None, state: str | None = None,
                      number: int | None = None, branch: str | None = None,
                      newest_only: bool = False) -> list[dict[str, Any]]:
    """Pull request records matching what is given, by (forge, repo, number); `newest_only`: the highest number."""
    wanted: list[ColumnElement[bool]] = [
        column == value for column, value in ((_PR.c.forge, forge), (_PR.c.repo, repo), (_PR.c.state, state),
                                              (_PR.c.number, number), (_PR.c.branch, branch)) if value is not None]
    stmt = select(_PR).where(*wanted)
    if newest_only:
        return _rows(store, stmt.order_by(_PR.c.number.desc()).limit(1))
    return _rows(store, stmt.order_by(_PR.c.forge, _PR.c.repo, _PR.c.number))


def next_pull_request_number(store: Store, forge: str, repo: str) -> int:
    stmt = select(func.max(_PR.c.number)).where(_PR.c.forge == forge, _PR.c.repo == repo)
    with store.engine.connect() as conn:
        return int(conn.execute(stmt).scalar() or 0) + 1


def save_pull_request_row(store: Store, values: dict[str, Any]) -> None:
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
        number = int(conn.execute(select(func.max(t.c.number)).where(t.c.forge == forge, t.c.repo == repo))
                     .scalar() or 0) + 1
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


def issue_rows(store: Store, forge: str, repo: str | None = None) -> list[dict[str, Any]]:
    t = rollout_issues
    return _rows(store, select(t).where(t.c.forge == forge, *([t.c.repo == repo] if repo else []))
                 .order_by(t.c.repo, t.c.number))


def campaign_rows(store: Store, name: str | None = None) -> list[dict[str, Any]]:
    """Stored campaigns (one, when named), by name."""
    t = rollout_campaigns
    return _rows(store, select(t).where(*([t.c.name == name] if name is not None else [])).order_by(t.c.name))


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
