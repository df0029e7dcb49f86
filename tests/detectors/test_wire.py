"""Decoding record values: JSON as given, JSON text, Confluent frames, and the base64 form of bytes."""

from __future__ import annotations

import base64
import struct

import pytest

from detectors._wire import WireFormatError, decode_value, frame, parse_frame

ORDER = {"order_id": "o-1", "customer_id": "c-1", "amount": 12.5, "currency": "EUR"}


def test_a_good_frame_gives_the_payload_and_the_schema_id() -> None:
    data = b"\x00" + struct.pack(">I", 42) + b'{"order_id":"o-1","amount":12.5}'
    assert parse_frame(data) == (42, b'{"order_id":"o-1","amount":12.5}')
    decoded = decode_value(data)
    assert (decoded.value, decoded.schema_id, decoded.error, decoded.note) == (
        {"order_id": "o-1", "amount": 12.5}, "42", None, None)
    assert decoded.framed


def test_frame_round_trips_and_handles_big_schema_ids() -> None:
    assert decode_value(frame(2**32 - 1, ORDER)).value == ORDER
    assert decode_value(frame(7, ORDER)).schema_id == "7"
    assert decode_value(bytearray(frame(7, ORDER))).value == ORDER
    assert decode_value(memoryview(frame(7, '{"a": 1}'))).value == {"a": 1}


def test_the_frame_schema_id_wins_and_a_mismatch_is_noted() -> None:
    decoded = decode_value(frame(43, ORDER), declared_schema_id="42")
    assert decoded.schema_id == "43"
    assert decoded.note == "frame schema id 43 differs from declared schema id 42; the frame's wins"
    assert decode_value(frame(42, ORDER), declared_schema_id=42).note is None


@pytest.mark.parametrize(("data", "error"), [
    (b"", "value is empty bytes"),
    (b'{"order_id": "o-1"}', "first byte 0x7b is not the Confluent magic byte 0x00 (plain JSON bytes?"),
    (b"\x01\x00\x00\x00\x2a{}", "first byte 0x01 is not the Confluent magic byte 0x00"),
    (b"\x00\x00\x2a", "frame is 3 bytes, shorter than the 5-byte header"),
    (b"\x00\x00\x00\x00\x2a", "frame has no payload after the 5-byte header"),
    (b"\x00\x00\x00\x00\x2a{\"a\": \xff}", "payload is not valid UTF-8"),
    (b"\x00\x00\x00\x00\x2a{\"order_id\": ", "payload is not valid JSON"),
    (b"\x00\x00\x00\x00\x2a{\"amount\": NaN}", "payload is not valid JSON"),
    # An Avro record: a zigzag varint length then raw bytes.
    (b"\x00\x00\x00\x00\x2a\x06o-1\x02", "binary (first byte 0x06), likely Avro or Protobuf"),
])
def test_bad_frames_are_undecodable_with_a_reason(data: bytes, error: str) -> None:
    decoded = decode_value(data, declared_schema_id="42")
    assert decoded.value is None
    assert decoded.error is not None and error in decoded.error


def test_parse_frame_raises_on_a_wrong_magic_byte() -> None:
    with pytest.raises(WireFormatError, match="magic byte"):
        parse_frame(b"\x05\x00\x00\x00\x01{}")


def test_the_base64_form_carries_bytes_through_json() -> None:
    encoded = base64.b64encode(frame(42, ORDER)).decode()
    decoded = decode_value({"base64": encoded}, declared_schema_id="42")
    assert (decoded.value, decoded.schema_id, decoded.framed) == (ORDER, "42", True)
    wrong_magic = decode_value({"base64": base64.b64encode(b"\x09abcdef").decode()})
    assert wrong_magic.error is not None and "magic byte" in wrong_magic.error
    assert decode_value({"base64": "not base64!"}).error == "value.base64 is not valid base64"


def test_a_record_that_merely_has_a_base64_field_among_others_is_a_record() -> None:
    value = {"base64": "abc", "order_id": "o-1"}
    assert decode_value(value).value is value
    assert decode_value({"base64": 5}).value == {"base64": 5}  # not a string: not the bytes form


def test_json_values_and_json_text() -> None:
    assert decode_value(ORDER).value is ORDER
    assert decode_value([1, 2]).value == [1, 2]
    assert decode_value(None).value is None
    assert decode_value('{"a": [1, 2.5, null]}').value == {"a": [1, 2.5, None]}
    bad = decode_value("order o-1", declared_schema_id="42")
    assert bad.error is not None and bad.error.startswith("value is a string but not JSON")
    assert bad.schema_id == "42"
