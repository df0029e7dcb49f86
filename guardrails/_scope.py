"""The evidence a claim about one incident may cite, and the facts predicates check it against."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from evidence import Contract, EvidenceRecord, FreshnessPolicy, GateCounter, Incident


@dataclass(frozen=True)
class Scope:
    """Everything retrieval found for an incident at the RCA clock.

    `records` are the evidence a claim may cite: the incident's own and what structured retrieval found around
    it (same dataset and producer near the boundaries, deploys, runs, baseline runs, lineage neighbours).
    An id outside `records` is outside the incident's scope, whether or not it exists in the store.
    """

    incident: Incident  # as the detectors produced it
    now: datetime  # the clock the RCA is computed at (the incident's last detection)
    records: dict[str, EvidenceRecord]
    policy: FreshnessPolicy | None = None
    contract: Contract | None = None
    producer_urn: str | None = None
    counters: list[GateCounter] = field(default_factory=list)  # the dataset's gate counters, for rate claims
    upstream_incidents: list[Incident] = field(default_factory=list)  # open incidents of input datasets
    # Which of some ids exist in the store at all: tells "does not exist" from "outside the scope".
    existing: Callable[[Collection[str]], set[str]] | None = None
