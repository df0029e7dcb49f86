"""The standard-library transport: a connect timeout and a total deadline, whatever the server does."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from autopilot._transport import HttpRequest, HttpTransport, TransportError


@pytest.fixture
def transport():
    transport = HttpTransport()
    yield transport
    transport.close()


def test_a_good_answer_is_read(backend, transport):
    response = transport.send(HttpRequest("GET", backend.url + "/v1/control/svc%3A%2F%2Fx", timeout=2.0))
    assert response.status == 404 and response.headers["content-type"] == "application/json"
    assert b"no entry" in response.body


def test_a_refused_connection_is_a_connect_error(closed_port_url):
    with pytest.raises(TransportError) as caught:
        HttpTransport().send(HttpRequest("POST", closed_port_url + "/v1/events", body=b"[]"))
    assert caught.value.kind == "connect"


def test_a_trickling_server_cannot_outlast_the_total_timeout():
    """Each byte arrives well within a per-read timeout; only a total deadline stops this."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100:
                if stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/events"
    began = time.monotonic()
    try:
        with pytest.raises(TransportError) as caught:
            HttpTransport().send(HttpRequest("POST", url, body=b"[]", connect_timeout=0.2, timeout=0.4))
        elapsed = time.monotonic() - began
    finally:
        stop.set()
        listener.close()
    assert caught.value.kind == "timeout"
    assert elapsed < 1.0


def test_a_sleeping_server_times_out(backend_factory, transport):
    backend = backend_factory("sleep", sleep_s=5.0)
    began = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport.send(HttpRequest("POST", backend.url + "/v1/events", body=b"[]", timeout=0.3))
    assert caught.value.kind == "timeout" and time.monotonic() - began < 1.0


def test_a_reset_connection_is_an_io_error(backend_factory, transport):
    backend = backend_factory("reset")
    with pytest.raises(TransportError) as caught:
        transport.send(HttpRequest("POST", backend.url + "/v1/events", body=b"[]", timeout=1.0))
    assert caught.value.kind == "io"


def test_only_http_urls_are_sent():
    with pytest.raises(TransportError):
        HttpTransport().send(HttpRequest("GET", "ftp://example/x"))


def test_the_connection_is_kept_between_requests(backend):
    transport = HttpTransport()
    for _ in range(3):
        assert transport.send(HttpRequest("POST", backend.url + "/v1/events", body=b"[]")).status == 200
    assert len(set(backend.peers)) == 1
    transport.close()


def test_an_idle_connection_is_not_reused(backend):
    transport = HttpTransport(keepalive_idle=0.0)
    for _ in range(2):
        transport.send(HttpRequest("POST", backend.url + "/v1/events", body=b"[]"))
        time.sleep(0.01)
    transport.close()
    assert len(set(backend.peers)) == 2


def test_a_connection_the_server_closed_is_replaced_once_without_failing_the_request():
    """The server answers one request per connection and then hangs up, without saying so."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    served = []
    hung_up = threading.Event()

    def one_request_per_connection():
        for _ in range(2):
            conn, peer = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                served.append(peer[1])
            hung_up.set()

    thread = threading.Thread(target=one_request_per_connection, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/events"
    transport = HttpTransport()
    try:
        first = transport.send(HttpRequest("POST", url, body=b"[]", timeout=2.0))
        assert hung_up.wait(5)  # the server has closed its end
        second = transport.send(HttpRequest("POST", url, body=b"[]", timeout=2.0))
        thread.join(5)  # the server notes the second peer after its answer went out: wait for that, not a race
    finally:
        listener.close()
        transport.close()
    assert (first.body, second.body) == (b"ok", b"ok")
    assert len(set(served)) == 2


def test_header_values_cannot_inject_lines(backend, transport):
    with pytest.raises(TransportError):
        transport.send(HttpRequest("GET", backend.url, headers={"Authorization": "Bearer x\r\nX-Evil: 1"}))


def test_plain_http_goes_through_the_configured_proxy(monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    seen = []

    def proxy():
        conn, _ = listener.accept()
        with conn:
            seen.append(conn.recv(65536).split(b"\r\n")[:2])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=proxy, daemon=True)
    thread.start()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{listener.getsockname()[1]}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    transport = HttpTransport()
    try:
        assert transport.send(HttpRequest("POST", "http://rca.example:8080/v1/events", body=b"[]")).status == 200
    finally:
        transport.close()
        listener.close()
    assert seen == [[b"POST http://rca.example:8080/v1/events HTTP/1.1", b"Host: rca.example:8080"]]
