"""The tables whose rows a person reviews (policy drafts, drift change requests and the records they hold): the one
place their SQL is written. Detectors decide what to draft and what a decision does; this module keeps the rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Row, Table, delete, select

from evidence._schema import held_records, policy_drafts
from evidence._store import Store


class DraftRow(Protocol):
    """A suggested policy draft as detectors make it (detectors/_skeletons.py)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def dataset_urn(self) -> str: ...
    @property
    def spec(self) -> dict[str, Any]: ...
    @property
    def basis(self) -> dict[str, Any]: ...


def list_rows(store: Store, table: Table, order_by: Sequence[str], status: str | None = None,
              **equal: object) -> list[Row[Any]]:
    """Every row of `table` (of one status when given, and whose columns hold the `equal` values given that are not
    None), ordered by these columns."""
    stmt = select(table).where(*(table.c[name] == value for name, value in equal.items() if value is not None))
    stmt = stmt.order_by(*(table.c[name] for name in order_by))
    if status is not None:
        stmt = stmt.where(table.c.status == status)
    with store.engine.connect() as conn:
        return list(conn.execute(stmt))


def get_row(store: Store, table: Table, row_id: str) -> Row[Any] | None:
    with store.engine.connect() as conn:
        return conn.execute(select(table).where(table.c.id == row_id)).first()


def decide_row(store: Store, table: Table, row_id: str, values: dict[str, Any]) -> None:
    """Record a person's decision on a reviewed row (status, decided_at, decided_by, ...)."""
    with store.writing() as conn:
        conn.execute(table.update().where(table.c.id == row_id).values(**values))


def keep_drafts(store: Store, drafts: Iterable[DraftRow], now: datetime) -> None:
    """Keep newly suggested drafts: a draft already stored (decided or not) stays as it is, and an undecided draft of
    the same dataset and kind is replaced by the newer one."""
    d = policy_drafts.c
    with store.writing() as conn:
        for draft in drafts:
            if conn.execute(select(d.id).where(d.id == draft.id)).first() is not None:
                continue
            conn.execute(policy_drafts.delete().where(d.dataset_urn == draft.dataset_urn, d.kind == draft.kind,
                                                      d.status == "draft"))
            conn.execute(policy_drafts.insert().values(
                id=draft.id, kind=draft.kind, dataset_urn=draft.dataset_urn, spec=orjson.dumps(draft.spec).decode(),
                basis=orjson.dumps(draft.basis).decode(), status="draft", created_at=now))


def held_by(store: Store, change_request_id: str) -> list[dict[str, Any]]:
    """The records a change request holds, as they arrived (their wire form), by source ref."""
    h = held_records.c
    with store.engine.connect() as conn:
        return [orjson.loads(r.record) for r in conn.execute(
            select(h.record).where(h.change_request_id == change_request_id).order_by(h.source_ref))]


def release_held(store: Store, change_request_id: str) -> None:
    """Forget the records a change request held (once they went through intake again)."""
    with store.writing() as conn:
        conn.execute(delete(held_records).where(held_records.c.change_request_id == change_request_id))

