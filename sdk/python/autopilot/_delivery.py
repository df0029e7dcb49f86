"""One submission of a batch to `POST /v1/events`, and what its answer means for the events.

Retryable: no HTTP answer (connect error, timeout), 408, 429 and 5xx. Everything else in 4xx
(400/401/403/413/415/422, a wrong URL's 404) will not get better by resending: those events are
dropped as `rejected`. In a 200, items the service reports as rejected are dropped the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._envelope import BATCH_CONTENT_TYPE
from ._transport import HttpRequest, Transport, TransportError

USER_AGENT = "autopilot-python/0.1.0"
DROPS_HEADER = "Autopilot-Signals-Dropped"

DELIVERED = "delivered"
RETRY = "retry"
REJECTED = "rejected"


@dataclass
class Submission:
    outcome: str  # DELIVERED, RETRY or REJECTED (the whole batch)
    delivered: int = 0  # accepted + duplicate: the service has them
    rejected: int = 0
    retry_after: float | None = None
    detail: str = ""  # for the one log line a problem gets
    rejections: list[str] = field(default_factory=list)  # "id: field: error" for rejected items


def headers(token: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        out["Authorization"] = f"Bearer {token}"
    if extra:
        out.update(extra)
    return out


def submit(
    transport: Transport,
    endpoint: str,
    token: str | None,
    body: bytes,
    count: int,
    *,
    connect_timeout: float,
    timeout: float,
    extra_headers: Mapping[str, str] | None = None,
) -> Submission:
    """POST one batch once; never raises."""
    request = HttpRequest(
        "POST",
        endpoint + "/v1/events",
        headers(token, {"Content-Type": BATCH_CONTENT_TYPE, **(extra_headers or {})}),
        body,
        connect_timeout=connect_timeout,
        timeout=timeout,
    )
    try:
        response = transport.send(request)
    except TransportError as exc:
        return Submission(RETRY, detail=f"{exc.kind}: {exc}")
    except Exception as exc:  # a user-supplied transport may raise anything; it must not reach the host
        return Submission(RETRY, detail=f"transport error: {exc!r}")
    status = response.status
    if 200 <= status < 300:
        return _accepted(response.body, count)
    snippet = response.body[:200].decode("utf-8", "replace")
    if status in (408, 429) or status >= 500:
        return Submission(RETRY, retry_after=_retry_after(response.headers), detail=f"HTTP {status}: {snippet}")
    return Submission(REJECTED, rejected=count, detail=f"HTTP {status}: {snippet}")


def _accepted(body: bytes, count: int) -> Submission:
    try:
        answer = json.loads(body) if body else {}
        results = answer.get("results") or [] if isinstance(answer, dict) else []
    except ValueError:
        results = []
    rejections = [
        f"{item.get('id')}: {item.get('field') or '-'}: {item.get('error') or 'rejected'}"
        for item in results
        if isinstance(item, dict) and item.get("status") == "rejected"
    ]
    rejected = min(len(rejections), count)
    return Submission(DELIVERED, delivered=count - rejected, rejected=rejected, rejections=rejections)


def _retry_after(response_headers: Mapping[str, str]) -> float | None:
    raw = response_headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None  # an HTTP-date; the exponential backoff is good enough
