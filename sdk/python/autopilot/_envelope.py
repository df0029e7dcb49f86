"""Envelope v1: a CloudEvents 1.0 event in structured JSON mode (sdk/spec/envelope.schema.json).

https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from datetime import datetime, timezone
from time import time as _wall_now
from typing import Any, Union

SPECVERSION = "1.0"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"

# The names are the wire contract (DESIGN.md, "Envelope v1"): exact spelling, no aliases.
REQUIRED_DATA: dict[str, tuple[str, ...]] = {
    "DeploymentEvent": ("service", "version"),
    "JobRunStarted": ("run_id",),
    "JobRunCompleted": ("run_id",),
    "JobRunFailed": ("run_id",),
    "DatasetWriteCommitted": ("dataset_urn",),
    "SdkHealth": ("language", "sdk_version"),  # the SDK's own (CONTRACT.md section 15), sent by the worker
}
EVENT_TYPES = frozenset(REQUIRED_DATA)

TimeLike = Union[str, datetime, float, int]


# Event ids come from a private generator seeded from os.urandom, not from os.urandom per event:
# a syscall releases the GIL, and under a CPU-bound host thread every re-acquisition waits out the
# switch interval (5 ms), which made the worker crawl at one event per 5 ms. A private instance, so
# that a host calling random.seed(42) cannot make two processes produce the same ids; reseeded in
# a forked child (see reseed_after_fork) so parent and child do not share a sequence.
_ids = random.Random()


def new_event_id() -> str:
    """128 random bits as 32 hex digits, like uuid4().hex; unique per source in practice."""
    return f"{_ids.getrandbits(128):032x}"


def reseed_after_fork() -> None:
    _ids.seed(os.urandom(32))


def format_time(value: TimeLike) -> str:
    """RFC 3339 with an explicit offset, as CloudEvents `time` requires.

    A string is trusted as already formatted; a naive datetime is local time (Python's convention)
    and gets the local offset; a number is a Unix timestamp in seconds.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.astimezone()).isoformat()
    return _format_unix(float(value))


_second_cache: tuple[int, str] = (-1, "")


def _format_unix(timestamp: float) -> str:
    """`datetime.fromtimestamp(t, utc).isoformat()`, with the seconds part cached: events come in
    bursts within the same second, and this runs once per event on the worker."""
    global _second_cache
    if timestamp < 0:
        return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
    second = int(timestamp)
    cached_second, prefix = _second_cache
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        _second_cache = (second, prefix)
    micro = int((timestamp - second) * 1_000_000)
    return f"{prefix}.{micro:06d}+00:00" if micro else f"{prefix}+00:00"


def build_event(
    event_type: str,
    data: Mapping[str, Any] | None,
    *,
    source: str,
    event_id: str | None = None,
    time: TimeLike | None = None,
    subject: str | None = None,
    traceparent: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """One envelope v1 event as a JSON-ready dict, attribute order as in sdk/spec/vectors."""
    when = time if time is not None else (now if now is not None else _wall_now())
    return envelope(event_type, dict(data) if data else {}, source, event_id, when, subject, traceparent, extensions)


def envelope(
    event_type: str,
    data: dict[str, Any],
    source: str,
    event_id: str | None,
    time: TimeLike,
    subject: str | None,
    traceparent: str | None,
    extensions: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """build_event without the conveniences: positional, `data` used as given. The worker calls
    this once per event, so it is kept to the few operations the envelope needs."""
    event: dict[str, Any] = {
        "specversion": SPECVERSION,
        "datacontenttype": "application/json",
        "id": event_id or new_event_id(),
        "type": event_type,
        "source": source,
        "time": time if isinstance(time, str) else format_time(time),
        "data": data,
    }
    if subject:
        event["subject"] = subject
    if traceparent:
        event["traceparent"] = traceparent
    if extensions:
        # CloudEvents extension attributes sit beside the core ones; they may not replace them.
        for key, value in extensions.items():
            event.setdefault(key, value)
    return event


def problem(event: Mapping[str, Any]) -> str | None:
    """Why the service would reject this event, in a sentence; None when it looks acceptable.

    Only the checks that catch a producer's own mistakes early (and cheaply) are repeated here;
    the service stays the judge (sdk/spec/vectors/invalid.json).
    """
    event_type = event.get("type")
    if event_type not in REQUIRED_DATA:
        return f"type {event_type!r} is not one of {sorted(EVENT_TYPES)}"
    if not event.get("source"):
        return "it has no source; set AUTOPILOT_SERVICE or AUTOPILOT_PRODUCER, or pass source="
    data = event.get("data")
    if type(data) is not dict and not isinstance(data, Mapping):  # the exact check first: it is cheaper
        return "its data is not a mapping"
    for field in REQUIRED_DATA[event_type]:
        if not data.get(field):
            return f"data.{field} is required for {event_type}"
    return None


def encode(event: Any) -> bytes:
    """An event (or a list of them) as compact JSON; values JSON cannot hold (datetimes, Decimals)
    become strings."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")
