"""The SDK kill switch and rollout ring, per producer and per domain, and a producer's flag per environment
(GET /v1/control/{producer}[?env=])."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from evidence._schema import control_environments, controls
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


def put_environment_flag(store: Store, producer: str, environment: str, enabled: bool, now: datetime) -> None:
    """Turn a producer's flag on or off in one environment (a rollout ring's promotion writes these)."""
    row = {"producer": producer, "environment": environment, "enabled": enabled, "updated_at": now}
    with store.writing() as conn:
        stmt = store._insert(control_environments).values(row)
        conn.execute(stmt.on_conflict_do_update(index_elements=["producer", "environment"],
                                                set_={"enabled": stmt.excluded.enabled,
                                                      "updated_at": stmt.excluded.updated_at}))


def environment_flags(store: Store, producer: str) -> dict[str, bool]:
    """A producer's flag per environment: environment -> on. An environment not listed was never set."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(control_environments).where(control_environments.c.producer == producer))
        return {row.environment: bool(row.enabled) for row in rows}


def effective_control(store: Store, producer: str, domain: str | None = None,
                      environment: str | None = None) -> dict[str, object] | None:
    """What an SDK must obey: its own switch, with its domain's kill switch on top, and, when the SDK names its
    `environment`, that environment's flag (a flag set for other environments but not this one is off: the
    rollout has not reached it). None when nothing applies."""
    own = get_control(store, "producer", producer)
    domain = (own.domain if own else None) or domain
    by_domain = get_control(store, "domain", domain) if domain else None
    flags = environment_flags(store, producer) if environment else {}
    if own is None and by_domain is None and not flags:
        return None
    found: dict[str, object] = {
        "producer": producer,
        "domain": domain,
        "enabled": (own.enabled if own else True) and (by_domain.enabled if by_domain else True),
        "ring": own.ring if own else (by_domain.ring if by_domain else 0),
        "killed": bool((own and own.killed) or (by_domain and by_domain.killed)),
    }
    if environment:
        found["environment"] = environment
        found["enabled"] = bool(found["enabled"]) and (flags.get(environment, False) if flags else True)
    return found
