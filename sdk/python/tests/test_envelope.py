"""The SDK builds exactly the events in sdk/spec/vectors, and every event it builds fits the schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from autopilot import build_event
from autopilot._config import Settings
from autopilot._deploy import ci_deployment_event, startup_deployment
from autopilot._envelope import format_time, problem

CORE = ("specversion", "datacontenttype", "id", "type", "source", "time", "data", "subject", "traceparent")


def rebuild(vector_event: dict) -> dict:
    """The vector's event, built by the SDK from the same inputs."""
    return build_event(
        vector_event["type"],
        vector_event["data"],
        source=vector_event["source"],
        event_id=vector_event["id"],
        time=vector_event["time"],
        subject=vector_event.get("subject"),
        traceparent=vector_event.get("traceparent"),
        extensions={k: v for k, v in vector_event.items() if k not in CORE},
    )


def test_every_valid_vector_is_rebuilt_exactly(valid_vectors):
    for vector in valid_vectors:
        assert rebuild(vector["event"]) == vector["event"], vector["name"]


def test_every_rebuilt_vector_fits_the_schema(valid_vectors, validate_event):
    for vector in valid_vectors:
        validate_event(rebuild(vector["event"]))


def test_the_ci_deploy_helper_builds_the_ci_vector(valid_vectors):
    vector = next(v["event"] for v in valid_vectors if v["name"] == "deployment-from-ci")
    built = ci_deployment_event(
        service="checkout-service",
        version="v2.8.1",
        commit="3f9c2ab",
        env="prod",
        domain="orders",
        event_id=vector["id"],
        time=vector["time"],
    )
    assert built == vector


def test_the_startup_fallback_has_the_vectors_fields(valid_vectors, validate_event):
    vector = next(v["event"] for v in valid_vectors if v["name"] == "deployment-startup-fallback")
    data = startup_deployment(Settings(service="payments-service", version="v1.4.0"))
    assert {k: data[k] for k in vector["data"]} == vector["data"]
    validate_event(build_event("DeploymentEvent", data, source="svc://payments-service", time=vector["time"]))


def test_a_ci_deploy_id_is_deterministic_and_names_the_env():
    first = ci_deployment_event(service="s", version="1.0", commit="abc", env="staging")
    again = ci_deployment_event(service="s", version="1.0", commit="abc", env="staging")
    prod = ci_deployment_event(service="s", version="1.0", commit="abc", env="prod")
    assert first["id"] == again["id"] == "deploy-s-staging-1.0-abc"
    assert prod["id"] != first["id"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-10T10:20:00Z", "2026-03-10T10:20:00Z"),
        (datetime(2026, 3, 10, 10, 20, tzinfo=timezone.utc), "2026-03-10T10:20:00+00:00"),
        (datetime(2026, 1, 19, 1, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-01-19T01:00:00-05:00"),
        (1773138000.0, "2026-03-10T10:20:00+00:00"),
    ],
)
def test_times_are_rfc3339_with_an_offset(value, expected):
    assert format_time(value) == expected


def test_a_naive_datetime_gets_the_local_offset():
    formatted = format_time(datetime(2026, 3, 10, 10, 20))
    assert formatted.startswith("2026-03-10T10:20:00") and formatted[-6] in "+-"


def test_generated_ids_are_unique_and_time_defaults_to_now(validate_event):
    events = [build_event("JobRunStarted", {"run_id": "r"}, source="job://j", now=1773138000.0) for _ in range(1000)]
    assert len({e["id"] for e in events}) == 1000
    assert events[0]["time"] == "2026-03-10T10:20:00+00:00"
    validate_event(events[0])


def test_extensions_never_replace_core_attributes():
    event = build_event("JobRunStarted", {"run_id": "r"}, source="job://j", extensions={"source": "x", "ext": 1})
    assert event["source"] == "job://j" and event["ext"] == 1


def test_the_local_check_catches_what_the_service_would_reject(invalid_vectors):
    caught = {
        v["name"]
        for v in invalid_vectors
        if v["error"]["field"] in ("type", "source") or v["error"]["field"].startswith("data.")
        if problem(v["event"]) is not None
    }
    expected = {
        v["name"]
        for v in invalid_vectors
        if v["error"]["field"] in ("type", "source")
        or (v["error"]["field"].startswith("data.") and "required" in v["error"]["message_contains"])
    }
    assert expected <= caught
    assert problem(build_event("DeploymentEvent", {"service": "s", "version": "1"}, source="svc://s")) is None
