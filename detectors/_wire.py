"""Turning a record's value into JSON: as given, from a JSON string, or from Confluent wire-format bytes.

Confluent framing is: magic byte 0, a 4-byte big-endian schema id, then the serializer's payload.
With a schema registry (a `FrameDecoder`: rca/_registry.py's, when RCA_SCHEMA_REGISTRY_URL is set) every
frame, Avro, Protobuf or JSON Schema, is decoded with its writer's schema. Without one, the JSON Schema
serializer's UTF-8 JSON can still be read; Avro and Protobuf payloads are undecodable, and said so, so
nobody hunts for a corrupt producer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from evidence import MAX_DEPTH, json_problem

MAGIC_BYTE = 0
HEADER_SIZE = 5  # magic byte + 4-byte schema id
_SCHEMA_ID = struct.Struct(">I")
# First bytes a JSON text can start with (after optional whitespace).
_JSON_START = frozenset(b'{["-0123456789tfn')


class WireFormatError(ValueError):
    """A value that is not a Confluent frame, or does not decode; the message is the UNDECODABLE_MESSAGE detail."""


class RegistryUnavailable(RuntimeError):
    """The schema registry did not answer (or refused us): not the record's fault; the batch is tried again."""


# A schema registry's decoding: (schema id, the whole frame) -> the value as JSON, or WireFormatError saying why not,
# or RegistryUnavailable when the registry itself failed.
FrameDecoder = Callable[[int, bytes], Any]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded value. `error` set means undecodable (value is then None); `note` is worth reporting anyway."""

    value: Any
    schema_id: str | None  # the frame's id when framed (it wins over the declared one), else the declared
    error: str | None = None
    note: str | None = None
    framed: bool = False


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A value already known to be undecodable when it was read (too large, neither JSON nor a frame).

    `preview` is what an observation stores instead of the value: its size, SHA-256 and first bytes,
    so a 10 MB poison record is a finding of a few hundred bytes, not a 10 MB row.
    """

    error: str
    preview: dict[str, Any] = field(default_factory=dict)


PREVIEW_BYTES = 256


def undecodable(raw: bytes, error: str) -> Undecodable:
    return Undecodable(error, {"base64": base64.b64encode(raw[:PREVIEW_BYTES]).decode("ascii"), "size": len(raw),
                               "sha256": hashlib.sha256(raw).hexdigest(), "truncated": len(raw) > PREVIEW_BYTES})


def decode_kafka_bytes(raw: bytes | None, max_bytes: int, frames: FrameDecoder | None = None) -> Decoded:
    """A record value as it comes off a Kafka topic: a Confluent frame when it starts with the magic byte,
    else JSON text (UTF-8). What cannot be read is an `Undecodable` value with the reason, never an error."""
    if raw is None:
        return Decoded(None, None)  # a tombstone: JSON null, judged by the contract like any value
    if len(raw) > max_bytes:
        return Decoded(undecodable(raw, f"value is {len(raw):,} bytes, over the gate's limit of {max_bytes:,} "
                                        "bytes (RCA_KAFKA_MAX_VALUE_BYTES)"), None)
    if raw[:1] == b"\x00":
        decoded = _decode_frame(raw, None, frames)
    else:
        stripped = raw.lstrip()
        if not stripped or stripped[0] not in _JSON_START:
            first = f"0x{stripped[0]:02x}" if stripped else "nothing but whitespace"
            return Decoded(undecodable(raw, f"value is neither JSON nor a Confluent frame (first byte {first}; "
                                            "a frame starts with the magic byte 0x00)"), None)
        try:
            decoded = Decoded(_loads(raw.decode("utf-8")), None)
        except UnicodeDecodeError as exc:
            decoded = Decoded(None, None, error=f"value is not valid UTF-8 ({exc.reason} at byte {exc.start})")
        except ValueError as exc:
            decoded = Decoded(None, None, error=f"value is neither JSON nor a Confluent frame: {exc}")
    if decoded.error is not None:
        return Decoded(undecodable(raw, decoded.error), decoded.schema_id, note=decoded.note, framed=decoded.framed)
    return decoded


def frame(schema_id: int, payload: bytes | str | Any) -> bytes:
    """Confluent framing around a payload (bytes as is, str as UTF-8, anything else as compact JSON)."""
    if isinstance(payload, str):
        body = payload.encode()
    elif isinstance(payload, (bytes, bytearray)):
        body = bytes(payload)
    else:
        body = json.dumps(payload, separators=(",", ":")).encode()
    return bytes([MAGIC_BYTE]) + _SCHEMA_ID.pack(schema_id) + body


