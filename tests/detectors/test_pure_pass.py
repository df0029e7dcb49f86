"""The detector pass is pure: (evidence read through an EvidenceReader, configuration, clock) -> incidents, writing
nothing. Records held in memory give the very incidents the SQL store gives, whatever their order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from detectors import (
    active_configs,
    find_incidents,
    find_stored_incidents,
    list_change_requests,
    load_into,
    load_scenario,
)
from evidence import MemoryReader, Store
from evidence._schema import incidents

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [ROOT / "examples" / "scenarios" / name for name in
             ("spring_missing_customer_id.yaml", "spark_job_running_slow.yaml", "spark_job_not_triggered.yaml")] + [
    ROOT / "evals" / "scenarios" / name for name in
    ("node_cart_schema_drift_unmapped.yaml", "spark_upi_wrong_partition_utc_dt.yaml",
     "checkout_second_break_amount_type.yaml", "spark_settlement_ledger_upstream_late.yaml")]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_records_in_memory_give_the_incidents_the_store_gives(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    store = Store.open(f"sqlite:///{tmp_path}/pass.db")
    store.ensure_schema()
    assert load_into(store, scenario) == []
    from_store = find_stored_incidents(store, scenario.now)
    assert from_store, "each of these stories has an incident"
    records, counters = store.records(), store.counters()
    requests = list_change_requests(store)
    for seed in (1, 2):
        random.Random(seed).shuffle(records)
        memory = MemoryReader(records + records[: len(records) // 3], counters)  # duplicates count once
        assert find_incidents(memory, active_configs(store), scenario.now, change_requests=requests) == from_store
    with store.engine.connect() as conn:  # the pass wrote nothing
        assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == 0


def test_the_memory_reader_filters_as_the_store_does(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS[1])
    store = Store.open(f"sqlite:///{tmp_path}/reader.db")
    store.ensure_schema()
    load_into(store, scenario)
    memory = MemoryReader(store.records(), store.counters())
    job = next(p.producer_urn for p in scenario.policies if p.producer_urn)
    since = scenario.now.replace(hour=0, minute=0)
    for query in ({}, {"producer_urns": [job]}, {"types": ["JobRunStarted"], "since": since},
                  {"dataset_urns": [scenario.policies[0].dataset_urn], "until": since, "arrived_by": scenario.now}):
        assert memory.records(**query) == store.records(**query)
    assert memory.get_many(["nope", *(r.evidence_id for r in store.records()[:3])]) == store.get_many(
        ["nope", *(r.evidence_id for r in store.records()[:3])])
    assert memory.ingestion_lag(scenario.now) == store.ingestion_lag(scenario.now)
