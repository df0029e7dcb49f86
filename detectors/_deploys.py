"""Deploy correlation for contract breaks: the dataset's own producer, shortly before first bad."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from evidence import EvidenceRecord, iso

# A failed deploy changed nothing; a rollback did (it is a deploy of older code).
_CHANGES = ("succeeded", "rolled_back")


def correlate_deploys(deploys: Iterable[EvidenceRecord], producer_urn: str | None, first_bad: datetime,
                      window: timedelta) -> list[dict[str, Any]]:
    """Deploys of `producer_urn` in [first_bad - window, first_bad], closest first.

    Rolling deploys mean good records may still follow a deploy, so the window, not "the first record after
    the deploy was bad", decides; a deploy older than the window, followed by that much good traffic, is not
    correlated. Other producers' deploys never are.
    """
    if not producer_urn:
        return []
    seen: dict[str, EvidenceRecord] = {}
    for record in deploys:
        if record.type != "DeploymentEvent" or record.producer_urn != producer_urn:
            continue
        if record.data.get("status", "succeeded") not in _CHANGES:
            continue
        if record.data.get("source") == "startup" and record.data.get("version") in (None, "", "unknown"):
            continue  # the SDK's start-up fallback without a version: a restart, not a named deploy
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
