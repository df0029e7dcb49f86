"""Contract-lite: compile a JSON Schema subset into fast validators that name what is wrong.

Supported: `type` (one name or a list), `required`, `properties` (nested, fields reported as dotted
paths like `customer.id`), `enum`, and nullability (`"null"` in `type`, or `nullable: true` as the
OpenAPI alias). Anything else that constrains values is refused at compile time: silently ignoring
`minimum` or `pattern` would make operators believe a check runs that never does.

Semantics follow JSON Schema 2020-12 so a contract means the same here as in any other validator:
booleans are neither numbers nor integers, 1.0 is an integer, `enum` compares by JSON equality
(1 equals 1.0, but true never equals 1), and `required`/`properties` apply only when the value is an
object. Where JSON Schema only says "invalid", the gate says why: a null where the type does not
allow it is NULL_NOT_ALLOWED (also for a required field that is present but null), not TYPE_MISMATCH.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from evidence import ConfigError, Contract, ReasonCode

SUPPORTED_KEYWORDS = frozenset({"type", "required", "properties", "enum", "nullable"})
# Pure annotations: they never change what is valid, so accepting them loses nothing.
ANNOTATIONS = frozenset({
    "$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated",
    "readOnly", "writeOnly",
})

_NoneType = type(None)
# Exact Python types a decoded JSON value has per JSON type. bool is its own type (type(True) is
# bool, not int), so exact-type membership keeps booleans out of numbers on the fast path.
_EXACT_TYPES: dict[str, frozenset[type]] = {
    "object": frozenset({dict}),
    "array": frozenset({list}),
    "string": frozenset({str}),
    "number": frozenset({int, float}),
    "integer": frozenset({int}),  # integral floats (1.0) take the slow path, which accepts them
    "boolean": frozenset({bool}),
    "null": frozenset({_NoneType}),
}
_OBJECT_ONLY = _EXACT_TYPES["object"]
_STR_ONLY = _EXACT_TYPES["string"]
_MISSING = object()


class Violation(NamedTuple):
    reason_code: str
    field: str  # dotted path; "" for the value itself
    detail: str


# A fast check answers "certainly valid?" and may say False for valid values (a float 1.0 for an
# integer, a str subclass): the slow collector then decides. It must never say True for a bad value.
FastCheck = Callable[[Any], bool]
Collect = Callable[[Any, str, list[Violation]], None]


class ContractValidator:
    """A compiled contract: `violations(value)` is [] for a good value, else what is wrong, in schema order."""

    __slots__ = ("_collect", "dataset_urn", "enforcement", "is_valid", "schema")

    def __init__(self, schema: dict[str, Any], *, dataset_urn: str | None = None, enforcement: str = "flag") -> None:
        if enforcement not in ("flag", "reject"):
            raise ConfigError(f"enforcement must be 'flag' or 'reject', not {enforcement!r}")
        self.schema = schema
        self.dataset_urn = dataset_urn
        self.enforcement = enforcement
        where = f"contract for {dataset_urn}" if dataset_urn else "contract"
        node = _compile(schema, "#", where)
        self.is_valid: FastCheck = node.fast if node.fast is not None else _leaf_check(node.types, node.values)
        self._collect = node.collect

    def violations(self, value: Any) -> list[Violation]:
        if self.is_valid(value):
            return []
        out: list[Violation] = []
        self._collect(value, "", out)
        return out


def compile_contract(contract: Contract) -> ContractValidator:
    """Compile once per contract version; the validator holds no jsonschema at run time."""
    return ContractValidator(contract.schema_, dataset_urn=contract.dataset_urn, enforcement=contract.enforcement)


def compile_schema(schema: dict[str, Any], *, dataset_urn: str | None = None,
                   enforcement: str = "flag") -> ContractValidator:
    return ContractValidator(schema, dataset_urn=dataset_urn, enforcement=enforcement)


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema's `enum` sees it: true is not 1, 1 is 1.0, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _matches(value: Any, type_name: str) -> bool:
    if type_name == "null":
        return value is None
    if type_name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if type_name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if type_name == "number":
        return isinstance(value, (int, float))
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "array":
        return isinstance(value, list)
    return isinstance(value, dict)  # object


def _leaf_check(types: frozenset[type] | None, values: frozenset[str] | None) -> FastCheck:
    if types is None:
        return lambda value: True
    if values is None:
        return lambda value: type(value) in types
    return lambda value: type(value) in types and value in values


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Node(NamedTuple):
    """A compiled schema node. When `fast` is None the node is a leaf that parents check inline, without
    a function call per field: `type(x) in types` (None: anything passes) and, for an enum of strings,
    `x in values` (safe as a hash lookup: the type test already made x a str, which only equals strings)."""

    fast: FastCheck | None
    types: frozenset[type] | None
    values: frozenset[str] | None
    collect: Collect


def _compile(schema: Any, pointer: str, where: str) -> _Node:
    if schema is True or (isinstance(schema, dict) and not (schema.keys() - ANNOTATIONS)):
        return _Node(None, None, None, lambda value, field, out: None)
    if not isinstance(schema, dict):
        raise ConfigError(f"{where}: the schema at {pointer} must be an object (or true), not {_short(schema)}")
    for keyword in schema:
        if keyword not in SUPPORTED_KEYWORDS and keyword not in ANNOTATIONS:
            raise ConfigError(
                f"{where}: unsupported keyword {keyword!r} at {pointer}; contract-lite supports "
                f"{', '.join(sorted(SUPPORTED_KEYWORDS))} (plus annotations such as title and description)"
            )

    type_names = _type_names(schema, pointer, where)
    allowed = None if type_names is None else frozenset().union(*(_EXACT_TYPES[name] for name in type_names))
    expected = None if type_names is None else " or ".join(type_names)
    enum_fast, enum_collect = _compile_enum(schema, pointer, where)
    object_fast, object_collect = _compile_object(schema, pointer, where)

    def collect(value: Any, field: str, out: list[Violation]) -> None:
        if type_names is not None and not any(_matches(value, name) for name in type_names):
            name = field or "value"
            if value is None:
                out.append(Violation(ReasonCode.NULL_NOT_ALLOWED, field, f"{name} is null; expected {expected}"))
            else:
                out.append(Violation(ReasonCode.TYPE_MISMATCH, field,
                                     f"{name}: expected {expected}, got {json_type(value)}"))
            return  # a value of the wrong type has no enum or fields worth reporting
        if enum_collect is not None:
            enum_collect(value, field, out)
        if object_collect is not None and isinstance(value, dict):
            object_collect(value, field, out)

    if enum_fast is None and object_fast is None:
        return _Node(None, allowed, None, collect)
    if object_fast is None and (allowed is None or str in allowed):
        members = schema["enum"]
        if all(isinstance(m, str) for m in members):
            return _Node(None, _STR_ONLY, frozenset(members), collect)  # the common enum: a few strings
    return _Node(_combine(allowed, enum_fast, object_fast), None, None, collect)


def _type_names(schema: dict[str, Any], pointer: str, where: str) -> list[str] | None:
    declared = schema.get("type")
    nullable = schema.get("nullable", False)
    if not isinstance(nullable, bool):
        raise ConfigError(f"{where}: 'nullable' at {pointer} must be true or false, not {_short(nullable)}")
    if declared is None:
        # nullable without a type adds nothing: without a type, null is already allowed
        return None
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: 'type' at {pointer} must be a type name or a non-empty list of them")
    unknown = [n for n in names if n not in _EXACT_TYPES]
    if unknown:
        raise ConfigError(
            f"{where}: unknown type {unknown[0]!r} at {pointer}; use one of {', '.join(_EXACT_TYPES)}"
        )
    names = list(dict.fromkeys(names))
    if nullable and "null" not in names:
        names.append("null")
    return names


def _compile_enum(schema: dict[str, Any], pointer: str, where: str) -> tuple[FastCheck | None, Collect | None]:
    if "enum" not in schema:
        return None, None
    members = schema["enum"]
    if not isinstance(members, list):
        raise ConfigError(f"{where}: 'enum' at {pointer} must be a list of allowed values")
    # Hash lookups would treat True as 1 and 0 as False; booleans get their own set so they never meet numbers.
    bools = frozenset(m for m in members if isinstance(m, bool))
    plain = frozenset(m for m in members if not isinstance(m, (bool, list, dict)))
    shown = _short(members, 120)

    def fast(value: Any) -> bool:
        if type(value) is bool:
            return value in bools
        try:
            return value in plain
        except TypeError:  # unhashable: lists and objects are compared on the slow path
            return False

    def collect(value: Any, field: str, out: list[Violation]) -> None:
        if not any(json_equal(value, m) for m in members):
            out.append(Violation(ReasonCode.ENUM_VIOLATION, field,
                                 f"{field or 'value'}: {_short(value)} is not one of {shown}"))

    return fast, collect


def _compile_object(schema: dict[str, Any], pointer: str, where: str) -> tuple[FastCheck | None, Collect | None]:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not all(isinstance(k, str) for k in properties):
        raise ConfigError(f"{where}: 'properties' at {pointer} must map field names to schemas")
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ConfigError(f"{where}: 'required' at {pointer} must be a list of field names")
    if not properties and not required:
        return None, None
    required_set = frozenset(required)
    children = [(name, name in required_set, _compile(sub, f"{pointer}/properties/{name}", where))
                for name, sub in properties.items()]
    # Fields listed as required but given no schema: presence is the only check.
    bare_required = tuple(dict.fromkeys(r for r in required if r not in properties))
    plan = tuple((name, is_required, node.types, node.values, node.fast) for name, is_required, node in children)

    def fast(value: Any) -> bool:
        if type(value) is not dict:
            return False
        get = value.get
        for name, is_required, types, values, check in plan:
            item = get(name, _MISSING)
            if item is _MISSING:
                if is_required:
                    return False
            elif check is None:
                if types is not None and type(item) not in types:
                    return False
                if values is not None and item not in values:
                    return False
            elif not check(item):
                return False
        return all(name in value for name in bare_required) if bare_required else True

    def collect(value: dict[str, Any], field: str, out: list[Violation]) -> None:
        prefix = f"{field}." if field else ""
        for name, is_required, node in children:
            path = prefix + name
            if name in value:
                node.collect(value[name], path, out)
            elif is_required:
                out.append(Violation(ReasonCode.REQUIRED_FIELD_MISSING, path, f"required field {path} is missing"))
        for name in bare_required:
            if name not in value:
                path = prefix + name
                out.append(Violation(ReasonCode.REQUIRED_FIELD_MISSING, path, f"required field {path} is missing"))

    return fast, collect


def _combine(allowed: frozenset[type] | None, enum_fast: FastCheck | None, object_fast: FastCheck | None) -> FastCheck:
    """One fast check for a node with a type and an enum and/or fields."""
    if object_fast is not None and enum_fast is None and allowed == _OBJECT_ONLY:
        return object_fast  # the common root: it checks for a dict itself
    if object_fast is not None:
        # Object keywords only apply to objects; anything else answers to type and enum alone.
        def fast(value: Any) -> bool:
            if type(value) is dict:
                if allowed is not None and dict not in allowed:
                    return False
                return (enum_fast is None or enum_fast(value)) and object_fast(value)
            if allowed is not None and type(value) not in allowed:
                return False
            return enum_fast is None or enum_fast(value)

        return fast
    assert enum_fast is not None
    if allowed is None:
        return enum_fast
    return lambda value: type(value) in allowed and enum_fast(value)
