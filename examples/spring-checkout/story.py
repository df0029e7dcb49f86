"""The Spring story, end to end, against a real `rca serve` and a real Kafka broker.

    scripts/with-kafka .venv/bin/python examples/spring-checkout/story.py      # or: make spring-story

checkout-service (this directory) is built as v2.8.0, recorded by the CI step (`autopilot-cli deploy-event`, the
Java SDK's jar), deployed with the starter switched on (AUTOPILOT_ENABLED=true) and sent traffic; then v2.8.1
(releases/v2.8.1.patch: app-channel orders lose customer_id) is built, recorded, deployed and sent traffic.
`rca gate consume` reads orders.created, a detector pass runs, and the story checks the incident and its RCA
against what it reads back from the topic itself (never against rca's own figures):
REQUIRED_FIELD_MISSING(customer_id) on ds://orders_v1, first bad and last good exactly the records on the topic,
v2.8.1 the correlated deploy, and an RCA that identifies the cause and cites both. Exit 0 when every check holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
JAVA_SDK = ROOT / "sdk" / "java"
CLI_JAR = JAVA_SDK / "autopilot-cli" / "target" / "autopilot-cli-0.1.0.jar"
TOPIC = "orders.created"
DATASET = "ds://orders_v1"
PRODUCER = "svc://checkout-service"
RELEASES = {"v2.8.0": "a1b2c3d", "v2.8.1": "3f9c2ab"}  # version -> commit, as CI would know them
CONTRACT = {
    "dataset_urn": DATASET, "enforcement": "flag", "owner_team": "checkout", "tier": 1,
    "schema": {"type": "object", "required": ["order_id", "customer_id", "amount", "currency"],
               "properties": {"order_id": {"type": "string"}, "customer_id": {"type": "string"},
                              "amount": {"type": "number"},
                              "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]}}},
}


def log(message: str) -> None:
    print(f"[story {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, text=True, capture_output=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({result.returncode}):\n{result.stdout[-2000:]}\n"
                         f"{result.stderr[-2000:]}")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build(work: Path, skip_sdk: bool) -> dict[str, list[str]]:
    """The SDK into the local Maven repository (step 1 of adoption is a dependency), then each release."""
    if not skip_sdk:
        log("building the Java SDK (mvn install)")
        run(["mvn", "-B", "-q", "-Dstyle.color=never", "install", "-DskipTests"], cwd=JAVA_SDK)
    commands = {}
    for version in RELEASES:
        tree = work / version
        shutil.copytree(HERE, tree, ignore=shutil.ignore_patterns("target", "story.py", "__pycache__"))
        if version == "v2.8.1":
            run(["patch", "-p1", "-i", str(HERE / "releases" / "v2.8.1.patch")], cwd=tree)
        log(f"building checkout-service {version}")
        run(["mvn", "-B", "-q", "-Dstyle.color=never", "package", f"-Drevision={version[1:]}"], cwd=tree)
        classpath = (tree / "target" / "classpath.txt").read_text().strip()
        jar = tree / "target" / f"checkout-service-{version[1:]}.jar"
        commands[version] = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                             f"{jar}{os.pathsep}{classpath}", "com.example.checkout.CheckoutApplication"]
    return commands


def rca_bin() -> str:
    return str(Path(sys.executable).with_name("rca"))


def token(env: dict[str, str], name: str, role: str, *producers: str) -> str:
    args = [rca_bin(), "token", "create", "--name", name, "--role", role]
    for producer in producers:
        args += ["--producer", producer]
    return run(args, env=env).stdout.strip().splitlines()[-1].strip()


def fresh_topic(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if TOPIC in admin.list_topics(timeout=10).topics:
        admin.delete_topics([TOPIC])[TOPIC].result(30)
        while TOPIC in admin.list_topics(timeout=10).topics:
            time.sleep(0.2)
    while True:
        try:
            admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
            return
        except KafkaException as exc:
            if "marked for deletion" not in str(exc) and "already exists" not in str(exc):
                raise
            time.sleep(0.5)


class Service:
    """One deployment of checkout-service: a real JVM with the starter on, as a deployment manifest sets it."""

    def __init__(self, command: list[str], version: str, endpoint: str, writer: str, bootstrap: str, logs: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SERVER_PORT": str(self.port), "SPRING_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
               # Step 2 of adoption: the flag and where to send evidence. Step 3: deploy.
               "AUTOPILOT_ENABLED": "true", "AUTOPILOT_ENDPOINT": endpoint, "AUTOPILOT_TOKEN": writer,
               "AUTOPILOT_ENV": "prod", "AUTOPILOT_DOMAIN": "orders", "AUTOPILOT_COMMIT": RELEASES[version],
               "AUTOPILOT_STARTUP_EVENT": "false"}  # the CI step records deploys
        self.log = (logs / f"checkout-{version}.log").open("w")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"checkout-service {version} exited; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/actuator/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"checkout-service {version} did not start within 120 s; see {self.log.name}")

    def health(self) -> dict:
        return httpx.get(f"{self.url}/actuator/health", timeout=5).json()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)  # Spring closes the context: the SDK flushes within its timeout
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def traffic(service: Service, version: str, count: int, first: int) -> None:
    """One order a second, each at the start of its own second, so every record has a second of its own: the
    gate's boundaries are exact to the record, and this story can say which record each must be."""
    log(f"sending {count} orders to {version}")
    with httpx.Client(timeout=10) as client:
        for i in range(first, first + count):
            now = time.time()
            time.sleep(1.05 - (now % 1.0) if now % 1.0 > 0.05 else 0.0)
            channel = "app" if i % 4 == 1 else "web"  # a quarter of the orders come from the mobile app
            order = {"orderId": f"o-{100000 + i}", "customerId": f"c-{1000 + i * 7 % 9000}",
                     "amount": round(20 + i * 3.17 % 380, 2), "currency": ("EUR", "USD", "GBP")[i % 3],
                     "channel": channel}
            answer = client.post(f"{service.url}/orders", json=order)
            if answer.status_code != 201:
                raise SystemExit(f"POST /orders answered {answer.status_code}: {answer.text}")


