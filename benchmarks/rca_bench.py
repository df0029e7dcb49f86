"""RCA latency through the API (GET /v1/incidents/{id}/rca) with the offline composer, on SQLite.

    .venv/bin/python benchmarks/rca_bench.py [--requests 200] [--json]

Each reference scenario is replayed into its own database, served by a real `rca serve`, and its
incident's RCA requested repeatedly; every request recomputes retrieval, composition and verification.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _server import rca_server  # noqa: E402

from detectors import load_scenario, run_detectors  # noqa: E402
from detectors._scenario import load_into  # noqa: E402
from evidence._store import Store  # noqa: E402

SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))


def measure(path: Path, requests: int, tmp: str) -> dict:
    url = f"sqlite:///{tmp}/{path.stem}.db"
    scenario = load_scenario(path)
    with Store.open(url) as store:
        store.ensure_schema()
        load_into(store, scenario)
        [incident] = run_detectors(store, scenario.now).incidents
    env = {**os.environ, "RCA_DATABASE_URL": url, "RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": f"{tmp}/chroma"}
    env.pop("RCA_LLM_MODEL", None)
    with rca_server(env) as base, httpx.Client(base_url=base, timeout=30) as client:
        client.get(f"/v1/incidents/{incident['id']}/rca").raise_for_status()  # warm-up
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(f"/v1/incidents/{incident['id']}/rca")
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        verdict = response.json()["verdict"]
    timings.sort()
    return {"scenario": path.stem, "reason_code": incident["reason_code"], "verdict": verdict,
            "requests": requests, "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1), "max_ms": round(timings[-1], 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(path, args.requests, tmp) for path in SCENARIOS]
    if not args.json:
        print(f"RCA latency through GET /v1/incidents/{{id}}/rca, offline composer, SQLite, {args.requests} requests")
        print(f"{'scenario':<40}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
        for r in results:
            print(f"{r['scenario']:<40}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['max_ms']:>9}")
    print(json.dumps({"rca": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
