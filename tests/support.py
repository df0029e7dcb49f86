"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
POSTGRES_URL = os.environ.get("RCA_TEST_POSTGRES_URL")
# The contract of the reference Spring scenario (shared/scenarios/spring_missing_customer_id.yaml).
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


class Server:
    def __init__(self, database_url: str, log: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "RCA_DATABASE_URL": database_url, **(env or {})}
        self._log = log.open("ab")
        rca = Path(sys.executable).with_name("rca")
        self.process = subprocess.Popen([str(rca), "serve", "--port", str(self.port), *extra], env=environment,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rca serve exited with {self.process.returncode}; see {log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()  # a server that never answered must not outlive the test that started it
        raise RuntimeError(f"rca serve did not answer within 60 s; see {log}")

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()


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
