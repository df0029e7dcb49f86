"""Incremental freshness (detectors/_incremental.py): on random histories, arrivals and pass clocks, a pass that
evaluates only what can have changed finds exactly what a full pass finds, and evaluates less of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import find_stored_incidents
from detectors._clock_facts import LATENESS_FACTS, RUNNING_FACTS
from detectors._incremental import FreshnessMemory
from evidence import Contract, FreshnessPolicy, Incident, ReasonCode, parse_event, record_from_event
from evidence._configs import CONTRACT, POLICY, Configs
from evidence._schema import configs
from evidence._store import Store

START = datetime(2026, 3, 6, tzinfo=UTC)  # a Friday; New York springs forward on Sunday the 8th
# Every freshness reason code: none (JOB_NOT_TRIGGERED, or INSUFFICIENT_EVIDENCE without a habit), failed
# (JOB_FAILED), running and beating (JOB_RUNNING_SLOW, the latter with a heartbeat), partial (PARTIAL_WRITE), wrong and
# nocommit (WRONG_PARTITION), a dataset reading another (UPSTREAM_DATA_LATE); ok and late deliver.
OUTCOMES = ("none", "ok", "failed", "running", "beating", "partial", "late", "wrong", "nocommit")

day_plan = st.tuples(st.sampled_from(OUTCOMES), st.integers(0, 180), st.integers(0, 600))  # outcome, start, delay
dataset_plan = st.tuples(st.sampled_from(["01:30", "03:00", "05:45"]), st.sampled_from(["UTC", "America/New_York"]),
                         st.booleans(), st.lists(day_plan, min_size=4, max_size=4))


def _event(kind: str, source: str, run: str, at: datetime, data: dict[str, Any], subject: str | None = None,
           event_id: str | None = None) -> Any:
    body = {"specversion": "1.0", "id": event_id or f"{kind}-{run}", "source": source, "type": kind,
            "time": at.isoformat(),
            "data": {"run_id": run, **data}}
    if subject:
        body["subject"] = subject
    return parse_event(body)


def _history(n: int, plan: tuple[str, str, bool, list[tuple[str, int, int]]], of: int = 3) -> list:
    """Dataset n's history; reading upstream, its job reads dataset n + 1 (of `of`)."""
    _, _, reads_upstream, days = plan
    source, dataset = f"job://job-{n}", f"ds://inc/t{n}"
    out = []
    for day, (outcome, start_min, delay_min) in enumerate(days):
        start = START + timedelta(days=day, hours=5, minutes=start_min)
        run, arrives = f"{day}-{n}", timedelta(minutes=delay_min)
        if outcome == "none":
            continue
        inputs = [f"ds://inc/t{(n + 1) % of}"] if reads_upstream else []
        events: list[tuple[str, datetime, dict[str, Any]]] = [
            ("JobRunStarted", start, {"code_ref": f"job@{day % 2}", "input_datasets": inputs})]
        if outcome == "failed":
            events.append(("JobRunFailed", start + timedelta(minutes=20), {"failure_reason": "OutOfMemoryError"}))
        elif outcome == "beating":
            events += [("JobRunHeartbeat", start + timedelta(minutes=m), {}) for m in (10, 40)]
        elif outcome == "nocommit":
            events.append(("JobRunCompleted", start + timedelta(minutes=36), {"duration_s": 2100}))
        elif outcome != "running":
            at = start + timedelta(minutes=35 + (400 if outcome == "late" else 0))
            local_day = at.date() - timedelta(days=3 if outcome == "wrong" else 0)
            events.append(("DatasetWriteCommitted", at, {
                "dataset_urn": dataset, "commit_version": day, "commit_timestamp": at.isoformat(),
                "output_partitions_written": [f"dt={local_day}"],
                "rows_written": 10 if outcome == "partial" else 1000}))
            events.append(("JobRunCompleted", at + timedelta(minutes=1), {"duration_s": 2100}))
        for i, (kind, at, data) in enumerate(events):
            event = _event(kind, source, run, at, data, dataset if kind == "DatasetWriteCommitted" else None,
                           f"{kind}-{run}-{i}")
            out.append(record_from_event(event, at + arrives))
    return out


