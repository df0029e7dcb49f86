"""autopilot: rca's producer SDK. Off unless AUTOPILOT_ENABLED=true; never blocks, never raises.

    import autopilot

    autopilot.configure()  # reads AUTOPILOT_*; while disabled, nothing starts and emit() is a no-op
    autopilot.emit("JobRunStarted", {"run_id": run_id, "code_ref": "orders@4f2a9c1"})
    producer.send(topic, value, headers=autopilot.kafka_headers())  # identity hints for the gate
    autopilot.flush(timeout=2.0)  # optional: done at exit anyway

The contract every language follows is sdk/spec/CONTRACT.md; this package is its Python reference.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ._client import Client
from ._config import FIELDS, Settings, load_settings
from ._counters import DROP_REASONS
from ._envelope import EVENT_TYPES, TimeLike, build_event
from ._trace import (
    TraceContext,
    continue_trace,
    current_traceparent,
    parse_traceparent,
    start_trace,
    use_trace,
)
from ._transport import Transport

__version__ = "0.1.0"

__all__ = [
    "DROP_REASONS",
    "EVENT_TYPES",
    "Client",
    "Settings",
    "TraceContext",
    "build_event",
    "configure",
    "continue_trace",
    "current_traceparent",
    "emit",
    "flush",
    "get_client",
    "kafka_headers",
    "parse_traceparent",
    "shutdown",
    "signals_dropped",
    "start_trace",
    "stats",
    "use_trace",
]

_current_client: Client | None = None
_lock = threading.Lock()


def configure(
    *, transport: Transport | None = None, environ: Mapping[str, str] | None = None, **settings: Any
) -> Client:
    """(Re)start the process-wide client from AUTOPILOT_* plus keyword overrides, e.g.
    `configure(enabled=True, endpoint="https://rca.internal", service="checkout-service")`.

    Keywords are the fields of `Settings`; a value that will not parse is logged and replaced by
    its default. A previous client is shut down (bounded by its shutdown_timeout).
    """
    unknown = set(settings) - FIELDS
    if unknown:
        raise TypeError(f"configure() got unknown setting(s) {sorted(unknown)}; valid ones are {sorted(FIELDS)}")
    global _current_client
    client = Client(load_settings(environ, **settings), transport=transport)
    with _lock:
        previous, _current_client = _current_client, client
    if previous is not None:
        previous.shutdown(previous.settings.shutdown_timeout)
    return client


def get_client() -> Client:
    """The process-wide client, created from AUTOPILOT_* on first use."""
    global _current_client
    client = _current_client
    if client is None:
        with _lock:
            if _current_client is None:
                _current_client = Client(load_settings())
            client = _current_client
    return client


def emit(
    event_type: str,
    data: Mapping[str, Any] | None = None,
    *,
    subject: str | None = None,
    event_id: str | None = None,
    time: TimeLike | None = None,
    traceparent: str | None = None,
    source: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> bool:
    """Queue one envelope v1 event; True if queued. Never blocks, never raises.

    `event_type` is one of EVENT_TYPES and `data` its fields (snake_case). The id (the idempotency
    key) is generated once unless given; `time` defaults to now; `source` to the producer URN;
    `traceparent` to the trace in use (see `use_trace`).
    """
    client = _current_client
    if client is None:
        client = get_client()
    return client.emit(
        event_type,
        data,
        subject=subject,
        event_id=event_id,
        time=time,
        traceparent=traceparent,
        source=source,
        extensions=extensions,
    )


def flush(timeout: float = 5.0) -> bool:
    """Wait up to `timeout` seconds for queued events to be delivered or dropped."""
    return _current_client.flush(timeout) if _current_client is not None else True


def shutdown(timeout: float = 5.0) -> bool:
    """Deliver what is queued within `timeout`, then stop; later emit() calls are no-ops."""
    return _current_client.shutdown(timeout) if _current_client is not None else True


def signals_dropped() -> dict[str, int]:
    """Events given up on, by reason: queue_full, timeout, circuit_open, killed, rejected."""
    return get_client().signals_dropped()


def stats() -> dict[str, Any]:
    """Delivered and dropped counts, queue depth, circuit and control-plane state."""
    return get_client().stats()


def kafka_headers(traceparent: str | None = None) -> list[tuple[str, bytes]]:
    """`autopilot-producer`, `autopilot-env` and `traceparent` headers for a Kafka record."""
    return get_client().kafka_headers(traceparent)
