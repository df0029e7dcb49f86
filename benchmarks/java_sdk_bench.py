"""What the Java SDK costs its host, measured by JMH (sdk/java/autopilot-benchmarks, built with -P bench).

    .venv/bin/python benchmarks/java_sdk_bench.py            # full run (about six minutes)
    .venv/bin/python benchmarks/java_sdk_bench.py --quick    # about two minutes

- emit() p50/p99, sampled call by call (JMH SampleTime), backend up (a local server taking every batch), down (a
  closed port) and disabled, beside the same-run floor: copying the data map, the one allocation emit() must make.
- An HTTP endpoint's throughput (real Tomcat + Spring MVC + Jackson, one event per request) with the starter
  disabled, enabled-healthy and enabled-backend-down. The three are run in interleaved rounds (a fresh JVM each)
  and compared by their medians, so load from elsewhere on this shared machine hits all three alike.
Prints a table, then one JSON line for collection.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

JAVA = Path(__file__).resolve().parents[1] / "sdk" / "java"
MODULE = JAVA / "autopilot-benchmarks"
ENDPOINT_MODES = ("disabled", "enabled-healthy", "enabled-backend-down")


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

    rounds = 2 if args.quick else 3
    timing = ["-wi", "2", "-w", "2", "-i", "3", "-r", "2"] if args.quick else \
        ["-wi", "3", "-w", "2", "-i", "5", "-r", "2"]
    throughput: dict[str, list[float]] = {mode: [] for mode in ENDPOINT_MODES}
    for round_ in range(rounds):
        order = ENDPOINT_MODES if round_ % 2 == 0 else tuple(reversed(ENDPOINT_MODES))
        for mode in order:
            (result,) = jmh(command, "EndpointBenchmark", "-p", f"mode={mode}", *timing)
            throughput[mode].append(result["primaryMetric"]["score"])
    medians = {mode: statistics.median(values) for mode, values in throughput.items()}
    base = medians["disabled"]

    print(f"\nmachine: {os.cpu_count()} CPUs, load {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("\nemit() per call (JMH SampleTime, ~1-3 us of work between calls)")
    print(f"  {'':18} {'p50':>9} {'p99':>9} {'p99.9':>10}")
    for name, figures in emit.items():
        print(f"  {name:18} {figures['p50_ns']:7.0f}ns {figures['p99_ns']:7.0f}ns {figures['p999_ns'] / 1000:8.1f}us")
    print(f"\nHTTP endpoint throughput, requests/s (median of {rounds} interleaved rounds; each round's figure)")
    for mode in ENDPOINT_MODES:
        change = (medians[mode] / base - 1) * 100
        rounds_text = ", ".join(f"{v:.0f}" for v in throughput[mode])
        print(f"  {mode:22} {medians[mode]:9.0f}  ({change:+.1f}% vs disabled)  [{rounds_text}]")
    summary = {
        "emit_ns": emit,
        "endpoint_rps": medians,
        "endpoint_rounds": throughput,
        "endpoint_vs_disabled_pct": {m: round((medians[m] / base - 1) * 100, 2) for m in ENDPOINT_MODES},
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
