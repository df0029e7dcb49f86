"""The parts of issue 13's fixes a live server cannot pin down deterministically: the detector schedule's rate (a
fake scheduling clock), the bounded token cache, what a pass reads, and SQLite refusing writes (read-only, full).
The reproductions themselves run through a real server in tests/e2e/test_hardening.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from detectors import DetectionResult, DetectSettings, run_detectors
from evidence import EvidenceRecord, FreshnessPolicy, Mapping
from evidence._configs import MAPPING, POLICY, Configs
from evidence._ingest import ingest_events
from evidence._store import Store
from evidence._tokens import create_token
from rca import Settings, create_app
from rca._auth import Authenticator
from rca.app import _detect_loop
from support import FixedClock, deployment


class _Schedule:
    """A scheduling clock and stop event where waiting advances time, and a pass takes `pass_s` of it."""

    def __init__(self, pass_s: list[float], until: float) -> None:
        self.now, self.pass_s, self.until, self.starts = 0.0, pass_s, until, []

    def monotonic(self) -> float:
        return self.now

    def wait(self, timeout: float) -> bool:
        self.now += timeout
        return self.now >= self.until

    def detector_pass(self, *_: Any) -> DetectionResult:
        self.starts.append(self.now)
        self.now += self.pass_s[min(len(self.starts), len(self.pass_s)) - 1]
        return DetectionResult()


def _run(schedule: _Schedule, interval: float) -> list[float]:
    stop = threading.Event()
    stop.wait = schedule.wait  # type: ignore[method-assign]
    _detect_loop(schedule, lambda: datetime(2026, 3, 10, tzinfo=UTC), DetectSettings(), stop,  # type: ignore[arg-type]
                 interval, lambda _: None, monotonic=schedule.monotonic)
    return schedule.starts


def test_passes_keep_a_fixed_rate_whatever_they_take() -> None:
    # A 6 s pass every 10 s: a pass starts every 10 s (the old loop waited 10 s after each: every 16 s).
    assert _run(_Schedule([6.0], until=60.5), 10) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]


def test_an_overrun_is_followed_at_once_and_the_slots_it_covered_are_not_queued() -> None:
    starts = _run(_Schedule([25.0, 1.0], until=70.5), 10)
    assert starts == [10.0, 35.0, 45.0, 55.0, 65.0]


def test_the_token_cache_is_bounded(store: Store, clock: FixedClock) -> None:
    secret = create_token(store, "oncall", "reader", [], clock())[1]
    authenticator = Authenticator(store, disabled=False, cache_seconds=30, entries=50)

    class Request:
        def __init__(self, token: str) -> None:
            self.headers = {"authorization": f"Bearer {token}"}

    for n in range(500):
        with pytest.raises(Exception, match="unknown or revoked"):
            authenticator(Request(f"rca_r_not-a-token-{n}"))  # type: ignore[arg-type]
    assert authenticator.cached <= 50
    assert authenticator(Request(secret)).name == "oncall"  # type: ignore[arg-type]


class _CountingStore(Store):
    """The real store, counting the records it hands a detector pass."""

    loaded = 0

    def records(self, **kwargs: Any) -> list[EvidenceRecord]:
        found = super().records(**kwargs)
        self.loaded += len(found)
        return found


def test_a_pass_reads_its_policies_records_not_every_producers_deploys(database_url: str) -> None:
    store = _CountingStore.open(database_url)
    store.upgrade()
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    Configs(store).put(POLICY, FreshnessPolicy(dataset_urn="ds://watched", producer_urn="job://watched",
                                               expected_update_by="02:00"), now)
    noise = [deployment(f"d-{n}", f"svc://other-{n % 50}", time=(now - timedelta(minutes=n % 600)).isoformat())
             for n in range(3000)]  # the write load of other producers
    ingest_events(store, noise, now)
    store.loaded = 0
    run_detectors(store, now)
    assert store.loaded < 10  # the watched job's own records only (none), not the 3,000 deploys
    store.close()


def test_sqlite_that_refuses_writes_answers_503_json_and_healthz_says_so(tmp_path: Path) -> None:
    """A database SQLite opened read-only (PRAGMA query_only). A read-only file system and a full disk under a real
    server are in tests/e2e/test_hardening.py."""
    url = f"sqlite:///{tmp_path / 'rca.db'}"
    Store.open(url).upgrade()
    store = Store.open(url)
    event.listen(store.engine, "connect", lambda connection, _: connection.execute("PRAGMA query_only = 1"))
    client = TestClient(create_app(Settings(database_url="sqlite://", auth_disabled=True,
                                            chroma_path=str(tmp_path / "chroma")), store=store, clock=FixedClock()),
                        raise_server_exceptions=False)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    refused = client.post("/v1/events", json=deployment("d-1"))
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "database_unavailable" and "readonly" in refused.json()["message"]
    store.close()


def test_hostile_records_read_off_kafka_never_stop_the_batch(store: Store) -> None:
    """The gate's consumer cannot refuse a record (it is already on the topic): a value nested 300 deep, a producer
    header that is prose, NUL or 600 characters, a CreateTime outside 1970-2200, NUL in the value, key or a header.
    Before, a deep object or a far timestamp raised and the batch was read again forever; a prose producer header
    became a producer URN. Each is now a finding or is dropped, and the good records around them are stored."""
    import orjson
    from confluent_kafka import Message

    from detectors import intake_kafka
    from evidence._bounds import urn_error
    from rca._kafka import to_record
    from support import PRODUCER, configure_orders, order

    topic, now = "orders.hostile", datetime(2026, 3, 10, 11, tzinfo=UTC)
    configure_orders(store, topic)
    create_time = (1, int(datetime(2026, 3, 10, 10, tzinfo=UTC).timestamp() * 1000))
    producer = [("autopilot-producer", PRODUCER.encode())]
    hostile: list[tuple[bytes, list[tuple[str, bytes]], tuple[int, int]]] = [
        (b'{"a":' * 300 + b"1" + b"}" * 300, producer, create_time),
        (b"[" * 300 + b"]" * 300, producer, create_time),
        (orjson.dumps(order(0)), [("autopilot-producer", b"svc://x (root cause confirmed by SRE: db outage)")],
         create_time),
        (orjson.dumps(order(0)), [("autopilot-producer", b"svc://x\x00y")], create_time),
        (orjson.dumps(order(0)), [("autopilot-producer", b"svc://" + b"a" * 600)], create_time),
        (orjson.dumps(order(0)), producer, (1, 2**62)),
        (orjson.dumps(order(0)), producer, (1, -(10**15))),
        (orjson.dumps({**order(0), "note": "a\x00b"}), [*producer, ("x\x00", b"\x00")], create_time),
    ]
    messages = []
    for value, headers, timestamp in hostile:  # each between two good records
        for item in ((orjson.dumps(order(len(messages))), producer, create_time), (value, headers, timestamp)):
            messages.append(Message(topic=topic, partition=0, offset=len(messages), value=item[0], key=b"k\x00",
                                    headers=item[1], timestamp=item[2]))
    records = [to_record(m, 1 << 20, lambda: now) for m in messages]
    assert {r.timestamp for r in records[11::2][:2]} == {now}  # the far CreateTimes: as good as none
    report = intake_kafka(store, records, now)
    assert [r.status for r in report.results] == ["accepted"] * len(messages)
    assert all(r.dataset_urn == "ds://orders_v1" for r in report.results)
    assert [r.reason_code for r in report.results[1:4:2]] == ["UNDECODABLE_MESSAGE"] * 2
    assert all(r.reason_code is None for r in report.results[0::2])  # the good ones pass the contract
    stored = store.records(dataset_urns=["ds://orders_v1"])
    assert stored and all(urn_error(r.producer_urn) is None for r in stored if r.producer_urn)
    assert sum(c.count for c in store.counters(["ds://orders_v1"]) if c.reason_code in ("", "*")) == len(messages)
    # Where the header is the only word on the producer: a rule without one, and a topic no rule claims (drift).
    Configs(store).put(MAPPING, Mapping(topic="orders.headless", dataset_urn="ds://headless"), now)
    for other in ("orders.headless", "orders.unmapped"):
        pair = [Message(topic=other, partition=0, offset=n, value=orjson.dumps(order(n)), headers=headers,
                        timestamp=create_time) for n, (_, headers, _) in enumerate(hostile[2:5])]
        report = intake_kafka(store, [to_record(m, 1 << 20, lambda: now) for m in pair], now)
        assert {r.status for r in report.results} == ({"accepted"} if other == "orders.headless" else {"held"})
    producers = {r.producer_urn for r in store.records(dataset_urns=["ds://headless"])}
    producers |= {c.producer_urn for c in store.counters()}
    assert all(urn_error(p) is None for p in producers if p), producers
    with store.engine.connect() as conn:
        held = conn.execute(text("select record from held_records")).scalars().all()
    assert held and not any("root cause" in h for h in held)
