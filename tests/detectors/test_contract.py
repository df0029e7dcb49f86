"""Contract-lite compilation: reason codes, nesting, nullability, enum and JSON Schema's type rules."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors._contract import (
    Violation,
    compile_contract,
    compile_schema,
)
from evidence import ReasonCode
from evidence._errors import ConfigError
from evidence._policy import Contract
from support import ORDERS_SCHEMA as ORDERS
from support import examples

GOOD = {"order_id": "o-1", "customer_id": "c-1", "amount": 12.5, "currency": "EUR"}


def reasons(schema: dict[str, Any], value: Any) -> list[tuple[str, str]]:
    return [(v.reason_code, v.field) for v in compile_schema(schema).violations(value)]


def test_a_good_record_has_no_violations() -> None:
    validator = compile_schema(ORDERS)
    assert validator.is_valid(GOOD)
    assert validator.violations(GOOD) == []
    assert validator.violations({**GOOD, "note": "gift", "extra": [1, 2]}) == []


def test_each_reason_code_names_the_field_and_says_why() -> None:
    validator = compile_schema(ORDERS)
    assert validator.violations({k: v for k, v in GOOD.items() if k != "customer_id"}) == [
        Violation(ReasonCode.REQUIRED_FIELD_MISSING, "customer_id", "required field customer_id is missing")]
    assert validator.violations({**GOOD, "amount": "12.50"}) == [
        Violation(ReasonCode.TYPE_MISMATCH, "amount", "amount: expected number, got string")]
    assert validator.violations({**GOOD, "currency": "JPY"}) == [
        Violation(ReasonCode.ENUM_VIOLATION, "currency", "currency: 'JPY' is not one of ['USD', 'EUR', 'GBP']")]
    assert validator.violations({**GOOD, "customer_id": None}) == [
        Violation(ReasonCode.NULL_NOT_ALLOWED, "customer_id", "customer_id is null; expected string")]


def test_every_violation_is_reported_in_schema_order() -> None:
    value = {"currency": "JPY", "amount": None, "note": 3}
    assert reasons(ORDERS, value) == [
        (ReasonCode.REQUIRED_FIELD_MISSING, "order_id"),
        (ReasonCode.REQUIRED_FIELD_MISSING, "customer_id"),
        (ReasonCode.NULL_NOT_ALLOWED, "amount"),
        (ReasonCode.ENUM_VIOLATION, "currency"),
        (ReasonCode.TYPE_MISMATCH, "note"),
    ]


def test_the_value_itself_must_be_an_object() -> None:
    assert reasons(ORDERS, ["not", "an", "object"]) == [(ReasonCode.TYPE_MISMATCH, "")]
    assert reasons(ORDERS, None) == [(ReasonCode.NULL_NOT_ALLOWED, "")]  # a tombstone, say
    assert compile_schema(ORDERS).violations("x")[0].detail == "value: expected object, got string"


def test_nested_fields_are_dotted_paths() -> None:
    schema = {
        "type": "object",
        "required": ["customer"],
        "properties": {
            "customer": {
                "type": "object",
                "required": ["id", "address"],
                "properties": {
                    "id": {"type": "string"},
                    "address": {"type": "object", "required": ["country"],
                                "properties": {"country": {"type": "string", "enum": ["DE", "FR"]}}},
                },
            },
        },
    }
    good = {"customer": {"id": "c-1", "address": {"country": "DE"}}}
    assert reasons(schema, good) == []
    assert reasons(schema, {"customer": {"address": {}}}) == [
        (ReasonCode.REQUIRED_FIELD_MISSING, "customer.id"),
        (ReasonCode.REQUIRED_FIELD_MISSING, "customer.address.country")]
    assert reasons(schema, {"customer": {"id": 7, "address": {"country": "US"}}}) == [
        (ReasonCode.TYPE_MISMATCH, "customer.id"), (ReasonCode.ENUM_VIOLATION, "customer.address.country")]
    assert reasons(schema, {"customer": None}) == [(ReasonCode.NULL_NOT_ALLOWED, "customer")]
    assert reasons(schema, {"customer": "c-1"}) == [(ReasonCode.TYPE_MISMATCH, "customer")]


@pytest.mark.parametrize(("prop", "value", "expected"), [
    ({"type": "string"}, None, [(ReasonCode.NULL_NOT_ALLOWED, "x")]),
    ({"type": ["string", "null"]}, None, []),
    ({"type": "string", "nullable": True}, None, []),  # OpenAPI's spelling
    ({"type": "string", "nullable": False}, None, [(ReasonCode.NULL_NOT_ALLOWED, "x")]),
    ({"type": ["string", "null"]}, 5, [(ReasonCode.TYPE_MISMATCH, "x")]),
    ({}, None, []),  # no type: anything goes, null included
    ({"nullable": True}, 5, []),
    ({"type": "null"}, "x", [(ReasonCode.TYPE_MISMATCH, "x")]),
    # JSON Schema: null must also be in the enum when there is one
    ({"type": ["string", "null"], "enum": ["a"]}, None, [(ReasonCode.ENUM_VIOLATION, "x")]),
    ({"type": ["string", "null"], "enum": ["a", None]}, None, []),
])
def test_nullability(prop: dict[str, Any], value: Any, expected: list[tuple[str, str]]) -> None:
    schema = {"type": "object", "required": ["x"], "properties": {"x": prop}}
    assert reasons(schema, {"x": value}) == expected


def test_a_required_field_present_but_null_is_null_not_allowed_not_missing() -> None:
    assert reasons(ORDERS, {**GOOD, "order_id": None}) == [(ReasonCode.NULL_NOT_ALLOWED, "order_id")]
    assert reasons(ORDERS, {**GOOD, "note": None}) == [(ReasonCode.NULL_NOT_ALLOWED, "note")]  # optional, yet typed


def test_required_fields_without_a_schema_only_need_to_be_present() -> None:
    schema = {"type": "object", "required": ["a", "b"], "properties": {"a": {"type": "integer"}}}
    assert reasons(schema, {"a": 1, "b": None}) == []
    assert reasons(schema, {"a": 1}) == [(ReasonCode.REQUIRED_FIELD_MISSING, "b")]


@pytest.mark.parametrize(("type_name", "value", "ok"), [
    ("number", True, False),
    ("number", False, False),
    ("integer", True, False),
    ("integer", 3, True),
    ("integer", 3.0, True),  # JSON Schema: a number with a zero fractional part is an integer
    ("integer", 3.5, False),
    ("number", 3, True),
    ("number", -0.5, True),
    ("boolean", 1, False),
    ("boolean", 0, False),
    ("boolean", True, True),
    ("string", b"x", False),
    ("array", [1], True),
    ("array", (1,), False),  # JSON arrays decode to lists
    ("object", {}, True),
])
def test_booleans_are_not_numbers_and_integral_floats_are_integers(type_name: str, value: Any, ok: bool) -> None:
    schema = {"type": "object", "properties": {"x": {"type": type_name}}}
    assert reasons(schema, {"x": value}) == ([] if ok else [(ReasonCode.TYPE_MISMATCH, "x")])


@pytest.mark.parametrize(("enum", "value", "ok"), [
    ([1, 2], 1.0, True),
    ([1, 2], True, False),
    ([True], 1, False),
    ([False, "a"], 0, False),
    ([0, "a"], False, False),
    ([[1, 2], {"k": True}], [1, 2], True),
    ([[1, 2], {"k": True}], [True, 2], False),
    ([[1, 2], {"k": True}], {"k": True}, True),
    ([[1, 2], {"k": True}], {"k": 1}, False),
    (["USD"], "usd", False),
    ([None], None, True),
])
def test_enum_compares_as_json(enum: list[Any], value: Any, ok: bool) -> None:
    schema = {"type": "object", "properties": {"x": {"enum": enum}}}
    assert reasons(schema, {"x": value}) == ([] if ok else [(ReasonCode.ENUM_VIOLATION, "x")])


@pytest.mark.parametrize(("schema", "keyword"), [
    ({"type": "object", "additionalProperties": False}, "additionalProperties"),
    ({"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}}, "minimum"),
    ({"type": "object", "properties": {"a": {"properties": {"b": {"pattern": "^x"}}}}}, "pattern"),
    ({"oneOf": [{"type": "string"}]}, "oneOf"),
    ({"$ref": "#/definitions/x"}, "$ref"),
    ({"type": "array", "items": {"type": "string"}}, "items"),
    ({"type": "string", "format": "date-time"}, "format"),
])
def test_unsupported_keywords_are_refused_by_name(schema: dict[str, Any], keyword: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"unsupported keyword '{keyword}'")):
        compile_schema(schema, dataset_urn="ds://orders_v1")


def test_the_error_says_where_and_what_is_supported() -> None:
    with pytest.raises(ConfigError) as caught:
        compile_schema({"type": "object", "properties": {"amount": {"minimum": 0}}}, dataset_urn="ds://orders_v1")
    message = str(caught.value)
    assert "ds://orders_v1" in message and "#/properties/amount" in message and "enum" in message


@pytest.mark.parametrize(("schema", "match"), [
    ({"type": "strng"}, "unknown type 'strng'"),
    ({"type": []}, "non-empty list"),
    ({"required": "order_id"}, "'required'"),
    ({"properties": ["a"]}, "'properties'"),
    ({"enum": "USD"}, "'enum'"),
    ({"nullable": "yes"}, "'nullable'"),
    ({"properties": {"a": 5}}, "must be an object"),
])
def test_malformed_keywords_are_config_errors(schema: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        compile_schema(schema)


def test_annotations_are_accepted() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Order", "type": "object",
              "properties": {"id": {"type": "string", "description": "the order id", "examples": ["o-1"]},
                             "any": True}}
    assert reasons(schema, {"id": 1, "any": None}) == [(ReasonCode.TYPE_MISMATCH, "id")]


def test_compile_contract_carries_dataset_and_enforcement() -> None:
    contract = Contract.model_validate({"dataset_urn": "ds://orders_v1", "enforcement": "reject", "schema": ORDERS})
    validator = compile_contract(contract)
    assert (validator.dataset_urn, validator.enforcement) == ("ds://orders_v1", "reject")
    assert validator.violations({**GOOD, "currency": "JPY"})[0].reason_code == ReasonCode.ENUM_VIOLATION


# Differential check: on standard keywords, "no violations" means exactly what jsonschema's is_valid means.
SCHEMAS: list[dict[str, Any]] = [
    ORDERS,
    {"type": "object", "required": ["a"], "properties": {
        "a": {"type": ["integer", "null"]},
        "b": {"enum": [1, True, "x", None, [1, False], {"k": 0}]},
        "c": {"type": "object", "required": ["d"], "properties": {"d": {"type": ["boolean", "string"]}}},
        "e": {"type": ["object", "array"], "properties": {"f": {"type": "number"}}},
    }},
    {"type": ["object", "string"], "enum": ["a", {"a": 1}], "properties": {"a": {"type": "integer"}}},
    {"required": ["a"]},
    {"properties": {"a": {"type": "number", "enum": [1, 2.5]}}},
]
json_leaves = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([1.0, 2.5, -0.0]) | st.sampled_from(
    ["a", "x", "USD", "JPY", ""])
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "e", "f", "order_id", "customer_id", "amount", "currency", "note", "k"]),
        inner, max_size=6),
    max_leaves=12,
)


@settings(max_examples=examples(300), deadline=None)
@given(schema_index=st.integers(0, len(SCHEMAS) - 1), value=json_values)
def test_agrees_with_jsonschema(schema_index: int, value: Any) -> None:
    schema = SCHEMAS[schema_index]
    validator = compile_schema(schema)
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert (validator.violations(value) == []) is expected
    if validator.is_valid(value):  # the fast path may defer to the slow one, never wave a bad value through
        assert expected
