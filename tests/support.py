"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import IO, Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
# The three reference scenarios, the scenario format's worked examples (docs/SCENARIOS.md).
REFERENCE = ROOT / "examples" / "scenarios"
# Real OpenLineage and CDEvents payloads from public projects, kept byte for byte (tests/fixtures/conformance/).
CONFORMANCE = ROOT / "tests" / "fixtures" / "conformance"
# The independent checker, written apart from the project; nothing the product ships imports it.
CHECKER = ROOT / "tests" / "independent" / "check_replay.py"
# `make mutate` sets RCA_MUTATION: every mutant reruns the property tests that reach it, so there they draw fewer
# examples (from the same recorded seed) and a module's mutants finish in minutes, not hours.
MUTATION = bool(os.environ.get("RCA_MUTATION"))


def examples(count: int) -> int:
    """A property test's max_examples: `count`, or at most 15 under `make mutate`."""
    return min(count, 15) if MUTATION else count


POSTGRES_URL = os.environ.get("RCA_TEST_POSTGRES_URL")
# A real Kafka broker (scripts/with-kafka starts one for `make test`); tests take it through the `kafka` fixture.
KAFKA_BOOTSTRAP = os.environ.get("RCA_TEST_KAFKA_BOOTSTRAP")
# The contract of the reference Spring scenario (examples/scenarios/spring_missing_customer_id.yaml).
ORDERS_SCHEMA: dict[str, Any] = {
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


class ChildProcess:
    """A process a test started, its output in a log file: killed with SIGKILL, or stopped politely."""

    process: subprocess.Popen[bytes]
    _log: IO[bytes]

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout_s: float = 10) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()
        return self.process.returncode


