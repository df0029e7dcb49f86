"""The incident store: the only code that reads or writes the incidents table. Detectors decide what is open;
this module opens, updates, resolves, reopens and marks incidents, one pass's writes in one short transaction, and
answers the API's reads (one incident, a filtered list, keyset pages).

A stored incident keeps the windows its detector applied (`Incident.windows`) beside its JSON: the typed reads
(`load_incident`, `load_incidents`) return them, for retrieval and the verifier; the JSON reads never show them."""

from __future__ import annotations

import base64
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, Select, and_, bindparam, or_, select

from evidence._announcements import record_announcements
from evidence._bounds import time_error, urn_error
from evidence._domain import Incident, public_json, stored_json
from evidence._errors import RcaError
from evidence._record import iso, utc
from evidence._schema import incidents
from evidence._store import Store
from evidence._vocab import parse_time

_INCIDENT_ID = re.compile(r"^inc_[0-9a-f]{16}$")
_COLUMN_NAMES = ("id", "dataset_urn", "kind", "status", "reason_code", "detected_at", "updated_at", "resolved_at",
                 "owner_team", "tier", "body")


class UnknownIncident(RcaError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"No incident {incident_id!r}; list them with GET /v1/incidents or `rca incidents`.")
        self.incident_id = incident_id


@dataclass(frozen=True)
class OpenIncident:
    """An open incident as a pass finds it: which it is, when it was first detected, and what it said."""

    id: str
    dataset_urn: str
    kind: str
    detected_at: datetime
    body: str


class IncidentWrites:
    """One pass's writes: rows rewritten in place (updated, resolved, reopened) and rows added, sent as one
    executemany each when the pass's transaction ends."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._changed: list[dict[str, Any]] = []
        self._added: list[dict[str, Any]] = []
        self._announce: list[tuple[str, datetime]] = []  # the Slack outbox's rows, in this same transaction
        self._reopened: set[str] = set()

    def open_incidents(self, scope: Collection[str] | None = None) -> dict[tuple[str, str], OpenIncident]:
        """The open incidents by (dataset, kind); only those of `scope`'s datasets when given."""
        c = incidents.c
        rows = self._conn.execute(select(c.id, c.dataset_urn, c.kind, c.detected_at, c.body).where(c.status == "open"))
        return {(r.dataset_urn, r.kind): OpenIncident(r.id, r.dataset_urn, r.kind, r.detected_at, r.body)
                for r in rows if scope is None or r.dataset_urn in scope}

    def statuses(self, incident_ids: list[str]) -> dict[str, str]:
        """The status of each of these incidents that was ever stored (resolved, false_positive, ...)."""
        c = incidents.c
        return {row.id: row.status for start in range(0, len(incident_ids), 500) for row in self._conn.execute(
            select(c.id, c.status).where(c.id.in_(incident_ids[start : start + 500])))}

    def open(self, incident: Incident, now: datetime) -> None:
        self._added.append(_columns(stored_json(incident), now, now))
        self._announce.append((incident.id, now))

    def reopen(self, incident: Incident, now: datetime) -> None:
        """The same break came back after it was resolved: its row, with the id it had, is open again."""
        self._changed.append(_columns(stored_json(incident), now, now))
        self._announce.append((incident.id, now))
        self._reopened.add(incident.id)

    def update(self, incident: Incident, detected_at: datetime, now: datetime) -> None:
        self._changed.append(_columns(stored_json(incident), detected_at, now))

    def resolve(self, current: OpenIncident, now: datetime) -> None:
        self._changed.append(_resolved(current, now))

    def flush(self) -> None:
        c = incidents.c
        if self._changed:
            self._conn.execute(incidents.update().where(c.id == bindparam("b_id")).values(
                {name: bindparam(f"b_{name}") for name in _COLUMN_NAMES if name != "id"}),
                [{f"b_{name}": row[name] for name in _COLUMN_NAMES} for row in self._changed])
        if self._added:
            self._conn.execute(incidents.insert(), self._added)
        record_announcements(self._conn, self._announce, self._reopened)
        self._changed, self._added, self._announce, self._reopened = [], [], [], set()


class IncidentLedger(Protocol):
    """Where a pass settles its incidents (`IncidentWrites` in a store's transaction, or `MemoryIncidents`)."""

    def open_incidents(self, scope: Collection[str] | None = None) -> dict[tuple[str, str], OpenIncident]: ...
    def statuses(self, incident_ids: list[str]) -> dict[str, str]: ...
    def open(self, incident: Incident, now: datetime) -> None: ...
    def reopen(self, incident: Incident, now: datetime) -> None: ...
    def update(self, incident: Incident, detected_at: datetime, now: datetime) -> None: ...
    def resolve(self, current: OpenIncident, now: datetime) -> None: ...


