"""Events/s through POST /v1/events beside a raw load of the same rows into the same table, interleaved.

One real `rca serve` (a single process: uvicorn with one worker, whose request threads share one interpreter; it
has no option for more) takes batches of 1,000 from two client connections. The raw load runs in this one Python
process: on SQLite SQLAlchemy Core's executemany insert, on PostgreSQL psycopg's COPY (the fastest way in) and, for
comparison with earlier figures, the same insert. The raw COPY is a transaction a batch of psycopg's `write_row` over
rows built beforehand as Python tuples (payload JSON included, untimed): psycopg formats them in C, and that measured
faster than the API's own way (its rows formatted as COPY text in Python, then one `write`) timed the same way,
25,087 against 19,607 rows/s (medians of 6 interleaved runs, load 5.9), so the baseline is the faster of the two.
The API now sends COPY's binary format, its rows formatted by the same C code before its writers' turn; a raw binary
`write_row` of these rows measured no faster than the text one (37,148 against 36,829 rows/s, 6 interleaved rounds of
10,000, load 2.6), so the baseline stays the text COPY.
The API and the raw loads write to the same database and table and take turns in rounds (their order rotating), each
timed on its own, so that a change in the machine's load during the run costs them alike: on a shared machine the
ratios are what stays comparable.
Targets (issue 23): API/raw insert >= 0.8 on SQLite, API/raw COPY >= 0.6 on PostgreSQL.

    .venv/bin/python benchmarks/ingest_bench.py [--events 50000] [--rounds 5] [--postgres URL] [--json]
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
from evidence._row_writes import _row  # noqa: E402
from evidence._schema import evidence  # noqa: E402
from evidence._store import Store  # noqa: E402

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


class ApiLoad:
    """Batches posted to one `rca serve` by `senders` client connections; `send` returns the seconds they took."""

    def __init__(self, url: str, batch: int, senders: int) -> None:
        self.batch = batch
        self.headers = {"Content-Type": "application/cloudevents-batch+json"}
        self.clients = [httpx.Client(base_url=url, timeout=60) for _ in range(senders)]
        self.clients[0].post("/v1/events", content=orjson.dumps(make_events(batch, "warm")),
                             headers=self.headers).raise_for_status()

    def send(self, events: list[dict]) -> float:
        bodies = [orjson.dumps(events[i : i + self.batch]) for i in range(0, len(events), self.batch)]

        def post(k: int) -> int:
            response = self.clients[k % len(self.clients)].post("/v1/events", content=bodies[k],
                                                                headers=self.headers)
            response.raise_for_status()
            return int(orjson.loads(response.content)["accepted"])

        start = time.perf_counter()
        with ThreadPoolExecutor(len(self.clients)) as pool:
            accepted = sum(pool.map(post, range(len(bodies))))
        elapsed = time.perf_counter() - start
        assert accepted == len(events), f"accepted {accepted} of {len(events)}"
        return elapsed


def raw_insert(store: Store, events: list[dict], batch: int) -> float:
    """The rows inserted with SQLAlchemy Core alone: no HTTP, no validation, no idempotency check. Seconds taken."""
    rows = [_row(to_record(e, T0)) for e in events]
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        with store.engine.begin() as conn:
            conn.execute(evidence.insert(), rows[i : i + batch])
    return time.perf_counter() - start


def raw_copy(conn: psycopg.Connection, events: list[dict], batch: int) -> float:
    """The rows through psycopg's COPY, a transaction a batch: what PostgreSQL can take, nothing checked."""
    records = [to_record(e, T0) for e in events]
    rows = [tuple(_row(r).values()) for r in records]
    copy = f"COPY evidence ({', '.join(_row(records[0]))}) FROM STDIN"
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(copy) as sink:
            for row in rows[i : i + batch]:
                sink.write_row(row)
    return time.perf_counter() - start


def measure(name: str, url: str, events: int, batch: int, senders: int, rounds: int) -> dict[str, object]:
    """Rates of the API and of the raw loads, taking turns in `rounds` rounds on one database."""
    loads = ["api", "insert", *(["copy"] if name == "postgresql" else [])]
    seconds = dict.fromkeys(loads, 0.0)
    per_round = max(batch, events // rounds // batch * batch)
    with rca_server({**os.environ, "RCA_DATABASE_URL": url}) as base_url:
        api = ApiLoad(base_url, batch, senders)  # the server made the schema (and the month's partition)
        store = Store.open(url)
        pg = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) if name == "postgresql" \
            else None
        try:
            for r in range(rounds):
                for load in loads[r % len(loads):] + loads[: r % len(loads)]:  # each goes first in turn
                    batch_events = make_events(per_round, f"{load}{r}")
                    if load == "api":
                        seconds[load] += api.send(batch_events)
                    elif load == "insert":
                        seconds[load] += raw_insert(store, batch_events, batch)
                    else:
                        assert pg is not None
                        seconds[load] += raw_copy(pg, batch_events, batch)
        finally:
            if pg is not None:
                pg.close()
            store.close()
    total = per_round * rounds
    rate = {load: total / seconds[load] for load in loads}
    result: dict[str, object] = {"database": name, "events": total, "batch": batch, "rounds": rounds,
                                 "server_processes": 1, "api_events_per_s": round(rate["api"]),
                                 "raw_insert_rows_per_s": round(rate["insert"]),
                                 "api_to_raw": round(rate["api"] / rate["insert"], 3)}
    if "copy" in rate:
        result.update(raw_copy_rows_per_s=round(rate["copy"]), api_to_copy=round(rate["api"] / rate["copy"], 3))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=2, help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=5, help="turns the API and the raw loads take")
    parser.add_argument("--postgres", default=os.environ.get("RCA_TEST_POSTGRES_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/ingest.db")]
        if args.postgres:
            targets.append(("postgresql", reset_postgres(args.postgres)))
        for name, url in targets:
            results.append(measure(name, url, args.events, args.batch, args.senders, args.rounds))
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if args.json:
        print(json.dumps({"ingest": results, "machine": machine, "load_average": round(os.getloadavg()[0], 2)}))
        return 0
    print(f"ingestion through POST /v1/events: one rca serve process, batches of {args.batch}, {args.senders} client "
          f"connections, {args.rounds} rounds taking turns with the raw loads (one Python process), "
          f"{machine['cpus']} CPUs")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'database':<12}{'events':>9}{'API events/s':>15}{'insert rows/s':>15}{'API/insert':>12}"
          f"{'COPY rows/s':>13}{'API/COPY':>10}")
    for r in results:
        print(f"{r['database']:<12}{r['events']:>9}{r['api_events_per_s']:>15}{r['raw_insert_rows_per_s']:>15}"
              f"{r['api_to_raw']:>12}{r.get('raw_copy_rows_per_s', '-'):>13}{r.get('api_to_copy', '-'):>10}")
    print(json.dumps({"ingest": results, "load_average": round(os.getloadavg()[0], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
