import json

import pytest

from evidence import InvalidEvent, parse_event
from evidence._spec import schema_text
from support import ROOT

VECTORS = ROOT / "sdk" / "spec" / "vectors"
VALID = json.loads((VECTORS / "valid.json").read_text())["vectors"]
INVALID = json.loads((VECTORS / "invalid.json").read_text())["vectors"]


def test_published_schema_is_generated_from_the_models() -> None:
    published = (ROOT / "sdk" / "spec" / "envelope.schema.json").read_text()
    assert published == schema_text(), "sdk/spec/envelope.schema.json is stale: run `make spec`"


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vectors_parse(vector: dict) -> None:
    event = parse_event(vector["event"])
    assert event.id == vector["event"]["id"]
    assert event.type == vector["event"]["type"]


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vectors_name_the_field(vector: dict) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(vector["event"])
    assert caught.value.field == vector["error"]["field"]
    assert vector["error"]["message_contains"] in str(caught.value)
    if isinstance(vector["event"].get("id"), str) and vector["event"]["id"]:
        assert repr(vector["event"]["id"]) in str(caught.value)


def test_valid_vectors_validate_against_the_published_schema() -> None:
    import jsonschema

    schema = json.loads((ROOT / "sdk" / "spec" / "envelope.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for vector in VALID:
        assert not list(validator.iter_errors(vector["event"])), vector["name"]


def test_unknown_data_fields_and_extensions_are_kept() -> None:
    vector = next(v for v in VALID if v["name"] == "unknown-data-fields-are-kept")
    event = parse_event(vector["event"])
    assert event.data.model_extra == {"rollout_strategy": "canary"}
    assert event.model_extra == {"partitionkey": "inventory"}


def test_a_non_object_names_its_position() -> None:
    with pytest.raises(InvalidEvent, match=r"Event #7: must be a JSON object, got list"):
        parse_event([], position=7)