def deploy_event(version: str, endpoint: str, writer: str) -> None:
    """The CI step, exactly as a pipeline runs it (sdk/java/README.md)."""
    env = {**os.environ, "AUTOPILOT_ENDPOINT": endpoint, "AUTOPILOT_TOKEN": writer}
    result = run(["java", "-jar", str(CLI_JAR), "deploy-event", "--service", "checkout-service", "--version", version,
                  "--commit", RELEASES[version], "--env", "prod", "--domain", "orders", "--strict"], env=env)
    log(result.stdout.strip())


def read_back(bootstrap: str) -> list[dict]:
    """Every record on the topic, read with a plain consumer: the story's own account of what was written."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"story-check-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, 0, 0)])
    _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    records = []
    while len(records) < high:
        message = consumer.poll(5)
        if message is None:
            break
        if message.error():
            continue
        records.append({"offset": message.offset(), "millis": message.timestamp()[1],
                        "value": json.loads(message.value()),
                        "headers": {k: v.decode() for k, v in (message.headers() or [])}})
    consumer.close()
    return records


def iso_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("RCA_TEST_KAFKA_BOOTSTRAP"))
    parser.add_argument("--work", type=Path, help="where to build and keep logs (default: a temporary folder)")
    parser.add_argument("--orders-before", type=int, default=8)
    parser.add_argument("--orders-after", type=int, default=16)
    parser.add_argument("--skip-sdk-build", action="store_true", help="the SDK is already installed (mvn install)")
    parser.add_argument("--summary", type=Path, help="write the checks and figures here as JSON")
    args = parser.parse_args()
    if not args.bootstrap:
        raise SystemExit("no Kafka broker: pass --bootstrap or run under scripts/with-kafka")
    work = args.work or Path(tempfile.mkdtemp(prefix="spring-story-"))
    work.mkdir(parents=True, exist_ok=True)
    commands = build(work, args.skip_sdk_build)
    if not CLI_JAR.exists():
        raise SystemExit(f"{CLI_JAR} is missing: build sdk/java first")

    env = {**os.environ, "RCA_DATABASE_URL": f"sqlite:///{work / 'rca.db'}"}
    admin = token(env, "platform", "admin")
    writer = token(env, "checkout-service", "writer", PRODUCER)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server_log = (work / "serve.log").open("w")
    server = subprocess.Popen([rca_bin(), "serve", "--port", str(port)], env={**env, "RCA_DETECT_INTERVAL_S": "0"},
                              stdout=server_log, stderr=subprocess.STDOUT)
    services: list[Service] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{endpoint}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"rca serve did not start; see {server_log.name}")
            time.sleep(0.2)
        api = httpx.Client(base_url=endpoint, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
        for path, body in (("/v1/contracts", CONTRACT),
                           ("/v1/mappings", {"topic": TOPIC, "dataset_urn": DATASET, "producer_urn": PRODUCER}),
                           ("/v1/lineage-edges", {"upstream": DATASET, "downstream": "ds://curated/orders_enriched"})):
            answer = api.post(path, json=body)
            if answer.status_code != 201:
                raise SystemExit(f"POST {path} answered {answer.status_code}: {answer.text}")
        fresh_topic(args.bootstrap)

        first = 0
        for version, count in (("v2.8.0", args.orders_before), ("v2.8.1", args.orders_after)):
            if services:
                log(f"stopping {services[-1].url}")
                services[-1].stop()
            deploy_event(version, endpoint, writer)
            services.append(Service(commands[version], version, endpoint, writer, args.bootstrap, work))
            traffic(services[-1], version, count, first)
            first += count
        health = services[-1].health()["components"]["autopilot"]
        services[-1].stop()

        log("rca gate consume")
        consumed = run([rca_bin(), "gate", "consume", "--bootstrap", args.bootstrap, "--group",
                        f"story-{uuid.uuid4().hex[:8]}", "--stop-at-end", "--topics", TOPIC], env=env, timeout=180)
        detect = api.post("/v1/detect").json()
        incidents = [i for i in api.get("/v1/incidents").json()["items"] if i.get("dataset_urn") == DATASET]
        incident = next((i for i in incidents if i.get("reason_code") == "REQUIRED_FIELD_MISSING"), None)
        if incident is None:
            raise SystemExit(f"no REQUIRED_FIELD_MISSING incident on {DATASET}: {json.dumps(incidents)[:2000]}")
        incident = api.get(f"/v1/incidents/{incident['id']}").json()
        rca = api.get(f"/v1/incidents/{incident['id']}/rca").json()

        # The story's own account, from the topic itself.
        records = read_back(args.bootstrap)
        bad = [r for r in records if "customer_id" not in r["value"]]
        good = [r for r in records if "customer_id" in r["value"]]
        first_bad = min(bad, key=lambda r: r["offset"])
        last_good = max((r for r in good if r["offset"] < first_bad["offset"]), key=lambda r: r["offset"])
        first_bad_ref = f"{TOPIC}/0/{first_bad['offset']}"
        rate_after = len(bad) / len([r for r in records if r["offset"] >= first_bad["offset"]])
        deploys = incident.get("correlated_deploys") or []
        cited = json.dumps(rca)
        checks = {
            "reason REQUIRED_FIELD_MISSING(customer_id)": incident.get("reason_code") == "REQUIRED_FIELD_MISSING"
            and incident.get("field") == "customer_id",
            "first bad is the first record without customer_id": incident["facts"]["first_bad_ref"] == first_bad_ref
            and datetime.fromisoformat(incident["first_bad_time"]) == iso_millis(first_bad["millis"]),
            "last good is the last good record before it":
                incident["facts"]["last_good_ref"] == f"{TOPIC}/0/{last_good['offset']}"
                and datetime.fromisoformat(incident["last_good_time"]) == iso_millis(last_good["millis"]),
            "v2.8.1 is the correlated deploy": bool(deploys) and deploys[0].get("version") == "v2.8.1",
            "bad rate 0 before": incident["bad_rate"]["before"] == 0.0,
            "bad rate after as written": abs(incident["bad_rate"]["after"] - rate_after) < 1e-3,
            "downstream impact": "ds://curated/orders_enriched" in json.dumps(incident),
            "rca identifies the cause": rca.get("verdict") == "cause_identified",
            # Evidence ids are rca's hashes of the source and ref; the refs they stand for were checked above.
            "rca cites the v2.8.1 deploy and the first bad record": bool(deploys)
            and deploys[0].get("deploy_ref") == f"checkout-service@v2.8.1+{RELEASES['v2.8.1']}"
            and deploys[0]["evidence_id"] in cited and incident["facts"]["first_bad_evidence_id"] in cited,
            "the RCA's most likely cause is the v2.8.1 deploy": (rca.get("correlated_deploy") or {}).get("version")
            == "v2.8.1" and bool(deploys) and deploys[0]["evidence_id"]
            in ((rca.get("most_likely_cause") or {}).get("evidence_ids") or []),
            "every record carries the producer's identity headers": all(
                r["headers"].get("autopilot-producer") == PRODUCER and r["headers"].get("autopilot-env") == "prod"
                and r["headers"].get("autopilot-version") in RELEASES and "traceparent" in r["headers"]
                for r in records),
            "the health contributor was UP": health.get("status") == "UP",
        }
        summary = {"checks": checks, "records": len(records), "bad": len(bad), "detect": detect,
                   "incident": {k: incident.get(k) for k in ("id", "reason_code", "field", "first_bad_time",
                                                             "last_good_time", "bad_rate", "correlated_deploys")},
                   "facts": incident.get("facts"), "rca_verdict": rca.get("verdict"),
                   "rca_answer": rca.get("summary"),
                   "rca_claims": [c.get("text") for c in rca.get("claims") or [] if isinstance(c, dict)],
                   "sdk_health": health,
                   "gate_consume": consumed.stderr.strip().splitlines()[-3:], "work": str(work)}
        if args.summary:
            args.summary.write_text(json.dumps(summary, indent=2, default=str))
        for name, ok in checks.items():
            log(f"{'ok  ' if ok else 'FAIL'} {name}")
        if not all(checks.values()):
            print(json.dumps(summary, indent=2, default=str)[:6000])
            return 1
        log(f"incident {incident['id']}: {incident['reason_code']}({incident['field']}), first bad "
            f"{incident['first_bad_time']}, last good {incident['last_good_time']}, deploy "
            f"{deploys[0]['deploy_ref']}; RCA verdict {rca.get('verdict')}")
        return 0
    finally:
        for service in services:
            if service.process.poll() is None:
                service.stop()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()


if __name__ == "__main__":
    sys.exit(main())
