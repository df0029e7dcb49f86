"""The contract gate reading Kafka (`rca gate consume`) against a bare confluent-kafka consumer of the same topic.

    scripts/with-kafka .venv/bin/python benchmarks/kafka_bench.py [--quick] [--records N]

One topic of six partitions holds N order records (one in a thousand bad). The baseline is a bare
confluent-kafka consumer reading them all (best of three, each in a fresh group): the rate nothing that
decodes, gates and stores a record can beat. The gate runs as real `rca gate consume` processes on a
fresh SQLite file: one member, then two in one group; then both again on PostgreSQL when
RCA_TEST_POSTGRES_URL is set. Every rate is records over the time from the first record read (or
stored) to the last, so process start-up and the group join count for neither side; the gate commits
each batch's offsets only after storing its observations. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _postgres import reset_postgres
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from evidence import Contract, Mapping
from evidence._configs import CONTRACT, MAPPING, Configs
from evidence._store import Store

TARGET_RATIO = 0.5
PARTITIONS = 6
SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["order_id", "customer_id", "amount", "currency"],
    "properties": {"order_id": {"type": "string"}, "customer_id": {"type": "string"}, "amount": {"type": "number"},
                   "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]}, "note": {"type": "string"}},
}


def prepare(bootstrap: str, records: int) -> str:
    topic = f"bench.orders.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000})
    headers = [("autopilot-producer", b"svc://checkout-service"), ("autopilot-env", b"prod")]
    for i in range(records):
        value: dict[str, Any] = {"order_id": f"o-{i}", "customer_id": f"c-{i % 9973}",
                                 "amount": round(i % 500 * 1.07, 2), "currency": ("USD", "EUR", "GBP")[i % 3]}
        if i % 1000 == 999:
            del value["customer_id"]
        while True:
            try:
                producer.produce(topic, orjson.dumps(value), key=value["order_id"].encode(), headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    return topic


def raw_rate(bootstrap: str, topic: str, records: int) -> float:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen, first = 0, 0.0
    while seen < records:
        batch = consumer.consume(5000, 0.5)
        got = sum(1 for m in batch if m.error() is None)
        if got and not first:
            first = time.perf_counter()
        seen += got
    elapsed = time.perf_counter() - first
    consumer.close()
    return records / elapsed


def gate_rate(bootstrap: str, topic: str, records: int, url: str, members: int) -> float:
    store = Store.open(url)
    store.upgrade()
    configs = Configs(store)
    now = datetime.now(UTC)
    configs.put(CONTRACT, Contract(dataset_urn="ds://orders_v1", schema=SCHEMA), now)
    configs.put(MAPPING, Mapping(topic=topic, dataset_urn="ds://orders_v1", producer_urn="svc://checkout-service"),
                now)
    rca = str(Path(sys.executable).with_name("rca"))
    group = f"gate-{uuid.uuid4().hex[:8]}"
    procs = [subprocess.Popen([rca, "gate", "consume", "--bootstrap", bootstrap, "--group", group, "--topics", topic],
                              env={**os.environ, "RCA_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(members)]
    first = 0.0
    try:
        while True:
            with store.engine.connect() as conn:
                counted = conn.execute(text("SELECT COALESCE(SUM(count), 0) FROM gate_counters "
                                            "WHERE reason_code IN ('', '*')")).scalar_one()
            if counted and not first:
                first = time.perf_counter()
            if counted >= records:
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("an rca gate consume process exited early")
            time.sleep(0.05)
        elapsed = time.perf_counter() - first
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
        store.close()
    return records / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--records", type=int)
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("RCA_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        print("no Kafka broker (RCA_TEST_KAFKA_BOOTSTRAP): run under scripts/with-kafka (make bench does); skipped")
        print(json.dumps({"skipped": "no broker"}))
        return 0
    records = args.records or (50_000 if args.quick else 200_000)
    topic = prepare(bootstrap, records)
    folder = tempfile.mkdtemp(prefix="rca-kafka-bench-")
    load = os.getloadavg()[0]
    raw = max(raw_rate(bootstrap, topic, records) for _ in range(3))  # its best: the comparison is conservative
    one = gate_rate(bootstrap, topic, records, f"sqlite:///{folder}/one.db", 1)
    two = gate_rate(bootstrap, topic, records, f"sqlite:///{folder}/two.db", 2)
    summary: dict[str, Any] = {"records": records, "partitions": PARTITIONS, "raw_records_per_s": round(raw),
                               "gate_one_sqlite_records_per_s": round(one),
                               "gate_two_sqlite_records_per_s": round(two), "ratio_one_to_raw": round(one / raw, 2),
                               "load_at_start": round(load, 2)}
    postgres = os.environ.get("RCA_TEST_POSTGRES_URL")
    if postgres:
        summary["gate_one_postgres_records_per_s"] = round(gate_rate(bootstrap, topic, records,
                                                                     reset_postgres(postgres), 1))
        summary["gate_two_postgres_records_per_s"] = round(gate_rate(bootstrap, topic, records,
                                                                     reset_postgres(postgres), 2))
    print(f"gate from Kafka vs a bare confluent-kafka consumer: {records:,} records, {PARTITIONS} partitions, "
          f"load {load:.2f} at start")
    print(f"  bare consumer                   {raw:>10,.0f} records/s")
    for key, label in (("gate_one_sqlite", "gate, one member (SQLite)"),
                       ("gate_two_sqlite", "gate, two members (SQLite)"),
                       ("gate_one_postgres", "gate, one member (PostgreSQL)"),
                       ("gate_two_postgres", "gate, two members (PostgreSQL)")):
        if f"{key}_records_per_s" in summary:
            print(f"  {label:<32}{summary[f'{key}_records_per_s']:>10,} records/s")
    print(f"  ratio one member / bare: {one / raw:.2f} (target >= {TARGET_RATIO})")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
