"""The SDK kill switch and rollout ring, per producer and per domain (GET /v1/control/{producer})."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from evidence._schema import controls
from evidence._store import Store

Scope = Literal["producer", "domain"]


@dataclass(frozen=True)
class Control:
    scope: Scope
    name: str
    enabled: bool = True
    killed: bool = False
    ring: int = 0
    domain: str | None = None


def put_control(store: Store, control: Control, now: datetime) -> Control:
    row = {"scope": control.scope, "name": control.name, "domain": control.domain, "enabled": control.enabled,
           "killed": control.killed, "ring": control.ring, "updated_at": now}
    with store.writing() as conn:
        stmt = store._insert(controls).values(row)
        stmt = stmt.on_conflict_do_update(index_elements=["scope", "name"],
                                          set_={k: stmt.excluded[k] for k in row if k not in ("scope", "name")})
        conn.execute(stmt)
    return control


def get_control(store: Store, scope: Scope, name: str) -> Control | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(controls).where(controls.c.scope == scope, controls.c.name == name)).first()
    if row is None:
        return None
    return Control(row.scope, row.name, row.enabled, row.killed, row.ring, row.domain)


def effective_control(store: Store, producer: str, domain: str | None = None) -> dict[str, object] | None:
    """What an SDK must obey: its own switch, with its domain's kill switch on top. None when neither exists."""
    own = get_control(store, "producer", producer)
    domain = (own.domain if own else None) or domain
    by_domain = get_control(store, "domain", domain) if domain else None
    if own is None and by_domain is None:
        return None
    return {
        "producer": producer,
        "domain": domain,
        "enabled": (own.enabled if own else True) and (by_domain.enabled if by_domain else True),
        "ring": own.ring if own else (by_domain.ring if by_domain else 0),
        "killed": bool((own and own.killed) or (by_domain and by_domain.killed)),
    }
