"""Outbound HTTP: one small seam (`Transport.send`) and its standard-library implementation.

The implementation uses `http.client`, the layer `urllib.request` is built on, rather than
`urlopen`: urlopen's single `timeout` bounds each socket operation, not the request, so a server
that trickles bytes could hold the worker far longer than the configured total timeout. Here the
connect timeout bounds the TCP (and TLS) handshake and one deadline bounds the whole exchange.
Proxies come from the usual `https_proxy` / `no_proxy` variables, read with urllib's helpers.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_RESPONSE_BYTES = 1 << 20  # the service answers a few KiB; never buffer an unbounded reply


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
    """The default transport: one connection per request, standard library only."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._proxies = urllib.request.getproxies()

    def send(self, request: HttpRequest) -> HttpResponse:
        deadline = time.monotonic() + request.timeout
        url = urllib.parse.urlsplit(request.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise TransportError("io", f"{request.url!r} is not an http(s) URL")
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        conn, via_http_proxy = self._connection(url, min(request.connect_timeout, request.timeout))
        if via_http_proxy:
            path = request.url  # a plain-HTTP proxy takes the absolute URL in the request line
        try:
            try:
                conn.connect()
            except (socket.timeout, TimeoutError) as exc:
                raise TransportError("timeout", f"connect to {url.netloc} timed out") from exc
            except OSError as exc:
                raise TransportError("connect", f"cannot connect to {url.netloc}: {exc}") from exc
            _arm(conn, deadline)
            # sendall() under a timeout bounds the whole send (Python >= 3.5), not each chunk.
            conn.request(request.method, path, body=request.body, headers=dict(request.headers))
            # The reply is read through a file whose every recv gets only what is left of the budget.
            conn.sock = _DeadlineSocket(conn.sock, deadline)  # type: ignore[assignment]
            response = conn.getresponse()
            chunks, size = [], 0
            while size <= MAX_RESPONSE_BYTES:
                chunk = response.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            headers = {name.lower(): value for name, value in response.getheaders()}
            return HttpResponse(response.status, headers, b"".join(chunks))
        except TransportError:
            raise
        except (socket.timeout, TimeoutError) as exc:
            raise TransportError("timeout", f"{request.method} {request.url} timed out") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError("io", f"{request.method} {request.url} failed: {exc!r}") from exc
        finally:
            conn.close()

    def _connection(
        self, url: urllib.parse.SplitResult, connect_timeout: float
    ) -> tuple[http.client.HTTPConnection, bool]:
        """The connection to open, and whether it goes through a plain-HTTP proxy."""
        host, port = url.hostname or "", url.port
        proxy = self._proxies.get(url.scheme)
        if proxy and not _is_loopback(host) and not urllib.request.proxy_bypass_environment(host, self._proxies):
            target = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
            conn = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=connect_timeout)
            if url.scheme == "http":
                return conn, True
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


def _arm(conn: http.client.HTTPConnection, deadline: float) -> None:
    """Give the next socket operation only what is left of the request's total budget."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TransportError("timeout", "the request's total timeout elapsed")
    if conn.sock is not None:
        conn.sock.settimeout(remaining)


class _DeadlineReader(io.RawIOBase):
    """A socket's receiving side that fails once the request's total deadline has passed."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("the request's total timeout elapsed")
        self._sock.settimeout(remaining)
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


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
