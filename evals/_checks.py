"""A replayed scenario against its `expect` (docs/SCENARIOS.md): one readable sentence per failure.

Written apart from the independent checker (tests/independent/check_replay.py) and meant to agree with it key
for key: instants compare as instants to the second, `incidents: []` means no open incident at all, an expected
incident must match exactly one open incident by (dataset_urn, kind), and what an RCA cites is the source refs
of the evidence its verified claims and its most likely cause cite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evidence import EvidenceReader, EvidenceRecord, parse_utc

_PLAIN_KEYS = ("reason_code", "field", "current_watermark", "expected_watermark", "stale_evidence")
_TIME_KEYS = ("first_bad_time", "last_good_time")


@dataclass(frozen=True)
class Observed:
    """What one replay produced: the open incidents, flagged drift, and one RCA per incident (same order)."""

    incidents: list[dict[str, Any]]
    drift: list[dict[str, Any]] = field(default_factory=list)
    rcas: list[dict[str, Any]] = field(default_factory=list)


def instant(value: Any) -> datetime | None:
    """An RFC 3339 text (or a datetime YAML already parsed) as an aware UTC instant, to the second."""
    if value is None:
        return None
    return parse_utc(value if isinstance(value, datetime) else str(value)).replace(microsecond=0)


def same_instant(got: Any, want: Any) -> bool:
    return got is not None and instant(got) == instant(want)


def show(value: Any) -> str:
    """A value as a reader expects it in a sentence: text bare, null as null, the rest as JSON."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, default=str)