class FixedClock:
    """The clock seam for tests: set it, advance it; nothing reads the wall clock."""

    def __init__(self, now: datetime = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def fresh_postgres(url: str) -> None:
    """An empty public schema: every PostgreSQL test starts from nothing."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def deployment(event_id: str, source: str = "svc://checkout-service", time: str = "2026-03-10T10:20:00+00:00",
               **data: Any) -> dict[str, Any]:
    body = {"service": source.split("://", 1)[1], "version": "v2.8.1", "env": "prod", **data}
    return {"specversion": "1.0", "id": event_id, "source": source, "type": "DeploymentEvent", "time": time,
            "data": body}


# A real `rca serve` process (uvicorn) on a free loopback port: tests/e2e uses it through the `serve` fixture,
# and modules that keep one server for all their cases start it themselves.
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server(ChildProcess):
    def __init__(self, database_url: str, log: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "RCA_DATABASE_URL": database_url, **(env or {})}
        self._log = log.open("ab")
        rca = Path(sys.executable).with_name("rca")
        self.process = subprocess.Popen([str(rca), "serve", "--port", str(self.port), *extra], env=environment,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        # Generous: on a 2-core machine shared with other suites, a cold start has taken more than 30 s.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"rca serve exited with {self.process.returncode}; see {log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()  # never leave a server behind: the fixture only stops the ones that started
        raise RuntimeError(f"rca serve did not answer within 90 s; see {log}")


@dataclass
class Live:
    """A running server, its tokens by role, and a store on the same database for what a test plants directly
    (tests/e2e/conftest.py's module-scoped `live` fixture)."""

    server: Server
    store: Any  # evidence._store.Store
    tokens: dict[str, str]
    database: str

    def api(self, role: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=60)


def kafka_required() -> bool:
    """Under CI (or RCA_REQUIRE_KAFKA=1) a missing broker fails the Kafka tests instead of skipping them."""
    return os.environ.get("RCA_REQUIRE_KAFKA") == "1" or bool(os.environ.get("CI"))


def new_topic(bootstrap: str, name: str, partitions: int = 1, **config: str) -> str:
    """Create a topic named `name` plus a random suffix (a reused broker keeps old topics) and return its name."""
    import uuid

    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"{name}.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1, config=config)]).values():
        future.result(30)
    return topic


def produce(bootstrap: str, topic: str, records: Iterable[dict[str, Any]], **config: Any) -> int:
    """Produce records ({value, key?, partition?, headers?, timestamp_ms?}) and wait until all are acknowledged."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all", **config})
    failures: list[str] = []

    def delivered(error: Any, _: Any) -> None:
        if error is not None:
            failures.append(error.str())

    count = 0
    for record in records:
        extra = {k: record[k] for k in ("key", "headers", "partition") if record.get(k) is not None}
        if record.get("timestamp_ms") is not None:
            extra["timestamp"] = record["timestamp_ms"]
        while True:
            try:
                producer.produce(topic, value=record["value"], on_delivery=delivered, **extra)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
    left = producer.flush(60)
    assert left == 0 and not failures, f"{left} records unacknowledged, failures: {failures[:3]}"
    return count


# Records of the Kafka gate tests: orders on a topic mapped to ds://orders_v1 with the ORDERS_SCHEMA contract.
GATE_T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
PRODUCER = "svc://checkout-service"


def order(i: int, **changes: Any) -> dict[str, Any]:
    value = {"order_id": f"o-{i}", "customer_id": f"c-{i % 97}", "amount": 10.5, "currency": "EUR", **changes}
    return {k: v for k, v in value.items() if v is not None}


def record(i: int, value: Any, *, partition: int | None = None, ms: int = 1) -> dict[str, Any]:
    """Record i for `produce`: JSON (or the bytes given), timestamped i * ms milliseconds after GATE_T0."""
    import orjson

    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return {"value": raw, "key": f"o-{i}".encode(), "partition": partition,
            "headers": [("autopilot-producer", PRODUCER.encode()), ("autopilot-env", b"prod")],
            "timestamp_ms": int(GATE_T0.timestamp() * 1000) + i * ms}


def configure_orders(store: Any, topic: str, dataset: str = "ds://orders_v1", **contract: Any) -> None:
    from evidence import Contract, Mapping
    from evidence._configs import CONTRACT, MAPPING, Configs

    configs = Configs(store)
    configs.put(CONTRACT, Contract(dataset_urn=dataset, schema=ORDERS_SCHEMA, **contract), GATE_T0)
    configs.put(MAPPING, Mapping(topic=topic, dataset_urn=dataset, producer_urn=PRODUCER), GATE_T0)


def independent_checker() -> ModuleType:
    """tests/independent/check_replay.py as a module, so tests can call its check functions directly."""
    spec = importlib.util.spec_from_file_location("check_replay", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeSlack:
    """A local Slack Web API: records every call, answers ok with a message ts. `failures` are answers it gives
    chat.postMessage first, one a call, as (status, headers, error) (a 503, a 429 with Retry-After), recorded in
    `refused` instead of `calls`; `delay` (seconds) holds every post that long (`received` counts the posts that
    arrived, held or not; one whose client went away meanwhile is still taken, as Slack would)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[tuple[int, dict[str, str], str]] = []
        self.delay = 0.0
        self.received = 0
        self.identity_checks = 0
        lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                if self.headers.get("content-type", "").startswith("application/json"):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1]
                if method == "chat.postMessage":
                    with lock:
                        fake.received += 1
                    time.sleep(fake.delay)
                with lock:
                    failure = fake.failures.pop(0) if fake.failures and method == "chat.postMessage" else None
                if failure is not None:
                    fake.refused.append((method, body))
                    status, headers, error = failure
                    self.send_response(status)
                    for name, value in {**headers, "content-type": "application/json"}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(json.dumps({"ok": False, "error": error}).encode())
                    return
                if method == "auth.test":  # Bolt asks who the bot is before the first listener runs
                    fake.identity_checks += 1
                    answer = json.dumps({"ok": True, "user_id": "U0RCA", "bot_id": "B1", "team_id": "T1"})
                else:
                    with lock:
                        fake.calls.append((method, body))
                        answer = json.dumps({"ok": True, "channel": body.get("channel"),
                                             "ts": f"1700000000.{len(fake.calls):06d}"})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.calls

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (an `rca serve`'s detector worker, a supervisor's workers), from /proc: each process
    whose parent is `pid`. (Not /proc/<pid>/task/*/children: the kernel documents that list as exact only while the
    process is stopped, and a supervisor starting a worker was seen to drop one from it for a moment.)"""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = proc_stat(int(entry.name))
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return sorted(found)


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command's name (state, parent, ...), or [] for a process gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def settled_incidents(store: Any, slack: FakeSlack, datasets: int) -> tuple[list[Any], Counter[str]]:
    """The incidents (id, dataset_urn, kind) once each of `datasets` has one and Slack took as many posts (120 s at
    most), three seconds later (a few more passes, in which nothing may be opened or posted twice), and how many
    times Slack got each incident's id."""
    from sqlalchemy import func, select

    from evidence._schema import incidents

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
        if count >= datasets and len(slack.calls) >= datasets:
            break
        time.sleep(0.5)
    time.sleep(3)
    with store.engine.connect() as conn:
        rows = list(conn.execute(select(incidents.c.id, incidents.c.dataset_urn, incidents.c.kind)).all())
    posted = Counter(m for _, body in slack.calls for m in re.findall(r"/incidents/(inc_[0-9a-f]+)\|",
                                                                      body.get("text", "")))
    return rows, posted


def plant_overdue(store: Any, name: str, datasets: int) -> None:
    """`datasets` freshness policies (ds://{name}/tNNN) due at 00:00 UTC, with no evidence: each an
    INSUFFICIENT_EVIDENCE incident at the first pass, on a store whose schema is made here."""
    from evidence import FreshnessPolicy
    from evidence._configs import POLICY, Configs

    store.upgrade()
    configs = Configs(store)
    for i in range(datasets):
        configs.put(POLICY, FreshnessPolicy(dataset_urn=f"ds://{name}/t{i:03d}", producer_urn=f"job://{name}-{i:03d}",
                                            expected_update_by="00:00"), datetime.now(UTC))
