"""Incremental freshness (detectors/_incremental.py): on random histories, arrivals and pass clocks, a pass that
evaluates only what can have changed finds exactly what a full pass finds, and evaluates less of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import find_stored_incidents
from detectors._incremental import FreshnessMemory
from evidence import FreshnessPolicy, parse_event, record_from_event
from evidence._configs import POLICY, Configs
from evidence._store import Store

START = datetime(2026, 3, 6, tzinfo=UTC)  # a Friday; New York springs forward on Sunday the 8th
OUTCOMES = ("none", "ok", "failed", "running", "partial", "late")

day_plan = st.tuples(st.sampled_from(OUTCOMES), st.integers(0, 180), st.integers(0, 600))  # outcome, start, delay
dataset_plan = st.tuples(st.sampled_from(["01:30", "03:00", "05:45"]), st.sampled_from(["UTC", "America/New_York"]),
                         st.booleans(), st.lists(day_plan, min_size=4, max_size=4))


def _event(kind: str, source: str, run: str, at: datetime, data: dict[str, Any], subject: str | None = None) -> Any:
    body = {"specversion": "1.0", "id": f"{kind}-{run}", "source": source, "type": kind, "time": at.isoformat(),
            "data": {"run_id": run, **data}}
    if subject:
        body["subject"] = subject
    return parse_event(body)


def _history(n: int, plan: tuple[str, str, bool, list[tuple[str, int, int]]]) -> list:
    _, _, reads_upstream, days = plan
    source, dataset = f"job://job-{n}", f"ds://inc/t{n}"
    out = []
    for day, (outcome, start_min, delay_min) in enumerate(days):
        start = START + timedelta(days=day, hours=5, minutes=start_min)
        run, arrives = f"{day}-{n}", timedelta(minutes=delay_min)
        if outcome == "none":
            continue
        inputs = [f"ds://inc/t{(n + 1) % 3}"] if reads_upstream else []
        events = [("JobRunStarted", start, {"code_ref": f"job@{day % 2}", "input_datasets": inputs})]
        if outcome == "failed":
            events.append(("JobRunFailed", start + timedelta(minutes=20), {"failure_reason": "OutOfMemoryError"}))
        elif outcome != "running":
            at = start + timedelta(minutes=35 + (400 if outcome == "late" else 0))
            local_day = at.date()
            events.append(("DatasetWriteCommitted", at, {
                "dataset_urn": dataset, "commit_version": day, "commit_timestamp": at.isoformat(),
                "output_partitions_written": [f"dt={local_day}"],
                "rows_written": 10 if outcome == "partial" else 1000}))
            events.append(("JobRunCompleted", at + timedelta(minutes=1), {"duration_s": 2100}))
        for kind, at, data in events:
            event = _event(kind, source, run, at, data, dataset if kind == "DatasetWriteCommitted" else None)
            out.append(record_from_event(event, at + arrives))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(dataset_plan, min_size=3, max_size=3),
       clocks=st.lists(st.integers(0, 4 * 24 * 60), min_size=4, max_size=8, unique=True))
def test_an_incremental_pass_finds_what_a_full_pass_finds(plans: list, clocks: list[int]) -> None:
    store = Store.open("sqlite://")
    store.upgrade()
    configs = Configs(store)
    for n, plan in enumerate(plans):
        deadline, zone = plan[0], plan[1]
        configs.put(POLICY, FreshnessPolicy(dataset_urn=f"ds://inc/t{n}", producer_urn=f"job://job-{n}",
                                            expected_update_by=deadline, timezone=zone, watermark={"dimension": "dt"},
                                            lookback_days=2), START)
        store.add_records(_history(n, plan))
    memory = FreshnessMemory()
    evaluated = []
    for minute in sorted(clocks):
        now = START + timedelta(minutes=minute)
        assert find_stored_incidents(store, now, memory=memory) == find_stored_incidents(store, now)
        evaluated.append(memory.evaluated)
    assert evaluated[0] == 3  # the first pass is a full one
    store.close()


def test_a_quiet_period_evaluates_nothing_until_a_deadline_comes_due(tmp_path: Any) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'quiet.db'}")
    store.upgrade()
    Configs(store).put(POLICY, FreshnessPolicy(dataset_urn="ds://inc/t0", producer_urn="job://job-0",
                                               expected_update_by="05:45"), START)
    store.add_records(_history(0, ("05:45", "UTC", False, [("ok", 0, 0)] * 4)))
    memory = FreshnessMemory()
    morning = START + timedelta(hours=1)
    find_stored_incidents(store, morning, memory=memory)
    find_stored_incidents(store, morning + timedelta(hours=1), memory=memory)
    assert memory.evaluated == 0  # nothing new, deadline not yet due
    find_stored_incidents(store, START + timedelta(hours=5, minutes=46), memory=memory)
    assert memory.evaluated == 1  # today's deadline came due
