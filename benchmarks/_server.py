"""A real `rca serve` for the benchmarks that go through the API: started on a free loopback port with the
given environment, answering /healthz before it is handed over, stopped with SIGTERM afterwards."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def rca_server(env: Mapping[str, str], stopped: dict[str, float] | None = None) -> Iterator[str]:
    """The base URL of a fresh `rca serve --insecure-no-auth` (loopback only) run with `env`. `stopped["exit_s"]`:
    how long it took to exit after SIGTERM; one still running after 30 s is killed (and said so on stderr)."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("rca")), "serve", "--port", str(port),
                             "--insecure-no-auth"], env=dict(env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            print(f"rca serve (pid {proc.pid}) still running 30 s after SIGTERM: killed", file=sys.stderr)
            proc.kill()
            proc.wait()
        if stopped is not None:
            stopped["exit_s"] = round(time.monotonic() - signalled, 2)
