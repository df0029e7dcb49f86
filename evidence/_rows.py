"""Listing and fetching rows of the tables whose rows a person reviews (policy drafts, change requests): the one
place their reads are written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Table, select

from evidence._store import Store


def list_rows(store: Store, table: Table, order_by: Sequence[str], status: str | None = None) -> list[Row[Any]]:
    """Every row of `table` (of one status when given), ordered by these columns."""
    stmt = select(table).order_by(*(table.c[name] for name in order_by))
    if status is not None:
        stmt = stmt.where(table.c.status == status)
    with store.engine.connect() as conn:
        return list(conn.execute(stmt))


def get_row(store: Store, table: Table, row_id: str) -> Row[Any] | None:
    with store.engine.connect() as conn:
        return conn.execute(select(table).where(table.c.id == row_id)).first()
