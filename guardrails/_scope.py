"""The evidence a claim about one incident may cite, and the facts predicates check it against."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from evidence import EvidenceRecord, FreshnessPolicy, GateCounter, Incident, Windows, maybe_time

# What an incident stored before detectors recorded their windows is read with (the detectors' defaults).
DEFAULT_DEPLOY_WINDOW = timedelta(minutes=60)
DEFAULT_LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class Scope:
    """Everything retrieval found for an incident at the RCA clock.

    `records` are the evidence a claim may cite: the incident's own and what structured retrieval found around
    it (same dataset and producer near the boundaries, deploys, runs, baseline runs, lineage neighbours).
    An id outside `records` is outside the incident's scope, whether or not it exists in the store.
    """

    incident: Incident  # as the detectors produced it, with the windows they applied (`windows_of`)
    now: datetime  # the clock the RCA is computed at (the incident's last detection)
    records: dict[str, EvidenceRecord]
    policy: FreshnessPolicy | None = None
    producer_urn: str | None = None
    counters: list[GateCounter] = field(default_factory=list)  # the dataset's gate counters, for rate claims
    upstream_incidents: list[Incident] = field(default_factory=list)  # open incidents of input datasets
    # Which of some ids exist in the store at all: tells "does not exist" from "outside the scope".
    existing: Callable[[Collection[str]], set[str]] | None = None


def windows_of(incident: Incident) -> Windows:
    """The windows the detector applied to `incident`. One stored before detectors recorded them is read with the
    detectors' defaults and, for freshness, the day its facts name (scheduled_time, lookback_days)."""
    if incident.windows is not None:
        return incident.windows
    facts = incident.facts
    days = facts.get("lookback_days")
    lookback = timedelta(days=days if isinstance(days, int) and not isinstance(days, bool) else DEFAULT_LOOKBACK_DAYS)
    cycle_start = maybe_time(facts.get("scheduled_time")) if incident.kind == "freshness" else None
    return Windows(deploy_window=DEFAULT_DEPLOY_WINDOW, lookback=lookback, cycle_start=cycle_start,
                   lookback_start=cycle_start - lookback if cycle_start is not None else None)
