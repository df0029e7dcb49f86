"""`rca gate consume` processes against a real broker: kill -9 and restart, two members sharing six partitions.

"Observed exactly once" is counted two ways, both from the store: the gate counters' record counts add up to
the records produced (a record stored twice would count twice), and the processed-offset ranges of every
partition are exactly [0, end] (a record lost would leave a gap).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import select

from evidence._schema import gate_offsets
from evidence._store import Store
from support import ChildProcess, configure_orders, new_topic, order, produce, record

pytestmark = pytest.mark.e2e
# A dead member's partitions move after its session times out: 6 s is the broker's minimum.
FAST_FAILOVER = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"]


class Member(ChildProcess):
    """One `rca gate consume` process."""

    def __init__(self, log: Path, database_url: str, bootstrap: str, group: str, topic: str, *extra: str) -> None:
        rca = Path(sys.executable).with_name("rca")
        self.log = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [str(rca), "gate", "consume", "--bootstrap", bootstrap, "--group", group, "--topics", topic, *extra],
            env={**os.environ, "RCA_DATABASE_URL": database_url}, stdout=self._log, stderr=subprocess.STDOUT)


@pytest.fixture
def members(tmp_path: Path) -> Iterator[Callable[..., Member]]:
    started: list[Member] = []

    def start(*args: str, name: str = "member") -> Member:
        member = Member(tmp_path / f"{name}.log", *args)
        started.append(member)
        return member

    yield start
    for member in started:
        member.stop()


def stored(store: Store, topic: str) -> tuple[int, dict[int, list[tuple[int, int]]]]:
    """(records counted by the gate, processed offset ranges per partition) of one topic."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(gate_offsets.c.partition, gate_offsets.c.ranges)
                            .where(gate_offsets.c.topic == topic)).all()
    counted = sum(c.count for c in store.counters() if c.reason_code in ("", "*"))
    return counted, {p: [tuple(r) for r in orjson.loads(ranges)] for p, ranges in rows}  # type: ignore[misc]


def owned(member: Member) -> set[str]:
    """The partitions the member owns now, replaying the assignments and revocations its log reports."""
    now: set[str] = set()
    for line in member.log.read_text().splitlines():
        for verb in (" assigned ", " revoked ", " lost "):
            if verb in line:
                named = {p.strip() for p in line.split(verb, 1)[1].split(" (")[0].split(",")} - {"nothing"}
                now = now | named if verb == " assigned " else now - named
    return now


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.2)


def test_kill9_mid_stream_then_restart_stores_every_record_once(kafka: str, database_url: str, members) -> None:
    store = Store.open(database_url)
    store.upgrade()
    topic = new_topic(kafka, "orders.created", partitions=3)
    configure_orders(store, topic)
    total = 15_000
    produce(kafka, topic, (record(i, order(i), partition=i % 3) for i in range(total)))
    group = f"kill9-{topic}"
    first = members(database_url, kafka, group, topic, "--batch-size", "500", *FAST_FAILOVER, name="first")
    wait_for(lambda: stored(store, topic)[0] > 0, 150, "a first stored batch")  # start-up and join, under load
    first.kill9()
    midway, _ = stored(store, topic)
    assert 0 < midway < total, "the kill must land mid-stream"
    second = members(database_url, kafka, group, topic, "--batch-size", "500", "--stop-at-end", name="second")
    assert second.process.wait(120) == 0
    counted, ranges = stored(store, topic)
    assert counted == total
    assert ranges == {p: [(0, total // 3 - 1)] for p in range(3)}
    store.close()


def test_two_members_share_six_partitions_and_one_takes_over_when_the_other_dies(
        kafka: str, database_url: str, members) -> None:
    store = Store.open(database_url)
    store.upgrade()
    topic = new_topic(kafka, "orders.created", partitions=6)
    configure_orders(store, topic)
    a = members(database_url, kafka, f"pair-{topic}", topic, *FAST_FAILOVER, name="a")
    b = members(database_url, kafka, f"pair-{topic}", topic, *FAST_FAILOVER, name="b")
    wait_for(lambda: bool(owned(a)) and bool(owned(b)), 60, "both members owning partitions")
    produce(kafka, topic, (record(i, order(i), partition=i % 6) for i in range(6_000)))
    wait_for(lambda: stored(store, topic)[0] == 6_000, 60, "the first 6,000 records being stored")
    assert owned(a) | owned(b) == {f"{topic}[{p}]" for p in range(6)} and not owned(a) & owned(b)
    b.kill9()
    produce(kafka, topic, (record(i, order(i), partition=i % 6) for i in range(6_000, 12_000)))
    wait_for(lambda: stored(store, topic)[0] >= 12_000, 90, "the survivor storing the dead member's partitions")
    counted, ranges = stored(store, topic)
    assert counted == 12_000
    assert ranges == {p: [(0, 1_999)] for p in range(6)}
    assert owned(a) == {f"{topic}[{p}]" for p in range(6)}  # the survivor took over the dead member's share
    assert a.stop(30) == 0
    store.close()


def metric(body: str, name: str) -> dict[str, float]:
    """Samples of one metric from a Prometheus text exposition, by their label text."""
    found = {}
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, _, value = line[len(name):].rpartition(" ")
            found[labels] = float(value)
    return found


def test_rca_serve_runs_the_consumer_and_reports_lag_rate_and_poison(kafka: str, tmp_path: Path, serve) -> None:
    url = f"sqlite:///{tmp_path / 'rca.db'}"
    store = Store.open(url)
    store.upgrade()
    topic = new_topic(kafka, "orders.created", partitions=2)
    configure_orders(store, topic)
    store.close()
    produce(kafka, topic, (record(i, b"not json" if i in (3, 500) else order(i), partition=i % 2)
                           for i in range(1_000)))
    group = f"gate-serve-{topic.rsplit('.', 1)[1]}"  # a broker reused across runs keeps old groups' offsets
    server = serve(url, env={"RCA_KAFKA_BOOTSTRAP": kafka, "RCA_KAFKA_TOPICS": topic, "RCA_KAFKA_GROUP": group,
                             "RCA_METRICS_PUBLIC": "true", "RCA_DETECT_INTERVAL_S": "0"})

    def scraped() -> str:
        return httpx.get(f"{server.url}/metrics", timeout=10).text

    wait_for(lambda: metric(scraped(), "rca_gate_records_total").get(f'{{topic="{topic}"}}') == 1_000, 60,
             "rca serve's consumer storing the 1,000 records")
    # Lag is read from the brokers: once the commits land, both partitions are at 0.
    caught_up = {f'{{group="{group}",partition="{p}",topic="{topic}"}}': 0.0 for p in (0, 1)}
    seen: list[dict[str, float]] = []
    wait_for(lambda: seen.append(metric(scraped(), "rca_gate_consumer_lag")) or seen[-1] == caught_up, 60,
             "lag reaching 0")
    body = scraped()
    assert metric(body, "rca_gate_poison_records_total") == {f'{{topic="{topic}"}}': 2.0}
    assert metric(body, "rca_gate_consumer_lag_up") == {"": 1.0}
    assert metric(body, "rca_gate_records_per_second")[""] > 0
