"""Does scheduled detection keep its schedule under write load? One real `rca serve` on SQLite with detector
passes every --interval seconds, 8 writers posting batches and 4 readers listing incidents, evidence and
readiness for --seconds; the passes it ran (from /metrics) against the passes the schedule asked for.

    .venv/bin/python benchmarks/schedule_bench.py [--seconds 60] [--interval 10] [--datasets 500]
        [--scrape-timeout 10] [--json]

Issue 13's target: at least 90% of the configured passes. Beside it, the same server idle (no clients) for the
same time: the mean pass duration under load against idle is the cost the load puts on a pass. A failed request
is counted by kind (writer, reader per path, scrape) and the run goes on; a scrape that does not answer within
--scrape-timeout (10 s, Prometheus's default) leaves its figures unknown and says so (exit status 1 when the
loaded run's are).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _server import rca_server  # noqa: E402

from evidence import FreshnessPolicy  # noqa: E402
from evidence._configs import POLICY, Configs  # noqa: E402
from evidence._ingest import ingest_events  # noqa: E402
from evidence._store import Store  # noqa: E402

WRITERS, READERS, BATCH = 8, 4, 500
_COUNT = re.compile(r'^rca_detector_pass_duration_seconds_count\{trigger="schedule"\} (\S+)$', re.M)
_SUM = re.compile(r'^rca_detector_pass_duration_seconds_sum\{trigger="schedule"\} (\S+)$', re.M)


def seed(url: str, datasets: int, now: datetime) -> int:
    """Policies for `datasets` nightly jobs and a week of their runs and commits: a pass with real work."""
    store = Store.open(url)
    store.ensure_schema()
    configs = Configs(store)
    events = []
    for job in range(datasets):
        configs.put(POLICY, FreshnessPolicy(dataset_urn=f"ds://bench/t{job}", producer_urn=f"job://bench-{job}",
                                            expected_update_by="02:00", schedule="0 1 * * *"), now)
        for back in range(7, 0 if job % 10 else 1, -1):  # every tenth job is late today
            day = (now - timedelta(days=back)).replace(hour=1, minute=0, second=0, microsecond=0)
            run = f"run-{job}-{back}"
            base = {"specversion": "1.0", "source": f"job://bench-{job}"}
            events += [
                {**base, "id": f"s-{run}", "type": "JobRunStarted", "time": day.isoformat(), "data": {"run_id": run}},
                {**base, "id": f"c-{run}", "type": "DatasetWriteCommitted",
                 "time": (day + timedelta(minutes=30)).isoformat(),
                 "data": {"dataset_urn": f"ds://bench/t{job}", "run_id": run, "rows_written": 1000}},
                {**base, "id": f"d-{run}", "type": "JobRunCompleted", "time": (day + timedelta(minutes=31)).isoformat(),
                 "data": {"run_id": run, "duration_s": 1860}},
            ]
    for start in range(0, len(events), 5000):
        ingest_events(store, events[start : start + 5000], now)
    store.close()
    return len(events)


class Errors:
    """Client errors by kind ("writer: ReadTimeout", "reader /v1/evidence: HTTP 503", "scrape: ReadTimeout"): a
    failed request is counted and the client goes on; no thread dies of one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kinds: Counter[str] = Counter()
        self.scrapes: list[float] = []  # seconds each /metrics scrape took, answered or not

    def add(self, who: str, what: str) -> None:
        with self._lock:
            self.kinds[f"{who}: {what}"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.kinds.items()))


SCRAPE_TIMEOUT = {"s": 10.0}  # Prometheus's default scrape timeout; --scrape-timeout to wait longer


def scrape(url: str, errors: Errors) -> tuple[float, float] | None:
    """(passes, seconds) of scheduled passes so far, or None when /metrics failed or did not answer in the scrape
    timeout: counted under "scrape", never raised."""
    sent = time.monotonic()
    try:
        response = httpx.get(f"{url}/metrics", timeout=SCRAPE_TIMEOUT["s"])
    except httpx.HTTPError as exc:
        errors.add("scrape", type(exc).__name__)
        return None
    finally:
        errors.scrapes.append(time.monotonic() - sent)
    if response.status_code != 200:
        errors.add("scrape", f"HTTP {response.status_code}")
        return None
    count, total = _COUNT.search(response.text), _SUM.search(response.text)
    return (float(count.group(1)) if count else 0.0), (float(total.group(1)) if total else 0.0)


def scrape_until(url: str, errors: Errors, deadline: float) -> tuple[float, float] | None:
    """The first scrape that answers before `deadline` (monotonic), or None."""
    while time.monotonic() < deadline:
        if (found := scrape(url, errors)) is not None:
            return found
        time.sleep(0.5)
    return None


def _request(client: httpx.Client, who: str, errors: Errors, method: str, path: str, **kwargs: Any) -> bool:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        errors.add(who, type(exc).__name__)
        time.sleep(0.1)  # a server that refuses connections is not hammered in a tight loop
        return False
    if response.status_code != 200:
        errors.add(who, f"HTTP {response.status_code}")
        return False
    return True


def writer(url: str, stop: threading.Event, counter: itertools.count, sent: list[int], errors: Errors) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            first = next(counter) * BATCH
            now = datetime.now(UTC).isoformat()
            batch = [{"specversion": "1.0", "id": f"w-{first + i}", "source": f"svc://load-{i % 20}",
                      "type": "DeploymentEvent", "time": now,
                      "data": {"service": f"load-{i % 20}", "version": f"v{first + i}"}} for i in range(BATCH)]
            if _request(client, "writer", errors, "POST", "/v1/events", content=orjson.dumps(batch),
                        headers={"content-type": "application/cloudevents-batch+json"}):
                sent.append(BATCH)


