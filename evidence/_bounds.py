"""Bounds at the edge: what any value from outside may be before it reaches the store or a sentence.

Every input is checked against these before it is stored, so nothing a client sends can overflow a column,
a datetime or the JSON encoder, and nothing shown in a sentence (a version, a service, a field name) can
carry prose (issue 13). The numbers are documented in the README's "Limits" paragraph.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import AwareDatetime, Field, Strict, StringConstraints

from evidence._vocab import maybe_time

# Evidence times: anything a producer can honestly mean, with room for the detectors' windows (days and
# weeks either side) to stay inside what datetime can represent.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)
# Epoch milliseconds of the same range (Kafka timestamps).
MIN_EPOCH_MS = 0
MAX_EPOCH_MS = int(MAX_TIME.timestamp() * 1000)

INT32_MAX = 2**31 - 1  # INTEGER columns (a Kafka partition, a tier, a ring, a config id)
INT64_MAX = 2**63 - 1  # BIGINT columns (an offset, a commit version) and any count

# How deep an item's JSON may nest: real payloads stay under ten; the encoder's own limit is 254.
MAX_DEPTH = 64
MAX_URN = 512  # the URN columns
MAX_ID = 512  # CloudEvents id, run id, source ref columns
MAX_NAME = 128  # service, version, environment, domain, schema id, team
MAX_TEXT = 2000  # free text kept in the payload (a failure reason)
MAX_URL = 2048

# An identifier is shown in sentences (a version, a service, a field, a run id): a bounded charset with no
# whitespace, quotes, parentheses or brackets, so it can never carry a phrase. URNs, URLs, semantic versions,
# git SHAs, package URLs (pkg:oci/app@sha256%3A...) and dotted field paths all fit.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.:/@+=~#%&?$*-]+$"
# A URN: a scheme, "://", then identifier characters (svc://checkout-service, ds://lake/orders, kafka://orders.v1).
URN_PATTERN = r"^[a-z][a-z0-9+.-]*://[A-Za-z0-9_.:/@+=~#%&?$*-]+$"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_URN = re.compile(URN_PATTERN)
_IDENTIFIER_RULE = ("must be an identifier (letters, digits and _ . : / @ + = ~ # % & ? $ * -), not text with "
                    "spaces, quotes or brackets")
_URN_RULE = "must be a URN such as svc://checkout-service or ds://orders (a scheme, ://, then no spaces)"
# Kafka's own rule for topic names (kafka.common.internals.Topic): 1-249 of these.
KAFKA_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Text a sentence may quote but no control character (a NUL, a newline, an escape sequence): a CloudEvents id.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
_PRINTABLE_RULE = "must not contain control characters (a NUL, a newline, ...)"


def identifier_error(value: str, limit: int = MAX_NAME) -> str | None:
    """Why `value` is not an identifier, or None when it is one."""
    if not value:
        return "must not be empty"
    if len(value) > limit:
        return f"is {len(value)} characters long; an identifier has at most {limit}"
    if not _IDENTIFIER.match(value):
        return _IDENTIFIER_RULE
    return None


def urn_error(value: str, limit: int = MAX_URN) -> str | None:
    """Why `value` is not a URN such as svc://checkout-service, or None when it is one."""
    if len(value) > limit:
        return f"is {len(value)} characters long; a URN has at most {limit}"
    if not _URN.match(value):
        return _URN_RULE
    return None


def explain_pattern(pattern: str | None) -> str | None:
    """A sentence for a value that failed one of these patterns (pydantic only says "should match pattern")."""
    return {IDENTIFIER_PATTERN: _IDENTIFIER_RULE, URN_PATTERN: _URN_RULE, PRINTABLE_PATTERN: _PRINTABLE_RULE}.get(
        pattern or "")


_OUT_OF_RANGE = f"must lie between {MIN_TIME.year} and {MAX_TIME.year} (UTC)"


def _instant(moment: datetime) -> datetime | None:
    """An aware datetime in UTC, when it lies in the range evidence may name; else None."""
    try:
        instant = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return instant if MIN_TIME <= instant < MAX_TIME else None


def time_error(moment: datetime) -> str | None:
    """Why an aware datetime lies outside the range evidence may name, or None."""
    return None if _instant(moment) is not None else _OUT_OF_RANGE


def explain_bound(error: Any) -> str | None:
    """A sentence for a time outside SaneTime's range (pydantic names the bound it missed, as text), else None."""
    context = error.get("ctx") or {}
    bound = context.get("ge", context.get("lt"))
    moment = maybe_time(bound if isinstance(bound, datetime) else str(bound))
    return _OUT_OF_RANGE if moment is not None and moment in (MIN_TIME, MAX_TIME) else None


# Types for pydantic models at the edge. Patterns and lengths are constraints (not validators) so that the
# published JSON Schema (sdk/spec/envelope.schema.json) and the OpenAPI description carry them.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=IDENTIFIER_PATTERN)]
LongIdentifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=IDENTIFIER_PATTERN)]
Urn = Annotated[str, StringConstraints(max_length=MAX_URN, pattern=URN_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]  # free text, kept in the payload (NUL refused there)
Url = Annotated[str, StringConstraints(max_length=MAX_URL, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$")]
# The range as pydantic-core's own bounds, compared as instants in Rust (a validator in Python cost a call a time,
# a tenth of validating an event); the time keeps the offset it was sent with (records convert theirs to UTC).
SaneTime = Annotated[AwareDatetime, Field(ge=MIN_TIME, lt=MAX_TIME)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
Tier = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]  # strict: JSON false is not tier 0
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def json_problem(value: Any, limit: int = MAX_DEPTH, *, nul: bool = True) -> tuple[str, str] | None:
    """(field path, what is wrong) for JSON too deep to store or (with `nul`) holding a NUL character, else None.

    Iterative, so a hostile depth costs a loop, not the interpreter's stack. Events refuse NUL anywhere (their
    fields become columns, and PostgreSQL text cannot hold it); a Kafka record's value is business data, kept
    escaped in the payload, so the gate checks depth only.
    """
    if plain_json(value, limit, nul=nul) is not None:
        return None
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > limit:
            return path, f"nests deeper than {limit} levels"
        if isinstance(node, dict):
            for key, child in node.items():
                where = f"{path}.{key}" if path else str(key)
                if nul and isinstance(key, str) and "\x00" in key:
                    return path or "", "has a key with a NUL character"
                stack.append((child, where, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{n}]", depth + 1) for n, child in enumerate(node))
        elif nul and isinstance(node, str) and "\x00" in node:
            return path, "contains a NUL character, which evidence cannot store"
    return None


def plain_json(value: Any, limit: int = MAX_DEPTH, *, nul: bool = True) -> bytes | None:
    """The value's JSON (orjson's, as the store keeps it) when it is plainly within json_problem's bounds, else None.

    The common case in C: no more containers in all than the depth limit allows (so none nests deeper), and no
    escaped NUL in the text. Anything else, false alarms included, goes to the walk that names the field: at
    ingestion the walk took a third of validating an event (benchmarks/ingest_bench.py). Ingestion stores the text.
    """
    try:
        text = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return None
    return text if text.count(b"{") + text.count(b"[") <= limit and not (nul and b"\\u0000" in text) else None


def has_control(value: str) -> bool:
    return bool(_CONTROL.search(value))
