"""The contract gate as a Kafka consumer-group member; the only module that imports confluent_kafka's Kafka client
(rca/_registry.py imports its schema registry client).

A batch of records is read, gated and stored in one transaction (detectors.intake_kafka); only then are
its offsets committed. A crash in between redelivers the batch, and the store, which keeps processed
offsets per partition, counts each record once. Records of a contract with `enforcement: reject` are
copied to its dead-letter topic inside that transaction, before it commits (see rca/_quarantine.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_INVALID,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka import Producer as _Producer
from confluent_kafka.admin import AdminClient, OffsetSpec

from detectors import FrameDecoder, IntakeReport, KafkaRecord, decode_kafka_bytes, intake_kafka
from evidence import MAX_DEPTH, MAX_EPOCH_MS, MIN_EPOCH_MS, ReasonCode, Store
from rca._quarantine import OUTPUT_SUFFIXES, Quarantine

log = logging.getLogger("rca.kafka")
Clock = Callable[[], datetime]
_SLOW = object()  # the value still needs the general decoder


@dataclass(frozen=True)
class ConsumerOptions:
    config: dict[str, str]  # librdkafka settings (rca/_kafka_config.py), bootstrap.servers included
    group: str
    topics: tuple[str, ...]  # names, or regular expressions starting with ^ (librdkafka's convention)
    batch_size: int = 5000
    batch_timeout_s: float = 0.5
    max_value_bytes: int = 1024 * 1024
    stop_at_end: bool = False  # exit once every assigned partition has been read to its end


@dataclass
class ConsumerStats:
    """What the consumer has done, read by /metrics at scrape time (rca/_metrics.py)."""

    records: dict[str, int] = field(default_factory=dict)  # by topic
    poison: dict[str, int] = field(default_factory=dict)  # undecodable records, by topic
    dead_lettered: dict[str, int] = field(default_factory=dict)  # copies, by destination topic
    batches: int = 0
    failures: int = 0  # batches that could not be stored (retried)
    rate: float = 0.0  # records/s over the last window
    _window: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, records: Sequence[KafkaRecord], report: IntakeReport, copies: dict[str, int]) -> None:
        with self.lock:
            self.batches += 1
            for topic, count in Counter(r.topic for r in records).items():
                self.records[topic] = self.records.get(topic, 0) + count
            for result in report.results:
                if result.reason_code == ReasonCode.UNDECODABLE_MESSAGE and result.ref:
                    topic = result.ref.rsplit("/", 2)[0]
                    self.poison[topic] = self.poison.get(topic, 0) + 1
            for topic, n in copies.items():
                self.dead_lettered[topic] = self.dead_lettered.get(topic, 0) + n
            now = time.monotonic()
            self._window = [(t, n) for t, n in self._window if now - t <= 10.0] + [(now, len(records))]
            span = max(now - self._window[0][0], 1.0)
            self.rate = sum(n for _, n in self._window) / span


class GateConsumer:
    """One member of the gate's consumer group. `run` returns when `stop` is set (or at the end, if asked)."""

    def __init__(self, store: Store, options: ConsumerOptions, clock: Clock,
                 stats: ConsumerStats | None = None, frames: FrameDecoder | None = None) -> None:
        self.store, self.options, self.clock, self.frames = store, options, clock, frames
        self.stats = stats or ConsumerStats()
        self._stored: dict[tuple[str, int], int] = {}  # next offset to read, per partition, of what is stored
        self._assigned: set[tuple[str, int]] = set()
        self._at_end: set[tuple[str, int]] = set()
        self._gated: dict[str, bool] = {}
        self._quarantine = Quarantine(lambda: _Producer(_producer_config(options)), options.max_value_bytes)
        self._consumer: Consumer | None = None

    def run(self, stop: threading.Event) -> None:
        consumer = Consumer({
            **self.options.config,
            "group.id": self.options.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": self.options.config.get("auto.offset.reset", "earliest"),
            "partition.assignment.strategy": self.options.config.get("partition.assignment.strategy",
                                                                     "cooperative-sticky"),
            "fetch.message.max.bytes": self.options.config.get("fetch.message.max.bytes", "4194304"),
            "on_commit": _on_commit,
            "error_cb": _on_error,
        })
        self._consumer = consumer
        consumer.subscribe(list(self.options.topics), on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)
        log.info("gate consumer in group %s reading %s", self.options.group, ", ".join(self.options.topics))
        backoff = 0.5
        try:
            while not stop.is_set():
                messages = consumer.consume(self.options.batch_size, self.options.batch_timeout_s)
                records, originals = self._records(messages)
                if records:
                    try:
                        self._process(consumer, records, originals)
                        backoff = 0.5
                    except Exception:
                        self.stats.failures += 1
                        log.exception("could not store a batch of %d records; reading it again in %.1f s",
                                      len(records), backoff)
                        self._rewind(consumer, records)
                        stop.wait(backoff)
                        backoff = min(backoff * 2, 30.0)
                        continue
                if self.options.stop_at_end and self._assigned and self._assigned <= self._at_end:
                    break
        finally:
            self._commit(consumer, list(self._stored.items()), asynchronous=False)
            consumer.close()
            self._quarantine.close()
            self._consumer = None

    # -- one batch ----------------------------------------------------------------------------------------
    def _records(self, messages: list[Message]) -> tuple[list[KafkaRecord], list[Message]]:
        """The batch's records, and beside each its message (the quarantine copies the original bytes)."""
        records: list[KafkaRecord] = []
        originals: list[Message] = []
        gated = self._gated
        max_bytes, clock, frames = self.options.max_value_bytes, self.clock, self.frames
        for message in messages:
            error = message.error()
            if error is not None:
                self._error(message, error)
                continue
            topic = message.topic() or ""
            partition = message.partition() or 0
            if self._at_end:
                self._at_end.discard((topic, partition))
            if not gated.get(topic, True) or not self._gate_topic(topic):
                self._stored[(topic, partition)] = (message.offset() or 0) + 1
                continue
            records.append(to_record(message, max_bytes, clock, frames))
            originals.append(message)
        return records, originals

    def _gate_topic(self, topic: str) -> bool:
        """False for our own quarantine copies (a pattern may match them): never gated again, but read past."""
        if topic not in self._gated:
            self._gated[topic] = not (topic.endswith(OUTPUT_SUFFIXES) or topic in self._quarantine.outputs)
        return self._gated[topic]

    def _error(self, message: Message, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            self._at_end.add((message.topic() or "", message.partition() or 0))
        elif error.fatal():
            raise KafkaException(error)
        else:
            log.warning("Kafka: %s", error.str())

    def _process(self, consumer: Consumer, records: list[KafkaRecord], originals: list[Message]) -> None:
        copies: dict[str, int] = {}

        def quarantine(report: IntakeReport) -> None:
            copies.update(self._quarantine.copy(report, originals))  # type: ignore[arg-type]

        report = intake_kafka(self.store, records, self.clock(), before_commit=quarantine)
        positions: dict[tuple[str, int], int] = {}
        for record in records:  # a partition's records arrive in offset order: the last one is the position
            positions[(record.topic, record.partition)] = record.offset + 1
        self._stored.update(positions)
        self._commit(consumer, list(positions.items()), asynchronous=True)
        self.stats.count(records, report, copies)

    def _rewind(self, consumer: Consumer, records: list[KafkaRecord]) -> None:
        first: dict[tuple[str, int], int] = {}
        for record in records:
            key = (record.topic, record.partition)
            first[key] = min(first.get(key, record.offset), record.offset)
        for (topic, partition), offset in first.items():
            try:
                consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # revoked meanwhile: its new owner reads from the committed offset
                log.warning("could not rewind %s[%d] to %d: %s", topic, partition, offset, exc)

    @staticmethod
    def _commit(consumer: Consumer, positions: list[tuple[tuple[str, int], int]], *, asynchronous: bool) -> None:
        if not positions:
            return
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in positions]
        try:
            if asynchronous:
                consumer.commit(offsets=offsets, asynchronous=True)
            else:
                consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: what is stored is stored, and a redelivered record is recognised by its offset.
            log.warning("could not commit offsets %s: %s", offsets, exc)

    # -- rebalancing (called inside consume(), between batches: everything read so far is stored) -----------
    def _on_assign(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((p.topic, p.partition) for p in partitions)
        log.info("assigned %s", _names(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(p.topic, p.partition) for p in partitions]
        self._commit(consumer, [(k, self._stored[k]) for k in keys if k in self._stored], asynchronous=False)
        self._forget(keys)
        log.info("revoked %s (stored offsets committed)", _names(partitions))

    def _on_lost(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget([(p.topic, p.partition) for p in partitions])
        log.warning("lost %s; their new owner reads from the last committed offset", _names(partitions))

    def _forget(self, keys: list[tuple[str, int]]) -> None:
        for key in keys:
            self._stored.pop(key, None)
            self._assigned.discard(key)
            self._at_end.discard(key)


_TIMES: dict[int, datetime] = {}  # record timestamps (ms) seen lately: a batch's records share a few hundred
_JSON_ERROR = orjson.JSONDecodeError
# A value this short cannot nest deeper than evidence stores; a longer one with that many brackets goes through the
# general decoder, which checks the depth (orjson reads 1,024 levels, and writes only 254).
_SHALLOW = 2 * MAX_DEPTH


def to_record(message: Message, max_value_bytes: int, clock: Clock, frames: FrameDecoder | None = None) -> KafkaRecord:
    """A consumed message as the gate reads it: key, headers and timestamp kept, the value decoded.

    The hot path of `rca gate consume`: no typing.cast (building `bytes | None` costs per call), no context
    manager, and each millisecond's datetime made once (a batch's records share a few hundred of them).
    """
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE:
        timestamp = clock()
    else:
        timestamp = _TIMES.get(millis)  # type: ignore[assignment]
        if timestamp is None:
            if not MIN_EPOCH_MS <= millis < MAX_EPOCH_MS:
                # A producer sets CreateTime to any 64-bit number; outside the range evidence may name, it is as
                # good as none.
                timestamp = clock()
            else:
                if len(_TIMES) >= 4096:
                    _TIMES.clear()
                timestamp = _TIMES[millis] = datetime.fromtimestamp(millis / 1000, tz=UTC)
    value: Any = message.value()
    body: Any = _SLOW
    schema_id = None
    if value and value[0] == 0x7B and len(value) <= max_value_bytes and (  # "{": most topics carry JSON objects
            len(value) <= _SHALLOW or value.count(b"{") + value.count(b"[") <= MAX_DEPTH):
        try:  # noqa: SIM105 (suppress() builds a context manager per record)
            body = orjson.loads(value)
        except _JSON_ERROR:  # the general decoder says what is wrong
            pass
    if body is _SLOW:
        decoded = decode_kafka_bytes(value, max_value_bytes, frames)
        body, schema_id = decoded.value, decoded.schema_id
    key: Any = message.key()
    raw_headers: Any = message.headers()
    headers = {name: raw.decode("utf-8", "backslashreplace") if raw else "" for name, raw in raw_headers} \
        if raw_headers else {}
    return KafkaRecord(
        message.topic() or "", message.partition() or 0, message.offset() or 0, timestamp,
        None if key is None else key.decode("utf-8", "backslashreplace"), schema_id, headers, body, None)


class GroupLag:
    """Records not yet committed by a group, per topic and partition: the high watermark minus the committed
    offset, asked of the brokers (so it covers every member of the group, wherever it runs)."""

    def __init__(self, config: dict[str, str], group: str, timeout_s: float = 3.0) -> None:
        self.group, self.timeout_s = group, timeout_s
        self._admin = AdminClient({k: v for k, v in config.items() if not k.startswith(("auto.", "fetch.", "session.",
                                                                                        "heartbeat."))})

    def __call__(self) -> dict[tuple[str, int], int]:
        timeout = self.timeout_s
        asked = self._admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(self.group)],
                                                        request_timeout=timeout)
        committed = [p for p in asked[self.group].result(timeout).topic_partitions or [] if p.topic]
        if not committed:
            return {}
        ends = self._admin.list_offsets({TopicPartition(p.topic, p.partition): OffsetSpec.latest() for p in committed},
                                        request_timeout=timeout)
        high = {(tp.topic, tp.partition): future.result(timeout).offset for tp, future in ends.items()}
        return {(p.topic, p.partition): max(0, high[(p.topic, p.partition)] - max(p.offset, 0))
                for p in committed if p.offset != OFFSET_INVALID or (p.topic, p.partition) in high}


def _producer_config(options: ConsumerOptions) -> dict[str, Any]:
    config: dict[str, Any] = {k: v for k, v in options.config.items() if not k.startswith(("auto.", "fetch.",
                                                                                           "session.", "heartbeat."))}
    config.update({"enable.idempotence": True, "acks": "all", "linger.ms": 5,
                   "message.max.bytes": max(options.max_value_bytes + 65536, 1_048_576), "error_cb": _on_error})
    return config


def _on_commit(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
    if error is not None and error.code() != KafkaError._NO_OFFSET:
        log.warning("offset commit failed (%s); the next commit covers it", error.str())


def _on_error(error: KafkaError) -> None:
    log.warning("Kafka: %s", error.str())


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing"


__all__ = ["ConsumerOptions", "ConsumerStats", "GateConsumer", "GroupLag", "to_record"]
