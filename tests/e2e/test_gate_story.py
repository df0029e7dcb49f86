"""The reference Spring story through a real broker: its records produced to Kafka (Confluent wire format,
keys, headers, timestamps), read by `rca gate consume`, give the incident and RCA `rca replay` gives."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from copilot import build_rca, default_composer, replay_source
from detectors import load_scenario, replay, run_detectors, stored_incidents
from detectors._scenario import load_into
from detectors._wire import frame
from evidence import load_incidents
from evidence._store import Store
from support import ROOT, produce

pytestmark = pytest.mark.e2e
STORY = ROOT / "examples" / "scenarios" / "spring_missing_customer_id.yaml"


def fresh_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """The story names its topic, so it is (re)created under that name."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if topic in admin.list_topics(timeout=10).topics:
        admin.delete_topics([topic])[topic].result(30)
        while topic in admin.list_topics(timeout=10).topics:
            time.sleep(0.2)
    while True:
        try:
            admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)
            return
        except KafkaException as exc:  # still being deleted
            if "marked for deletion" not in str(exc) and "already exists" not in str(exc):
                raise
            time.sleep(0.5)


def start_at(bootstrap: str, topic: str, partition: int, offset: int) -> None:
    """Make the partition's next offset `offset`: the story's records keep the offsets the file gives them."""
    produce(bootstrap, topic, ({"value": b"{}", "partition": partition} for _ in range(offset)))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_records([TopicPartition(topic, partition, offset)]).values():
        future.result(30)


def as_kafka(message: dict) -> dict:
    value = frame(int(message["schema_id"]), message["value"]) if message.get("schema_id") is not None \
        else message["value"]
    millis = int(datetime.fromisoformat(message["timestamp"]).timestamp() * 1000)
    return {"value": value, "key": message.get("key", "").encode() or None, "partition": message["partition"],
            "headers": [(k, str(v).encode()) for k, v in (message.get("headers") or {}).items()],
            "timestamp_ms": millis}


def test_the_spring_story_through_kafka_gives_the_replayed_incident_and_rca(kafka: str, tmp_path: Path) -> None:
    scenario = load_scenario(STORY)
    composer = default_composer({})
    replayed = replay(scenario)
    want = replayed.incidents
    want_rca = [build_rca(replay_source(replayed), incident, composer) for incident in replayed.typed]
    assert want and want_rca[0]["verdict"] == "cause_identified"

    url = f"sqlite:///{tmp_path / 'rca.db'}"
    store = Store.open(url)
    store.upgrade()
    load_into(store, dataclasses.replace(scenario, messages=[]))  # configuration and events as replay loads them
    partitions: dict[tuple[str, int], int] = {}
    for m in scenario.messages:
        key = (m["topic"], m["partition"])
        partitions[key] = min(partitions.get(key, m["offset"]), m["offset"])
    for topic in {t for t, _ in partitions}:
        fresh_topic(kafka, topic, 1 + max(p for t, p in partitions if t == topic))
    for (topic, partition), first in partitions.items():
        start_at(kafka, topic, partition, first)
    for topic in {t for t, _ in partitions}:
        produce(kafka, topic, (as_kafka(m) for m in sorted(scenario.messages, key=lambda m: m["offset"])
                               if m["topic"] == topic))

    rca = Path(sys.executable).with_name("rca")
    consumed = subprocess.run(
        [str(rca), "gate", "consume", "--bootstrap", kafka, "--group", "story", "--stop-at-end",
         "--topics", *sorted({t for t, _ in partitions})],
        env={**os.environ, "RCA_DATABASE_URL": url}, capture_output=True, text=True, timeout=120)
    assert consumed.returncode == 0, consumed.stderr[-2000:]

    run_detectors(store, scenario.now)
    got = stored_incidents(store)
    assert got == want
    assert [build_rca(store, incident, composer) for incident in load_incidents(store)] == want_rca
    store.close()
