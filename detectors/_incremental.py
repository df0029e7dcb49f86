"""Incremental freshness: a pass re-evaluates only the datasets whose answer can have changed since the last one.

A freshness finding is None until the dataset is breached (past today's deadline and not fresh), and whether it is
breached can change only (a) when evidence about it or its producer becomes visible (it arrives, or its event time
comes due), (b) when the clock reaches today's deadline, or (c) when the local day turns. A breached dataset's finding
changes beyond the facts that move with the clock (detectors/_clock_facts.py) only on (a), (c), (d) when a record it
read falls out of the pass's read window, or (e) when an upstream dataset its job reads changes. So a pass evaluates:
datasets with new visible evidence since the last pass, those whose due time (the earliest of (b), (c) and (d)) has
come (a deadline index), and the breached ones that read upstream states (every pass). The other breached datasets
are brought to the new clock from what the memory kept (their incident and the anchors of their moving facts); the
healthy ones keep their answer, None. Anything else that changed (a policy, a contract's ownership, a clock going
back) makes the pass a full one. A property test compares the result with a full pass on random histories.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import orjson

from detectors._clock_facts import Lateness
from detectors._configs import ActiveConfigs, config_snapshot, configs_of
from detectors._watermark import localize, policy_day
from evidence import (
    Configs,
    EventType,
    EvidenceReader,
    EvidenceRecord,
    EvidenceRef,
    FreshnessPolicy,
    Incident,
    Store,
    utc,
)

# The types freshness reads (detectors/_detect.py): other evidence cannot change a freshness answer.
FRESHNESS_TYPES = (EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.HEARTBEAT,
                   EventType.COMMITTED, EventType.DEPLOYMENT)


@dataclass(frozen=True)
class Kept:
    """What the memory keeps of a breached dataset's evaluation, besides its incident."""

    clock: Lateness | None  # the anchors of its moving facts; None: it read upstream states (evaluated every pass)
    window_ends: datetime | None  # the first clock at which a record it read has left the read window


# The full evaluation of some policies: dataset -> (raw incident, what to keep) for each breached one; the others
# chosen are healthy.
Evaluate = Callable[[list[FreshnessPolicy]], dict[str, tuple[Incident, Kept]]]


