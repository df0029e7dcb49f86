"""`make bench`: every benchmark in one run, each in its own process, then one summary.

    .venv/bin/python benchmarks/run_all.py [--quick]

Figures depend on the machine and its load; the ratios printed beside them (API vs raw insert, gate vs
jsonschema, SDK enabled vs disabled) are what stays comparable between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benches(quick: bool) -> list[tuple[str, list[str]]]:
    return [
        ("ingest", ["ingest_bench.py", "--events", "10000" if quick else "50000"]),
        ("gate", ["gate_bench.py", *(["--quick"] if quick else [])]),
        ("kafka", ["kafka_bench.py", *(["--quick"] if quick else [])]),
        ("detect", ["detect_bench.py", "--datasets", "1000" if quick else "10000"]),
        ("rca", ["rca_bench.py", "--requests", "50" if quick else "200"]),
        ("sdk", ["sdk_emit.py", *(["--quick"] if quick else [])]),
        ("readiness", ["readiness_bench.py", "--datasets", *(["1000", "10000"] if quick else ["10000", "100000"])]),
        ("schedule", ["schedule_bench.py", "--seconds", "30" if quick else "60"]),
        ("sdk-go", ["sdk_go.py", *(["--quick"] if quick else [])]),
        ("java-sdk", ["java_sdk_bench.py", *(["--quick"] if quick else [])]),
        # The Node SDK's benchmark (emit() p50/p99, an HTTP handler's throughput and event-loop delay), run by node
        # against the build `make bench` makes first.
        ("sdk-node", ["../sdk/node/bench/emit.mjs", *(["--quick"] if quick else [])]),
    ]


def last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load {load[0]:.2f} at start\n")
    summary: dict[str, object] = {}
    failed = []
    for name, argv in benches(args.quick):
        script = HERE / argv[0]
        if not script.exists():
            print(f"== {name}: {script.name} missing, skipped\n")
            continue
        print(f"== {name}: {' '.join(argv)}")
        started = time.perf_counter()
        interpreter = ["node"] if script.suffix == ".mjs" else [sys.executable]
        run = subprocess.run([*interpreter, str(script), *argv[1:]], capture_output=True, text=True)
        print(run.stdout.rstrip())
        if run.returncode != 0:
            print(run.stderr.rstrip()[-2000:])
            failed.append(name)
        summary[name] = last_json(run.stdout)
        print(f"   ({time.perf_counter() - started:.0f} s)\n")
    print("summary:", json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
