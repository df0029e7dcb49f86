"""Events/s through POST /v1/events beside a raw load of the same rows into the same table, interleaved.

One real `rca serve` (a single process: uvicorn with one worker, whose request threads share one interpreter) takes
batches of 1,000 from two client connections. On PostgreSQL a second one, `rca serve --workers 2` (two processes on
one port, each with an interpreter of its own), takes its turns too from the same number of connections, spread one
to each worker (see ApiLoad), and gets a row of its own: the one-process row is not replaced by it.
The raw load runs in this one Python process: on SQLite SQLAlchemy Core's executemany insert, on PostgreSQL psycopg's
COPY (the fastest way in) and, for comparison with earlier figures, the same insert. The raw COPY is a transaction a
batch of psycopg's `write_row` over rows built beforehand as Python tuples (payload JSON included, untimed): psycopg
formats them in C, and that measured faster than the API's former way (its rows formatted as COPY text in Python, then
one `write`) timed the same way, 25,087 against 19,607 rows/s (medians of 6 interleaved runs, load 5.9), so the
baseline is the faster of the two. The API now sends COPY's binary format, its rows formatted by the same C code
before its writers' turn; a raw binary `write_row` of these rows measured no faster than the text one (37,148 against
36,829 rows/s, 6 interleaved rounds of 10,000, load 2.6), so the baseline stays the text COPY.
The API and the raw loads write to the same database and table and take turns in rounds (their order rotating), each
timed on its own, so that a change in the machine's load during the run costs them alike: on a shared machine the
ratios are what stays comparable.
Targets (issue 23): API/raw insert >= 0.8 on SQLite, API/raw COPY >= 0.6 on PostgreSQL.

    .venv/bin/python benchmarks/ingest_bench.py [--events 50000] [--rounds 5] [--workers 2] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
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
    """Batches posted to one `rca serve` by `senders` client connections; `send` returns the seconds they took.

    With `workers`, the server's worker processes share one listening socket, and the kernel hands a connection to
    whichever accepts first: two connections opened together mostly land on one process. The connections are
    therefore opened until each process holds its share (as a load balancer in front of replicas spreads them);
    `spread` says how many each process got.
    """

    def __init__(self, url: str, batch: int, senders: int, workers: int = 1) -> None:
        self.batch = batch
        self.headers = {"Content-Type": "application/cloudevents-batch+json"}
        self.clients: list[httpx.Client] = []
        held: dict[int, int] = {}
        spare = []
        for _ in range(50 * senders):
            client = httpx.Client(base_url=url, timeout=60)
            response = client.get("/healthz")
            owner = _server_pid(response.extensions["network_stream"].get_extra_info("client_addr")[1])
            if workers > 1 and held.get(owner, 0) >= -(-senders // workers):  # that process has its share
                spare.append(client)
                continue
            held[owner] = held.get(owner, 0) + 1
            self.clients.append(client)
            if len(self.clients) == senders:
                break
        for client in spare:
            client.close()
        assert len(self.clients) == senders, f"could not spread {senders} connections over {workers} processes"
        self.spread = sorted(held.values(), reverse=True)
        for k, client in enumerate(self.clients):  # each process warmed
            client.post("/v1/events", content=orjson.dumps(make_events(batch, f"warm{k}")),
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


def _server_pid(client_port: int) -> int:
    """The process holding the server's end of the loopback connection from `client_port` (Linux: /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == client_port:  # its remote end is the client
                inodes.add(f"socket:[{fields[9]}]")
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) in inodes:
                return int(fd.parts[2])
    raise LookupError(f"no process holds the server end of the connection from port {client_port}")


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


def measure(name: str, url: str, events: int, batch: int, senders: int, rounds: int,
            workers: int = 0) -> list[dict[str, object]]:
    """Rates of the API and of the raw loads, taking turns in `rounds` rounds on one database; with `workers`, a
    second server (`rca serve --workers N`, up beside the first, idle while the others take their turns) too."""
    loads = ["api", "insert", *(["copy"] if name == "postgresql" else []), *(["workers"] if workers > 1 else [])]
    seconds = dict.fromkeys(loads, 0.0)
    per_round = max(batch, events // rounds // batch * batch)
    env = {**os.environ, "RCA_DATABASE_URL": url}
    with contextlib.ExitStack() as stack:
        api = ApiLoad(stack.enter_context(rca_server(env)), batch, senders)  # it made the schema (and partition)
        apis = {"api": api}
        if workers > 1:
            apis["workers"] = ApiLoad(stack.enter_context(rca_server({**env, "RCA_WORKERS": str(workers)})),
                                      batch, senders, workers)
        store = Store.open(url)
        stack.callback(store.close)
        pg = stack.enter_context(psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))) \
            if name == "postgresql" else None
        for r in range(rounds):
            for load in loads[r % len(loads):] + loads[: r % len(loads)]:  # each goes first in turn
                batch_events = make_events(per_round, f"{load}{r}")
                if load in apis:
                    seconds[load] += apis[load].send(batch_events)
                elif load == "insert":
                    seconds[load] += raw_insert(store, batch_events, batch)
                else:
                    assert pg is not None
                    seconds[load] += raw_copy(pg, batch_events, batch)
    total = per_round * rounds
    rate = {load: total / seconds[load] for load in loads}
    results = []
    for load, processes in [("api", 1), *([("workers", workers)] if workers > 1 else [])]:
        result: dict[str, object] = {"database": name, "events": total, "batch": batch, "rounds": rounds,
                                     "server_processes": processes, "connections": apis[load].spread,
                                     "api_events_per_s": round(rate[load]),
                                     "raw_insert_rows_per_s": round(rate["insert"]),
                                     "api_to_raw": round(rate[load] / rate["insert"], 3)}
        if "copy" in rate:
            result.update(raw_copy_rows_per_s=round(rate["copy"]),
                          api_to_copy=round(rate[load] / rate["copy"], 3))
        results.append(result)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=2, help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=5, help="turns the API and the raw loads take")
    parser.add_argument("--workers", type=int, default=2, help="on PostgreSQL, also an `rca serve --workers N` "
                        "(a row of its own beside the one-process server's; 0 or 1: not)")
    parser.add_argument("--postgres", default=os.environ.get("RCA_TEST_POSTGRES_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/ingest.db")]
        if args.postgres:
            targets.append(("postgresql", reset_postgres(args.postgres)))
        for name, url in targets:
            results += measure(name, url, args.events, args.batch, args.senders, args.rounds,
                               args.workers if name == "postgresql" else 0)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if args.json:
        print(json.dumps({"ingest": results, "machine": machine, "load_average": round(os.getloadavg()[0], 2)}))
        return 0
    print(f"ingestion through POST /v1/events: one rca serve process (and on PostgreSQL one with --workers "
          f"{args.workers}), batches of {args.batch}, {args.senders} client connections, {args.rounds} rounds taking "
          f"turns with the raw loads (one Python process), {machine['cpus']} CPUs")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'database':<12}{'processes':>10}{'events':>9}{'API events/s':>15}{'insert rows/s':>15}{'API/insert':>12}"
          f"{'COPY rows/s':>13}{'API/COPY':>10}")
    for r in results:
        print(f"{r['database']:<12}{r['server_processes']:>10}{r['events']:>9}{r['api_events_per_s']:>15}{r['raw_insert_rows_per_s']:>15}"
              f"{r['api_to_raw']:>12}{r.get('raw_copy_rows_per_s', '-'):>13}{r.get('api_to_copy', '-'):>10}")
    print(json.dumps({"ingest": results, "load_average": round(os.getloadavg()[0], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
