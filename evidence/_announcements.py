"""The Slack outbox (`announcements`): the only code that reads or writes it. A pass records "to announce" for each
incident it opens or reopens in the transaction that opens it (`record_announcements`, from the incident store), so
a process that dies after that commit cannot lose it. Delivery (rca/_announce.py) claims one due announcement at a
time (`claim_announcement`), posts it, and marks it in the claim's transaction.

On PostgreSQL a claim is `SELECT ... FOR UPDATE SKIP LOCKED`: the row lock, held while the message is posted, is
the lease, so replicas never post the same incident twice, and a process that dies mid-post loses its connection
and the row is due again. SQLite is one process: a claim reads the row and marks it in a short write transaction
after the post. Either way the one duplicate possible is a post that went out just before its process died,
before the mark committed."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select, update

from evidence._domain import public_json
from evidence._record import utc
from evidence._schema import announcements, incidents
from evidence._store import Store

PENDING, SENT, GIVEN_UP, SKIPPED = "pending", "sent", "given_up", "skipped"
_ERROR_CHARS = 500


@dataclass(frozen=True)
class Announcement:
    """A due announcement: which incident (its JSON as stored now, whatever its status), since when it waits,
    and how many posts of it failed."""

    incident_id: str
    pending_since: datetime
    attempts: int
    incident: dict[str, Any]


@dataclass(frozen=True)
class AnnouncementRow:
    """An announcement as stored, for `rca` and the tests to read."""

    incident_id: str
    state: str
    pending_since: datetime
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


@dataclass
class AnnouncementClaim:
    """One claimed announcement (None when none is due) and what became of it; the claim's block writes it."""

    announcement: Announcement | None
    now: datetime
    changes: dict[str, Any] = field(default_factory=dict)  # the columns the block's end writes

    def sent(self) -> None:
        self._settle(state=SENT, sent_at=self.now, last_error=None)

    def retry(self, at: datetime, error: str) -> None:
        """The post failed: due again at `at`."""
        self._settle(next_attempt_at=utc(at), last_error=error[:_ERROR_CHARS])

    def give_up(self, error: str) -> None:
        self._settle(state=GIVEN_UP, last_error=error[:_ERROR_CHARS])

    def skip(self, reason: str) -> None:
        """Not posted, on purpose (not a failure): `reason` says why."""
        self.changes = {"state": SKIPPED, "last_error": reason[:_ERROR_CHARS]}

    def _settle(self, **values: Any) -> None:
        attempts = self.announcement.attempts if self.announcement is not None else 0
        self.changes = {"attempts": attempts + 1, **values}


def record_announcements(conn: Connection, due: list[tuple[str, datetime]], reopened: Collection[str] = ()) -> None:
    """Incidents to announce, each with the clock of the pass that opened it, in the caller's transaction (the one
    that opens them). A `reopened` incident is due again, whatever became of its earlier announcement; any other is
    new (no row: the incident store never deletes an incident)."""
    again = sorted(reopened)
    for start in range(0, len(again), 500):
        conn.execute(delete(announcements).where(announcements.c.incident_id.in_(again[start : start + 500])))
    if due:
        conn.execute(announcements.insert(), [
            {"incident_id": incident_id, "state": PENDING, "pending_since": utc(now), "attempts": 0,
             "next_attempt_at": utc(now), "sent_at": None, "last_error": None} for incident_id, now in due])


@contextmanager
def claim_announcement(store: Store, now: datetime) -> Iterator[AnnouncementClaim]:
    """The pending announcement due longest at `now` (next attempt at or before it), held until the block ends,
    which writes what the block said became of it (nothing when it said nothing: the claim lapses)."""
    now = utc(now)
    a, c = announcements.c, incidents.c
    due = (select(a.incident_id, a.pending_since, a.attempts, c.body).join(incidents, c.id == a.incident_id)
           .where(a.state == PENDING, a.next_attempt_at <= now).order_by(a.next_attempt_at, a.incident_id).limit(1))
    if store.dialect == "postgresql":
        with store.engine.connect() as conn, conn.begin():
            claim = _claim(conn.execute(due.with_for_update(skip_locked=True, of=announcements)).first(), now)
            yield claim
            _settle(conn, claim)
        return
    with store.engine.connect() as conn:
        claim = _claim(conn.execute(due).first(), now)
    yield claim
    if claim.changes:
        with store.writing() as conn:
            _settle(conn, claim)


def _claim(row: Any, now: datetime) -> AnnouncementClaim:
    if row is None:
        return AnnouncementClaim(None, now)
    body: dict[str, Any] = public_json(orjson.loads(row.body))  # what the API shows
    return AnnouncementClaim(Announcement(row.incident_id, utc(row.pending_since), row.attempts, body), now)


def _settle(conn: Connection, claim: AnnouncementClaim) -> None:
    if claim.announcement is not None and claim.changes:
        conn.execute(update(announcements).where(announcements.c.incident_id == claim.announcement.incident_id,
                                                 announcements.c.state == PENDING).values(claim.changes))


def expire_announcements(store: Store, older_than: datetime, reason: str) -> list[str]:
    """Give up every pending announcement waiting since before `older_than` (one statement, however many), and
    say which; rows another process holds are left to it."""
    a = announcements.c
    stale = select(a.incident_id).where(a.state == PENDING, a.pending_since < utc(older_than))
    with store.engine.connect() as conn:  # a read first: most passes have nothing to give up (no write turn taken)
        if conn.execute(stale.limit(1)).first() is None:
            return []
    held = stale.with_for_update(skip_locked=True).scalar_subquery()
    with store.writing() as conn:
        return sorted(conn.execute(update(announcements).where(a.incident_id.in_(held))
                                   .values(state=GIVEN_UP, last_error=reason[:_ERROR_CHARS])
                                   .returning(a.incident_id)).scalars())


def stored_announcements(store: Store) -> list[AnnouncementRow]:
    """Every announcement, oldest first."""
    a = announcements.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(announcements).order_by(a.pending_since, a.incident_id)).all()
    return [AnnouncementRow(r.incident_id, r.state, utc(r.pending_since), r.attempts, utc(r.next_attempt_at),
                            None if r.sent_at is None else utc(r.sent_at), r.last_error) for r in rows]
