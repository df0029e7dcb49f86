import json
import uuid
from datetime import UTC, datetime

import pytest

from evidence import ConfigError, DatasetNaming, InvalidEvent, JobNaming, map_run_event
from evidence._ingest import to_record
from evidence._policy import LineageEdge
from support import CONFORMANCE

NOW = datetime(2026, 3, 10, tzinfo=UTC)
RUN_ID = "0190c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"


def load(name: str) -> dict:
    return json.loads((CONFORMANCE / name).read_text())


def test_full_complete_event_maps_to_a_completed_run_and_a_commit() -> None:
    mapped = map_run_event(load("openlineage_full_complete_event.json"))
    records = [to_record(e, NOW) for e in mapped.events]
    run, commit = records
    assert (run.type, run.source, run.run_id) == ("JobRunCompleted", "job://my-scheduler-namespace/myjob.mytask",
                                                  "ea041791-68bc-4ae1-bd89-4c8106a157e4")
    assert run.event_time == datetime(2020, 12, 28, 19, 51, 1, 641000, tzinfo=UTC)
    assert run.data["openlineage"] == {
        "namespace": "my-scheduler-namespace",
        "producer": "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client",
        "parent_job": "myjob.mytask",
        "parent_run_id": "3f5e83fa-3480-44ff-99c5-ff943904e5e8",
    }
    assert commit.type == "DatasetWriteCommitted"
    assert commit.dataset_urn == "ds://instance.schema.table"
    assert {k: commit.data[k] for k in ("rows_written", "bytes_written", "namespace", "run_id")} == {
        "rows_written": 2000, "bytes_written": 2097152, "namespace": "my-datasource-namespace",
        "run_id": "ea041791-68bc-4ae1-bd89-4c8106a157e4"}
    assert mapped.lineage == []  # input and output are the same table: no self-edge


def test_spark_start_event_maps_to_a_started_run_with_code_ref_and_inputs() -> None:
    mapped = map_run_event(load("openlineage_spark_start_event.json"))
    [record] = [to_record(e, NOW) for e in mapped.events]
    assert record.type == "JobRunStarted"
    assert record.source == "job://namespace/jobName"  # the namespace keeps two schedulers' jobs apart
    assert record.deploy_ref == "https://github.com/apache/spark@v1"  # from sourceCodeLocation
    assert record.data["input_datasets"] == ["ds://input"]
    # A START carries no committed write, whatever statistics its outputs announce.
    assert all(e["type"] != "DatasetWriteCommitted" for e in mapped.events)


def _run_event(event_type: str, **run_facets: dict) -> dict:
    return {"eventType": event_type, "eventTime": "2026-01-19T06:40:00Z",
            "run": {"runId": RUN_ID, "facets": run_facets},
            "job": {"namespace": "spark", "name": "orders_enriched_batch"},
            "inputs": [{"namespace": "s3://lake", "name": "raw/orders"}],
            "outputs": [{"namespace": "s3://lake", "name": "curated/orders_enriched",
                         "facets": {"version": {"datasetVersion": "107"}},
                         "outputFacets": {"outputStatistics": {"rowCount": 1200000, "fileCount": 48}}}]}


@pytest.mark.parametrize("facet", [
    {"errorMessage": {"message": "java.lang.OutOfMemoryError: Java heap space", "programmingLanguage": "JAVA"}},
    {"spark.exception": {"message": "java.lang.OutOfMemoryError: Java heap space\n\tat x.y", "stackTrace": "..."}},
])
def test_failures_read_both_error_facets(facet: dict) -> None:
    for event_type in ("FAIL", "ABORT"):
        [failed] = map_run_event(_run_event(event_type, **facet)).events
        assert failed["type"] == "JobRunFailed"
        assert failed["data"]["failure_reason"] == "java.lang.OutOfMemoryError: Java heap space"


def test_a_completed_run_commits_versioned_outputs_and_records_lineage() -> None:
    mapped = map_run_event(_run_event("COMPLETE"))
    commit = to_record(mapped.events[1], NOW)
    assert (commit.dataset_urn, commit.sequence, commit.data["rows_written"], commit.data["files_added"]) == (
        "ds://curated/orders_enriched", 107, 1200000, 48)
    assert mapped.lineage == [LineageEdge(upstream="ds://raw/orders", downstream="ds://curated/orders_enriched")]