def matching(want: dict[str, Any], incidents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open incidents an `expect.incidents` entry matches: same dataset, and same kind when the entry gives one."""
    return [i for i in incidents if i.get("dataset_urn") == want.get("dataset_urn")
            and ("kind" not in want or i.get("kind") == want["kind"])]


def rca_for(dataset_urn: str, observed: Observed) -> dict[str, Any] | None:
    """The RCA of the (first) incident on `dataset_urn`, as the checker picks it."""
    ids = {i.get("id") for i in observed.incidents if i.get("dataset_urn") == dataset_urn}
    return next((r for r in observed.rcas if r.get("incident_id") in ids), None)


def cited_ids(rca: dict[str, Any]) -> list[str]:
    """Evidence ids the RCA's verified claims and its most likely cause cite, first citation first."""
    ids = [i for c in rca.get("claims") or [] for i in c.get("evidence_ids") or []]
    ids += (rca.get("most_likely_cause") or {}).get("evidence_ids") or []
    return list(dict.fromkeys(ids))


def cited_refs(rca: dict[str, Any]) -> set[str]:
    """Source refs behind `cited_ids`, through the RCA's own `evidence` list (an unlisted id stands for itself)."""
    by_id = {e.get("evidence_id"): e.get("source_ref") for e in rca.get("evidence") or []}
    return {by_id.get(i) or i for i in cited_ids(rca)}


def surfaced_sentences(document: dict[str, Any]) -> list[str]:
    """Every sentence a person reads from an RCA (summary, most likely cause, claims, next checks, suggested
    actions) or a chat answer (its sentences and next checks)."""
    cause = document.get("most_likely_cause") or {}
    sentences = [document.get("summary"), cause.get("statement")]
    sentences += [c.get("text") for c in [*(document.get("claims") or []), *(document.get("answer") or [])]]
    sentences += [*(document.get("next_checks") or []), *(document.get("suggested_actions") or [])]
    return [s for s in sentences if isinstance(s, str) and s]


def check_incident(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    name = f"incident {want['dataset_urn']}"
    fails = []
    for key in _PLAIN_KEYS:
        if key in want and got.get(key) != want[key]:
            fails.append(f"{name}: {key} is {show(got.get(key))}, expected {show(want[key])}")
    for key in _TIME_KEYS:
        if key in want and not same_instant(got.get(key), want[key]):
            fails.append(f"{name}: {key} is {show(got.get(key))}, expected {show(want[key])}")
    if "correlated_deploy" in want:
        deploys = got.get("correlated_deploys") or []
        version = deploys[0].get("version") if deploys else None
        if version != want["correlated_deploy"]:
            fails.append(f"{name}: the best correlated deploy is {show(version)}, expected "
                         f"{show(want['correlated_deploy'])}")
    if "bad_rate" in want:
        rate, tolerance = got.get("bad_rate") or {}, float(want["bad_rate"].get("tolerance", 0.0))
        for side in ("before", "after"):
            if side not in want["bad_rate"]:
                continue
            expected, value = float(want["bad_rate"][side]), rate.get(side)
            if value is None or abs(float(value) - expected) > tolerance + 1e-9:
                fails.append(f"{name}: bad_rate.{side} is {show(value)}, expected {expected} +- {tolerance}")
    downstream = got.get("impacted_downstream") or []
    fails += [f"{name}: impacted_downstream lacks {urn}" for urn in want.get("impacted_downstream_includes") or []
              if urn not in downstream]
    refs = {e.get("source_ref") for e in got.get("evidence") or []}
    fails += [f"{name}: evidence lacks {ref}" for ref in want.get("evidence_includes") or [] if ref not in refs]
    return fails


def check_rca(want: dict[str, Any], rca: dict[str, Any]) -> list[str]:
    name = f"rca {want['dataset_urn']}"
    fails = []
    for key in ("verdict", "reason_code"):
        if key in want and rca.get(key) != want[key]:
            fails.append(f"{name}: {key} is {show(rca.get(key))}, expected {show(want[key])}")
    if "correlated_deploy" in want:
        version = (rca.get("correlated_deploy") or {}).get("version")
        if version != want["correlated_deploy"]:
            fails.append(f"{name}: correlated deploy is {show(version)}, expected {show(want['correlated_deploy'])}")
    refs = cited_refs(rca)
    fails += [f"{name}: no verified claim cites {ref}" for ref in want.get("must_cite") or [] if ref not in refs]
    fails += [f"{name}: a claim cites {ref}, which it must not" for ref in want.get("must_not_cite") or []
              if ref in refs]
    if want.get("next_checks_nonempty") and not rca.get("next_checks"):
        fails.append(f"{name}: next_checks is empty")
    return fails


def check(expect: dict[str, Any], observed: Observed) -> list[str]:
    """Every failed `expect` key as a sentence that names the scenario item; empty when all hold."""
    incidents, fails = observed.incidents, []
    if expect.get("incidents") == [] and incidents:
        listed = ", ".join(f"{i.get('dataset_urn')} ({i.get('kind')}, {i.get('reason_code')})" for i in incidents)
        fails.append(f"expected no incident, found {listed}")
    for want in expect.get("incidents") or []:
        found = matching(want, incidents)
        if len(found) != 1:
            kind = f" ({want['kind']})" if "kind" in want else ""
            fails.append(f"incident {want['dataset_urn']}{kind}: {len(found)} open incidents match, expected 1")
            continue
        fails += check_incident(want, found[0])
    for ban in expect.get("no_incident") or []:
        for i in incidents:
            if i.get("dataset_urn") == ban["dataset_urn"] and ban.get("reason_code", i.get("reason_code")) == \
                    i.get("reason_code"):
                fails.append(f"unexpected incident {i.get('dataset_urn')} {i.get('reason_code')} (no_incident)")
    for want in expect.get("drift") or []:
        flagged = any(d.get("topic") == want["topic"] and d.get("schema_id") == want["schema_id"]
                      and (d.get("change_request_id") or not want.get("change_request")) for d in observed.drift)
        if not flagged:
            with_cr = " with a change request" if want.get("change_request") else ""
            fails.append(f"drift {want['topic']} schema {want['schema_id']} not flagged{with_cr}")
    for want in expect.get("rca") or []:
        rca = rca_for(want["dataset_urn"], observed)
        if rca is None:
            fails.append(f"rca {want['dataset_urn']}: no RCA, as no open incident is on that dataset")
            continue
        fails += check_rca(want, rca)
    return fails


def by_source_ref(reader: EvidenceReader, source_refs: Iterable[str]) -> list[EvidenceRecord]:
    """The records of these source refs, by (event time, evidence id), as a store's `by_source_ref` gives them."""
    refs = set(source_refs)
    return [r for r in reader.records() if r.source_ref in refs]
