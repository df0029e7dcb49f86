"""Fixtures for the autopilot suite: real local HTTP servers (good and bad), short-timeout clients.

Everything listens on 127.0.0.1 and stops by itself; no test touches the network. Timeouts are
short here so the bad servers cost milliseconds, not the 5 s a production timeout would wait.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

import pytest

import autopilot
import autopilot._client as client_module
from autopilot import Client, Settings
from autopilot.testing import FakeTransport

SPEC = Path(__file__).resolve().parents[2] / "spec"

# Settings for tests: every wait is short so a dead backend costs milliseconds.
FAST = dict(
    enabled=True,
    service="checkout-service",
    env="test",
    connect_timeout=0.2,
    timeout=0.3,
    flush_interval=0.05,
    backoff_base=0.01,
    backoff_max=0.05,
    max_retries=2,
    circuit_failures=3,
    circuit_reset=0.5,
    control_poll_interval=0.2,
    shutdown_timeout=0.5,
    startup_event=False,
)


# pytest.importorskip's skips ("could not import 'deltalake'"): a machine without the test extras skips those tests,
# but CI installs them, so there a missing one is a failure naming the module, not a quiet skip.
_MISSING_MODULE = "could not import"


def _required() -> bool:
    return bool(os.environ.get("CI"))


def _fail_missing_module(report: pytest.CollectReport | pytest.TestReport) -> None:
    if report.skipped and _required() and _MISSING_MODULE in str(report.longrepr):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{reason}; CI is set, so the test extras must be here: pip install -e 'sdk/python[test]'"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_missing_module(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _fail_missing_module(outcome.get_result())  # type: ignore[attr-defined]


class Backend:
    """A stand-in for the rca service: POST /v1/events and GET /v1/control/{producer}.

    mode: "ok" (accepts, duplicates on a repeated id), "500", "sleep" (answers after `sleep_s`),
    "reset" (closes the connection without answering), "401".
    """

    def __init__(self, mode: str = "ok", sleep_s: float = 5.0) -> None:
        self.mode = mode
        self.sleep_s = sleep_s
        self.batches: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.control: dict[str, dict[str, Any]] = {}
        self.control_gets = 0
        self.control_queries: list[str] = []  # each control GET's query string ("env=test")
        self.peers: list[int] = []  # the client's port per request: tells kept connections from new ones
        self.reject_ids: set[str] = set()
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                backend._handle(self)

            def do_POST(self) -> None:
                backend._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a handler asleep for 5 s must not hold up the test
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for batch in self.batches for event in batch]

    def wait_for(self, predicate: Callable[[Backend], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.01)
        return predicate(self)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.peers.append(request.client_address[1])
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if self.mode == "reset":
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.mode == "sleep":
            time.sleep(self.sleep_s)
        if self.mode == "500":
            return self._reply(request, 500, {"detail": "boom"})
        if self.mode == "401":
            return self._reply(request, 401, {"detail": "bad token"})
        if request.command == "GET" and request.path.startswith("/v1/control/"):
            with self._lock:
                self.control_gets += 1
            path, _, query = request.path.partition("?")
            self.control_queries.append(query)
            producer = unquote(path[len("/v1/control/") :])
            entry = self.control.get(producer)
            if entry is None:
                return self._reply(request, 404, {"detail": "no entry"})
            return self._reply(request, 200, {"producer": producer, "domain": None, "ring": 0, **entry})
        if request.command == "POST" and request.path == "/v1/events":
            batch = json.loads(body)
            results = []
            with self._lock:
                self.batches.append(batch)
                self.headers.append({k.lower(): v for k, v in request.headers.items()})
                for event in batch:
                    key = (event.get("source"), event.get("id"))
                    if event.get("id") in self.reject_ids:
                        status = "rejected"
                    elif key in self._seen:
                        status = "duplicate"
                    else:
                        status = "accepted"
                        self._seen.add(key)
                    item = {"id": event.get("id"), "source": event.get("source"), "status": status}
                    if status == "rejected":
                        item.update(error="data.version is required", field="data.version")
                    results.append(item)
            counts = {s: sum(r["status"] == s for r in results) for s in ("accepted", "duplicate", "rejected")}
            return self._reply(request, 200, {**counts, "results": results})
        return self._reply(request, 404, {"detail": "not found"})

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except OSError:
            pass  # the client gave up first (its timeout is shorter than our sleep)


@pytest.fixture
def backend_factory() -> Iterator[Callable[..., Backend]]:
    started: list[Backend] = []

    def start(mode: str = "ok", sleep_s: float = 5.0) -> Backend:
        backend = Backend(mode, sleep_s)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.close()


@pytest.fixture
def backend(backend_factory: Callable[..., Backend]) -> Backend:
    return backend_factory("ok")


@pytest.fixture
def closed_port_url() -> str:
    """An address where nothing listens: connecting is refused at once (the backend is down)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    """Clients with the FAST settings (override any); all shut down after the test."""
    clients: list[Client] = []

    def make(endpoint: str = "http://rca.test", transport: Any = None, monotonic: Callable[[], float] | None = None,
             **overrides: Any) -> Client:
        clock = {"monotonic": monotonic} if monotonic is not None else {}  # a test's own clock, moved by hand
        client = Client(Settings(**{**FAST, "endpoint": endpoint, **overrides}), transport=transport, **clock)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(0.2)


@pytest.fixture
def job_client(make_client: Callable[..., Client]) -> Client:
    """A client for job://orders_enriched_batch recording into a FakeTransport (`client.fake`)."""
    fake = FakeTransport()
    client = make_client(transport=fake, producer="job://orders_enriched_batch", env="prod", commit="4f2a9c1")
    client.fake = fake  # type: ignore[attr-defined]
    return client


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a fresh process would: no global client, no startup event sent yet."""
    for name in list(__import__("os").environ):
        if name.startswith("AUTOPILOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(autopilot, "_current_client", None)
    monkeypatch.setattr(client_module, "_startup_sent", False)
    yield
    if autopilot._current_client is not None:
        autopilot._current_client.shutdown(0.2)


@pytest.fixture(scope="session")
def envelope_schema() -> dict[str, Any]:
    return json.loads((SPEC / "envelope.schema.json").read_text())


@pytest.fixture(scope="session")
def valid_vectors() -> list[dict[str, Any]]:
    return json.loads((SPEC / "vectors" / "valid.json").read_text())["vectors"]


@pytest.fixture(scope="session")
def invalid_vectors() -> list[dict[str, Any]]:
    return json.loads((SPEC / "vectors" / "invalid.json").read_text())["vectors"]


@pytest.fixture(scope="session")
def validate_event(envelope_schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """Raise jsonschema.ValidationError unless the event satisfies sdk/spec/envelope.schema.json."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(envelope_schema, format_checker=jsonschema.FormatChecker())

    def validate(event: dict[str, Any]) -> None:
        validator.validate(event)

    return validate
