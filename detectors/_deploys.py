"""Deploy correlation for contract breaks: the dataset's own producer, shortly before first bad."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from evidence import EvidenceRecord, iso

# A failed deploy changed nothing; a rollback did (it is a deploy of older code).
_CHANGES = ("succeeded", "rolled_back")


def shipped(deploys: Iterable[EvidenceRecord]) -> list[EvidenceRecord]:
    """The deploys that changed something, one per shipped version: restarts and replicas fold away.

    A failed deploy changed nothing. A DeploymentEvent from a service's start-up (`source: startup`) is a restart
    or a replica when CI reported that version of that producer (it folds into the CI deploy, wherever that lies
    in time) or when an earlier start-up already reported it (the first replica up is when it shipped); one
    without a version is the SDK's fallback and names no deploy (issue 13).
    """
    changes = sorted((r for r in deploys if r.type == "DeploymentEvent"
                      and r.data.get("status", "succeeded") in _CHANGES), key=lambda r: (r.event_time, r.evidence_id))
    reported = {(r.producer_urn, r.data.get("version")) for r in changes if r.data.get("source") != "startup"}
    kept: list[EvidenceRecord] = []
    started: set[tuple[str | None, Any]] = set()
    for record in changes:
        version = (record.producer_urn, record.data.get("version"))
        if record.data.get("source") == "startup":
            if version[1] in (None, "", "unknown") or version in reported or version in started:
                continue
            started.add(version)
        kept.append(record)
    return kept


def correlate_deploys(deploys: Iterable[EvidenceRecord], producer_urn: str | None, first_bad: datetime,
                      window: timedelta) -> list[dict[str, Any]]:
    """Deploys of `producer_urn` in [first_bad - window, first_bad], closest first.

    Rolling deploys mean good records may still follow a deploy, so the window, not "the first record after
    the deploy was bad", decides; a deploy older than the window, followed by that much good traffic, is not
    correlated. Other producers' deploys never are. `deploys` may reach back before the window: a restart
    inside it of a version CI reported before it is no deploy.
    """
    if not producer_urn:
        return []
    seen: dict[str, EvidenceRecord] = {}
    for record in shipped(d for d in deploys if d.producer_urn == producer_urn):
        if first_bad - window <= record.event_time <= first_bad:
            seen[record.evidence_id] = record
    ranked = sorted(seen.values(), key=lambda r: (first_bad - r.event_time, r.evidence_id))
    return [deploy_summary(r, first_bad) for r in ranked]


def deploy_summary(record: EvidenceRecord, first_bad: datetime) -> dict[str, Any]:
    data = record.data
    return {
        "service": data.get("service"),
        "version": data.get("version"),
        "deploy_ref": record.deploy_ref,
        "evidence_id": record.evidence_id,
        "time": iso(record.event_time),
        "seconds_before_first_bad": int((first_bad - record.event_time).total_seconds()),
        "status": data.get("status", "succeeded"),
    }
