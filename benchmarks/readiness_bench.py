"""Readiness at scale over N datasets (each with a policy, a nightly job's run and commit, and its producer's
deploy), on SQLite: GET /v1/readiness through a real `rca serve` (its first page, and every page walked with the
largest page size), and every dataset's and producer's readiness computed in one call in-process (with the
garbage-collector settings `rca serve` uses).

    .venv/bin/python benchmarks/readiness_bench.py [--datasets 10000 100000] [--baseline DIR] [--json]

--baseline DIR also serves the same database from another source tree (e.g. `git archive main | tar -x -C DIR`)
and measures both servers' answers interleaved, in the same run: a before/after under the same load.

Issue 13's targets: an answer under 1 s at 10,000 datasets and under 10 s at 100,000 (before, GET /v1/readiness
took 0.8 s at 1,000 and 21.3 s at 8,000, quadratic, and gave no answer at 100,000 in 600 s). The endpoint now
answers a page; the target is judged on that answer. Linear means the time per dataset stays flat from one size to
the next: the bench prints it for the full computation.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _server import rca_server  # noqa: E402

from evidence import FreshnessPolicy, parse_event, record_from_event  # noqa: E402
from evidence._configs import POLICY  # noqa: E402
from evidence._schema import configs  # noqa: E402
from evidence._store import Store  # noqa: E402
from rca._control_routes import readiness  # noqa: E402

NOW = datetime.now(UTC)  # the API reads the wall clock: the seeded history must lie inside its window


def seed(store: Store, datasets: int) -> int:
    """Records and policies straight into the store (the bench measures readiness, not ingestion)."""
    day = NOW - timedelta(hours=10)
    records, rows = [], []
    for n in range(datasets):
        job, urn = f"job://bench-{n}", f"ds://bench/t{n}"
        traced = {"traceparent": f"00-{n + 1:032x}-{n + 1:016x}-01"} if n % 2 else {}
        for kind, offset, data in (
            ("DeploymentEvent", 0, {"service": f"bench-{n}", "version": "v1"}),
            ("JobRunStarted", 5, {"run_id": f"r{n}"}),
            ("DatasetWriteCommitted", 35, {"dataset_urn": urn, "run_id": f"r{n}", "rows_written": 1000}),
        ):
            event = parse_event({"specversion": "1.0", "id": f"{kind}-{n}", "source": job, "type": kind,
                                 "time": (day + timedelta(minutes=offset)).isoformat(), "data": data, **traced})
            records.append(record_from_event(event, day + timedelta(minutes=offset)))
        policy = FreshnessPolicy(dataset_urn=urn, producer_urn=job, expected_update_by="02:00",
                                 owner_team="bench" if n % 3 else None, tier=1)
        rows.append({"kind": POLICY.name, "key": POLICY.key(policy), "created_at": NOW, "updated_at": NOW,
                     "spec": policy.model_dump_json(by_alias=True, exclude_none=True)})
        if len(records) >= 30_000:
            store.add_records(records)
            records = []
    store.add_records(records)
    with store.writing() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(configs.insert(), rows[start : start + 10_000])
    return datasets * 3


def measure(datasets: int, baseline: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/readiness.db"
        store = Store.open(url)
        store.ensure_schema()
        started = time.perf_counter()
        records = seed(store, datasets)
        seed_s = time.perf_counter() - started
        frozen = gc.get_threshold()
        gc.set_threshold(50_000, 20, 20)  # as `rca serve` runs (rca/cli.py)
        started = time.perf_counter()
        items = readiness(store, NOW)
        all_s = time.perf_counter() - started
        gc.set_threshold(*frozen)
        assert len(items) == 2 * datasets, len(items)
        store.close()
        env = {**os.environ, "RCA_DATABASE_URL": url, "RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": f"{tmp}/c"}
        trees = {"this": env, **({"baseline": {**env, "PYTHONPATH": str(baseline)}} if baseline else {})}
        with contextlib.ExitStack() as stack:
            clients = {name: stack.enter_context(httpx.Client(base_url=stack.enter_context(rca_server(tree_env)),
                                                              timeout=1800))
                       for name, tree_env in trees.items()}
            # The API's clock is the wall clock; the seeded records are days old, inside its 30-day window.
            # Each measurement alternates between the trees, so both see the same load.
            api = {name: _api(client, datasets) for name, client in clients.items()}
            for name, client in clients.items():
                api[name]["api_walk_s"], api[name]["api_walk_pages"] = _walk(client, datasets)
    result: dict[str, Any] = {"datasets": datasets, "records": records, "seed_s": round(seed_s, 1),
                              "all_s": round(all_s, 2), "us_per_dataset": round(1e6 * all_s / datasets, 1),
                              **api["this"]}
    if baseline:
        result["baseline"] = api["baseline"]
    return result


def _api(client: httpx.Client, datasets: int) -> dict[str, Any]:
    started = time.perf_counter()
    first = client.get("/v1/readiness", params={"limit": 500})
    first_s = time.perf_counter() - started
    assert first.status_code == 200, first.text
    page = orjson.loads(first.content)
    started = time.perf_counter()
    one = client.get("/v1/readiness", params={"dataset_urn": f"ds://bench/t{datasets // 2}"})
    one_s = time.perf_counter() - started
    assert one.status_code == 200 and len(one.json()["items"]) == 1
    return {"api_first_page_s": round(first_s, 2), "api_page_items": len(page["items"]),
            "api_one_dataset_s": round(one_s, 3)}


def _walk(client: httpx.Client, datasets: int) -> tuple[float, int]:
    """Every page at the largest page size: seconds and pages."""
    started, walked, pages, cursor = time.perf_counter(), 0, 0, None
    while True:
        response = client.get("/v1/readiness", params={"limit": 5000, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = orjson.loads(response.content)
        walked, pages, cursor = walked + len(body["items"]), pages + 1, body["next_cursor"]
        if cursor is None:
            break
    assert walked == 2 * datasets, walked
    return round(time.perf_counter() - started, 1), pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline", type=Path, help="another source tree to measure beside this one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    results = [measure(n, args.baseline) for n in args.datasets]
    targets = {10_000: 1.0, 100_000: 10.0}
    for result in results:
        limit = targets.get(int(result["datasets"]))
        result["target_s"] = limit
        result["met"] = None if limit is None else result["api_first_page_s"] < limit
    if not args.json:
        print(f"readiness, SQLite (load {load:.2f} at start, {os.cpu_count()} CPUs)")
        for r in results:
            verdict = "met" if r["met"] else "NOT met" if r["met"] is False else "-"
            print(f"  {r['datasets']:>7} datasets ({r['records']} records): GET /v1/readiness first page of 500 "
                  f"{r['api_first_page_s']} s (target {r['target_s']} s: {verdict}), one dataset "
                  f"{r['api_one_dataset_s']} s, all {2 * int(r['datasets'])} subjects in {r['api_walk_pages']} pages "
                  f"{r['api_walk_s']} s; in-process, all at once {r['all_s']} s ({r['us_per_dataset']} us/dataset)")
            if "baseline" in r:
                b = r["baseline"]
                print(f"          baseline ({args.baseline}): first page {b['api_first_page_s']} s, one dataset "
                      f"{b['api_one_dataset_s']} s, all in {b['api_walk_pages']} pages {b['api_walk_s']} s")
    print(json.dumps({"readiness": {"runs": results, "load_avg_1m": round(load, 2),
                                    "load_avg_1m_end": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
