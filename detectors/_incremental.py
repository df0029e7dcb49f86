"""Incremental freshness: a pass re-evaluates only the datasets whose answer can have changed since the last one.

A freshness finding is None until the dataset is breached (past today's deadline and not fresh), and whether it is
breached can change only (a) when evidence about it or its producer becomes visible (it arrives, or its event time
comes due), (b) when the clock reaches today's deadline, or (c) when the local day turns. So a pass evaluates:
datasets with new visible evidence since the last pass, those whose due time (the earlier of (b) and (c)) has come
(a deadline index), and every breached dataset (its incident carries clock-dependent facts such as late_by_s). The
others keep their last answer, None. Anything else that changed (a policy, a contract's ownership, a clock going
back) makes the pass a full one. A property test compares the result with a full pass on random histories.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import orjson

from detectors._watermark import localize, policy_day
from evidence import EventType, EvidenceReader, EvidenceRecord, FreshnessPolicy, Incident, utc

# The types freshness reads (detectors/_detect.py): other evidence cannot change a freshness answer.
FRESHNESS_TYPES = (EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.HEARTBEAT,
                   EventType.COMMITTED, EventType.DEPLOYMENT)
# The full evaluation of some policies: (dataset -> incident or None, dataset -> the records it read), given the
# records of some datasets as read before (only the others are read from the store).
Inputs = dict[str, list[EvidenceRecord]]
Evaluate = Callable[[list[FreshnessPolicy], Inputs], tuple[dict[str, Incident | None], Inputs]]


class FreshnessMemory:
    """What the last pass found per dataset, and when each healthy one must be looked at again."""

    def __init__(self) -> None:
        self.last_now: datetime | None = None
        self.fingerprint: bytes | None = None
        self.found: dict[str, Incident | None] = {}
        self.due: list[tuple[datetime, str]] = []  # (due time, dataset): the deadline index
        self.evaluated = 0  # datasets the last pass evaluated (for benchmarks and tests)
        self._policies: tuple[list[FreshnessPolicy], bytes] | None = None
        # The records each breached dataset's evaluation read: re-evaluated every pass, it reads the store again
        # only once evidence about it became visible (the window's start moves: older records are dropped).
        self._inputs: Inputs = {}

    def pass_at(self, reader: EvidenceReader, policies: list[FreshnessPolicy], owners: Any, now: datetime,
                evaluate: Evaluate) -> list[Incident]:
        """The freshness incidents at `now`, evaluating only what can have changed (`evaluate` is the full
        evaluation of some policies: dataset -> raw incident or None)."""
        now = utc(now)
        fingerprint = self._policies_json(policies) + orjson.dumps(sorted(
            (urn, repr(owner)) for urn, owner in owners.items()), option=orjson.OPT_SORT_KEYS)
        by_dataset = {p.dataset_urn: p for p in policies}
        known: Inputs = {}
        if self.last_now is None or now < self.last_now or fingerprint != self.fingerprint:
            chosen = list(policies)
            self.found, self.due = {}, []
        else:
            changed = self._changed(reader, policies, self.last_now, now)
            breached = {urn for urn, incident in self.found.items() if incident is not None}
            known = {urn: self._inputs[urn] for urn in breached - changed if urn in self._inputs}
            dirty = changed | breached
            while self.due and self.due[0][0] <= now:
                dirty.add(heapq.heappop(self.due)[1])
            chosen = [by_dataset[urn] for urn in sorted(dirty) if urn in by_dataset]
        results, inputs = evaluate(chosen, known)
        self._inputs = {urn: inputs[urn] for urn, incident in results.items() if incident is not None and urn in inputs}
        for policy in chosen:
            incident = results.get(policy.dataset_urn)
            self.found[policy.dataset_urn] = incident
            if incident is None:
                heapq.heappush(self.due, (_due(policy, now), policy.dataset_urn))
        self.last_now, self.fingerprint, self.evaluated = now, fingerprint, len(chosen)
        # Incidents are frozen: the pass builds new ones from these (detectors/_incidents.py, `surround`), no copy.
        return [i for p in policies if (i := self.found.get(p.dataset_urn)) is not None]

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


def _due(policy: FreshnessPolicy, now: datetime) -> datetime:
    """When a dataset healthy at `now` must be evaluated again: today's deadline if still ahead, else (or if the
    local day turns first) the next local midnight."""
    day = policy_day(policy, now)
    midnight = localize(day.today + timedelta(days=1), time(0, 0), day.zone)
    return min(day.deadline, midnight) if day.deadline > now else midnight


__all__ = ["FreshnessMemory"]
