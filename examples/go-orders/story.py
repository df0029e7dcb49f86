"""The Go story, end to end: a Go producer with partial tracing breaks a field after a deploy.

    scripts/with-kafka .venv/bin/python examples/go-orders/story.py        # or: make go-story
    .venv/bin/python examples/go-orders/story.py --bootstrap HOST:PORT --json

What happens, all of it real: `rca serve` on a fresh SQLite file; the service `orders-api` (go-orders, a Go
program using franz-go and autopilot-go) deployed as v1.4.0 and then v1.5.0, each deploy recorded by the CI
step `autopilot-go deploy-event`; each release takes shop orders over HTTP (traced by autopilot.Middleware)
and partner orders from a batch import (no request, so no trace) and writes them to a Kafka topic, with the
identity headers on every record; `rca gate consume` reads the topic into the store; a detector pass; the
incident, its RCA and the dataset's readiness read back through the API.

v1.5.0 moved the partner import to a new feed and maps it wrong: its partner orders lack customer_id. The
expected boundaries (first bad, last good) are taken from what the producer itself reports it wrote, not from
rca. Exits 1 when the incident or the RCA is not the expected one.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVICE, PRODUCER, DATASET = "orders-api", "svc://orders-api", "ds://go_orders_v1"
RELEASES = (("v1.4.0", "a41c9e0"), ("v1.5.0", "7d3f1b2"))
CONTRACT = {
    "type": "object",
    "required": ["order_id", "customer_id", "amount", "currency"],
    "properties": {"order_id": {"type": "string"}, "customer_id": {"type": "string"},
                   "amount": {"type": "number"}, "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]}},
}


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token(rca: str, env: dict[str, str], name: str, role: str, *producers: str) -> str:
    argv = [rca, "token", "create", "--name", name, "--role", role]
    for producer in producers:
        argv += ["--producer", producer]
    return run(argv, env).strip().splitlines()[-1].strip()


def build(go: str, work: Path) -> tuple[str, str]:
    """The producer and the CI command, built from this repository's sources."""
    producer, cli = work / "go-orders", work / "autopilot-go"
    run([go, "build", "-o", str(producer), "."], cwd=HERE)
    run([go, "build", "-o", str(cli), "./cmd/autopilot-go"], cwd=ROOT / "sdk" / "go")
    return str(producer), str(cli)