def _store(plans: list[tuple[str, str, bool, list[tuple[str, int, int]]]], lookback_days: int = 2) -> Store:
    store = Store.open("sqlite://")
    store.upgrade()
    configs = Configs(store)
    for n, plan in enumerate(plans):
        deadline, zone = plan[0], plan[1]
        configs.put(POLICY, FreshnessPolicy(dataset_urn=f"ds://inc/t{n}", producer_urn=f"job://job-{n}",
                                            expected_update_by=deadline, timezone=zone, watermark={"dimension": "dt"},
                                            lookback_days=lookback_days), START)
        store.add_records(_history(n, plan, len(plans)))
    return store


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(dataset_plan, min_size=3, max_size=3),
       clocks=st.lists(st.integers(0, 4 * 24 * 60), min_size=4, max_size=8, unique=True),
       then=st.lists(st.integers(1, 180), max_size=3))
def test_an_incremental_pass_finds_what_a_full_pass_finds(plans: list, clocks: list[int], then: list[int]) -> None:
    """Each drawn clock is followed by passes `then` minutes apart: mostly clock-only passes over breached datasets."""
    store = _store(plans)
    memory = FreshnessMemory()
    evaluated = []
    steps = [sum(then[:i + 1]) for i in range(len(then))]
    minutes = sorted({m for minute in clocks for m in [minute, *(minute + step for step in steps)]})
    for minute in minutes:
        now = START + timedelta(minutes=minute)
        assert find_stored_incidents(store, now, memory=memory) == find_stored_incidents(store, now)
        evaluated.append(memory.evaluated)
    assert evaluated[0] == 3  # the first pass is a full one
    store.close()


DAY3 = START + timedelta(days=3)
OK3 = [("ok", 0, 0)] * 3
# One dataset breached each way on day 3 (deadline 05:45 UTC): dataset 8's job reads dataset 9, late itself.
EVERY_REASON = [
    ("05:45", "UTC", False, [*OK3, ("none", 0, 0)]),  # JOB_NOT_TRIGGERED
    ("05:45", "UTC", False, [*OK3, ("failed", 0, 0)]),  # JOB_FAILED
    ("05:45", "UTC", False, [*OK3, ("running", 0, 0)]),  # JOB_RUNNING_SLOW
    ("05:45", "UTC", False, [*OK3, ("beating", 0, 0)]),  # JOB_RUNNING_SLOW with a heartbeat
    ("05:45", "UTC", False, [*OK3, ("partial", 0, 0)]),  # PARTIAL_WRITE
    ("05:45", "UTC", False, [*OK3, ("wrong", 0, 0)]),  # WRONG_PARTITION
    ("05:45", "UTC", False, [*OK3, ("nocommit", 0, 0)]),  # WRONG_PARTITION (completed without a commit)
    ("05:45", "UTC", False, [("none", 0, 0)] * 4),  # INSUFFICIENT_EVIDENCE
    ("05:45", "UTC", True, [*OK3, ("running", 0, 0)]),  # UPSTREAM_DATA_LATE
    ("05:45", "UTC", False, [*OK3, ("none", 0, 0)]),  # JOB_NOT_TRIGGERED, read by dataset 8
]


def test_clock_only_passes_bring_every_reason_code_to_the_clock_without_evaluating() -> None:
    """Passes at several clocks in a row with no new evidence: every breached dataset but the one reading upstream
    states is brought to the clock from what the memory kept; the incidents equal a full pass's, and from one clock to
    the next a full pass changes nothing but the moving facts (detectors/_clock_facts.py), which crosses
    exceeds_slow_factor (1.5 x the 2100 s baseline: 05:52:30) and since_last_heartbeat_s on the way."""
    store = _store(EVERY_REASON)
    memory = FreshnessMemory()
    previous: list[Incident] = []
    clocks = [DAY3 + timedelta(hours=5, minutes=m) for m in (46, 50, 52, 53, 60, 61, 150, 400)]
    for n, now in enumerate(clocks):
        incremental, full = find_stored_incidents(store, now, memory=memory), find_stored_incidents(store, now)
        assert incremental == full
        if n:
            assert (memory.evaluated, memory.moved) == (1, 9)  # the upstream reader is evaluated every pass
            for before, after in zip(previous, full, strict=True):
                moving = {*(RUNNING_FACTS if after.reason_code == ReasonCode.JOB_RUNNING_SLOW else LATENESS_FACTS),
                          "ingestion_lag_p95_s"}
                assert _without(before, moving) == _without(after, moving)
        previous = full
    assert sorted({i.reason_code for i in previous}) == sorted(
        {ReasonCode.JOB_NOT_TRIGGERED, ReasonCode.JOB_FAILED, ReasonCode.JOB_RUNNING_SLOW, ReasonCode.PARTIAL_WRITE,
         ReasonCode.WRONG_PARTITION, ReasonCode.INSUFFICIENT_EVIDENCE, ReasonCode.UPSTREAM_DATA_LATE})
    beating = next(i for i in previous if i.dataset_urn == "ds://inc/t3")
    # 11:40: the run started at 05:00, its last heartbeat at 05:40, the deadline was 05:45.
    assert beating.facts["since_last_heartbeat_s"] == (700 - 340) * 60
    assert beating.facts["exceeds_slow_factor"] is True and beating.facts["late_by_s"] == (700 - 345) * 60
    store.close()