class FreshnessMemory:
    """What the last pass found per dataset, and when each must be evaluated again."""

    def __init__(self) -> None:
        self.last_now: datetime | None = None
        self.fingerprint: bytes | None = None
        self.found: dict[str, Incident | None] = {}
        self.due: list[tuple[datetime, str]] = []  # (due time, dataset): the deadline index (stale entries skipped)
        self.evaluated = 0  # datasets the last pass evaluated (for benchmarks and tests)
        self.moved = 0  # breached datasets the last pass brought to its clock without evaluating them
        self.moving: dict[int, tuple[Incident, Lateness]] = {}  # those, by their incident's id(): `moving_facts`
        self._due_of: dict[str, datetime] = {}  # each dataset's current due time (the heap's live entries)
        self._clocks: dict[str, Lateness | None] = {}  # each breached dataset's anchors (None: evaluate every pass)
        self._policies: tuple[list[FreshnessPolicy], bytes] | None = None
        self._configs: tuple[int, ActiveConfigs] | None = None  # (digest of the stored configs, what they say)
        self._version: tuple[int, ActiveConfigs] | None = None  # (their version, the same)
        self._cited: dict[str, EvidenceRecord] = {}  # the records the last pass's incidents cite
        self.refs: dict[str, EvidenceRef] = {}  # their references as incidents list them (`surround`)
        self._sources: dict[int, tuple[list[str], str | None, set[str | None]]] = {}  # `around`, by evidence id list
        self._owners: tuple[ActiveConfigs, dict[str, Any], bytes] | None = None

    def configs(self, store: Store) -> ActiveConfigs:
        """The active configuration of the stored configs (detectors/_configs.py): read again only when their version
        changed (one row, `Configs.version`, read before the configs, so a write in between is seen next pass), and
        derived again only when they changed (their digest): the same objects pass after pass, so the fingerprint
        below is not dumped again. Reading 10,000 configs to digest them was a tenth of a pass evaluating 100."""
        version = Configs(store).version()
        if version is not None and self._version is not None and self._version[0] == version:
            return self._version[1]
        snapshot = config_snapshot(store)
        if self._configs is None or self._configs[0] != snapshot.digest:
            self._configs = (snapshot.digest, configs_of(snapshot))
        self._version = None if version is None else (version, self._configs[1])
        return self._configs[1]

    def owners(self, configs: ActiveConfigs, derive: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Each dataset's ownership, as `derive` gets it from `configs`: derived (and dumped for the fingerprint, with
        the contracts, whose deploy windows an incident may name) again only for other configs than the last pass's
        (10,000 were a tenth of a pass with nothing to evaluate)."""
        if self._owners is None or self._owners[0] is not configs:
            owners = derive()
            contracts = orjson.dumps([c.model_dump(mode="json") for c in configs.contracts],
                                     option=orjson.OPT_SORT_KEYS)
            self._owners = (configs, owners, _owners_json(owners) + contracts)
        return self._owners[1]

    def cited(self, reader: EvidenceReader, ids: set[str]) -> dict[str, EvidenceRecord]:
        """The stored records these ids name (`EvidenceReader.get_many`), read only when the last pass's incidents
        did not cite them too: a stored record never changes (the first copy of an id is kept). Only records a pass
        read in its window are cited, so only retention shorter than a lookback could delete one (not noticed, as
        the window is not). 8,000 records were most of a pass over 1,000 breached datasets."""
        kept = self._cited
        missing = ids - kept.keys()
        for gone in kept.keys() - ids:  # set operations, not a loop over every cited id: most stay cited
            del kept[gone]
            self.refs.pop(gone, None)
        if missing:
            kept.update(reader.get_many(missing))
        return kept

    def around(self, reader: EvidenceReader, found: list[Incident]) -> tuple[dict[str, EvidenceRecord],
                                                                             dict[str, set[str | None]]]:
        """The records these incidents cite (`cited`), and each incident's sources (its producer's and its cited
        records'), by incident id; an incident brought to the clock (`moving_facts`) keeps its list of evidence ids, so
        its sources are not gathered again."""
        evidence = self.cited(reader, set().union(*(incident.evidence_ids for incident in found)))
        known, kept = self._sources, {}
        sources_of = {}
        for incident in found:
            listed = incident.evidence_ids
            entry = known.get(id(listed))
            if entry is None or entry[0] is not listed or entry[1] != incident.producer_urn:
                entry = (listed, incident.producer_urn, sources(incident, evidence))
            kept[id(listed)] = entry  # the entry holds the list, so its id is not reused while kept
            sources_of[incident.id] = entry[2]
        self._sources = kept
        return evidence, sources_of

    def pass_at(self, reader: EvidenceReader, policies: list[FreshnessPolicy], owners: Any, now: datetime,
                evaluate: Evaluate) -> list[Incident]:
        """The freshness incidents at `now`, evaluating only what can have changed (`evaluate` is the full
        evaluation of some policies)."""
        now = utc(now)
        known = self._owners
        owners_json = known[2] if known is not None and known[1] is owners else _owners_json(owners)
        fingerprint = self._policies_json(policies) + owners_json
        by_dataset = {p.dataset_urn: p for p in policies}
        moved: list[str] = []
        if self.last_now is None or now < self.last_now or fingerprint != self.fingerprint:
            chosen = list(policies)
            self.found, self.due, self._due_of, self._clocks = {}, [], {}, {}
        else:
            dirty = self._changed(reader, policies, self.last_now, now)
            while self.due and self.due[0][0] <= now:
                at, urn = heapq.heappop(self.due)
                if self._due_of.get(urn) == at:
                    del self._due_of[urn]
                    dirty.add(urn)
            dirty.update(urn for urn, clock in self._clocks.items() if clock is None)
            chosen = [by_dataset[urn] for urn in sorted(dirty) if urn in by_dataset]
            moved = [urn for urn in self._clocks if urn not in dirty]
        results = evaluate(chosen)
        self.moving = {}
        for urn in moved:  # kept as evaluated: `moving_facts` brings each to this clock when the pass surrounds it
            clock, incident = self._clocks[urn], self.found[urn]
            assert clock is not None and incident is not None
            self.moving[id(incident)] = (incident, clock)
        for policy in chosen:
            urn = policy.dataset_urn
            incident, kept = results.get(urn, (None, None))
            self.found[urn] = incident
            due = _due(policy, now)
            if kept is None:
                self._clocks.pop(urn, None)
            else:
                self._clocks[urn] = kept.clock
                if kept.window_ends is not None:
                    due = min(due, kept.window_ends)
            if self._due_of.get(urn) != due:
                self._due_of[urn] = due
                heapq.heappush(self.due, (due, urn))
        self.last_now, self.fingerprint = now, fingerprint
        self.evaluated, self.moved = len(chosen), len(moved)
        # Incidents are frozen: the pass builds new ones from these (detectors/_incidents.py, `surround`), no copy.
        return [i for p in policies if (i := self.found.get(p.dataset_urn)) is not None]

    def moving_facts(self, incident: Incident, now: datetime) -> tuple[dict[str, Any], datetime] | None:
        """For an incident the last `pass_at` returned without evaluating it (a breached dataset with nothing new),
        its moving facts at `now` and `now`: `surround` applies them in the copy it makes, as a new evaluation would
        have them (facts recomputed, detected and updated at `now`; its evidence and local day unchanged). None for
        an incident that pass evaluated (or any other)."""
        entry = self.moving.get(id(incident))
        return None if entry is None or entry[0] is not incident else (entry[1].facts(now), now)

    def _policies_json(self, policies: list[FreshnessPolicy]) -> bytes:
        """The policies as JSON, dumped again only when they are not the very objects of the last pass (stored
        configs are validated once per text, evidence/_configs.py, so unchanged ones come back identical; the list
        kept here holds them, so no id is reused). 10,000 dumps were a tenth of a pass."""
        last = self._policies
        if last is None or len(last[0]) != len(policies) or any(
                a is not b for a, b in zip(last[0], policies, strict=True)):
            last = self._policies = (list(policies), orjson.dumps([p.model_dump(mode="json") for p in policies],
                                                                  option=orjson.OPT_SORT_KEYS))
        return last[1]

    @staticmethod
    def _changed(reader: EvidenceReader, policies: list[FreshnessPolicy], since: datetime, now: datetime) -> set[str]:
        """Datasets with evidence that became visible in (since, now]: arrived then, or whose time came then."""
        datasets, producers = reader.visible_between(since, now, FRESHNESS_TYPES)
        return {p.dataset_urn for p in policies if p.dataset_urn in datasets or p.producer_urn in producers}


def sources(incident: Incident, evidence: Mapping[str, EvidenceRecord]) -> set[str | None]:
    """The sources an incident's evidence came from (those of its cited records found, and its producer)."""
    return {incident.producer_urn} | {e.source for i in incident.evidence_ids if (e := evidence.get(i))}


def _owners_json(owners: dict[str, Any]) -> bytes:
    return orjson.dumps(sorted((urn, repr(owner)) for urn, owner in owners.items()), option=orjson.OPT_SORT_KEYS)


def _due(policy: FreshnessPolicy, now: datetime) -> datetime:
    """When a dataset evaluated at `now` must be evaluated again at the latest: today's deadline if still ahead, else
    (or if the local day turns first, and always for a breached one) the next local midnight."""
    day = policy_day(policy, now)
    midnight = localize(day.today + timedelta(days=1), time(0, 0), day.zone)
    return min(day.deadline, midnight) if day.deadline > now else midnight


__all__ = ["FreshnessMemory", "Kept", "sources"]
