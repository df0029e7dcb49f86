"""The contract gate: validate resolved Kafka records, keep bounded evidence, find exact boundaries.

`run_gate` is the hot path: one batch of records (already resolved to a dataset) in, a few observation
records plus aggregated GateCounters out. `contract_breaks` (detectors/_breaks.py) reads merged counters (what
the store hands back) and finds, per (dataset, reason, field), the first bad and last good record and the bad
rate before and after that boundary. Both are pure: same records, same answers, whatever the order
or batching.

Buckets: passed records are counted per second; failed records per minute and (reason, field), as
DESIGN.md aggregates them, plus a per-second ANY_REASON tally of failed records. The first bad record
is exact under any bucket size (a counter keeps its first record, and merge takes the minimum). The
last good record before it is not: a good counter whose bucket straddles the first bad record only
knows its first and last record. One-second good buckets bound that uncertainty to the second, the
precision incidents are stated in; a million good records over an hour are at most 3,600 rows. The
tally is per second for the same reason: rates need every record of the dataset on the right side of
the boundary, and a minute tally would put up to a minute of other failures on the wrong side. The
(reason, field) counters stay per minute because each also keeps sample observations with full
payloads: a few rows a minute per broken field rather than a few a second for as long as it lasts.

Duplicates: run_gate counts what it is given. The store dedupes records by source ref before
counting, so run_gate assumes deduplicated input; on such input every result is order-independent.
"""

from __future__ import annotations

import base64
import dataclasses
import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from detectors._breaks import ANY_REASON, PASSED, ContractBreak, ProducerBreak, contract_breaks
from detectors._contract import ContractValidator, Violation
from detectors._wire import Undecodable, decode_value
from evidence import GATE_OBSERVATION, EvidenceRecord, GateCounter, ReasonCode, evidence_id_for, iso, ref_order, utc

