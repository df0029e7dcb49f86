"""One detector pass over N datasets with freshness policies and D days of nightly-job history, on SQLite.

    .venv/bin/python benchmarks/detect_bench.py [--datasets 10000] [--days 30] [--json]

Every tenth job is late today in one of the classifier's ways, so the pass does real classification work. Then
incremental freshness: a cold pass with an empty memory, and a pass after 1% of the datasets changed, each beside a
full pass at the same clock (issue 23's targets: under 4 s cold and under 0.2 s for 1% changed, at 10,000).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import FreshnessMemory, find_stored_incidents, run_detectors  # noqa: E402
from evidence import FreshnessPolicy, parse_event, record_from_event  # noqa: E402
from evidence._configs import POLICY, Configs  # noqa: E402
from evidence._store import Store  # noqa: E402

NOW = datetime(2026, 1, 19, 7, 15, tzinfo=UTC)  # 02:15 in New York


def history(job: int, days: int) -> list:
    source = f"job://job_{job}"
    dataset = f"ds://curated/table_{job}"
    out = []
    for back in range(days, -1, -1):
        day = (NOW - timedelta(days=back)).date()
        start = datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)  # 01:00 New York
        run = f"{day}-{job}"
        events = [("JobRunStarted", start, {"run_id": run, "code_ref": "job@4f2a9c1", "input_datasets": []})]
        late = back == 0 and job % 10 == 0
        if late and job % 30 == 0:
            events = []  # not triggered
        elif late and job % 30 == 10:
            events.append(("JobRunFailed", start + timedelta(minutes=20),
                           {"run_id": run, "failure_reason": "java.lang.OutOfMemoryError: Java heap space"}))
        elif not late:
            events.append(("DatasetWriteCommitted", start + timedelta(minutes=35),
                           {"dataset_urn": dataset, "run_id": run, "commit_version": 100 + back,
                            "commit_timestamp": (start + timedelta(minutes=35)).isoformat(),
                            "output_partitions_written": [f"dt={day}"], "rows_written": 1_000_000 + job}))
            events.append(("JobRunCompleted", start + timedelta(minutes=36), {"run_id": run, "duration_s": 2100}))
        for kind, at, data in events:
            event = parse_event({"specversion": "1.0", "id": f"{kind}-{run}", "source": source, "type": kind,
                                 "time": at.isoformat(), "data": data,
                                 **({"subject": dataset} if kind == "DatasetWriteCommitted" else {})})
            out.append(record_from_event(event, at))
    return out


def incremental_passes(store: Store, datasets: int) -> dict[str, float | int]:
    """Incremental freshness (detectors/_incremental.py) beside full passes at the same clocks: a cold pass with an
    empty memory, then one a minute later after 1% of the datasets got a new record (a re-run starting)."""
    memory = FreshnessMemory()
    started = time.perf_counter()
    find_stored_incidents(store, NOW, memory=memory)
    cold = time.perf_counter() - started
    later = NOW + timedelta(minutes=1)
    changed = []
    for job in range(0, datasets, 100):
        event = parse_event({"specversion": "1.0", "id": f"rerun-{job}", "source": f"job://job_{job}",
                             "type": "JobRunStarted", "time": (NOW + timedelta(seconds=20)).isoformat(),
                             "data": {"run_id": f"rerun-{job}", "code_ref": "job@4f2a9c1", "input_datasets": []}})
        changed.append(record_from_event(event, NOW + timedelta(seconds=30)))
    store.add_records(changed)
    started = time.perf_counter()
    incremental = find_stored_incidents(store, later, memory=memory)
    warm = time.perf_counter() - started
    evaluated = memory.evaluated
    started = time.perf_counter()
    full = find_stored_incidents(store, later)
    full_s = time.perf_counter() - started
    assert incremental == full, "the incremental pass must find exactly what the full one finds"
    return {"incremental_cold_s": round(cold, 2), "changed_datasets": len(changed),
            "incremental_pass_s": round(warm, 3), "full_pass_same_clock_s": round(full_s, 2),
            "evaluated_datasets": evaluated}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/detect.db")
        store.ensure_schema()
        configs = Configs(store)
        started = time.perf_counter()
        records = 0
        for job in range(args.datasets):
            configs.put(POLICY, FreshnessPolicy(
                dataset_urn=f"ds://curated/table_{job}", producer_urn=f"job://job_{job}", expected_update_by="02:00",
                timezone="America/New_York", grace_minutes=10, watermark={"dimension": "dt"}, schedule="0 1 * * *",
                owner_team=f"team-{job % 40}", tier=1 + job % 3), NOW)
        batch: list = []
        for job in range(args.datasets):
            batch += history(job, args.days)
            if len(batch) > 20_000:
                records += len(batch)
                store.add_records(batch)
                batch = []
        records += len(batch)
        store.add_records(batch)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        result = run_detectors(store, NOW)
        first_pass = time.perf_counter() - started
        started = time.perf_counter()
        run_detectors(store, NOW)
        second_pass = time.perf_counter() - started
        incremental = incremental_passes(store, args.datasets)
    reasons: dict[str, int] = {}
    for incident in result.incidents:
        reasons[incident.reason_code] = reasons.get(incident.reason_code, 0) + 1
    summary = {"datasets": args.datasets, "days": args.days, "evidence_records": records,
               "first_pass_s": round(first_pass, 2), "second_pass_s": round(second_pass, 2),
               "incidents": len(result.incidents), "reasons": reasons, "load_s": round(load_s, 1),
               **incremental, "load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    if not args.json:
        print(f"detector pass over {args.datasets} datasets, {args.days} days of history ({records} records), SQLite")
        print(f"  first pass (opens incidents):  {first_pass:6.2f} s")
        print(f"  second pass (updates them):    {second_pass:6.2f} s")
        print(f"  incidents: {len(result.incidents)} {reasons}")
        print(f"  incremental: cold {incremental['incremental_cold_s']} s; after {incremental['changed_datasets']} "
              f"datasets changed, {incremental['incremental_pass_s']} s evaluating {incremental['evaluated_datasets']} "
              f"(a full pass at that clock: {incremental['full_pass_same_clock_s']} s); load {os.getloadavg()[0]:.1f}")
    print(json.dumps({"detect": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
