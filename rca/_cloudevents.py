"""The CloudEvents HTTP binding's binary content mode, read by the CloudEvents SDK for Python.

Binary mode carries the context attributes as `ce-*` headers (percent-encoded) and the data as the body, its media
type in Content-Type (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md,
section 3.1). The SDK reads the headers and the body; the result is handed on in the structured form (a dict of
attributes and `data`, the body read with orjson like
every other body here) that evidence.parse_event validates, so both modes answer the same errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from rca._errors import ApiError

_JSON = re.compile(r"^(application|text)/([a-zA-Z0-9.-]+\+)?json$")


class _AsSent(CloudEvent):
    """The SDK's CloudEvent without its defaults (a missing `time` must not become "now", a missing `id` must not
    become a fresh UUID) and without its validation: parse_event validates, naming the attribute."""

    def __init__(self, attributes: dict[str, Any], data: dict[str, Any] | str | bytes | None = None) -> None:
        self._attributes = attributes
        self._data = data


def is_binary(headers: Mapping[str, str]) -> bool:
    """The binding's rule: a request with any ce- header is in binary mode."""
    return any(name.lower().startswith("ce-") for name in headers)


def binary_event(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The binary-mode event as a structured-mode dict; ApiError when its data is not JSON or a header is unreadable."""
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not _JSON.match(media):
        raise ApiError(415, "unsupported_media_type",
                       f"A binary-mode CloudEvent's Content-Type is its data's media type; evidence data is JSON, so "
                       f"send application/json, not {media[:100] or '(none)'!r}.")
    wanted = {name: value for name, value in headers.items() if name.lower().startswith("ce-") or
              name.lower() == "content-type"}
    try:
        data = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"The binary-mode CloudEvent's body is not JSON: {exc}") from None
    try:
        # The SDK reads the attributes; the body is parsed above with orjson, bounded like every other body here.
        event = from_binary(HTTPMessage(headers=wanted, body=b""), JSONFormat(), _AsSent)
    except ValueError as exc:  # a ce-time that dateutil cannot read
        raise ApiError(422, "invalid_event", f"Header 'ce-time' must be an RFC 3339 timestamp with an offset: {exc}",
                       field="time") from None
    attributes = dict(event.get_attributes())
    if isinstance(attributes.get("time"), datetime):
        attributes["time"] = attributes["time"].isoformat()
    if data is not None:
        attributes["data"] = data
    return attributes