def _without(incident: Incident, moving: set[str]) -> dict[str, Any]:
    fields = incident.model_dump(exclude={"detected_at", "updated_at"})
    fields["facts"] = {k: v for k, v in fields["facts"].items() if k not in moving}
    return fields


def test_a_breached_dataset_is_evaluated_again_when_a_record_it_read_leaves_the_window() -> None:
    """Lookback 1 day: a pass reads [clock - 2 days 14 h, clock]. Day 0's run falls out of it at day 2 19:00, which
    changes the last commit the INSUFFICIENT_EVIDENCE finding names."""
    store = _store([("03:00", "UTC", False, [("ok", 0, 0), ("none", 0, 0), ("none", 0, 0), ("none", 0, 0)])],
                   lookback_days=1)
    memory = FreshnessMemory()
    facts = []
    for now in (START + timedelta(days=2, hours=18), START + timedelta(days=2, hours=20)):
        incremental = find_stored_incidents(store, now, memory=memory)
        assert incremental == find_stored_incidents(store, now)
        facts.append(incremental[0].facts["last_commit_time"])
    assert memory.evaluated == 1
    assert facts == ["2026-03-06T05:35:00Z", None]
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


def test_a_changed_policy_or_owner_makes_the_next_pass_a_full_one() -> None:
    """The configuration is kept by the version of the stored rows (raised by every write to them): a policy put
    again with another owner (or deadline), or edited by hand, is a new configuration, and the pass after it
    evaluates every dataset."""
    store = _store(EVERY_REASON[:3])
    memory = FreshnessMemory()
    find_stored_incidents(store, DAY3 + timedelta(hours=6), memory=memory)
    find_stored_incidents(store, DAY3 + timedelta(hours=6, minutes=1), memory=memory)
    assert memory.evaluated == 0
    for change in ({"owner_team": "team-b"}, {"expected_update_by": "06:30"}):
        Configs(store).put(POLICY, FreshnessPolicy(dataset_urn="ds://inc/t1", producer_urn="job://job-1",
                                                   timezone="UTC", watermark={"dimension": "dt"}, lookback_days=2,
                                                   **{"expected_update_by": "05:45", **change}), START)
        now = DAY3 + timedelta(hours=6, minutes=2 if "owner_team" in change else 3)
        incremental = find_stored_incidents(store, now, memory=memory)
        assert incremental == find_stored_incidents(store, now)
        assert memory.evaluated == 3
    assert [i.dataset_urn for i in incremental] == ["ds://inc/t0", "ds://inc/t2"]  # t1 is not late until 06:30
    Configs(store).put(CONTRACT, Contract(dataset_urn="ds://inc/t0", schema_={"type": "object"},
                                          deploy_window_minutes=90), START)
    find_stored_incidents(store, DAY3 + timedelta(hours=6, minutes=4), memory=memory)
    assert memory.evaluated == 3  # a contract is configuration too (its deploy window)
    find_stored_incidents(store, DAY3 + timedelta(hours=6, minutes=5), memory=memory)
    assert memory.evaluated == 0  # the configs' version unchanged: the memory's configuration kept
    # A policy edited by hand, not through Configs (as an operator or an older version could): its version moves too.
    edited = FreshnessPolicy(dataset_urn="ds://inc/t2", producer_urn="job://job-2", timezone="UTC",
                             watermark={"dimension": "dt"}, lookback_days=2, expected_update_by="07:00")
    with store.writing() as conn:
        conn.execute(configs.update().where(configs.c.key == "ds://inc/t2").values(
            spec=edited.model_dump_json(by_alias=True, exclude_none=True)))
    now = DAY3 + timedelta(hours=6, minutes=6)
    incremental = find_stored_incidents(store, now, memory=memory)
    assert incremental == find_stored_incidents(store, now)
    assert memory.evaluated == 3 and [i.dataset_urn for i in incremental] == ["ds://inc/t0"]
    store.close()
