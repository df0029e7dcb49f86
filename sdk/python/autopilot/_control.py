"""The kill switch: `GET {endpoint}/v1/control/{producer}?env={env}`, polled by the worker and cached.

The service answers `{"producer", "domain", "enabled", "ring", "killed"}` and has already folded
per-domain kills into `killed` and, when the SDK names its environment (`AUTOPILOT_ENV`), that
environment's rollout flag into `enabled`. 404 means no entry: run with defaults. Any failure to ask keeps
the last known state, so an unreachable control plane neither kills nor revives a producer.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from ._delivery import headers
from ._log import ProblemLog
from ._transport import HttpRequest, Transport


@dataclass(frozen=True)
class ControlState:
    enabled: bool = True
    killed: bool = False
    ring: int | None = None
    domain: str | None = None
    source: str = "default"  # "default" (never asked or no entry) or "control-plane"

    @property
    def sending(self) -> bool:
        return self.enabled and not self.killed


def control_url(endpoint: str, producer: str, env: str | None = None) -> str:
    # The URN is one path segment, so its ':' and '/' are percent-encoded (RFC 3986, 3.3); so is the environment.
    url = f"{endpoint}/v1/control/{urllib.parse.quote(producer, safe='')}"
    return f"{url}?env={urllib.parse.quote(env, safe='')}" if env else url


class ControlPlane:
    def __init__(
        self,
        transport: Transport,
        endpoint: str,
        producer: str,
        token: str | None,
        *,
        env: str | None = None,
        poll_interval: float,
        connect_timeout: float,
        timeout: float,
        clock: Callable[[], float],
        problems: ProblemLog,
        initial: ControlState | None = None,
    ) -> None:
        self.state = initial or ControlState()  # a restarted worker (after fork) starts from what was known
        self._transport = transport
        self._url = control_url(endpoint, producer, env)
        self._token = token
        self._interval = poll_interval
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._clock = clock
        self._problems = problems
        self._etag: str | None = None
        self._next_poll = clock()  # ask before the first batch goes out

    def seconds_until_due(self) -> float:
        return max(0.0, self._next_poll - self._clock())

    def poll_if_due(self) -> ControlState:
        if self._clock() >= self._next_poll:
            self._next_poll = self._clock() + self._interval
            self.state = self._fetch()
        return self.state

    def _fetch(self) -> ControlState:
        extra = {"If-None-Match": self._etag} if self._etag else None
        request = HttpRequest(
            "GET", self._url, headers(self._token, extra), connect_timeout=self._connect_timeout, timeout=self._timeout
        )
        try:
            response = self._transport.send(request)
        except Exception as exc:
            self._problems.report("control", "autopilot: control plane unreachable (%s); keeping the last state.", exc)
            return self.state
        if response.status == 304:
            return self.state
        if response.status == 404:
            self._problems.clear("control")
            return ControlState()
        if response.status != 200:
            self._problems.report(
                "control", "autopilot: control plane answered HTTP %s; keeping the last state.", response.status
            )
            return self.state
        try:
            answer = json.loads(response.body)
            state = ControlState(
                enabled=bool(answer.get("enabled", True)),
                killed=bool(answer.get("killed", False)),
                ring=answer.get("ring"),
                domain=answer.get("domain"),
                source="control-plane",
            )
        except (ValueError, AttributeError) as exc:
            self._problems.report("control", "autopilot: control plane answer is not JSON (%s); keeping state.", exc)
            return self.state
        self._problems.clear("control", "autopilot: control plane reachable again.")
        self._etag = response.headers.get("etag")
        return state
