"""A replay needs no database: the scenario's configuration, events and Kafka records kept in memory give the very
document (incidents, drift, RCAs) that loading it into a real store gives (`rca load`'s path), byte for byte."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from copilot import TemplateComposer, build_rca, replay_source
from detectors import (
    Scenario,
    ScenarioMemory,
    active_configs,
    configs_of,
    intake_records,
    list_change_requests,
    load_in_memory,
    load_into,
    load_scenario,
    replay,
    run_detectors,
    stored_incidents,
)
from evidence import Store, ingest_events, load_incidents
from support import POSTGRES_URL, fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
EVERY = sorted([*(ROOT / "examples" / "scenarios").glob("*.yaml"), *(ROOT / "evals" / "scenarios").glob("*.yaml")])
FEW = [ROOT / "examples" / "scenarios" / "spring_missing_customer_id.yaml",
       ROOT / "evals" / "scenarios" / "node_cart_schema_drift_unmapped.yaml",
       ROOT / "evals" / "scenarios" / "spark_settlement_ledger_upstream_late.yaml"]


def _document(incidents: list[dict[str, Any]], drift: list[dict[str, Any]], rcas: list[dict[str, Any]],
              rejected: list[str]) -> bytes:
    return orjson.dumps({"incidents": incidents, "drift": drift, "rca": rcas, "rejected": rejected},
                        option=orjson.OPT_SORT_KEYS)


def _from_store(store: Store, scenario: Scenario) -> bytes:
    store.ensure_schema()
    rejected = load_into(store, scenario)
    detection = run_detectors(store, scenario.now)
    rcas = [build_rca(store, incident, TemplateComposer()) for incident in load_incidents(store)]
    return _document(stored_incidents(store), detection.drift, rcas, rejected)


def _in_memory(scenario: Scenario) -> bytes:
    result = replay(scenario)
    assert result.store is None
    source = replay_source(result)
    rcas = [build_rca(source, incident, TemplateComposer()) for incident in result.typed]
    return _document(result.incidents, result.detection.drift, rcas, result.rejected)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path}/replay.db")
    yield store
    store.close()


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.stem)
def test_a_replay_in_memory_is_the_replay_into_a_store(path: Path, sqlite_store: Store) -> None:
    scenario = load_scenario(path)
    stored = _from_store(sqlite_store, scenario)
    assert _in_memory(scenario) == stored
    # The configuration too: the same active configs (ids, order, findings) as Configs.put + active_configs give.
    assert configs_of(load_in_memory(scenario)[1]) == active_configs(sqlite_store)


@pytest.mark.postgres
@pytest.mark.parametrize("path", FEW, ids=lambda p: p.stem)
def test_a_replay_in_memory_is_the_replay_into_postgresql(path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL: set RCA_TEST_POSTGRES_URL (make test does when it can)")
    fresh_postgres(POSTGRES_URL)
    scenario = load_scenario(path)
    with Store.open(POSTGRES_URL) as store:
        assert _in_memory(scenario) == _from_store(store, scenario)


# Kafka stories: redelivered out of order, drift held for review (two kinds), undecodable frames, a clean gate.
INTAKE = [ROOT / "evals" / "scenarios" / f"{name}.yaml" for name in (
    "checkout_duplicated_out_of_order", "node_cart_schema_drift_unmapped", "payments_topic_mapping_ambiguous",
    "spring_loyalty_avro_framed_undecodable", "node_notifications_object_object_undecodable")]


@pytest.mark.parametrize("path", INTAKE, ids=lambda p: p.stem)
def test_intake_in_memory_is_intake_into_a_store_batch_by_batch(path: Path, sqlite_store: Store) -> None:
    """Events sent again, then Kafka records in shuffled batches with redeliveries: each batch's report, and then the
    records, counters and change requests kept, are the store's."""
    scenario = load_scenario(path)
    sqlite_store.ensure_schema()
    bare = Scenario(**{**scenario.__dict__, "events": [], "messages": []})  # its configuration only
    load_into(sqlite_store, bare)
    _, snapshot, _ = load_in_memory(bare)
    memory = ScenarioMemory()
    for _ in range(2):  # the second time, all duplicates
        assert ingest_events(memory, scenario.events, None, trust_ingesttime=True).as_json() == ingest_events(
            sqlite_store, scenario.events, None, trust_ingesttime=True).as_json()
    messages = list(scenario.messages)
    random.Random(7).shuffle(messages)
    third = max(1, len(messages) // 3)
    for batch in (messages[:third], messages[third // 2 : 2 * third], messages[third:], messages[:third]):
        want = intake_records(sqlite_store, batch, None, trust_ingest_time=True).as_json()
        assert memory.intake(snapshot, batch, None, trust_ingest_time=True).as_json() == want
    reader = memory.reader()
    assert sorted(reader.records(), key=lambda r: r.evidence_id) == sorted(sqlite_store.records(),
                                                                          key=lambda r: r.evidence_id)
    assert reader.counters() == sqlite_store.counters()
    assert memory.change_requests() == list_change_requests(sqlite_store)


@pytest.mark.parametrize("path", FEW, ids=lambda p: p.stem)
def test_a_replay_in_memory_ignores_the_order_and_duplication_of_arrival(path: Path) -> None:
    scenario = load_scenario(path)
    events, messages = list(scenario.events), list(scenario.messages)
    for seed in (1, 2):
        random.Random(seed).shuffle(events)
        random.Random(seed).shuffle(messages)
        shuffled = Scenario(**{**scenario.__dict__, "events": events + events[: len(events) // 4],
                               "messages": messages + messages[: len(messages) // 4]})
        assert _in_memory(shuffled) == _in_memory(scenario)