def parse_frame(data: bytes | bytearray | memoryview) -> tuple[int, bytes]:
    """(schema id, payload) of a Confluent frame, or WireFormatError saying what is wrong."""
    data = bytes(data)
    if not data:
        raise WireFormatError("value is empty bytes; expected a Confluent frame (magic byte 0, schema id, payload)")
    if data[0] != MAGIC_BYTE:
        hint = " (plain JSON bytes? send them as a JSON value or a string)" if data[0] in _JSON_START else ""
        raise WireFormatError(f"first byte 0x{data[0]:02x} is not the Confluent magic byte 0x00{hint}")
    if len(data) < HEADER_SIZE:
        raise WireFormatError(f"frame is {len(data)} bytes, shorter than the 5-byte header (magic byte, schema id)")
    return _SCHEMA_ID.unpack_from(data, 1)[0], data[HEADER_SIZE:]


def decode_value(raw: Any, declared_schema_id: str | int | None = None, frames: FrameDecoder | None = None) -> Decoded:
    """Decode a record value as the gate receives it.

    dict/list/number/bool/None: already JSON, used as is. str: JSON text. bytes, or {"base64": "..."}
    (how the HTTP API carries bytes inside JSON): a Confluent frame. A dict whose only key is
    "base64" with a string value is always read as bytes, never as a record with a "base64" field.
    """
    declared = None if declared_schema_id is None else str(declared_schema_id)
    if isinstance(raw, Undecodable):
        return Decoded(None, declared, error=raw.error)
    if isinstance(raw, dict) and len(raw) == 1 and "base64" in raw:
        encoded = raw["base64"]
        if isinstance(encoded, str):
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                return Decoded(None, declared, error="value.base64 is not valid base64")
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return _decode_frame(raw, declared, frames)
    if isinstance(raw, str):
        try:
            return Decoded(_loads(raw), declared)
        except ValueError as exc:
            return Decoded(None, declared, error=f"value is a string but not JSON: {exc}")
    return Decoded(raw, declared)


def _decode_frame(raw: bytes | bytearray | memoryview, declared: str | None,
                  frames: FrameDecoder | None = None) -> Decoded:
    try:
        schema_id, payload = parse_frame(raw)
    except WireFormatError as exc:
        return Decoded(None, declared, error=str(exc))
    framed_id = str(schema_id)
    note = None
    if declared is not None and declared != framed_id:
        note = f"frame schema id {framed_id} differs from declared schema id {declared}; the frame's wins"
    if frames is not None:
        try:
            value = frames(schema_id, bytes(raw))
        except WireFormatError as exc:
            return Decoded(None, framed_id, error=str(exc), note=note, framed=True)
        problem = json_problem(value, nul=False)
        if problem is not None:
            return Decoded(None, framed_id, error=f"decoded value: {problem[0] or 'it'} {problem[1]}", note=note,
                           framed=True)
        return Decoded(value, framed_id, note=note, framed=True)
    stripped = payload.lstrip()
    if not stripped:
        return Decoded(None, framed_id, error="frame has no payload after the 5-byte header", note=note, framed=True)
    if stripped[0] not in _JSON_START:
        return Decoded(None, framed_id, error=(
            f"payload after the header is binary (first byte 0x{stripped[0]:02x}), likely Avro or Protobuf: "
            "only JSON Schema payloads can be decoded without a schema registry (set RCA_SCHEMA_REGISTRY_URL)"),
            note=note, framed=True)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Decoded(None, framed_id, error=f"payload is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                       note=note, framed=True)
    try:
        return Decoded(_loads(text), framed_id, note=note, framed=True)
    except ValueError as exc:
        return Decoded(None, framed_id, error=f"payload is not valid JSON: {exc}", note=note, framed=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _integer(text: str) -> int | float:
    # Integers beyond 64 bits become floats, as orjson reads them: the observation's payload must be storable.
    number = int(text)
    return number if -(2**63) <= number < 2**64 else float(number)


def _loads(text: str) -> Any:
    try:
        value = orjson.loads(text)  # strict RFC 8259, and several times faster than json
        # Deeper than MAX_DEPTH needs more brackets than that: most values are not walked at all.
        deep = text.count("[") + text.count("{") > MAX_DEPTH
    except orjson.JSONDecodeError:
        # Python's json accepts NaN and Infinity; JSON (and every other consumer of the topic) does not. It also
        # reads integers beyond 64 bits (orjson refuses them) and says more precisely what is wrong.
        try:
            value = json.loads(text, parse_constant=_reject_constant, parse_int=_integer)
        except RecursionError:
            raise ValueError(f"it nests deeper than {MAX_DEPTH} levels") from None
        deep = True
    problem = json_problem(value, nul=False) if deep else None
    if problem is not None:
        raise ValueError(f"{problem[0] or 'it'} {problem[1]}")
    return value
