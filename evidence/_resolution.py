"""Dataset resolution: which dataset (and producer) a Kafka record belongs to, by approved rules only.

A record no rule claims, or that rules for different datasets both claim, is drift: it is held and a
change request proposes a rule. It is never attributed to a dataset by guesswork.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from evidence._bounds import INT64_MAX
from evidence._policy import Mapping
from evidence._vocab import ReasonCode

PRODUCER_HEADER = "autopilot-producer"


@dataclass(frozen=True)
class Resolved:
    dataset_urn: str
    producer_urn: str | None
    confidence: float
    rule: Mapping


@dataclass(frozen=True)
class Unresolved:
    reason_code: str  # UNMAPPED_SCHEMA | MAPPING_AMBIGUOUS
    topic: str
    schema_id: str
    proposal: Mapping  # the rule a human is asked to approve
    candidates: list[Mapping] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


def _schema(value: Any) -> str:
    return "" if value is None else str(value)


def _matches(rule: Mapping, topic: str, schema_id: str, headers: MappingABC[str, str]) -> bool:
    if rule.topic != topic:
        return False
    if rule.schema_id is not None and _schema(rule.schema_id) != schema_id:
        return False
    return all(headers.get(k) == v for k, v in rule.headers.items())


def _specificity(rule: Mapping) -> tuple[int, int]:
    return (1 if rule.schema_id is not None else 0, len(rule.headers))


def resolve(
    rules: Sequence[Mapping], topic: str, schema_id: Any, headers: MappingABC[str, str]
) -> Resolved | Unresolved:
    """Resolve by the most specific matching rules; different answers at the same specificity are ambiguous."""
    sid = _schema(schema_id)
    matching = [r for r in rules if _matches(r, topic, sid, headers)]
    hinted = headers.get(PRODUCER_HEADER)
    if matching:
        best = max(_specificity(r) for r in matching)
        top = sorted(
            (r for r in matching if _specificity(r) == best), key=lambda r: (r.dataset_urn, r.producer_urn or "")
        )
        targets = {(r.dataset_urn, r.producer_urn) for r in top}
        if len(targets) == 1:
            rule = top[0]
            confidence = rule.confidence
            if hinted and rule.producer_urn and hinted != rule.producer_urn:
                # The record says another producer wrote it: attribute it, but say how sure we are.
                confidence = round(confidence * 0.5, 3)
            return Resolved(rule.dataset_urn, rule.producer_urn or hinted, confidence, rule)
        return _ambiguous(top, topic, sid, hinted)
    on_topic = sorted((r for r in rules if r.topic == topic), key=lambda r: (r.dataset_urn, _schema(r.schema_id)))
    if on_topic:
        # A new schema id on a mapped topic: most often the next version of the same dataset.
        base = on_topic[-1]
        proposal = Mapping(
            topic=topic,
            schema_id=_proposed_schema(sid),
            headers=dict(base.headers),
            dataset_urn=base.dataset_urn,
            producer_urn=base.producer_urn or hinted,
        )
        return Unresolved(
            ReasonCode.UNMAPPED_SCHEMA,
            topic,
            sid,
            proposal,
            on_topic,
            {"known_schema_ids": sorted({_schema(r.schema_id) for r in on_topic}), "producer_hint": hinted},
        )
    proposal = Mapping(topic=topic, schema_id=_proposed_schema(sid), dataset_urn=f"ds://{topic}", producer_urn=hinted)
    return Unresolved(ReasonCode.UNMAPPED_SCHEMA, topic, sid, proposal, [],
                      {"known_schema_ids": [], "producer_hint": hinted})


def resolver(rules: Sequence[Mapping]) -> Callable[[str, Any, MappingABC[str, str]], Resolved | Unresolved]:
    """`resolve` over fixed rules, remembering answers: it reads only the topic, the schema id and the headers
    some rule names (plus the producer hint), so those values are the whole key. The gate's consumer resolves
    a hundred thousand records a second to a handful of answers."""
    keys = tuple(sorted({k for r in rules for k in r.headers} | {PRODUCER_HEADER}))
    answers: dict[tuple[Any, ...], Resolved | Unresolved] = {}

    def cached(topic: str, schema_id: Any, headers: MappingABC[str, str]) -> Resolved | Unresolved:
        key = (topic, schema_id, *map(headers.get, keys))
        answer = answers.get(key)
        if answer is None:
            answer = answers[key] = resolve(rules, topic, schema_id, headers)
        return answer

    return cached


def _proposed_schema(sid: str) -> int | str | None:
    if not sid:
        return None
    return int(sid) if sid.isascii() and sid.isdigit() and int(sid) <= INT64_MAX else sid


def _ambiguous(top: list[Mapping], topic: str, sid: str, hinted: str | None) -> Unresolved:
    # Prefer the candidate whose producer the record names, and propose pinning it by that header.
    chosen = next((r for r in top if hinted and r.producer_urn == hinted), top[0])
    headers = dict(chosen.headers)
    if hinted:
        headers[PRODUCER_HEADER] = hinted
    proposal = Mapping(
        topic=topic,
        schema_id=_proposed_schema(sid),
        headers=headers,
        dataset_urn=chosen.dataset_urn,
        producer_urn=chosen.producer_urn or hinted,
    )
    return Unresolved(
        ReasonCode.MAPPING_AMBIGUOUS,
        topic,
        sid,
        proposal,
        top,
        {"candidates": sorted({r.dataset_urn for r in top}), "producer_hint": hinted},
    )
