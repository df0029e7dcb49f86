"""A real `rca serve` process (uvicorn) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from support import ChildProcess


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



@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(database_url: str, *extra: str, env: dict[str, str] | None = None) -> Server:
        server = Server(database_url, tmp_path / "serve.log", *extra, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
