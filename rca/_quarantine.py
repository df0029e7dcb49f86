"""Enforcement "reject" on Kafka: copies of the records a contract rejects, on a dead-letter topic.

These are quarantine copies, not an in-line block: the producer's record stays on its topic, and consumers
that want only good records read `valid_topic` instead. A copy keeps the record's key, headers and timestamp
and adds headers saying why: `rca-reason-code`, `rca-field`, `rca-contract-version`, `rca-dataset`, and
`rca-original-topic` / `-partition` / `-offset`. Copies are produced and acknowledged before the batch's
transaction commits, so a stored record always has its copy; a crash between the two can copy a record
twice (the original offset header tells them apart).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from detectors import IntakeReport
from evidence import Contract, RcaError

DEAD_LETTER = "{topic}.rca-rejected"
OUTPUT_SUFFIXES = (".rca-rejected", ".rca-valid")
MAX_TOPIC = 249  # Kafka refuses longer topic names, and the batch would be read again forever
FLUSH_TIMEOUT_S = 30.0


class QuarantineError(RcaError):
    """Copies were not acknowledged: the batch is not stored and will be read again."""


class Original(Protocol):
    """The consumed record, as confluent_kafka.Message offers it."""

    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


def contract_version(contract: Contract) -> str:
    """A content hash of the contract: the same contract, the same version, on every replica."""
    body = contract.model_dump_json(by_alias=True, exclude_none=True).encode()
    return "sha256:" + hashlib.sha256(body).hexdigest()[:16]


def destinations(contract: Contract, topic: str) -> tuple[str, str | None]:
    """(dead-letter topic, valid topic or None) of a record of this topic under this contract."""
    dead = _render(contract.dead_letter_topic or DEAD_LETTER, topic)
    valid = _render(contract.valid_topic, topic) if contract.valid_topic else None
    return dead, valid


def _render(template: str, topic: str) -> str:
    """The template with {topic} replaced, kept within Kafka's 249 characters.

    When the record's topic makes the name too long, {topic} becomes the topic's head, a dash and 12 hex digits
    of its SHA-256: the suffix (".rca-rejected") stays, and two long topics that share a head stay apart."""
    name = template.replace("{topic}", topic)
    uses = template.count("{topic}")
    if len(name) <= MAX_TOPIC or not uses:
        return name
    digest = hashlib.sha256(topic.encode()).hexdigest()[:12]
    excess = len(name) - MAX_TOPIC
    keep = len(topic) - -(-excess // uses) - len(digest) - 1  # ceil(excess / uses) fewer characters per use
    # A template whose own text leaves fewer than 13 characters for {topic} is cut at 249: still a legal name.
    return template.replace("{topic}", f"{topic[:max(keep, 0)]}-{digest}")[:MAX_TOPIC]


class Quarantine:
    def __init__(self, make_producer: Callable[[], Any], max_value_bytes: int) -> None:
        self._make_producer = make_producer
        self._producer: Any = None
        self.max_value_bytes = max_value_bytes
        self.outputs: set[str] = set()  # topics written to, so a pattern subscription does not gate them again

    def copy(self, report: IntakeReport, originals: Sequence[Original]) -> dict[str, int]:
        """Produce the copies this batch calls for and wait for the broker to acknowledge all of them.

        `originals` are the consumed records in the order of the report's results."""
        if not any(c.enforcement == "reject" for c in report.contracts.values()):
            return {}
        plan: list[tuple[str, Original, list[tuple[str, bytes]]]] = []
        for result, original in zip(report.results, originals, strict=True):
            contract = report.contracts.get(result.dataset_urn or "")
            if contract is None or contract.enforcement != "reject":
                continue
            dead, valid = destinations(contract, original.topic())
            if result.blocked:
                plan.append((dead, original, _why(result.reason_code, result.field, contract, original)))
            elif valid and result.status == "accepted" and not result.reason_code:
                plan.append((valid, original, []))
        if not plan:
            return {}
        if self._producer is None:
            self._producer = self._make_producer()
        failures: list[str] = []

        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                failures.append(f"{message.topic()}: {error.str()}")

        counts: dict[str, int] = {}
        for destination, original, extra in plan:
            value = original.value()
            headers = list(original.headers() or ()) + extra
            if value is not None and len(value) > self.max_value_bytes:
                headers.append(("rca-value-omitted", f"{len(value)} bytes, over the gate's limit".encode()))
                value = None
            self._producer.produce(destination, value=value, key=original.key(), headers=headers,
                                   timestamp=original.timestamp()[1], on_delivery=delivered)
            self._producer.poll(0)
            counts[destination] = counts.get(destination, 0) + 1
            self.outputs.add(destination)
        remaining = self._producer.flush(FLUSH_TIMEOUT_S)
        if remaining or failures:
            raise QuarantineError(f"{remaining or len(failures)} quarantine copies were not acknowledged "
                                  f"({'; '.join(failures[:3]) or 'timed out'}); the batch will be read again.")
        return counts

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(FLUSH_TIMEOUT_S)


def _why(reason_code: str | None, field: str | None, contract: Contract,
         original: Original) -> list[tuple[str, bytes]]:
    return [
        ("rca-reason-code", (reason_code or "").encode()),
        ("rca-field", (field or "").encode()),
        ("rca-contract-version", contract_version(contract).encode()),
        ("rca-dataset", contract.dataset_urn.encode()),
        ("rca-original-topic", original.topic().encode()),
        ("rca-original-partition", str(original.partition()).encode()),
        ("rca-original-offset", str(original.offset()).encode()),
    ]


__all__ = ["Quarantine", "QuarantineError", "contract_version", "destinations"]
