"""Deploy correlation for contract breaks: the dataset's own producer, shortly before first bad."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors._gate import ContractBreak
from evidence import CHANGE_STATUSES, CorrelatedDeploy, EventType, EvidenceReader, EvidenceRecord

# How far before a correlation window CI deploys are read, so that restarts of the versions they shipped fold in.
DEPLOY_FOLD_LOOKBACK = timedelta(days=7)


def shipped(deploys: Iterable[EvidenceRecord]) -> list[EvidenceRecord]:
    """The deploys that changed something, one per shipped version: restarts and replicas fold away.

    A failed deploy changed nothing. A DeploymentEvent from a service's start-up (`source: startup`) is a restart
    or a replica when CI reported that version of that producer (it folds into the CI deploy, wherever that lies
    in time) or when an earlier start-up already reported it (the first replica up is when it shipped); one
    without a version is the SDK's fallback and names no deploy (issue 13).
    """
    changes = sorted((r for r in deploys if r.type == EventType.DEPLOYMENT
                      and r.data.get("status", "succeeded") in CHANGE_STATUSES),
                     key=lambda r: (r.event_time, r.evidence_id))
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
                      window: timedelta) -> list[CorrelatedDeploy]:
    """Deploys of `producer_urn` in [first_bad - window, first_bad), closest first.

    A deploy at the very instant of the first bad record is not before it, so it is not correlated. Rolling
    deploys mean good records may still follow a deploy, so the window, not "the first record after the deploy
    was bad", decides; a deploy older than the window, followed by that much good traffic, is not correlated.
    Other producers' deploys never are. Restarts and replicas fold into the deploy that shipped their version
    (`shipped`), so `deploys` may reach back before the window: a restart inside it of a version CI reported
    before it is no deploy. Only what happened before first bad folds: a CI report at or after it says nothing
    about the code that was already running, so each producer's answer is the same whatever else was read.
    """
    if not producer_urn:
        return []
    seen: dict[str, EvidenceRecord] = {}
    for record in shipped(d for d in deploys if d.producer_urn == producer_urn and d.event_time < first_bad):
        if first_bad - window <= record.event_time < first_bad:
            seen[record.evidence_id] = record
    ranked = sorted(seen.values(), key=lambda r: (first_bad - r.event_time, r.evidence_id))
    return [deploy_summary(r, first_bad) for r in ranked]


def deploy_summary(record: EvidenceRecord, first_bad: datetime) -> CorrelatedDeploy:
    data = record.data
    return CorrelatedDeploy(
        producer_urn=record.producer_urn,
        service=data.get("service"),
        version=data.get("version"),
        deploy_ref=record.deploy_ref,
        evidence_id=record.evidence_id,
        time=record.event_time,
        seconds_before_first_bad=int((first_bad - record.event_time).total_seconds()),
        status=data.get("status", "succeeded"),
    )


@dataclass(frozen=True)
class BreakingProducer:
    """A producer whose records carry one of an incident's breaks, at its own earliest bad record, and the deploys
    of that producer correlated with it. When several producers break at once, each has its own."""

    producer_urn: str
    first_bad_time: datetime
    first_bad_ref: str
    reason_code: str
    field: str | None
    bad_count: int
    deploys: list[CorrelatedDeploy] = dataclasses.field(default_factory=list)


def breaking_producers(breaks: Sequence[ContractBreak]) -> list[BreakingProducer]:
    """Every known producer whose records carry any of `breaks`, at its earliest bad record; the first to break
    first. Records resolved to no producer blame nobody."""
    earliest: dict[str, BreakingProducer] = {}
    for brk in breaks:
        for part in brk.producers:
            if part.producer_urn is None:
                continue
            known = earliest.get(part.producer_urn)
            if known is None or (part.first_bad_time, part.first_bad_ref) < (known.first_bad_time, known.first_bad_ref):
                earliest[part.producer_urn] = BreakingProducer(part.producer_urn, part.first_bad_time,
                                                               part.first_bad_ref, brk.reason_code, brk.field,
                                                               part.bad_count)
    return sorted(earliest.values(), key=lambda p: (p.first_bad_time, p.first_bad_ref, p.producer_urn))


def correlate_each(producers: Sequence[BreakingProducer], deploys: Iterable[EvidenceRecord],
                   window: timedelta) -> list[BreakingProducer]:
    """Each breaking producer with its own deploys in the window before its own first bad record."""
    candidates = list(deploys)
    return [BreakingProducer(p.producer_urn, p.first_bad_time, p.first_bad_ref, p.reason_code, p.field, p.bad_count,
                             correlate_deploys(candidates, p.producer_urn, p.first_bad_time, window))
            for p in producers]


def stored_deploys(reader: EvidenceReader, producers: Iterable[str], since: datetime, until: datetime,
                   now: datetime) -> list[EvidenceRecord]:
    """The producers' DeploymentEvents that can matter to a window [since, until]: those in it, and those up to
    DEPLOY_FOLD_LOOKBACK before it that a restart inside it folds into (`shipped`). Only those that had arrived by
    `now` (a replay at an earlier clock must not see a deploy ingested after it). No producers, no deploys (never
    everyone's)."""
    wanted = sorted(set(producers))
    if not wanted:
        return []
    found = reader.records(producer_urns=wanted, types=[EventType.DEPLOYMENT], since=since - DEPLOY_FOLD_LOOKBACK,
                           until=until)
    return [d for d in found if d.ingest_time <= now]


def correlate_breaks(reader: EvidenceReader, breaks: Sequence[ContractBreak], window: timedelta,
                     now: datetime) -> list[BreakingProducer]:
    """The producers whose records carry `breaks`, each with its own deploys correlated (a contract incident)."""
    breaking = breaking_producers(breaks)
    if not breaking:
        return []
    deploys = stored_deploys(reader, [p.producer_urn for p in breaking],
                             min(p.first_bad_time for p in breaking) - window,
                             max(p.first_bad_time for p in breaking), now)
    return correlate_each(breaking, deploys, window)
