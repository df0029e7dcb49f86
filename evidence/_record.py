"""The evidence record: what the store keeps per event or gate observation (DESIGN.md, "Evidence record")."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evidence._vocab import EventType

# Record types beside the five envelope types: one per Kafka record the contract gate looked at.
GATE_OBSERVATION = EventType.GATE_OBSERVATION
# The payload key that marks a record whose event came without a `time`: its event time is its ingest time. Not a
# valid CloudEvents attribute name, so no producer's extension can collide with it.
TIME_MARK = "rca:time"


def evidence_id_for(source: str, source_ref: str) -> str:
    """Server-assigned and stable: the same (source, source_ref) always gets the same id, so replays
    of the same evidence cite the same ids and RCAs stay byte-identical."""
    digest = hashlib.sha256(f"{source}\x00{source_ref}".encode()).hexdigest()
    return f"ev_{digest[:24]}"


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    evidence_id: str
    source: str  # CloudEvents source (the producer URN as sent), or kafka://<topic> for a gate observation
    source_ref: str  # CloudEvents id, or <topic>/<partition>/<offset>
    type: str
    event_time: datetime  # aware, UTC
    ingest_time: datetime  # aware, UTC; stamped by the server (replay may take the scenario's)
    dataset_urn: str | None = None
    producer_urn: str | None = None
    schema_id: str | None = None
    sequence: int | None = None  # Kafka offset, or Delta commit version
    deploy_ref: str | None = None
    reason_code: str | None = None
    field: str | None = None
    run_id: str | None = None
    traceparent: str | None = None
    payload: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        """The envelope's `data` (for gate observations, the observation itself)."""
        inner = self.payload.get("data")
        return inner if isinstance(inner, dict) else self.payload

    def summary(self) -> dict[str, Any]:
        """The {evidence_id, source_ref, type, time} shape incidents and RCAs cite."""
        return {
            "evidence_id": self.evidence_id,
            "source_ref": self.source_ref,
            "type": self.type,
            "time": iso(self.event_time),
        }


