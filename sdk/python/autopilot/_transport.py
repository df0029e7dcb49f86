"""Outbound HTTP: one small seam (`Transport.send`) and its standard-library implementation.

The implementation uses `http.client`, the layer `urllib.request` is built on, rather than
`urlopen`: urlopen's single `timeout` bounds each socket operation, not the request, so a server
that trickles bytes could hold the worker far longer than the configured total timeout. Here the
connect timeout bounds the TCP (and TLS, and proxy tunnel) handshake, done by http.client, and one
deadline bounds the whole exchange, which this module writes and reads on the socket itself.
Proxies come from the usual `https_proxy` / `no_proxy` variables, read with urllib's helpers.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_RESPONSE_BYTES = 1 << 20  # the service answers a few KiB; never buffer an unbounded reply
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    connect_timeout: float = 1.0
    timeout: float = 3.0  # total, from the first byte of the connect to the last byte of the reply


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""


class TransportError(Exception):
    """The request got no HTTP answer. `kind` is "connect", "timeout" or "io"; all are retryable."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Transport(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse: ...


class HttpTransport:
    """The default transport, standard library only. Thread-safe; one connection, kept alive.

    Keeping the connection and writing each request with a single sendall() matters more than it
    looks: every blocking socket call releases the GIL, and under a CPU-bound host thread each
    re-acquisition costs a context switch and up to the 5 ms switch interval. A fresh connection
    per request made about nine such calls per batch; a kept one makes two or three.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None, keepalive_idle: float = 4.0) -> None:
        self._ssl_context = ssl_context
        self._proxies = urllib.request.getproxies()
        # Below the usual server keep-alive timeouts (uvicorn 5 s, nginx 75 s), so an idle
        # connection is dropped by us before the server drops it under a request.
        self._keepalive_idle = keepalive_idle
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._kept: tuple[tuple[str, str, int | None, int], http.client.HTTPConnection, bool, float] | None = None

    def send(self, request: HttpRequest) -> HttpResponse:
        if self._pid != os.getpid():
            # A forked child: the lock may have been held by a thread that does not exist here, and
            # the kept connection is the parent's (sharing a TCP stream would interleave requests).
            self._lock, self._pid, self._kept = threading.Lock(), os.getpid(), None
        with self._lock:
            return self._send(request)

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _send(self, request: HttpRequest) -> HttpResponse:
        deadline = time.monotonic() + request.timeout
        url = urllib.parse.urlsplit(request.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise TransportError("io", f"{request.url!r} is not an http(s) URL")
        key = (url.scheme, url.hostname, url.port, os.getpid())
        kept = self._reuse(key)
        while True:
            if kept is not None:
                conn, via_proxy = kept
            else:
                conn, via_proxy = self._connection(url, min(request.connect_timeout, request.timeout))
                self._connect(conn, url)
            try:
                response, reusable = _exchange(conn, request, url, via_proxy, deadline)
            except ConnectionError as exc:
                conn.close()
                if kept is not None:
                    kept = None  # the server had closed the idle connection: once more, on a fresh one
                    continue
                raise TransportError("io", f"{request.method} {request.url} failed: {exc!r}") from exc
            except (socket.timeout, TimeoutError) as exc:
                conn.close()
                raise TransportError("timeout", f"{request.method} {request.url} timed out") from exc
            except TransportError:
                conn.close()
                raise
            except (OSError, http.client.HTTPException, ValueError) as exc:
                conn.close()
                raise TransportError("io", f"{request.method} {request.url} failed: {exc!r}") from exc
            if reusable:
                self._kept = (key, conn, via_proxy, time.monotonic())
            else:
                conn.close()
            return response

    def _reuse(self, key: tuple[str, str, int | None, int]) -> tuple[http.client.HTTPConnection, bool] | None:
        kept, self._kept = self._kept, None
        if kept is None:
            return None
        kept_key, conn, via_proxy, idle_since = kept
        # A different endpoint, a connection inherited across fork(), or one idle too long: drop it.
        if kept_key != key or time.monotonic() - idle_since > self._keepalive_idle or conn.sock is None:
            conn.close()
            return None
        return conn, via_proxy

    def _discard(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            kept[1].close()

    @staticmethod
    def _connect(conn: http.client.HTTPConnection, url: urllib.parse.SplitResult) -> None:
        try:
            conn.connect()
        except (socket.timeout, TimeoutError) as exc:
            conn.close()
            raise TransportError("timeout", f"connect to {url.netloc} timed out") from exc
        except OSError as exc:
            conn.close()
            raise TransportError("connect", f"cannot connect to {url.netloc}: {exc}") from exc

    def _connection(
        self, url: urllib.parse.SplitResult, connect_timeout: float
    ) -> tuple[http.client.HTTPConnection, bool]:
        """The connection to open (not yet connected), and whether it goes through a plain-HTTP proxy."""
        host, port = url.hostname or "", url.port
        proxy = self._proxies.get(url.scheme)
        if proxy and not _is_loopback(host) and not _bypass_proxy(host, self._proxies):
            target = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
            if url.scheme == "http":
                plain = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=connect_timeout)
                return plain, True
            # HTTPS goes through a CONNECT tunnel; TLS is then negotiated with the endpoint itself.
            conn = http.client.HTTPSConnection(
                target.hostname or "", target.port or 80, timeout=connect_timeout, context=self._context()
            )
            conn.set_tunnel(host, port or 443)
            return conn, False
        if url.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._context()), False
        return http.client.HTTPConnection(host, port, timeout=connect_timeout), False

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context


def _exchange(
    conn: http.client.HTTPConnection,
    request: HttpRequest,
    url: urllib.parse.SplitResult,
    via_proxy: bool,
    deadline: float,
) -> tuple[HttpResponse, bool]:
    """One request on a connected socket: (the response, whether the connection can be kept)."""
    sock = conn.sock
    target = request.url if via_proxy else (url.path or "/") + (f"?{url.query}" if url.query else "")
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {url.netloc.rsplit('@', 1)[-1]}"]
    for name, value in request.headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise TransportError("io", f"header {name!r} contains a line break")
        lines.append(f"{name}: {value}")
    body = request.body or b""
    if request.body is not None or request.method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    _arm(sock, deadline)
    # One sendall for head and body: under a timeout it is bounded as a whole (Python >= 3.5).
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    if _QUICKACK is not None:
        # Acknowledge the reply's first segment at once: a server that writes headers and body
        # separately with Nagle's algorithm on would otherwise wait out our delayed ACK (~40 ms).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
    # The reply is read through a file whose every recv gets only what is left of the budget.
    response = http.client.HTTPResponse(_DeadlineSocket(sock, deadline), method=request.method)  # type: ignore[arg-type]
    response.begin()
    chunks, size = [], 0
    while size <= MAX_RESPONSE_BYTES:
        chunk = response.read(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    complete = response.isclosed()
    headers = {name.lower(): value for name, value in response.getheaders()}
    response.close()
    return HttpResponse(response.status, headers, b"".join(chunks)), complete and not response.will_close


class _DeadlineReader(io.RawIOBase):
    """A socket's receiving side that fails once the request's total deadline has passed.

    The socket's timeout is tightened only as the budget shrinks (in 50 ms steps), not before every
    read: each settimeout() is a system call, and on a busy host every system call is a GIL
    hand-off. A reply that arrives promptly costs no extra call; a trickling one is cut off within
    50 ms of the deadline.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._timeout = sock.gettimeout() or 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("the request's total timeout elapsed")
        if remaining < self._timeout - 0.05:
            self._sock.settimeout(remaining)
            self._timeout = remaining
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What http.client reads the response from: the real socket, with a deadline on every read."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _arm(sock: socket.socket, deadline: float) -> None:
    """Give the next socket operation only what is left of the request's total budget."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TransportError("timeout", "the request's total timeout elapsed")
    sock.settimeout(remaining)


def _bypass_proxy(host: str, proxies: dict[str, str]) -> bool:
    # The environment-only variant: proxy_bypass() would consult macOS/Windows settings, which
    # can mean a DNS lookup on the worker. Not in typeshed, hence getattr.
    bypass = getattr(urllib.request, "proxy_bypass_environment", None)
    return bool(bypass(host, proxies)) if bypass is not None else False


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
