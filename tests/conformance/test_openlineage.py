"""OpenLineage's own payloads (its Python client's and spec's test events, and the expected events of its dbt, Spark,
Hive and Flink integrations) sent to /api/v1/lineage as they are; then, for the integrations' expected-event files,
with their test matchers filled the way the integration fills them (conformance/_payloads.py, `filled`)."""

from __future__ import annotations

from typing import Any

import pytest
from conformance._payloads import FILLED_TIME, filled, load

DBT_FAILED = "Database Error in model orders (models/orders.sql)"
RUN_ID_NOT_UUID = ("run.runId", "must be a UUID")
NO_EVENT_TIME = ("eventTime", "is required")
NAIVE_TIME = ("eventTime", "must carry a UTC offset")

# file -> per event: the envelope types it maps to, or (field, phrase) of its refusal. As sent, byte for byte.
AS_SENT: dict[str, list[list[str] | tuple[str, str]]] = {
    "openlineage_full_complete_event.json": [["JobRunCompleted", "DatasetWriteCommitted"]],
    "openlineage_spark_start_event.json": [["JobRunStarted"]],
    "openlineage/spec_example_full_event.json": [["JobRunCompleted"]],
    # dbt test runs: five STARTs, three COMPLETEs, two FAILs whose dataQualityAssertions hold a failed check
    "openlineage/dbt_test_result.json": [["JobRunStarted"]] * 5 + [["JobRunCompleted"]] * 3
    + [["JobRunFailed", "DataQualityFailed"]] * 2,
    # expected-event files: their runId is the matcher "{{ any(result) }}", their eventTime absent (Spark, Hive, Flink)
    "openlineage/dbt_postgres_result.json": [RUN_ID_NOT_UUID] * 10,
    "openlineage/dbt_snowflake_failed_run_events.json": [RUN_ID_NOT_UUID] * 6,
    "openlineage/flink_expected_failed.json": [NO_EVENT_TIME],
    "openlineage/spark_pyspark_hive_running_event.json": [NO_EVENT_TIME],
    "openlineage/spark_column_lineage_single_input_complete.json": [NO_EVENT_TIME],
    "openlineage/hive_cll_simple_insert_from_table_complete.json": [NO_EVENT_TIME],
    # the Python client's serialization tests write eventTime without an offset: not RFC 3339
    "openlineage/python_client_serde_run_event.json": [NAIVE_TIME],
    "openlineage/python_client_serde_dataset_event.json": [NAIVE_TIME],
    "openlineage/python_client_serde_job_event.json": [NAIVE_TIME],
}

# With the matchers filled: what each event becomes.
FILLED: dict[str, list[list[str]]] = {
    "openlineage/dbt_postgres_result.json": [["JobRunStarted"]] * 5 + [["JobRunCompleted"]] * 5,
    "openlineage/dbt_snowflake_failed_run_events.json": [["JobRunStarted"]] * 3 + [["JobRunFailed"]] * 3,
    "openlineage/flink_expected_failed.json": [["JobRunFailed"]],
    "openlineage/spark_pyspark_hive_running_event.json": [["JobRunHeartbeat"]],
    "openlineage/spark_column_lineage_single_input_complete.json": [["JobRunCompleted"]],
    "openlineage/hive_cll_simple_insert_from_table_complete.json": [["JobRunCompleted"]],
    "openlineage/python_client_serde_run_event.json": [["JobRunStarted"]],
    "openlineage/python_client_serde_dataset_event.json": [["ExternalEvent"]],
    "openlineage/python_client_serde_job_event.json": [["ExternalEvent"]],
}


def _items(payload: Any) -> list[Any]:
    return payload if isinstance(payload, list) else [payload]


