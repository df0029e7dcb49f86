"""`make load`: a bounded load test of `rca serve` replicas on one PostgreSQL (not part of make test).

Client threads post batches of evidence and read it back (evidence by dataset, open incidents) against one replica,
then against three (clients spread over them, as a load balancer would), each phase for --seconds; detectors run
every 5 s in every replica (sharing the pass through their leases). Reports per phase: requests/s and events/s,
p50/p99 latency per kind of request, errors, and the scaling from one replica to three. On a shared 2-core machine
three replicas compete for the same cores as one: the scaling says how much of the work the replicas can split.

    scripts/with-postgres .venv/bin/python benchmarks/load_test.py [--seconds 60] [--clients 6] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _postgres import reset_postgres  # noqa: E402
from _server import rca_server  # noqa: E402

from evidence._reader import percentile  # noqa: E402

BATCH = 100
DATASETS = 200
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _batch(client: int, n: int) -> bytes:
    events = []
    for i in range(BATCH):
        k = client * 1_000_000 + n * BATCH + i
        moment = T0 + timedelta(milliseconds=k % 3_600_000)
        events.append({"specversion": "1.0", "id": f"load-{k}", "source": f"job://load-{k % DATASETS}",
                       "type": "DatasetWriteCommitted", "time": moment.isoformat(),
                       "data": {"dataset_urn": f"ds://load/t{k % DATASETS}", "run_id": f"r{k}", "commit_version": k,
                                "rows_written": 100}})
    return orjson.dumps(events)


def phase(database_url: str, replicas: int, clients: int, seconds: float) -> dict[str, object]:
    env = {**os.environ, "RCA_DATABASE_URL": database_url, "RCA_DETECT_INTERVAL_S": "5"}
    with ExitStack() as stack:
        urls = [stack.enter_context(rca_server(env)) for _ in range(replicas)]
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        events = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def work(c: int) -> None:
            with httpx.Client(base_url=urls[c % replicas], timeout=30) as client:
                n = 0
                while time.monotonic() < deadline:
                    kind = ("post", "evidence", "post", "incidents")[n % 4]
                    started = time.perf_counter()
                    try:
                        if kind == "post":
                            response = client.post("/v1/events", content=_batch(c, n),
                                                   headers={"Content-Type": "application/cloudevents-batch+json"})
                        elif kind == "evidence":
                            response = client.get("/v1/evidence", params={"dataset_urn": f"ds://load/t{n % DATASETS}",
                                                                          "limit": 50, "payload": "false"})
                        else:
                            response = client.get("/v1/incidents")
                        ok = response.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    elapsed = time.perf_counter() - started
                    with lock:
                        if ok:
                            latencies[kind].append(elapsed)
                            events[0] += BATCH if kind == "post" else 0
                        else:
                            errors[kind] += 1
                    n += 1

        threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    requests = sum(len(v) for v in latencies.values())
    return {
        "replicas": replicas, "clients": clients, "seconds": round(elapsed, 1),
        "requests_per_s": round(requests / elapsed, 1), "events_per_s": round(events[0] / elapsed),
        "errors": sum(errors.values()), "errors_by_kind": dict(errors),
        "latency_ms": {kind: {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "count": len(ms)}
                       for kind, v in sorted(latencies.items()) if (ms := [s * 1000 for s in v])},
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--postgres", default=os.environ.get("RCA_TEST_POSTGRES_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.postgres:
        print("load_test: needs PostgreSQL (run under scripts/with-postgres, or pass --postgres URL)", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    results = []
    for replicas in (1, 3):
        reset_postgres(args.postgres)
        results.append(phase(args.postgres, replicas, args.clients, args.seconds))
    scaling = round(results[1]["requests_per_s"] / results[0]["requests_per_s"], 2)  # type: ignore[operator]
    summary = {"phases": results, "scaling_1_to_3": scaling, "load_average_at_start": round(load, 2),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    if not args.json:
        print(f"load test: {args.clients} clients, {args.seconds:.0f} s a phase, one PostgreSQL, "
              f"{os.cpu_count()} CPUs, load average {load:.2f} at start")
        for r in results:
            lat = r["latency_ms"]
            print(f"  {r['replicas']} replica(s): {r['requests_per_s']} requests/s, {r['events_per_s']} events/s, "
                  f"{r['errors']} errors; " + ", ".join(f"{k} p50 {v['p50']} ms p99 {v['p99']} ms"  # type: ignore[index]
                                                       for k, v in lat.items())  # type: ignore[union-attr]
                  + f" (load {r['load_average']})")
        print(f"  scaling from 1 to 3 replicas: x{scaling}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
