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


_DEPLOY = {"specversion": "1.0", "id": "d-1", "source": "svc://checkout", "type": "DeploymentEvent",
           "time": "2026-01-19T02:15:00Z", "data": {"service": "checkout", "version": "1.4.2"}}


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"time": "1969-12-31T23:59:59Z"}, "time", "'time' must lie between 1970 and 2200 (UTC)"),
    ({"time": "2200-01-01T00:00:00Z"}, "time", "'time' must lie between 1970 and 2200 (UTC)"),
    # The bounds are instants: an offset that carries the time across one counts, either way.
    ({"time": "1970-01-01T01:00:00+02:00"}, "time", "'time' must lie between 1970 and 2200 (UTC)"),
    ({"time": "2199-12-31T23:00:00-02:00"}, "time", "'time' must lie between 1970 and 2200 (UTC)"),
    ({"time": "9999-12-31T23:59:59-23:59"}, "time", "'time' must lie between 1970 and 2200 (UTC)"),
    ({"type": "JobRunStarted", "data": {"run_id": "r-1", "scheduled_time": "1900-01-01T00:00:00Z"}},
     "data.scheduled_time", "'data.scheduled_time' must lie between 1970 and 2200 (UTC)"),
    ({"id": "d-1\nX-Injected: 1"}, "id", "'id' must not contain control characters (a NUL, a newline, ...)"),
    ({"id": "d-1\x7f"}, "id", "'id' must not contain control characters (a NUL, a newline, ...)"),
    ({"data": {"service": "checkout", "version": "1.4.2", "retry": -1}, "type": "JobRunCompleted"}, "data.run_id",
     "'data.run_id' is required"),
])
def test_bounds_checked_by_pydantic_core_still_say_the_rule(patch: dict, field: str, message: str) -> None:
    # The time range and the id's printable rule are constraints pydantic-core checks, not Python validators; the
    # refusal still names the field and the rule in our words, not pydantic's "Input should be greater than ...".
    with pytest.raises(InvalidEvent) as caught:
        parse_event({**_DEPLOY, **patch})
    assert caught.value.field == field
    assert message in str(caught.value)


@pytest.mark.parametrize("time", ["1970-01-01T00:00:00Z", "1969-12-31T23:00:00-02:00", "2199-12-31T23:59:59Z",
                                  "2200-01-01T01:00:00+02:00"])
def test_times_inside_the_range_are_taken_whatever_their_offset(time: str) -> None:
    assert parse_event({**_DEPLOY, "time": time}).time is not None
