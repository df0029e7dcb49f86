"""Delivery of the Slack outbox: new incidents posted to RCA_SLACK_CHANNEL, at least once, one post per incident.

A pass writes "to announce" for each incident it opens or reopens in the transaction that opens it
(evidence/_announcements.py), whether Slack is configured or not. After each pass, `rca serve` delivers what is
due: it claims one announcement at a time (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas share the
outbox and never post one incident twice), posts it, and marks it sent in the claim's transaction.

- A failed post is retried on a later pass, after an exponential backoff (60 s doubling, capped at 15 min) or
  after Slack's Retry-After when it answered 429, whichever is later; the first failure ends that delivery (the
  rest wait for the next pass, rather than each timing out against a Slack that is down), and a 429 holds this
  process's deliveries until its Retry-After has passed.
- An announcement still unsent RCA_SLACK_ANNOUNCE_MAX_AGE_S (6 h) after its incident was opened is given up:
  one log line, counted. The same rule keeps a Slack configured later from posting the backlog in bulk: only
  incidents opened within that bound are posted.
- An incident resolved before its announcement went out is posted with its state (on-call would rather know it
  happened and is over); one a person marked a false positive first is skipped.
- Counted on GET /metrics as rca_slack_announcements_total{outcome}: sent, retried, given_up, skipped.

The guarantee: never lost while Slack takes it within the bound, even when the process that opened the incident
dies right after its pass committed; at least once, with a narrow duplicate window: a post Slack took whose process
died before the mark committed, or whose answer never arrived (a timeout), is posted again by a later delivery.
Across replicas on one PostgreSQL, one post per incident outside that window; SQLite is one process.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from evidence import Announcement, AnnouncementClaim, Store, claim_announcement, expire_announcements, utc

log = logging.getLogger("rca.slack")

BACKOFF = timedelta(seconds=60)
BACKOFF_CAP = timedelta(minutes=15)
BATCH = 100  # posts one delivery makes at most; the rest wait for the next pass
OUTCOMES = ("sent", "retried", "given_up", "skipped")


class PostFailed(Exception):
    """Slack did not take a post; `retry_after` (seconds) when it said how long to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def backoff(failures: int) -> timedelta:
    """The wait after a post's `failures`-th failure: 60 s, 120 s, 240 s, ... capped at 15 min."""
    return min(BACKOFF * (1 << max(0, min(failures - 1, 10))), BACKOFF_CAP)


class Announcer:
    """Posts due announcements through `post` (SlackBot.post_incident, or a test's); `counted(outcome, n)` hears
    of every outcome (the metric). Below the API: the clock is an argument of `deliver`."""

    def __init__(self, store: Store, post: Callable[[dict[str, Any]], None], max_age: timedelta,
                 counted: Callable[[str, int], None] | None = None, batch: int = BATCH) -> None:
        self.store, self.post, self.max_age, self.counted, self.batch = store, post, max_age, counted, batch
        self.held_until: datetime | None = None  # Slack's last Retry-After, for every post of this process
        # One delivery at a time in this process: the schedule's and POST /v1/detect's would both read the same due
        # row on SQLite (no row locks there); the second waits, then finds it sent.
        self._turn = threading.Lock()

    def deliver(self, now: datetime) -> dict[str, int]:
        """Give up what waited too long, then post what is due at `now`; the outcomes, counted."""
        with self._turn:
            return self._deliver(utc(now))

    def _deliver(self, now: datetime) -> dict[str, int]:
        outcomes: Counter[str] = Counter()
        expired = expire_announcements(self.store, now - self.max_age, f"not posted within {self.max_age} of the "
                                       "incident's opening (RCA_SLACK_ANNOUNCE_MAX_AGE_S)")
        if expired:
            log.warning("gave up announcing %d incident(s) in Slack, not posted within %s of opening: %s",
                        len(expired), self.max_age, ", ".join(expired[:20]) + (" ..." if len(expired) > 20 else ""))
            outcomes["given_up"] += len(expired)
        if self.held_until is None or now >= self.held_until:
            for _ in range(self.batch):
                with claim_announcement(self.store, now) as claim:
                    if claim.announcement is None:
                        break
                    outcome = self._post(claim, claim.announcement, now)
                outcomes[outcome] += 1
                if outcome == "retried":
                    break
        for outcome, count in outcomes.items():
            if self.counted is not None:
                self.counted(outcome, count)
        return dict(outcomes)

    def _post(self, claim: AnnouncementClaim, announcement: Announcement, now: datetime) -> str:
        if announcement.incident.get("status") == "false_positive":
            claim.skip("marked a false positive before it was announced")
            return "skipped"
        try:
            self.post(announcement.incident)
        except PostFailed as exc:
            return self._failed(claim, announcement, now, str(exc), exc.retry_after)
        except Exception as exc:  # anything else a post raised: retried the same way, with its traceback logged
            log.exception("posting incident %s to Slack raised", announcement.incident_id)
            return self._failed(claim, announcement, now, f"{type(exc).__name__}: {exc}", None)
        claim.sent()
        return "sent"

    def _failed(self, claim: AnnouncementClaim, announcement: Announcement, now: datetime, error: str,
                retry_after: float | None) -> str:
        wait = backoff(announcement.attempts + 1)
        if retry_after is not None:
            self.held_until = now + timedelta(seconds=retry_after)
            wait = max(wait, timedelta(seconds=retry_after))
        claim.retry(now + wait, error)
        log.warning("posting incident %s to Slack failed (attempt %d): %s; retrying after %s",
                    announcement.incident_id, announcement.attempts + 1, error, now + wait)
        return "retried"


__all__ = ["OUTCOMES", "Announcer", "PostFailed", "backoff"]
