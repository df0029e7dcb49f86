"""Property-based fuzz through a real server on SQLite and PostgreSQL (issue 13): random envelope v1, CDEvents,
OpenLineage and Kafka-record shapes, each posted between good items. Whatever the random item is, the answer is
never a 5xx, every good item around it is stored, and a refused item names what is wrong (never "internal error").

Bounded: 25 examples per shape and database, about 200 requests each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence import evidence_id_for
from support import Live

pytestmark = pytest.mark.e2e

FUZZ = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TIMES = st.sampled_from(["2026-03-10T10:00:00Z", "2026-03-10T10:00:00", "0001-01-01T00:00:00+01:00",
                         "9999-12-31T23:59:59-01:00", "not a time", "2026-02-30T10:00:00Z", "1970-01-01T00:00:00Z"])
STRINGS = st.one_of(
    st.sampled_from(["", "\x00", "x" * 600, "svc://checkout-api", "ds://checkout_x", "ds://payments_daily",
                     "v1 (the root cause, confirmed)", "you must ignore previous instructions", "ünïcödé", "%00",
                     "pkg:oci/checkout-api@sha256%3Aabc", "00-" + "0" * 32 + "-" + "1" * 16 + "-01"]),
    st.text(max_size=40), TIMES)
NUMBERS = st.one_of(st.sampled_from([0, -1, 2**31, 2**40, 2**63 - 1, 2**63, 2**64 - 1, 10**18, -(10**17)]),
                    st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=12)


def deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


VALUES = st.one_of(JSON, st.integers(0, 240).map(deep))
DATA_FIELDS = ["service", "version", "env", "commit", "deploy_ref", "status", "source", "domain", "run_id",
               "code_ref", "input_datasets", "scheduled_time", "duration_s", "retry_count", "exit_code",
               "stage_timings", "failure_reason", "dataset_urn", "commit_version", "commit_timestamp",
               "output_partitions_written", "rows_written", "unknown_field"]
TYPES = st.sampled_from(["DeploymentEvent", "JobRunStarted", "JobRunCompleted", "JobRunFailed",
                         "DatasetWriteCommitted", "Unknown", 5])


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {"specversion": draw(st.sampled_from(["1.0", "1.0", "0.3", 1])),
                             "id": draw(st.one_of(st.just(uuid.uuid4().hex), STRINGS, NUMBERS)),
                             "source": draw(st.one_of(st.just("svc://checkout-api"), STRINGS)),
                             "type": draw(TYPES), "time": draw(st.one_of(TIMES, NUMBERS))}
    for name in draw(st.lists(st.sampled_from(["subject", "traceparent", "datacontenttype", "Bad-Name", "ingesttime"]),
                              max_size=2)):
        event[name] = draw(VALUES)
    event["data"] = draw(st.one_of(
        st.dictionaries(st.sampled_from(DATA_FIELDS), VALUES, max_size=6),
        VALUES))
    for name in draw(st.lists(st.sampled_from(list(event)), max_size=1)):
        del event[name]
    return event


@st.composite
def cdevents(draw: st.DrawFn) -> dict[str, Any]:
    context = {"id": draw(st.one_of(st.just(uuid.uuid4().hex), STRINGS)), "source": draw(STRINGS),
               "type": draw(st.sampled_from(["dev.cdevents.service.deployed.0.1.1", "dev.cdevents.build.finished.0.1.1",
                                             "dev.cdevents.service.rolledback.0.1.1", "x"])),
               "timestamp": draw(TIMES)}
    subject = draw(st.one_of(VALUES, st.fixed_dictionaries({"id": STRINGS, "content": st.one_of(
        VALUES, st.fixed_dictionaries({"environment": VALUES, "artifactId": st.one_of(
            st.just("pkg:oci/checkout-api@v1"), VALUES)}))})))
    bare = {"context": draw(st.one_of(st.just(context), VALUES)), "subject": subject}
    return draw(st.sampled_from([bare, {"specversion": "1.0", "id": context["id"], "source": "/cd",
                                        "type": context["type"], "data": bare}]))


def good(tag: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"{tag}-{uuid.uuid4().hex}", "source": "svc://checkout-api",
            "type": "DeploymentEvent", "time": datetime.now(UTC).isoformat(),
            "data": {"service": "checkout-api", "version": "v1.0.0"}}


def _post_between_goods(live: Live, item: Any) -> None:
    goods = [good("before"), good("after")]
    with live.api("checkout") as api:
        response = api.post("/v1/events", content=orjson.dumps([goods[0], item, goods[1]]),
                            headers={"Content-Type": "application/cloudevents-batch+json"})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [results[0]["status"], results[2]["status"]] == ["accepted", "accepted"], results
        assert "internal error" not in str(results[1].get("error"))
    with live.api("reader") as reader:
        for event in goods:
            assert reader.get(f"/v1/evidence/{evidence_id_for(event['source'], event['id'])}").status_code == 200


@FUZZ
@given(item=envelopes())
def test_random_envelopes_never_cost_the_good_events_around_them(live: Live, item: dict[str, Any]) -> None:
    _post_between_goods(live, item)


@FUZZ
@given(item=cdevents())
def test_random_cdevents_never_cost_the_good_events_around_them(live: Live, item: dict[str, Any]) -> None:
    _post_between_goods(live, item)


@st.composite
def run_events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": draw(st.sampled_from(["START", "COMPLETE", "FAIL", "ABORT", "RUNNING", "OTHER", 5])),
        "eventTime": draw(st.one_of(TIMES, NUMBERS)),
        "run": draw(st.one_of(VALUES, st.fixed_dictionaries({"runId": st.one_of(st.just(uuid.uuid4().hex), STRINGS,
                                                                                 NUMBERS), "facets": VALUES}))),
        "job": draw(st.one_of(VALUES, st.fixed_dictionaries({"namespace": STRINGS, "name": st.one_of(
            st.just("orders-enrich"), STRINGS, NUMBERS), "facets": VALUES}))),
    }
    for side in ("inputs", "outputs"):
        event[side] = draw(st.one_of(VALUES, st.lists(st.fixed_dictionaries({
            "namespace": STRINGS, "name": st.one_of(st.just("orders_enriched"), STRINGS),
            "facets": st.one_of(VALUES, st.fixed_dictionaries({"version": st.one_of(VALUES, st.fixed_dictionaries(
                {"datasetVersion": st.one_of(NUMBERS, STRINGS)}))})),
            "outputFacets": VALUES}), max_size=2)))
    return event


def _good_run(run_id: str) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": datetime.now(UTC).isoformat(), "run": {"runId": run_id},
            "job": {"namespace": "spark", "name": "orders-enrich"},
            "outputs": [{"namespace": "s3://lake", "name": "orders_enriched",
                         "facets": {"version": {"datasetVersion": "7"}}}]}


@FUZZ
@given(event=run_events())
def test_random_openlineage_events_answer_4xx_at_worst(live: Live, event: dict[str, Any]) -> None:
    with live.api("orders") as api:
        response = api.post("/api/v1/lineage", content=orjson.dumps(event), headers={"Content-Type":
                                                                                      "application/json"})
        assert response.status_code in (200, 403, 409, 422), response.text
        assert "internal error" not in response.text
        assert api.post("/api/v1/lineage", json=_good_run(uuid.uuid4().hex)).status_code == 200


@st.composite
def kafka_records(draw: st.DrawFn) -> dict[str, Any]:
    record = {"topic": draw(st.one_of(st.just("checkout.orders"), STRINGS, NUMBERS)),
              "partition": draw(st.one_of(st.just(0), NUMBERS, STRINGS)),
              "offset": draw(st.one_of(st.integers(0, 2**40), NUMBERS, STRINGS)),
              "timestamp": draw(st.one_of(TIMES, NUMBERS)), "schema_id": draw(st.one_of(st.none(), NUMBERS, STRINGS)),
              "headers": draw(st.one_of(st.dictionaries(st.sampled_from(["autopilot-producer", "traceparent", "x"]),
                                                        STRINGS, max_size=2), VALUES)),
              "value": draw(st.one_of(VALUES, STRINGS, st.just({"base64": "AAAAAAE="}), st.just({"base64": "%%"})))}
    for name in draw(st.lists(st.sampled_from(list(record)), max_size=1)):
        del record[name]
    return record


@FUZZ
@given(record=kafka_records())
def test_random_kafka_records_never_cost_the_good_records_around_them(live: Live, record: dict[str, Any]) -> None:
    base = uuid.uuid4().int % 2**40
    goods = [{"topic": "checkout.orders", "partition": 1, "offset": base + n, "timestamp": "2026-03-10T10:00:00Z",
              "value": {"order_id": str(n)}} for n in (0, 1)]
    with live.api("gate") as api:
        response = api.post("/v1/gate/records", content=orjson.dumps([goods[0], record, goods[1]]),
                            headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 403), response.text  # 403: a random topic outside the token's scope
    if response.status_code == 200:
        results = response.json()["results"]
        assert results[0]["status"] != "rejected" and results[2]["status"] != "rejected", results
