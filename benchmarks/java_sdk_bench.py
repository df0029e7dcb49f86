"""What the Java SDK costs its host (sdk/java/autopilot-benchmarks, built with -P bench).

    .venv/bin/python benchmarks/java_sdk_bench.py            # full run (about eight minutes)
    .venv/bin/python benchmarks/java_sdk_bench.py --quick    # about four minutes

- emit() p50/p99 by JMH, sampled call by call (SampleTime), backend up (a local server taking every batch), down
  (a closed port: the circuit opens, and emit() then refuses at once) and disabled, beside the same-run floor:
  copying the data map, the one allocation emit() must make.
- An HTTP endpoint's throughput (real Tomcat + Spring MVC + Jackson, one event per request) with the starter
  disabled, enabled-healthy and enabled-backend-down, by EndpointRounds: each mode one long-lived application JVM,
  paired rounds in a rotating order, the median of the per-round ratios to disabled, and a second disabled
  application as a control whose ratio is the run's noise floor. (JMH runs one configuration per fork; forks
  minutes apart differed by more than 2x here, so they cannot be compared within 2%.)
Prints the tables, then one JSON line for collection.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

JAVA = Path(__file__).resolve().parents[1] / "sdk" / "java"
MODULE = JAVA / "autopilot-benchmarks"


def build() -> list[str]:
    subprocess.run(["mvn", "-B", "-q", "-Dstyle.color=never", "-P", "bench", "package", "-DskipTests"], cwd=JAVA,
                   check=True)
    classpath = (MODULE / "target" / "classpath.txt").read_text().strip()
    return ["java", "-cp", f"{MODULE / 'target' / 'classes'}{os.pathsep}{classpath}", "org.openjdk.jmh.Main"]


def jmh(command: list[str], *args: str) -> list[dict]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    try:
        run = subprocess.run([*command, *args, "-rf", "json", "-rff", path], capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stdout[-3000:], run.stderr[-3000:], file=sys.stderr)
            run.check_returncode()
        for line in run.stdout.splitlines():
            if (line.startswith("[emit") and "final" in line) or line.startswith("[endpoint"):
                print("  ", line.strip())
        return json.loads(Path(path).read_text())
    finally:
        os.unlink(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    command = build()

    emit_args = ["EmitBenchmark|CopyBaselineBenchmark"] + (["-wi", "10", "-i", "20"] if args.quick else [])
    emit: dict[str, dict[str, float]] = {}
    for result in jmh(command, *emit_args):
        name = result["params"].get("backend", "map-copy floor")
        percentiles = result["primaryMetric"]["scorePercentiles"]
        emit[name] = {"p50_ns": percentiles["50.0"], "p99_ns": percentiles["99.0"], "p999_ns": percentiles["99.9"]}

    rounds, seconds = ("5", "1") if args.quick else ("11", "2")
    classpath = command[2]
    run = subprocess.run(["java", "-cp", classpath, "dev.rca.autopilot.bench.EndpointRounds", rounds, seconds],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], file=sys.stderr)
        run.check_returncode()
    lines = run.stdout.strip().splitlines()
    endpoint = json.loads(lines[-1])
    print(f"\nmachine: {os.cpu_count()} CPUs, load {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("\nemit() per call (JMH SampleTime, ~1-3 us of work between calls)")
    print(f"  {'':18} {'p50':>9} {'p99':>9} {'p99.9':>10}")
    for name, figures in emit.items():
        print(f"  {name:18} {figures['p50_ns']:7.0f}ns {figures['p99_ns']:7.0f}ns {figures['p999_ns'] / 1000:8.1f}us")
    print("\n".join(line for line in lines[:-1] if not line.startswith(("[endpoint round", "[endpoint warm-up"))))
    summary = {
        "emit_ns": emit,
        "endpoint": endpoint,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