class MemoryIncidents:
    """The incidents table in memory (a replay's): the rows `IncidentWrites` would write, and the reads of them as
    `stored_incidents` and `load_incidents` give them (status open)."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    def open_incidents(self, scope: Collection[str] | None = None) -> dict[tuple[str, str], OpenIncident]:
        return {(r["dataset_urn"], r["kind"]): OpenIncident(r["id"], r["dataset_urn"], r["kind"], r["detected_at"],
                                                            r["body"])
                for r in self._rows.values() if r["status"] == "open" and (scope is None or r["dataset_urn"] in scope)}

    def statuses(self, incident_ids: list[str]) -> dict[str, str]:
        return {i: self._rows[i]["status"] for i in incident_ids if i in self._rows}

    def open(self, incident: Incident, now: datetime) -> None:
        self._keep(_columns(stored_json(incident), now, now))

    def reopen(self, incident: Incident, now: datetime) -> None:
        self._keep(_columns(stored_json(incident), now, now))

    def update(self, incident: Incident, detected_at: datetime, now: datetime) -> None:
        self._keep(_columns(stored_json(incident), detected_at, now))

    def resolve(self, current: OpenIncident, now: datetime) -> None:
        self._keep(_resolved(current, now))

    def _keep(self, row: dict[str, Any]) -> None:
        self._rows[row["id"]] = row

    def stored_incidents(self) -> list[dict[str, Any]]:
        """The open incidents' JSON, in stored_incidents' order."""
        return [public_json(body) for body in self._bodies()]

    def load_incidents(self) -> list[Incident]:
        """The open incidents, typed, with their windows, as load_incidents gives them."""
        return [Incident.model_validate(body) for body in self._bodies()]

    def _bodies(self) -> list[dict[str, Any]]:
        rows = sorted((r for r in self._rows.values() if r["status"] == "open"), key=lambda r: r["id"])
        rows.sort(key=lambda r: r["detected_at"], reverse=True)
        rows.sort(key=lambda r: (r["dataset_urn"], r["kind"]))
        return [orjson.loads(r["body"]) for r in rows]


@contextmanager
def incident_writes(store: Store) -> Iterator[IncidentWrites]:
    """A pass's writes, in one short transaction that goes ahead of queued ingestion (it decides what on-call
    sees)."""
    with store.writing(urgent=True) as conn:
        writes = IncidentWrites(conn)
        yield writes
        writes.flush()


def _resolved(current: OpenIncident, now: datetime) -> dict[str, Any]:
    body = orjson.loads(current.body)
    body.update(status="resolved", resolved_at=iso(now), updated_at=iso(now))
    return {**_columns(body, current.detected_at, now), "status": "resolved", "resolved_at": now}


def _columns(incident: dict[str, Any], detected_at: datetime, now: datetime) -> dict[str, Any]:
    return {
        "id": incident["id"], "dataset_urn": incident["dataset_urn"], "kind": incident["kind"], "status": "open",
        "reason_code": incident["reason_code"], "detected_at": detected_at, "updated_at": now, "resolved_at": None,
        "owner_team": incident["owner_team"], "tier": incident["tier"], "body": orjson.dumps(incident).decode(),
    }


def mark_false_positive(store: Store, incident_id: str, reason: str, now: datetime, by: str) -> dict[str, Any]:
    """Close an incident as a false positive; later passes do not reopen the same break (same id)."""
    now = utc(now)
    with store.writing() as conn:
        row = conn.execute(select(incidents.c.body).where(incidents.c.id == incident_id)).first()
        if row is None:
            raise UnknownIncident(incident_id)
        body: dict[str, Any] = orjson.loads(row.body)
        body.update(status="false_positive", updated_at=iso(now), resolved_at=iso(now),
                    false_positive={"reason": reason, "by": by, "at": iso(now)})
        conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
            status="false_positive", updated_at=now, resolved_at=now, body=orjson.dumps(body).decode()))
    return public_json(body)


def stored_incident(store: Store, incident_id: str) -> dict[str, Any]:
    """One incident's JSON, as the API returns it."""
    return public_json(_body(store, incident_id))


def load_incident(store: Store, incident_id: str) -> Incident:
    """One incident, typed, with the windows its detector applied."""
    return Incident.model_validate(_body(store, incident_id))


