"""What autopilot-go costs its host: `go test -bench` of sdk/go, summed up in one JSON line.

    .venv/bin/python benchmarks/sdk_go.py            # about three minutes
    .venv/bin/python benchmarks/sdk_go.py --quick    # about 30 seconds

Emit's ns/op and allocs/op (disabled, enabled with the backend up and down), Emit's p50 and p99, the SDK's
CPU per event (Emit plus the worker's share), and a produce loop through the franz-go wrapper in paired
rounds: disabled, a second disabled run as the noise floor, enabled-healthy, enabled-backend-down. Records
go to RCA_TEST_KAFKA_BOOTSTRAP's broker when set (`make bench` runs under scripts/with-kafka), else to kfake.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$")


def go_command() -> str:
    return subprocess.run([str(ROOT / "scripts" / "go-toolchain")], check=True, capture_output=True,
                          text=True).stdout.strip()


def bench(go: str, package: str, pattern: str, benchtime: str, short: bool) -> dict[str, dict[str, float]]:
    argv = [go, "test", "-run", "^$", "-bench", pattern, "-benchmem", f"-benchtime={benchtime}", package]
    if short:
        argv.append("-short")
    run = subprocess.run(argv, cwd=ROOT / "sdk" / "go", capture_output=True, text=True)
    print(run.stdout.rstrip())
    if run.returncode != 0:
        print(run.stderr.rstrip()[-2000:], file=sys.stderr)
        raise SystemExit(run.returncode)
    results: dict[str, dict[str, float]] = {}
    for line in run.stdout.splitlines():
        match = LINE.match(line.strip())
        if match:
            values, units = match.group(2).split()[::2], match.group(2).split()[1::2]
            results[match.group(1)] = {unit: float(value) for value, unit in zip(values, units, strict=True)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    go = go_command()
    emits = "200000x" if args.quick else "1000000x"
    core = bench(go, ".", "^(BenchmarkEmit|BenchmarkEmitLatency|BenchmarkSDKCPU)$", emits, args.quick)
    loop = bench(go, "./kautopilot", "^BenchmarkProduceLoop$", "1x", args.quick)["BenchmarkProduceLoop"]
    summary = {"benchmark": "sdk_go", "quick": args.quick, "cpus": os.cpu_count(),
               "loadavg_1m": round(os.getloadavg()[0], 2)}
    for mode in ("disabled", "backend-up", "backend-down"):
        emit = core[f"BenchmarkEmit/{mode}"]
        latency = core[f"BenchmarkEmitLatency/{mode}"]
        summary[f"emit_ns_{mode}"] = emit["ns/op"]
        summary[f"emit_allocs_{mode}"] = emit["allocs/op"]
        summary[f"emit_p50_ns_{mode}"] = latency["p50-ns"]
        summary[f"emit_p99_ns_{mode}"] = latency["p99-ns"]
        if mode != "disabled":
            summary[f"sdk_cpu_ns_per_event_{mode}"] = core[f"BenchmarkSDKCPU/{mode}"]["cpu-ns/event"]
    summary["loop_rec_per_s"] = {k.removesuffix("-rec/s"): v for k, v in loop.items() if k.endswith("-rec/s")}
    summary["loop_delta_pct"] = {k.removesuffix("-vs-disabled-%"): v for k, v in loop.items()
                                 if k.endswith("-vs-disabled-%") and "-cpu-" not in k}
    summary["loop_cpu_delta_pct"] = {k.removesuffix("-cpu-vs-disabled-%"): v for k, v in loop.items()
                                     if k.endswith("-cpu-vs-disabled-%")}
    summary["loop_cpu_us_per_record_disabled"] = loop.get("disabled-cpu-us/rec")
    print()
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
