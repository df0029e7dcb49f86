"""Detector passes shared through leases: the shards together find what one full pass finds; on a real PostgreSQL,
three processes share one pass (each shard, and so each dataset, evaluated by one of them, each incident opened
once), and shards held by a process that dies are taken by the next pass."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from detectors import DetectSettings, find_stored_incidents, leased_pass, load_scenario, stored_incidents
from detectors._scenario import load_into
from detectors._shards import SHARDS, shard_of
from evidence import FreshnessPolicy
from evidence._configs import POLICY, Configs
from evidence._schema import detector_shards
from evidence._store import Store
from support import FixedClock

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


def test_the_shards_together_find_exactly_what_a_full_pass_finds(tmp_path: Path) -> None:
    # Every reference story in one store (upstream lateness, contract breaks, drift, runs across shards), judged
    # at each story's clock: the union of passes over four sets of shards is the full pass, incident for incident.
    store = Store.open(f"sqlite:///{tmp_path / 'all.db'}")
    store.upgrade()
    scenarios = [load_scenario(p) for p in sorted([*ROOT.glob("evals/scenarios/*.yaml"),
                                                    *ROOT.glob("examples/scenarios/*.yaml")])]
    for scenario in scenarios:
        load_into(store, scenario)
    clocks = sorted({s.now for s in scenarios})
    compared = 0
    for now in clocks:
        full = find_stored_incidents(store, now)
        parts = [i for k in range(4) for i in find_stored_incidents(store, now, shards=frozenset(range(k, SHARDS, 4)))]
        assert sorted(parts, key=lambda i: (i.dataset_urn, i.kind)) == full
        compared += len(full)
    assert compared > len(clocks)  # incidents were found, in more shards than one
    assert len({shard_of(i.dataset_urn) % 4 for now in clocks[-3:] for i in find_stored_incidents(store, now)}) > 1


def _policies(store: Store, n: int) -> None:
    configs = Configs(store)
    for i in range(n):  # no evidence at all: each an INSUFFICIENT_EVIDENCE incident once 00:00 UTC has passed
        configs.put(POLICY, FreshnessPolicy(dataset_urn=f"ds://lease/t{i:03d}", producer_urn=f"job://lease-{i:03d}",
                                            expected_update_by="00:00"), NOW)


@pytest.mark.postgres
def test_three_processes_share_one_pass_and_open_each_incident_once(pg_store: Store) -> None:
    pg_store.upgrade()
    _policies(pg_store, 240)
    rca = Path(sys.executable).with_name("rca")
    env = {"RCA_DATABASE_URL": pg_store.engine.url.render_as_string(hide_password=False),
           "PATH": str(rca.parent)}
    runs = [subprocess.Popen([str(rca), "detect", "--at", NOW.isoformat(), "--json"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err[-2000:] for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    shards = [set(r["shards"]) for r in results]
    assert set().union(*shards) == set(range(SHARDS))
    assert sum(len(s) for s in shards) == SHARDS  # no shard (so no dataset) evaluated twice in the pass
    opened = [i for r in results for i in r["opened"]]
    assert len(opened) == len(set(opened)) == 240
    assert sorted(i["id"] for i in stored_incidents(pg_store)) == sorted(opened)


@pytest.mark.postgres
def test_the_shards_a_dead_process_held_are_taken_by_the_next_pass(pg_store: Store) -> None:
    pg_store.upgrade()
    _policies(pg_store, 64)

    def find(shards: frozenset[int]) -> tuple[list[dict], list[dict]]:
        return find_stored_incidents(pg_store, NOW, shards=shards), []

    holder = pg_store.engine.connect()  # another process's lease: shards 0-7, held in its transaction
    holder.begin()
    held = set(holder.execute(select(detector_shards.c.shard).where(detector_shards.c.shard < 8)
                              .with_for_update()).scalars())
    first = leased_pass(pg_store, NOW, DetectSettings(), find, "alive")
    assert set(first.shards) == set(range(8, SHARDS))
    assert {shard_of(i.dataset_urn) for i in first.incidents} <= set(first.shards)
    holder.invalidate()  # its connection dies with it: PostgreSQL rolls back, the row locks go
    second = leased_pass(pg_store, NOW, DetectSettings(), find, "alive")
    assert set(second.shards) == held
    assert len(stored_incidents(pg_store)) == 64
    assert not set(first.opened) & set(second.opened)


def test_post_detect_counts_every_open_incident_whatever_shards_it_took(
        store: Store, make_client: Callable[..., TestClient], clock: FixedClock) -> None:
    _policies(store, 40)
    client = make_client(detect_interval_s=0)
    first = client.post("/v1/detect").json()
    assert (len(first["opened"]), first["open"]) == (40, 40)
    again = client.post("/v1/detect").json()  # the same clock: the same pass, nothing due (on PostgreSQL)
    assert (again["opened"], again["open"]) == ([], 40)
    clock.advance(minutes=1)
    later = client.post("/v1/detect").json()
    assert (later["opened"], later["resolved"], later["open"]) == ([], [], 40)
