"""Test doubles for code that uses autopilot: a transport that records instead of sending.

    from autopilot import Client, Settings
    from autopilot.testing import FakeTransport

    fake = FakeTransport()
    client = Client(Settings(enabled=True, endpoint="http://rca.test", service="checkout"), transport=fake)
    client.emit("DeploymentEvent", {"service": "checkout", "version": "1.2.3"})
    client.flush(1.0)
    assert fake.events[-1]["data"]["version"] == "1.2.3"
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import Any, Callable, Optional

from ._transport import HttpRequest, HttpResponse, TransportError

__all__ = ["FakeTransport", "HttpRequest", "HttpResponse", "TransportError"]

Handler = Callable[[HttpRequest], Optional[HttpResponse]]


class FakeTransport:
    """Answers like the rca service: every event accepted, no control entry (404).

    Pass `handler` to script other answers (return an HttpResponse, raise TransportError, or
    return None to fall back to the default); `set_control(killed=True)` sets the kill switch, and
    `set_control(environments={"staging": True, "prod": False})` the rollout's flag per environment: a
    request naming its `env` is then enabled only where that flag is on (unlisted: off), like the service.
    Everything sent is kept in `requests`, and the events the default answer took in `events`.
    """

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        self.requests: list[HttpRequest] = []
        self.events: list[dict[str, Any]] = []
        self.control: dict[str, Any] | None = None
        self.environments: dict[str, bool] = {}
        self._lock = threading.Lock()

    def set_control(self, *, enabled: bool = True, killed: bool = False, ring: int = 0, domain: str | None = None,
                    environments: dict[str, bool] | None = None):
        self.control = {"enabled": enabled, "killed": killed, "ring": ring, "domain": domain}
        self.environments = dict(environments or {})

    def send(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.requests.append(request)
        if self.handler is not None:
            response = self.handler(request)
            if response is not None:
                return response
        if request.method == "GET" and "/v1/control/" in request.url:
            if self.control is None:
                return HttpResponse(404, {}, b'{"detail": "no entry"}')
            answer = dict(self.control)
            env = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query).get("env")
            if env and self.environments:
                answer["enabled"] = answer["enabled"] and self.environments.get(env[0], False)
            return HttpResponse(200, {"content-type": "application/json"}, json.dumps(answer).encode())
        if request.method == "POST" and request.url.endswith("/v1/events"):
            batch = json.loads(request.body or b"[]")
            with self._lock:
                self.events.extend(batch)
            results = [{"id": e.get("id"), "source": e.get("source"), "status": "accepted"} for e in batch]
            answer = {"accepted": len(batch), "duplicate": 0, "rejected": 0, "results": results}
            return HttpResponse(200, {"content-type": "application/json"}, json.dumps(answer).encode())
        return HttpResponse(404, {}, b"")

    @property
    def posts(self) -> list[HttpRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def batches(self) -> list[list[dict[str, Any]]]:
        return [json.loads(r.body or b"[]") for r in self.posts]