@contextmanager
def no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while many records are built and read (a detector pass loads a hundred
    thousand): records hold no cycles, so it would find nothing in them, yet each collection of the oldest generation
    walks every object the process holds (a third of a 10,000-dataset pass went there). Reference counting still frees
    everything; cycles made meanwhile wait for the next collection. The collector's state is restored after (off stays
    off)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:  # already (the ingest time a batch shares, records read back): no new object
        return moment
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset; evidence times must be timezone-aware")
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a 'Z', to the microsecond only when there is one."""
    if moment is None:
        return None
    return utc(moment).isoformat().replace("+00:00", "Z")


_RUN_ID_DECLARED: dict[type, bool] = {}  # by data model (pydantic's model_fields is a property: a call each read)


def _declares_run_id(data_type: type) -> bool:
    declared = _RUN_ID_DECLARED.get(data_type)
    if declared is None:
        declared = _RUN_ID_DECLARED[data_type] = "run_id" in getattr(data_type, "model_fields", {})
    return declared


def record_from_event(event: Any, ingest_time: datetime, raw: dict[str, Any] | None = None) -> EvidenceRecord:
    """Turn a validated envelope v1 event into its evidence record; the payload is the event as sent (`raw`)."""
    data = event.data
    payload = raw if raw is not None else event.model_dump(mode="json", exclude_none=True)
    event_time = event.time
    if event_time is None:  # CloudEvents' time is optional: the arrival stands in, and the record says so
        event_time = ingest_time
        payload = {**payload, TIME_MARK: "ingest"}
    dataset_urn = event.subject
    deploy_ref = None
    # A declared field, or else an extra one sent in data (getattr's miss costs an exception in pydantic's __getattr__):
    # a text one only, as declared ones are (an extra holds any JSON; the payload keeps it as sent either way).
    run_id = data.run_id if _declares_run_id(type(data)) else (data.model_extra or {}).get("run_id")
    if run_id is not None and not isinstance(run_id, str):
        run_id = None
    sequence = None
    if event.type == EventType.DEPLOYMENT:
        deploy_ref = data.deploy_ref or f"{data.service}@{data.version}"
    elif event.type == EventType.COMMITTED:
        dataset_urn = data.dataset_urn
        sequence = data.commit_version
    elif event.type == EventType.RUN_STARTED:
        deploy_ref = data.code_ref
    elif event.type in (EventType.QUALITY_FAILED, EventType.EXTERNAL):
        dataset_urn = dataset_urn or data.dataset_urn
    # Filled slot by slot, then sealed (see _Unsealed): the frozen dataclass's own __init__ cost half of this function.
    record: Any = _Unsealed()
    record.evidence_id = evidence_id_for(event.source, event.id)
    record.source = record.producer_urn = event.source
    record.source_ref = event.id
    record.type = event.type
    record.event_time = utc(event_time)
    record.ingest_time = utc(ingest_time)
    record.dataset_urn = dataset_urn
    record.schema_id = record.reason_code = record.field = None
    record.sequence = sequence
    record.deploy_ref = deploy_ref
    record.run_id = run_id
    record.traceparent = event.traceparent
    record.payload = payload
    record.__class__ = EvidenceRecord  # every slot is set: the record is whole, and frozen from here on
    sealed: EvidenceRecord = record  # (typing.cast is a call too)
    return sealed


class _Unsealed:
    """An EvidenceRecord's slots without the frozen guard, for the one record ingestion builds per event.

    A frozen dataclass's __init__ sets each field through object.__setattr__, a call a field (1.4 us a record of
    sixteen, a tenth of ingesting an event); plain stores into these slots cost a fifth of that. The same slots make
    the two classes' layouts identical, so CPython lets the filled object's __class__ become EvidenceRecord, which is
    then an ordinary frozen record (equality, hash, FrozenInstanceError, dataclasses.replace). A test compares the
    result with the dataclass's own constructor's, field by field.
    """

    __slots__ = EvidenceRecord.__slots__


@dataclass(frozen=True, slots=True)
class GateCounter:
    """Aggregated contract-gate outcomes for one (dataset, producer, schema, reason, field, bucket).

    Counters merge commutatively (counts add, first/last take min/max by (time, ref), samples keep the
    smallest refs), so the same records give the same counters in any order and any batching: that is
    what keeps boundaries exact and detection deterministic while a million good records stay a few rows.
    `reason_code` and `field` are "" for records that passed the gate.
    """

    dataset_urn: str
    producer_urn: str
    schema_id: str
    reason_code: str
    field: str
    bucket: datetime  # aware UTC start of the bucket
    count: int
    first_time: datetime
    first_ref: str
    last_time: datetime
    last_ref: str
    samples: tuple[str, ...] = ()

    MAX_SAMPLES = 5

    @property
    def key(self) -> tuple[str, str, str, str, str, datetime]:
        return (self.dataset_urn, self.producer_urn, self.schema_id, self.reason_code, self.field, self.bucket)

    def merge(self, other: GateCounter) -> GateCounter:
        if other.key != self.key:
            raise ValueError(f"cannot merge counters for different keys: {self.key} and {other.key}")
        first = min((self.first_time, self.first_ref), (other.first_time, other.first_ref))
        last = max((self.last_time, self.last_ref), (other.last_time, other.last_ref))
        samples = tuple(sorted(set(self.samples) | set(other.samples), key=ref_order)[: self.MAX_SAMPLES])
        return dataclasses.replace(
            self, count=self.count + other.count, first_time=first[0], first_ref=first[1],
            last_time=last[0], last_ref=last[1], samples=samples,
        )


def ref_order(ref: str) -> tuple[str, int, str]:
    """topic/partition/offset refs sort by partition and numeric offset, not as strings."""
    topic, _, rest = ref.rpartition("/")
    head, _, _ = topic.rpartition("/")
    try:
        return (head, int(rest), ref)
    except ValueError:
        return (ref, 0, ref)
