"""Contract gate throughput against the `jsonschema` package, on the same order records.

    .venv/bin/python benchmarks/gate_bench.py [--quick] [--records N]

The gate figure is `run_gate` end to end, in HTTP-sized batches: validation, the per-second and
per-minute counters, and the observation evidence records (ids, payloads). The baseline only
validates: `Draft202012Validator(schema).is_valid`, built once (the faster of its honest options;
`iter_errors`, which would be needed to say *why* a record is bad, is measured too). Best of several
runs, so a busy neighbour on the machine costs us less noise. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jsonschema

from detectors._contract import compile_schema
from detectors._gate import GateRecord, contract_breaks, run_gate

TARGET_RATIO = 5.0
DATASET = "ds://orders_v1"
PRODUCER = "svc://checkout-service"
# The reference scenario's contract (examples/scenarios/spring_missing_customer_id.yaml).
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "customer_id", "amount", "currency"],
    "properties": {
        "order_id": {"type": "string"},
        "customer_id": {"type": "string"},
        "amount": {"type": "number"},
        "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]},
        "note": {"type": "string"},
    },
}


def make_records(count: int, *, rate_per_s: int = 1000, seed: int = 7) -> list[GateRecord]:
    """Orders like the scenario's at `rate_per_s` (ms timestamps): ~5% lack customer_id after the
    midpoint (a bad deploy), ~1% carry an unknown currency, a few have a note."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    headers = {"autopilot-producer": PRODUCER, "autopilot-env": "prod",
               "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    records = []
    for i in range(count):
        value: dict[str, Any] = {
            "order_id": f"o-{100000 + i}",
            "customer_id": f"c-{rng.randrange(10000)}",
            "amount": round(rng.uniform(1, 400), 2),
            "currency": rng.choice(("USD", "EUR", "GBP")),
        }
        roll = rng.random()
        if i > count // 2 and roll < 0.05:
            del value["customer_id"]
        elif roll > 0.99:
            value["currency"] = "JPY"
        elif roll > 0.97:
            value["note"] = "gift wrap"
        timestamp = start + timedelta(milliseconds=i * 1000 // rate_per_s)
        records.append(GateRecord(
            topic="orders.created", partition=i % 3, offset=5000 + i, timestamp=timestamp, key=value["order_id"],
            schema_id="42", headers=headers, value=value, dataset_urn=DATASET, producer_urn=PRODUCER,
        ))
    return records


def best_rate(count: int, run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return count / best


def bench(count: int, *, batch: int = 5000, repeat: int = 3) -> dict[str, Any]:
    records = make_records(count)
    values = [r.value for r in records]
    validators = {DATASET: compile_schema(SCHEMA, dataset_urn=DATASET)}
    ingest = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    batches = [records[i:i + batch] for i in range(0, count, batch)]
    baseline = jsonschema.Draft202012Validator(SCHEMA)

    def gate_batched() -> None:
        for chunk in batches:
            run_gate(chunk, validators, ingest)

    def validate_only() -> None:
        violations = validators[DATASET].violations
        for value in values:
            violations(value)

    def jsonschema_is_valid() -> None:
        is_valid = baseline.is_valid
        for value in values:
            is_valid(value)

    def jsonschema_iter_errors() -> None:
        iter_errors = baseline.iter_errors
        for value in values:
            for _ in iter_errors(value):
                pass

    # Sanity: both sides agree on which records are bad.
    ours = sum(1 for v in values if validators[DATASET].violations(v))
    theirs = sum(1 for v in values if not baseline.is_valid(v))
    if ours != theirs:
        raise SystemExit(f"disagreement: gate finds {ours} bad records, jsonschema {theirs}")

    out = run_gate(records, validators, ingest)
    breaks = contract_breaks(out.counters, ingest)
    return {
        "records": count,
        "bad_records": ours,
        "batch_size": batch,
        "gate_records_per_s": best_rate(count, gate_batched, repeat),
        "gate_one_batch_records_per_s": best_rate(count, lambda: run_gate(records, validators, ingest), repeat),
        "validator_only_records_per_s": best_rate(count, validate_only, repeat),
        "jsonschema_records_per_s": best_rate(count, jsonschema_is_valid, repeat),
        "jsonschema_iter_errors_records_per_s": best_rate(count, jsonschema_iter_errors, max(1, repeat - 1)),
        "counters": len(out.counters),
        "observations": len(out.observations),
        "breaks": [(b.reason_code, b.field) for b in breaks],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k records, 2 runs each")
    parser.add_argument("--records", type=int, default=None)
    args = parser.parse_args(argv)
    count = args.records or (20_000 if args.quick else 200_000)
    result = bench(count, repeat=2 if args.quick else 3)
    ratio = result["gate_records_per_s"] / result["jsonschema_records_per_s"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    print(f"contract gate vs jsonschema: {count:,} order records ({result['bad_records']:,} bad), "
          f"Python {platform.python_version()}, {os.cpu_count()} cores, load {load:.2f}")
    rows = [
        (f"gate: run_gate, batches of {result['batch_size']:,} (validation + counters + evidence)",
         result["gate_records_per_s"]),
        ("gate: run_gate, one batch", result["gate_one_batch_records_per_s"]),
        ("gate: compiled validator alone (violations)", result["validator_only_records_per_s"]),
        ("jsonschema Draft202012Validator.is_valid (baseline)", result["jsonschema_records_per_s"]),
        ("jsonschema Draft202012Validator.iter_errors", result["jsonschema_iter_errors_records_per_s"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, rate in rows:
        print(f"  {name:<{width}}  {rate:>12,.0f} records/s")
    print(f"  ratio gate / jsonschema: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x); "
          f"{result['counters']} counters and {result['observations']} observations for {count:,} records")
    summary = {
        "bench": "gate", "records": count, "gate_records_per_s": round(result["gate_records_per_s"]),
        "jsonschema_records_per_s": round(result["jsonschema_records_per_s"]), "ratio": round(ratio, 2),
        "target_ratio": TARGET_RATIO, "ok": ratio >= TARGET_RATIO,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
