"""Events/s through POST /v1/events (one real `rca serve` process, batches of 1,000), beside a raw load of the same
rows in the same run (the ratio survives a noisy machine): on SQLite SQLAlchemy Core's executemany insert, on
PostgreSQL psycopg's COPY (the fastest way in) and, for comparison with earlier figures, the same insert.
Targets (issue 23): API/raw insert >= 0.8 on SQLite, API/raw COPY >= 0.6 on PostgreSQL.

    .venv/bin/python benchmarks/ingest_bench.py [--events 50000] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _postgres import reset_postgres  # noqa: E402
from _server import rca_server  # noqa: E402

from evidence._ingest import to_record  # noqa: E402
from evidence._partitions import create_partitions, month_of  # noqa: E402
from evidence._schema import evidence  # noqa: E402
from evidence._store import Store, _row  # noqa: E402

T0 = datetime(2026, 3, 10, tzinfo=UTC)


def make_events(n: int, run: str) -> list[dict]:
    kinds = ["DeploymentEvent", "JobRunStarted", "DatasetWriteCommitted"]
    out = []
    for i in range(n):
        kind = kinds[i % 3]
        time_ = (T0 + timedelta(milliseconds=i)).isoformat()
        if kind == "DeploymentEvent":
            data = {"service": f"svc-{i % 50}", "version": f"v{i}", "env": "prod", "commit": "3f9c2ab",
                    "deploy_ref": f"svc-{i % 50}@v{i}", "status": "succeeded", "source": "ci", "domain": "orders"}
            source = f"svc://svc-{i % 50}"
        elif kind == "JobRunStarted":
            data = {"run_id": f"r{i}", "code_ref": "job@4f2a9c1", "env": "prod", "cluster_id": "emr-7",
                    "input_datasets": ["ds://raw/orders"], "scheduled_time": time_, "actual_start_time": time_}
            source = f"job://job-{i % 50}"
        else:
            data = {"dataset_urn": f"ds://curated/t{i % 50}", "run_id": f"r{i}", "commit_version": i,
                    "commit_timestamp": time_, "output_partitions_written": ["dt=2026-03-10"],
                    "rows_written": 1000 + i, "files_added": 4}
            source = f"job://job-{i % 50}"
        out.append({"specversion": "1.0", "id": f"{run}-{i}", "source": source, "type": kind, "time": time_,
                    "datacontenttype": "application/json", "data": data})
    return out


def api_rate(database_url: str, events: list[dict], batch: int, senders: int) -> float:
    with rca_server({**os.environ, "RCA_DATABASE_URL": database_url}) as url:
        bodies = [orjson.dumps(events[i : i + batch]) for i in range(0, len(events), batch)]
        headers = {"Content-Type": "application/cloudevents-batch+json"}
        clients = [httpx.Client(base_url=url, timeout=60) for _ in range(senders)]
        clients[0].post("/v1/events", content=orjson.dumps(make_events(batch, "warm")), headers=headers)

        def send(k: int) -> int:
            response = clients[k % senders].post("/v1/events", content=bodies[k], headers=headers)
            response.raise_for_status()
            return int(orjson.loads(response.content)["accepted"])

        start = time.perf_counter()
        with ThreadPoolExecutor(senders) as pool:
            accepted = sum(pool.map(send, range(len(bodies))))
        elapsed = time.perf_counter() - start
        assert accepted == len(events), f"accepted {accepted} of {len(events)}"
        return len(events) / elapsed


def raw_rate(database_url: str, events: list[dict], batch: int) -> float:
    """The same rows inserted with SQLAlchemy Core alone: no HTTP, no validation, no idempotency check."""
    store = Store.open(database_url)
    store.ensure_schema()
    records = [to_record(e, T0) for e in events]
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:  # the partitions, made beforehand: not part of the insert's time
            create_partitions(conn, {month_of(r.event_time) for r in records})
    rows = [_row(r) for r in records]
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        with store.engine.begin() as conn:
            conn.execute(evidence.insert(), rows[i : i + batch])
    return len(rows) / (time.perf_counter() - start)


def copy_rate(database_url: str, events: list[dict], batch: int) -> float:
    """The same rows through psycopg's COPY, a transaction a batch: what PostgreSQL can take, nothing checked."""
    store = Store.open(database_url)
    store.ensure_schema()
    records = [to_record(e, T0) for e in events]
    with store.engine.begin() as conn:
        create_partitions(conn, {month_of(r.event_time) for r in records})
    rows = [tuple(_row(r).values()) for r in records]
    copy = f"COPY evidence ({', '.join(_row(records[0]))}) FROM STDIN"
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(copy) as sink:
                for row in rows[i : i + batch]:
                    sink.write_row(row)
        return len(rows) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=2, help="concurrent client connections")
    parser.add_argument("--postgres", default=os.environ.get("RCA_TEST_POSTGRES_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/api.db", f"sqlite:///{tmp}/raw.db")]
        if args.postgres:
            targets.append(("postgresql", args.postgres, args.postgres))
        for name, api_url, raw_url in targets:
            if name == "postgresql":
                reset_postgres(api_url)
            api = api_rate(api_url, make_events(args.events, "api"), args.batch, args.senders)
            if name == "postgresql":
                reset_postgres(raw_url)
            raw = raw_rate(raw_url, make_events(args.events, "raw"), args.batch)
            result = {"database": name, "events": args.events, "batch": args.batch,
                      "api_events_per_s": round(api), "raw_insert_rows_per_s": round(raw),
                      "api_to_raw": round(api / raw, 3)}
            if name == "postgresql":
                reset_postgres(raw_url)
                copy = copy_rate(raw_url, make_events(args.events, "copy"), args.batch)
                result.update(raw_copy_rows_per_s=round(copy), api_to_copy=round(api / copy, 3))
            results.append(result)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if args.json:
        print(json.dumps({"ingest": results, "machine": machine}))
        return 0
    print(f"ingestion through POST /v1/events, batches of {args.batch}, {args.senders} client connections, "
          f"{machine['cpus']} CPUs")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'database':<12}{'events':>9}{'API events/s':>15}{'insert rows/s':>15}{'API/insert':>12}"
          f"{'COPY rows/s':>13}{'API/COPY':>10}")
    for r in results:
        print(f"{r['database']:<12}{r['events']:>9}{r['api_events_per_s']:>15}{r['raw_insert_rows_per_s']:>15}"
              f"{r['api_to_raw']:>12}{r.get('raw_copy_rows_per_s', '-'):>13}{r.get('api_to_copy', '-'):>10}")
    print(json.dumps({"ingest": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