def _body(store: Store, incident_id: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(incidents.c.body).where(incidents.c.id == incident_id)).first()
    if row is None:
        raise UnknownIncident(incident_id)
    body: dict[str, Any] = orjson.loads(row[0])
    return body


def stored_incidents(store: Store, *, status: str | None = "open", dataset_urn: str | None = None,
                     kind: str | None = None, owner_team: str | None = None,
                     tier: int | None = None) -> list[dict[str, Any]]:
    """Incidents as the API returns them, sorted by dataset then kind (then detection, newest first)."""
    return [public_json(body) for body in _bodies(store, status, dataset_urn, kind, owner_team, tier)]


def load_incidents(store: Store, *, status: str | None = "open", dataset_urn: str | None = None,
                   kind: str | None = None, owner_team: str | None = None, tier: int | None = None) -> list[Incident]:
    """stored_incidents, typed, each with the windows its detector applied."""
    return [Incident.model_validate(body) for body in _bodies(store, status, dataset_urn, kind, owner_team, tier)]


def _bodies(store: Store, status: str | None, dataset_urn: str | None, kind: str | None, owner_team: str | None,
            tier: int | None) -> list[dict[str, Any]]:
    stmt = _incident_query(status, dataset_urn, kind, owner_team, tier)
    with store.engine.connect() as conn:
        return [orjson.loads(body) for (body, *_) in conn.execute(stmt)]


def incidents_detected_between(store: Store, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """Every incident (any status) detected in [since, now], as stored."""
    c = incidents.c
    stmt = select(c.body).where(c.detected_at >= utc(since), c.detected_at <= utc(now)).order_by(c.detected_at, c.id)
    with store.engine.connect() as conn:
        return [public_json(orjson.loads(row.body)) for row in conn.execute(stmt)]


def stored_incident_page(store: Store, *, limit: int, cursor: str | None = None, status: str | None = "open",
                         dataset_urn: str | None = None, kind: str | None = None, owner_team: str | None = None,
                         tier: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of stored_incidents' order and the cursor of the next (None on the last page). Keyset paging:
    a page costs the same however deep it is, and incidents opened meanwhile never shift the pages."""
    stmt = _incident_query(status, dataset_urn, kind, owner_team, tier)
    if cursor is not None:
        after_urn, after_kind, after_detected, after_id = decode_incident_cursor(cursor)
        c = incidents.c
        stmt = stmt.where(or_(
            c.dataset_urn > after_urn,
            and_(c.dataset_urn == after_urn, c.kind > after_kind),
            and_(c.dataset_urn == after_urn, c.kind == after_kind, c.detected_at < after_detected),
            and_(c.dataset_urn == after_urn, c.kind == after_kind, c.detected_at == after_detected,
                 c.id > after_id)))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt.limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if more and rows else None
    next_cursor = None if last is None else base64.urlsafe_b64encode(orjson.dumps(
        [last.dataset_urn, last.kind, iso(last.detected_at), last.id])).decode()
    return [public_json(orjson.loads(row.body)) for row in rows], next_cursor


def decode_incident_cursor(cursor: str) -> tuple[str, str, datetime, str]:
    """What a GET /v1/incidents cursor continues after; ValueError for anything this server did not issue."""
    try:
        urn, kind, detected, incident = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        moment = parse_time(str(detected))
        if not (isinstance(urn, str) and isinstance(kind, str) and isinstance(incident, str)
                and _INCIDENT_ID.match(incident) and urn_error(urn) is None and kind.isalpha()
                and time_error(moment) is None):
            raise ValueError(cursor)
        return urn, kind, utc(moment), incident
    except (ValueError, TypeError, UnicodeError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"cursor {cursor[:100]!r} is not one this server issued; start again without it") from exc


def _incident_query(status: str | None, dataset_urn: str | None, kind: str | None, owner_team: str | None,
                    tier: int | None) -> Select[Any]:
    stmt = select(incidents.c.body, incidents.c.dataset_urn, incidents.c.kind, incidents.c.detected_at,
                  incidents.c.id)
    for column, value in (("status", status), ("dataset_urn", dataset_urn), ("kind", kind),
                          ("owner_team", owner_team), ("tier", tier)):
        if value is not None:
            stmt = stmt.where(incidents.c[column] == value)
    return stmt.order_by(incidents.c.dataset_urn, incidents.c.kind, incidents.c.detected_at.desc(), incidents.c.id)