def expected_boundaries(written: list[dict[str, Any]], topic: str) -> dict[str, Any]:
    """First bad and last good, from the producer's own account of what it wrote (one partition)."""
    first_bad = next(w for w in written if not w["has_customer"])
    goods = [w for w in written if w["has_customer"] and w["offset"] < first_bad["offset"]]
    last_good = max(goods, key=lambda w: w["offset"])
    # rca gives the last good record exact to the second (detectors/_gate.py): the true one, or a good record
    # of the same second before the first bad one when that second also holds the first bad.
    same_second = [w for w in goods if w["timestamp_ms"] // 1000 == last_good["timestamp_ms"] // 1000]
    def ref(w: dict[str, Any]) -> str:
        return f"{topic}/{w['partition']}/{w['offset']}"
    return {"first_bad_ref": ref(first_bad), "first_bad_ms": first_bad["timestamp_ms"],
            "last_good_ref": ref(last_good), "last_good_ms": last_good["timestamp_ms"],
            "last_good_acceptable": {ref(w): w["timestamp_ms"] for w in same_second},
            "first_bad_traced": first_bad["traced"]}


def millis(text: str | None) -> int | None:
    return round(datetime.fromisoformat(text).timestamp() * 1000) if text else None


def story(bootstrap: str, work: Path) -> dict[str, Any]:
    go = run([str(ROOT / "scripts" / "go-toolchain")]).strip()
    producer, cli = build(go, work)
    rca = str(Path(sys.executable).with_name("rca"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AUTOPILOT_", "RCA_"))},
           "RCA_DATABASE_URL": f"sqlite:///{work / 'rca.db'}", "RCA_DETECT_INTERVAL_S": "0"}
    run([rca, "db", "upgrade"], env)
    writer = token(rca, env, "orders-api", "writer", PRODUCER)
    admin = token(rca, env, "story-admin", "admin")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "rca-serve.log").open("wb")
    server = subprocess.Popen([rca, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
        for _ in range(300):
            try:
                if api.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        topic = f"go-orders.created.{secrets.token_hex(4)}"
        api.post("/v1/contracts", json={"dataset_urn": DATASET, "schema": CONTRACT, "owner_team": "orders",
                                        "tier": 2}).raise_for_status()
        api.post("/v1/mappings", json={"topic": topic, "dataset_urn": DATASET,
                                       "producer_urn": PRODUCER}).raise_for_status()
        autopilot = {"AUTOPILOT_ENDPOINT": url, "AUTOPILOT_TOKEN": writer}
        written: list[dict[str, Any]] = []
        for release, commit in RELEASES:
            # The CI step after a successful deploy, then the new release starts.
            run([cli, "deploy-event", "--service", SERVICE, "--version", release, "--commit", commit, "--env", "prod",
                 "--domain", "orders", "--strict"], {**env, **autopilot})
            time.sleep(1.1)  # the release's first record comes a second after its deploy, as in life
            out = run([producer, "-brokers", bootstrap, "-topic", topic, "-release", release],
                      {**env, **autopilot, "AUTOPILOT_ENABLED": "true", "AUTOPILOT_SERVICE": SERVICE,
                       "AUTOPILOT_ENV": "prod", "AUTOPILOT_VERSION": release, "AUTOPILOT_COMMIT": commit,
                       "AUTOPILOT_STARTUP_EVENT": "false"})
            written += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        run([rca, "gate", "consume", "--bootstrap", bootstrap, "--group", f"story-{secrets.token_hex(4)}",
             "--stop-at-end", "--topics", topic], env)
        api.post("/v1/detect").raise_for_status()
        incidents = api.get("/v1/incidents", params={"dataset_urn": DATASET}).json()["items"]
        rcas = [api.get(f"/v1/incidents/{i['id']}/rca").json() for i in incidents]
        readiness = api.get("/v1/readiness", params={"dataset_urn": DATASET}).json()
        return {"topic": topic, "written": written, "expected": expected_boundaries(written, topic),
                "incidents": incidents, "rcas": rcas, "readiness": readiness}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        log.close()


def problems(result: dict[str, Any]) -> list[str]:
    """What is not as the story says it must be; empty when the incident and the RCA are right."""
    expected, incidents = result["expected"], result["incidents"]
    if len(incidents) != 1:
        return [f"{len(incidents)} incidents on {DATASET}, expected one"]
    incident, rca = incidents[0], result["rcas"][0]
    deploy = (incident.get("correlated_deploys") or [{}])[0]
    last_good_ref = incident["facts"]["last_good_ref"]
    exact_to_the_second = last_good_ref in expected["last_good_acceptable"]
    checks = {
        "kind": (incident["kind"], "contract"),
        "reason_code": (incident["reason_code"], "REQUIRED_FIELD_MISSING"),
        "field": (incident["field"], "customer_id"),
        "producer_urn": (incident["producer_urn"], PRODUCER),
        "first_bad_ref": (incident["facts"]["first_bad_ref"], expected["first_bad_ref"]),
        "first_bad_time": (millis(incident["first_bad_time"]), expected["first_bad_ms"]),
        "last_good_ref": (last_good_ref, last_good_ref if exact_to_the_second else expected["last_good_ref"]),
        "last_good_time": (millis(incident["last_good_time"]), expected["last_good_acceptable"].get(last_good_ref)),
        "correlated deploy": (deploy.get("deploy_ref"), f"{SERVICE}@v1.5.0+7d3f1b2"),
        "verdict": (rca["verdict"], "cause_identified"),
        "RCA's deploy": ((rca.get("correlated_deploy") or {}).get("version"), "v1.5.0"),
    }
    wrong = [f"{name}: {got!r}, expected {want!r}" for name, (got, want) in checks.items() if got != want]
    # Partial tracing, as rca sees it: some of the dataset's records carry a trace, some do not, and every
    # one names its producer (the autopilot-producer header agrees with the mapping).
    criteria = {c["name"]: c["value"] for item in result["readiness"]["items"] for c in item["criteria"]}
    if not 0 < criteria.get("trace_anchors", 0) < 1:
        wrong.append(f"trace anchors {criteria.get('trace_anchors')!r}, expected a share strictly between 0 and 1")
    if criteria.get("identity_confidence") != 1.0:
        wrong.append(f"identity confidence {criteria.get('identity_confidence')!r}, expected 1.0")
    return wrong


def report(result: dict[str, Any]) -> str:
    written, lines = result["written"], []
    traced = sum(w["traced"] for w in written)
    lines.append(f"orders-api wrote {len(written)} records to {result['topic']}: {traced} with a traceparent (shop "
                 f"orders over HTTP), {len(written) - traced} without (partner import); "
                 f"{sum(not w['has_customer'] for w in written)} lack customer_id.")
    for incident, rca in zip(result["incidents"], result["rcas"], strict=True):
        lines.append(f"incident {incident['id']}: {incident['reason_code']}({incident['field']}) on "
                     f"{incident['dataset_urn']}, first bad {incident['first_bad_time']} "
                     f"({incident['facts']['first_bad_ref']}), last good {incident['last_good_time']} "
                     f"({incident['facts']['last_good_ref']}), bad rate {incident['bad_rate']}")
        lines.append(f"RCA: {rca['verdict']}. {rca['summary']}")
        lines += [f"  - {claim['text']} {claim['evidence_ids']}" for claim in rca["claims"]]
        lines += [f"  next: {check}" for check in rca["next_checks"]]
    for item in result["readiness"]["items"]:
        lines.append(f"readiness of {item['subject']}: {item['score']}%")
        lines += [f"  {c['name']}: {c['value']} ({c['detail']})" for c in item["criteria"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("RCA_TEST_KAFKA_BOOTSTRAP"),
                        help="Kafka bootstrap servers (default $RCA_TEST_KAFKA_BOOTSTRAP, set by scripts/with-kafka)")
    parser.add_argument("--json", action="store_true", help="print everything as one JSON document")
    args = parser.parse_args()
    if not args.bootstrap:
        parser.error("no Kafka broker: pass --bootstrap, or run under scripts/with-kafka")
    with tempfile.TemporaryDirectory(prefix="go-orders-") as work:
        result = story(args.bootstrap, Path(work))
    wrong = problems(result)
    print(json.dumps({**result, "problems": wrong}, indent=2) if args.json else report(result))
    for problem in wrong:
        print(f"story: {problem}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