PASSED_BUCKET_SECONDS = 1
TALLY_BUCKET_SECONDS = 1
REASON_BUCKET_SECONDS = 60
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)  # not frozen: `rca gate consume` builds 100,000 a second and frozen __init__ costs 2x
class GateRecord:
    """One Kafka record, already resolved to its dataset (and producer, when known). Treat it as immutable."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime  # aware
    key: str | None
    schema_id: str | None
    headers: dict[str, str]
    value: Any  # decoded JSON, a JSON string, Confluent-framed bytes, or {"base64": "..."}
    dataset_urn: str
    producer_urn: str | None
    ingest_time: datetime | None = None

    def __post_init__(self) -> None:
        # Checked once here so the hot path can take timestamp() without re-checking; a naive time
        # would silently be read as the machine's local time.
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise ValueError(f"{self.ref}: timestamp {self.timestamp.isoformat()} has no UTC offset")

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True)
class GateOutput:
    observations: list[EvidenceRecord]  # GATE_OBSERVATION records; every ref a counter names is among them
    counters: list[GateCounter]  # merged within this batch, sorted by key
    rejected: list[str]  # refs of failed records whose contract says "reject"
    # Every failed record's violations by ref (observations are only a bounded sample of them), so an
    # API can tell each sender what was wrong with each record. Passed records are absent.
    failures: dict[str, list[Violation]] = dataclasses.field(default_factory=dict)


@dataclass(slots=True)
class _Failed:
    record: GateRecord
    ts: float
    ref: str
    schema_id: str
    violations: list[Violation]
    value: Any  # decoded value, or the raw value made JSON-safe when undecodable
    note: str | None
    reject: bool


_Plan = tuple[Callable[[Any], list[Violation]], bool]  # (violations, enforcement is "reject")


def run_gate(records: Iterable[GateRecord], validators: Mapping[str, ContractValidator],
             ingest_time: datetime) -> GateOutput:
    """Validate records against their dataset's contract.

    Records of a dataset without a contract are observed, not judged: the first and last of each second are
    stored as passed observations marked `no_contract` (undecodable ones with their UNDECODABLE_MESSAGE
    finding), so a contract can be drafted from real traffic; they add to no counter, since nothing checked them.

    Observations kept: for each bucket of the batch, the first and last record (by time, then ref) and,
    for failed records, the GateCounter.MAX_SAMPLES samples the counter names. Samples follow
    GateCounter's own ref order, so after any merge every ref a counter names was stored by some batch,
    and the globally first bad and last good records are always citable.
    """
    ingest_time = utc(ingest_time)
    # Hot loop: everything it touches is a local name (global and attribute lookups cost per record).
    fast_for = {urn: v.is_valid for urn, v in validators.items()}.get
    plans: dict[str, _Plan] = {urn: (v.violations, v.enforcement == "reject") for urn, v in validators.items()}
    # (dataset, producer, schema id, second) -> [count, first ts, first record, last ts, last record]
    good: dict[tuple[str, str, str, float], list[Any]] = {}
    good_get = good.get
    failed: list[_Failed] = []
    unchecked: list[GateRecord] = []
    width = PASSED_BUCKET_SECONDS
    check = _check
    plain_dict = dict

    for record in records:
        urn = record.dataset_urn
        is_valid = fast_for(urn)
        if is_valid is None:
            unchecked.append(record)
            continue
        value = record.value
        schema_id = record.schema_id
        # Fast path: an already-decoded object that certainly passes. Everything else is decoded and
        # checked on the slow path, which either finds violations or confirms the record is good.
        if type(value) is not plain_dict or "base64" in value or not is_valid(value):
            bad = check(record, plans[urn])
            if bad.violations:
                failed.append(bad)
                continue
            schema_id = bad.schema_id
        ts = record.timestamp.timestamp()
        key = (urn, record.producer_urn or "", schema_id or "", ts // width)
        bucket = good_get(key)
        if bucket is None:
            good[key] = [1, ts, record, ts, record]
            continue
        bucket[0] += 1
        if ts > bucket[3]:
            bucket[3] = ts
            bucket[4] = record
        elif ts < bucket[1]:
            bucket[1] = ts
            bucket[2] = record
        else:  # ties on time are broken by ref, as GateCounter.merge does
            if ts == bucket[3] and record.ref > bucket[4].ref:
                bucket[4] = record
            if ts == bucket[1] and record.ref < bucket[2].ref:
                bucket[2] = record

    counters: list[GateCounter] = []
    observations: dict[str, EvidenceRecord] = {}
    for (urn, producer, schema_id, second), (count, _, first, _, last) in good.items():
        counters.append(_counter(urn, producer, schema_id, PASSED, "", second * PASSED_BUCKET_SECONDS, count,
                                 first, last, ()))
        for record in (first, last):
            if record.ref not in observations:
                observations[record.ref] = _observation(record, schema_id or None, [], _payload_value(record),
                                                        None, ingest_time)

    for (urn, producer, schema_id, reason, fld, bucket_start), members in _bad_buckets(failed).items():
        first_bad = min(members, key=_time_ref)
        last_bad = max(members, key=_time_ref)
        samples: list[_Failed] = []
        if reason != ANY_REASON:
            samples = heapq.nsmallest(GateCounter.MAX_SAMPLES, members, key=lambda f: ref_order(f.ref))
        counters.append(_counter(urn, producer, schema_id, reason, fld, bucket_start, len(members),
                                 first_bad.record, last_bad.record, tuple(f.ref for f in samples)))
        for bad in (first_bad, last_bad, *samples):
            if bad.ref not in observations:
                observations[bad.ref] = _observation(bad.record, bad.schema_id or None, bad.violations, bad.value,
                                                     bad.note, ingest_time)

    for record in _unchecked_sample(unchecked):
        if record.ref not in observations:
            seen = _check(record, (_no_violations, False))
            observations[record.ref] = _observation(record, seen.schema_id or None, seen.violations, seen.value,
                                                    seen.note, ingest_time, checked=False)

    counters.sort(key=lambda c: c.key)
    return GateOutput(
        observations=sorted(observations.values(), key=lambda o: (o.event_time, ref_order(o.source_ref))),
        counters=counters,
        rejected=sorted((f.ref for f in failed if f.reject), key=ref_order),
        failures={f.ref: f.violations for f in sorted(failed, key=lambda f: ref_order(f.ref))},
    )


def _check(record: GateRecord, plan: _Plan) -> _Failed:
    """The slow path: decode whatever form the value came in, then collect violations."""
    decoded = decode_value(record.value, record.schema_id)
    if decoded.error is not None:
        detail = decoded.error if decoded.note is None else f"{decoded.error}; {decoded.note}"
        violations = [Violation(ReasonCode.UNDECODABLE_MESSAGE, "", detail)]
        value = _json_safe(record.value)
    else:
        violations = plan[0](decoded.value)
        if decoded.note is not None:
            violations = [v._replace(detail=f"{v.detail} ({decoded.note})") for v in violations]
        value = decoded.value
    return _Failed(record, record.timestamp.timestamp(), record.ref, decoded.schema_id or "", violations, value,
                   decoded.note, plan[1])


def _no_violations(_: Any) -> list[Violation]:
    return []


def _unchecked_sample(records: list[GateRecord]) -> list[GateRecord]:
    """The first and last record (by time, then ref) of each (dataset, producer, schema, second)."""
    buckets: dict[tuple[str, str, str, float], list[GateRecord]] = {}
    for record in records:
        key = (record.dataset_urn, record.producer_urn or "", record.schema_id or "",
               record.timestamp.timestamp() // PASSED_BUCKET_SECONDS)
        buckets.setdefault(key, []).append(record)
    sample: list[GateRecord] = []
    for members in buckets.values():
        ordered = sorted(members, key=lambda r: (r.timestamp, ref_order(r.ref)))
        sample += [ordered[0], ordered[-1]] if len(ordered) > 1 else ordered
    return sample


def _bad_buckets(failed: list[_Failed]) -> dict[tuple[str, str, str, str, str, float], list[_Failed]]:
    """Failed records per (dataset, producer, schema, reason, field, bucket start in epoch seconds): per minute
    for each (reason, field) they carry, per second in the ANY_REASON tally."""
    buckets: dict[tuple[str, str, str, str, str, float], list[_Failed]] = {}
    for bad in failed:
        record = bad.record
        minute = bad.ts // REASON_BUCKET_SECONDS * REASON_BUCKET_SECONDS
        base = (record.dataset_urn, record.producer_urn or "", bad.schema_id)
        # A record counts once per (reason, field) it carries, and once in the tally.
        for reason, fld in dict.fromkeys((v.reason_code, v.field) for v in bad.violations):
            buckets.setdefault((*base, reason, fld, minute), []).append(bad)
        second = bad.ts // TALLY_BUCKET_SECONDS * TALLY_BUCKET_SECONDS
        buckets.setdefault((*base, ANY_REASON, "", second), []).append(bad)
    return buckets


def _time_ref(bad: _Failed) -> tuple[float, str]:
    return (bad.ts, bad.ref)


def _counter(urn: str, producer: str, schema_id: str, reason: str, fld: str, bucket_start: float, count: int,
             first: GateRecord, last: GateRecord, samples: tuple[str, ...]) -> GateCounter:
    return GateCounter(
        dataset_urn=urn, producer_urn=producer, schema_id=schema_id, reason_code=reason, field=fld,
        bucket=_UTC_EPOCH + timedelta(seconds=bucket_start), count=count,
        first_time=utc(first.timestamp), first_ref=first.ref, last_time=utc(last.timestamp), last_ref=last.ref,
        samples=samples,
    )


def _payload_value(record: GateRecord) -> Any:
    value = record.value
    if type(value) is dict and "base64" not in value:
        return value
    return decode_value(value, record.schema_id).value


def _json_safe(raw: Any) -> Any:
    """An undecodable value as it can be stored in a JSON payload."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(raw)).decode("ascii")}
    if isinstance(raw, Undecodable):
        return raw.preview
    return raw


