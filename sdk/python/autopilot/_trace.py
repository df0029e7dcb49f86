"""W3C Trace Context `traceparent`: continue an incoming trace, or start one at the edge.

https://www.w3.org/TR/trace-context/#traceparent-header
Events emitted while a trace is in use (`with use_trace(ctx):`) carry its `traceparent` as the
CloudEvents distributed-tracing extension, so evidence joins the request that produced it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Union

# version 00: "00-" 32 hex trace-id "-" 16 hex parent-id "-" 2 hex flags, lower case only.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_SAMPLED = 0x01

_current: ContextVar[TraceContext | None] = ContextVar("autopilot_trace", default=None)

Incoming = Union[None, str, bytes, Mapping[str, Any], Iterable[tuple[str, Any]]]


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str
    flags: int = _SAMPLED

    @property
    def sampled(self) -> bool:
        return bool(self.flags & _SAMPLED)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def parse_traceparent(value: str | bytes | None) -> TraceContext | None:
    """The context in a `traceparent` value, or None when the spec says to ignore it."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip()
    match = _TRACEPARENT.match(value)
    if not match:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    # Version 00 is exactly 55 characters; a later version may append fields after a '-', and a
    # receiver that knows only 00 parses the first four and ignores the rest (spec, section 4.3).
    if len(value) != 55 and (version == "00" or value[55] != "-"):
        return None
    return TraceContext(trace_id, span_id, int(flags, 16))


def start_trace(sampled: bool = True) -> TraceContext:
    """A new trace at the edge: nothing upstream sent a (valid) traceparent."""
    trace_id = os.urandom(16).hex()
    while trace_id == _ZERO_TRACE:  # pragma: no cover - 2**-128
        trace_id = os.urandom(16).hex()
    return TraceContext(trace_id, _new_span_id(), _SAMPLED if sampled else 0)


def continue_trace(incoming: Incoming) -> TraceContext:
    """Join the caller's trace with a new span id; start a new trace when there is none to join.

    `incoming` is a traceparent value, or the headers it may be in: a mapping (HTTP headers,
    any key case) or a list of (key, value) pairs as Kafka clients give them, values str or bytes.
    """
    parent = parse_traceparent(_find_traceparent(incoming))
    if parent is None:
        return start_trace()
    return TraceContext(parent.trace_id, _new_span_id(), parent.flags & _SAMPLED)


@contextlib.contextmanager
def use_trace(context: TraceContext) -> Iterator[TraceContext]:
    """Events emitted inside the block (in this thread or task) carry `context.traceparent`."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current_trace() -> TraceContext | None:
    return _current.get()


def current_traceparent() -> str | None:
    context = _current.get()
    return context.traceparent if context is not None else None


def _new_span_id() -> str:
    span_id = os.urandom(8).hex()
    while span_id == _ZERO_SPAN:  # pragma: no cover - 2**-64
        span_id = os.urandom(8).hex()
    return span_id


def _find_traceparent(incoming: Incoming) -> str | bytes | None:
    if incoming is None or isinstance(incoming, (str, bytes)):
        return incoming
    pairs = incoming.items() if isinstance(incoming, Mapping) else incoming
    try:
        for key, value in pairs:
            if isinstance(key, bytes):
                key = key.decode("ascii", "replace")
            if isinstance(key, str) and key.lower() == "traceparent":
                return value
    except (TypeError, ValueError):
        return None
    return None