def test_a_naming_template_keeps_same_named_tables_of_two_namespaces_apart() -> None:
    def complete(namespace: str) -> dict:
        event = _run_event("COMPLETE")
        event["run"]["runId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, namespace))
        for dataset in (*event["inputs"], *event["outputs"]):
            dataset["namespace"] = namespace
        return event

    naming = DatasetNaming("ds://{namespace_path}/{name}")
    lake, warehouse = (map_run_event(complete(ns), naming=naming) for ns in ("s3://lake/", "postgres://dwh:5432"))
    commits = [e["data"]["dataset_urn"] for m in (lake, warehouse) for e in m.events
               if e["type"] == "DatasetWriteCommitted"]
    assert commits == ["ds://lake/curated/orders_enriched", "ds://dwh:5432/curated/orders_enriched"]
    assert warehouse.lineage == [LineageEdge(upstream="ds://dwh:5432/raw/orders",
                                             downstream="ds://dwh:5432/curated/orders_enriched")]
    started = map_run_event(_run_event("START"), naming=naming).events[0]
    assert started["data"]["input_datasets"] == ["ds://lake/raw/orders"]
    # the default keeps the name alone, as before
    assert map_run_event(complete("s3://lake")).events[1]["data"]["dataset_urn"] == "ds://curated/orders_enriched"


@pytest.mark.parametrize(("template", "says"), [
    ("ds://{table}", "table is not one of name, namespace, namespace_path"),
    ("ds://{namespace}", "must start with ds:// and use {name}"),
    ("s3://{name}", "must start with ds:// and use {name}"),
    ("ds://{name", "is not a template"),
])
def test_a_bad_naming_template_is_refused_with_what_to_write(template: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DatasetNaming(template)
    assert "RCA_OPENLINEAGE_DATASET_URN" in str(caught.value) and says in str(caught.value)


def test_running_events_are_heartbeats_and_other_events_are_kept() -> None:
    [beat] = map_run_event(_run_event("RUNNING")).events
    assert (beat["type"], beat["data"]["run_id"]) == ("JobRunHeartbeat", RUN_ID)
    assert beat["id"] == f"openlineage:{RUN_ID}:RUNNING:2026-01-19T06:40:00Z"  # one per heartbeat, not one per run
    later = _run_event("RUNNING")
    later["eventTime"] = "2026-01-19T06:50:00Z"
    assert map_run_event(later).events[0]["id"] != beat["id"]
    [other] = map_run_event(_run_event("OTHER")).events
    assert (other["type"], other["data"]["kind"]) == ("ExternalEvent", "OTHER")


@pytest.mark.parametrize("missing", ["eventTime", "run.runId", "job.name"])
def test_a_run_event_without_a_required_field_names_it(missing: str) -> None:
    event = _run_event("START")
    head, _, leaf = missing.rpartition(".")
    (event[head] if head else event).pop(leaf)
    with pytest.raises(InvalidEvent) as caught:
        map_run_event(event)
    assert caught.value.field == missing


def test_cdevents_service_deployed_becomes_a_deployment() -> None:
    record = to_record(load("cdevents_service_deployed.json"), NOW)
    assert (record.type, record.source, record.source_ref) == (
        "DeploymentEvent", "svc://myapp", "271069a8-fc18-44f1-b38f-9d70a1695819")
    assert record.data["version"] == "sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
    assert record.data["env"] == "test123"
    assert record.deploy_ref.startswith("pkg:oci/myapp@")
    assert record.event_time == datetime(2023, 3, 20, 14, 27, 5, 315384, tzinfo=UTC)


def test_cdevents_in_their_cloudevents_binding_and_rollbacks() -> None:
    cdevent = load("cdevents_service_deployed.json")
    cdevent["context"]["type"] = "dev.cdevents.service.rolledback.0.2.0"
    wrapped = {"specversion": "1.0", "id": "x", "source": "/cd", "type": cdevent["context"]["type"],
               "time": "2023-03-20T14:27:05Z", "data": cdevent}
    record = to_record(wrapped, NOW)
    assert record.data["status"] == "rolled_back"


def test_a_malformed_cdevent_type_is_refused_by_name() -> None:
    cdevent = load("cdevents_service_deployed.json")
    cdevent["context"]["type"] = "dev.cdevents.pipelinerun"
    with pytest.raises(InvalidEvent, match=r"dev\.cdevents\.<subject>\.<predicate>\.<version>") as caught:
        to_record(cdevent, NOW)
    assert caught.value.field == "context.type"


def test_a_cdevent_finished_without_an_outcome_is_kept_not_guessed() -> None:
    cdevent = load("cdevents/main/pipelinerun_finished.json")
    del cdevent["subject"]["content"]["outcome"]
    record = to_record(cdevent, NOW)
    assert (record.type, record.data["kind"]) == ("ExternalEvent", "dev.cdevents.pipelinerun.finished.0.3.0")
    cdevent["subject"]["content"]["outcome"] = "success"
    assert to_record(cdevent, NOW).type == "JobRunCompleted"


def test_custom_cdevents_are_kept_and_malformed_ones_name_the_field() -> None:
    cdevent = load("cdevents/main/build_started.json")
    cdevent["context"]["type"] = "dev.cdeventsx.mytool-resource.created.0.1.0"
    assert to_record(cdevent, NOW).type == "ExternalEvent"
    for path, value, field in [("context.timestamp", None, "context.timestamp"), ("subject.id", None, "subject.id"),
                               ("context.timestamp", "yesterday", "context.timestamp")]:
        broken = load("cdevents/main/build_started.json")
        head, leaf = path.split(".")
        if value is None:
            del broken[head][leaf]
        else:
            broken[head][leaf] = value
        with pytest.raises(InvalidEvent) as caught:
            to_record(broken, NOW)
        assert caught.value.field == field, caught.value


def test_the_job_urn_template_is_a_setting_like_the_dataset_one() -> None:
    [event] = map_run_event(_run_event("START"), jobs=JobNaming("job://{name}")).events
    assert event["source"] == "job://orders_enriched_batch"
    with pytest.raises(ConfigError, match="RCA_OPENLINEAGE_JOB_URN"):
        JobNaming("ds://{name}")
    no_namespace = _run_event("START")
    del no_namespace["job"]["namespace"]
    with pytest.raises(InvalidEvent) as caught:
        map_run_event(no_namespace)
    assert caught.value.field == "job.namespace"