READ_PATHS = ["/v1/incidents?status=all&limit=200", "/v1/evidence?limit=200&payload=false", "/v1/readiness?limit=50"]


def reader(url: str, stop: threading.Event, reads: list[int], errors: Errors) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        for path in itertools.cycle(READ_PATHS):
            if stop.is_set():
                return
            if _request(client, f"reader {path.split('?')[0]}", errors, "GET", path):
                reads.append(1)


def run(url: str, seconds: float, interval: float, loaded: bool) -> dict[str, Any]:
    """Passes completed in `seconds` (a whole number of intervals) after one completed, with the load (if any)
    running from before the first: a pass on time completes once an interval, so all of them are counted.
    Client errors are counted by kind; a scrape that fails leaves the figures it was for unknown (None)."""
    stop = threading.Event()
    sent: list[int] = []
    reads: list[int] = []
    errors = Errors()
    counter = itertools.count()
    threads = ([threading.Thread(target=writer, args=(url, stop, counter, sent, errors)) for _ in range(WRITERS)]
               + [threading.Thread(target=reader, args=(url, stop, reads, errors))
                  for _ in range(READERS)]) if loaded else []
    slots = max(1, round(seconds / interval))
    result: dict[str, Any] = {"passes": None, "expected": slots, "ratio": None, "mean_pass_s": None,
                              "events_per_s": None, "reads_per_s": None}
    for thread in threads:
        thread.start()
    try:
        # Align on a pass that just completed: the count moves within two intervals, or the run says why not.
        first = scrape_until(url, errors, time.monotonic() + interval)
        start, deadline = None, time.monotonic() + 2 * interval
        while first is not None and start is None and time.monotonic() < deadline:
            now = scrape(url, errors)
            start = now if now is not None and now[0] != first[0] else None
            time.sleep(0.2)
        if start is None:
            result["failure"] = ("no pass count at the start: /metrics did not answer" if first is None else
                                 f"no pass completed in {2 * interval:.0f} s at the start")
            return result
        sent.clear()
        reads.clear()
        started = time.monotonic()
        time.sleep(slots * interval + interval / 2)
        end = scrape_until(url, errors, time.monotonic() + interval / 2)
        elapsed = time.monotonic() - started
        result.update(events_per_s=round(sum(sent) / elapsed), reads_per_s=round(len(reads) / elapsed, 1))
        if end is None:
            result["failure"] = "no pass count at the end: /metrics did not answer"
            return result
        passes = end[0] - start[0]
        # The pass count is read early in a scrape (the pass histogram is collected first), so a slow final scrape
        # does not lengthen the window the passes are counted in: it is reported (end_scrape_s) beside them.
        result.update(passes=passes, ratio=round(passes / slots, 3), end_scrape_s=round(errors.scrapes[-1], 2),
                      mean_pass_s=round((end[1] - start[1]) / passes, 3) if passes else None)
        return result
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        result["errors"] = errors.snapshot()
        result["scrape_max_s"] = round(max(errors.scrapes, default=0.0), 2)


def line(name: str, found: dict[str, Any]) -> str:
    passes = "?" if found["passes"] is None else f"{found['passes']:.0f}"
    ratio = "?" if found["ratio"] is None else f"{found['ratio']:.0%}"
    return (f"  {name}: {passes} of {found['expected']} passes ({ratio}), mean pass {found['mean_pass_s']} s, "
            f"slowest /metrics scrape {found['scrape_max_s']} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--scrape-timeout", type=float, default=10.0,
                        help="seconds a /metrics scrape may take (default 10, as Prometheus)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    SCRAPE_TIMEOUT["s"] = args.scrape_timeout
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/schedule.db"
        records = seed(url, args.datasets, datetime.now(UTC))
        env = {**os.environ, "RCA_DATABASE_URL": url, "RCA_DETECT_INTERVAL_S": str(args.interval),
               "RCA_METRICS_PUBLIC": "true", "RCA_CHROMA_PATH": f"{tmp}/chroma"}
        stopped: dict[str, float] = {}
        with rca_server(env, stopped) as base:
            idle = run(base, args.seconds / 2, args.interval, loaded=False)
            load_before = os.getloadavg()[0]
            loaded = run(base, args.seconds, args.interval, loaded=True)
            load_after = os.getloadavg()[0]
    met = loaded["ratio"] is not None and loaded["ratio"] >= 0.9
    summary = {"seconds": args.seconds, "interval_s": args.interval, "datasets": args.datasets,
               "seed_records": records, "writers": WRITERS, "readers": READERS, "idle": idle, "loaded": loaded,
               "target_ratio": 0.9, "met": met, "load_avg_1m": round(load_before, 2),
               "load_avg_1m_after": round(load_after, 2), "exit_after_sigterm_s": stopped.get("exit_s"),
               "cpus": os.cpu_count()}
    if not args.json:
        print(f"detector schedule, every {args.interval} s, {args.datasets} datasets ({records} seed records), SQLite")
        print(line("idle  ", idle))
        print(f"{line('loaded', loaded)}; {WRITERS} writers {loaded['events_per_s']} events/s, {READERS} readers "
              f"{loaded['reads_per_s']} reads/s")
        for name, found in (("idle", idle), ("loaded", loaded)):
            if "failure" in found:
                print(f"  {name}: {found['failure']}")
            for kind, count in found["errors"].items():
                print(f"  {name} errors, {kind}: {count}")
        print(f"  load average {load_before:.2f} at the loaded run's start, {load_after:.2f} at its end; rca serve "
              f"exited {stopped.get('exit_s')} s after SIGTERM")
        print(f"  target >= 90% of the configured passes: {'met' if met else 'NOT met'}")
    print(json.dumps({"schedule": summary}))
    return 0 if loaded["ratio"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