def _outcomes(client, payload: Any) -> list[list[str] | tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Per event: mapped types, or (field, message) when refused; posted as one body (an array stays an array)."""
    response = client.post("/api/v1/lineage", json=payload)
    body = response.json()
    if not isinstance(payload, list):
        if response.status_code == 200:
            return [[m["type"] for m in body["mapped"]]]
        assert response.status_code == 422, response.text
        return [(body["field"], body["message"])]
    assert response.status_code == 200, response.text
    return [[m["type"] for m in r["mapped"]] if r["status"] != "rejected" else (r["field"], r["error"])
            for r in body["results"]]


def _same(got: list[Any], expected: list[Any]) -> None:
    assert len(got) == len(expected), got
    for one, want in zip(got, expected, strict=True):
        if isinstance(want, tuple):
            assert isinstance(one, tuple) and one[0] == want[0] and want[1] in one[1], (one, want)
        else:
            assert one == want, (one, want)


@pytest.mark.parametrize("name", sorted(AS_SENT))
def test_each_payload_as_sent(client, name: str) -> None:
    _same(_outcomes(client, load(name)), AS_SENT[name])


@pytest.mark.parametrize("name", sorted(FILLED))
def test_each_expected_event_file_with_its_matchers_filled(client, name: str) -> None:
    payload = [filled(e, f"{name}#{n}") for n, e in enumerate(_items(load(name)))]
    _same(_outcomes(client, payload if isinstance(load(name), list) else payload[0]), FILLED[name])


def _evidence(client, **params: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return client.get("/v1/evidence", params={"limit": 1000, **params}).json()["items"]


def test_the_raw_event_is_stored_beside_the_mapping(client) -> None:
    event = load("openlineage_full_complete_event.json")
    mapped = client.post("/api/v1/lineage", json=event).json()["mapped"]
    [run] = [r for r in _evidence(client, type="JobRunCompleted")]
    assert run["source_ref"] == mapped[0]["id"]
    assert run["payload"]["original"] == event


def test_dbt_failed_tests_are_data_quality_evidence_for_the_tested_table(client) -> None:
    client.post("/api/v1/lineage", json=load("openlineage/dbt_test_result.json"))
    failed = _evidence(client, type="DataQualityFailed")
    assert sorted(r["dataset_urn"] for r in failed) == [
        "ds://random-gcp-project.dbt_test1.test_first_dbt_model",
        "ds://random-gcp-project.dbt_test1.test_second_dbt_model"]
    for record in failed:
        data = record["payload"]["data"]
        assert data["failed"] >= 1 and data["checked"] >= data["failed"]
        assert all(a["success"] is False for a in data["assertions"])


def test_dbt_failures_keep_the_first_line_and_the_stack_trace(client) -> None:
    name = "openlineage/dbt_snowflake_failed_run_events.json"
    client.post("/api/v1/lineage", json=[filled(e, f"{name}#{n}") for n, e in enumerate(load(name))])
    by_job = {r["source"]: r["payload"]["data"] for r in _evidence(client, type="JobRunFailed")}
    model = by_job["job://dbt-test-namespace/model.jaffle_shop.orders.sql.1"]
    assert model["failure_reason"] == DBT_FAILED
    assert model["stack_trace"].startswith("Traceback (most recent call last):")
    assert by_job["job://dbt-test-namespace/dbt-run-jaffle_shop"]["failure_reason"].startswith("Command `dbt run`")


def test_dbt_postgres_lineage_and_the_namespace_in_the_job_urn(client) -> None:
    name = "openlineage/dbt_postgres_result.json"
    client.post("/api/v1/lineage", json=[filled(e, f"{name}#{n}") for n, e in enumerate(load(name))])
    edges = {(e["upstream"], e["downstream"]) for e in client.get("/v1/lineage-edges").json()["items"]}
    assert edges == {(f"ds://postgres.public.{u}", f"ds://postgres.public.{d}") for u, d in (
        ("stg_customers", "customers"), ("stg_orders", "customers"), ("stg_payments", "customers"),
        ("stg_orders", "orders"), ("stg_payments", "orders"))}
    sources = {r["source"] for r in _evidence(client, type="JobRunCompleted")}
    assert "job://job-namespace/postgres.public.jaffle_shop.orders" in sources


def test_column_lineage_becomes_lineage_and_is_kept_per_column(client) -> None:
    name = "openlineage/hive_cll_simple_insert_from_table_complete.json"
    client.post("/api/v1/lineage", json=filled(load(name), name))
    edges = [(e["upstream"], e["downstream"]) for e in client.get("/v1/lineage-edges").json()["items"]]
    assert edges == [("ds://test.t2", "ds://test.t1")]
    [run] = _evidence(client, type="JobRunCompleted")
    columns = run["payload"]["data"]["column_lineage"]["ds://test.t1"]
    assert columns == {"a": ["ds://test.t2#a"], "b": ["ds://test.t2#b"]}
    assert run["payload"]["data"]["schemas"]["ds://test.t1"].startswith("sha256:")


def test_a_running_event_is_a_heartbeat_of_its_run(client) -> None:
    name = "openlineage/spark_pyspark_hive_running_event.json"
    event = filled(load(name), name)
    client.post("/api/v1/lineage", json=event)
    [beat] = _evidence(client, type="JobRunHeartbeat")
    assert (beat["run_id"], beat["event_time"]) == (event["run"]["runId"], FILLED_TIME)


def test_job_and_dataset_events_are_static_lineage(client) -> None:
    for name in ("openlineage/python_client_serde_job_event.json",
                 "openlineage/python_client_serde_dataset_event.json"):
        response = client.post("/api/v1/lineage", json=filled(load(name), name))
        assert response.status_code == 200, response.text
    kinds = sorted(r["payload"]["data"]["kind"] for r in _evidence(client, type="ExternalEvent"))
    assert kinds == ["DatasetEvent", "JobEvent"]
    job = load("openlineage/python_client_serde_job_event.json")
    expected = {(f"ds://{i['name']}", f"ds://{o['name']}") for i in job["inputs"] for o in job["outputs"]}
    edges = {(e["upstream"], e["downstream"]) for e in client.get("/v1/lineage-edges").json()["items"]}
    assert expected and expected <= edges