def _observation(record: GateRecord, schema_id: str | None, violations: list[Violation], value: Any,
                 note: str | None, ingest_time: datetime, *, checked: bool = True) -> EvidenceRecord:
    source = f"kafka://{record.topic}"
    ref = record.ref
    event_time = utc(record.timestamp)
    payload: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": iso(event_time),
        "key": record.key,
        "schema_id": schema_id,
        "headers": dict(record.headers),
        "value": value,
        "violations": [{"reason_code": v.reason_code, "field": v.field, "detail": v.detail} for v in violations],
    }
    if schema_id != record.schema_id and record.schema_id is not None:
        payload["declared_schema_id"] = record.schema_id
    if note is not None:
        payload["note"] = note
    if not checked:
        payload["no_contract"] = True  # observed for drafting a contract; no contract judged it
    primary = violations[0] if violations else None
    return EvidenceRecord(
        evidence_id=evidence_id_for(source, ref),
        source=source,
        source_ref=ref,
        type=GATE_OBSERVATION,
        event_time=event_time,
        ingest_time=utc(record.ingest_time) if record.ingest_time is not None else ingest_time,
        dataset_urn=record.dataset_urn,
        producer_urn=record.producer_urn,
        schema_id=schema_id,
        sequence=record.offset,
        reason_code=primary.reason_code if primary else None,
        field=(primary.field or None) if primary else None,
        traceparent=record.headers.get("traceparent"),
        payload=payload,
    )


__all__ = [
    "ANY_REASON", "PASSED", "ContractBreak", "GateOutput", "GateRecord", "ProducerBreak", "contract_breaks", "run_gate",
]
