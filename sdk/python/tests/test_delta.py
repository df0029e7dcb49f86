"""The Delta commit hook reads the newest commit of a real table: delta-rs's snake_case integers and
Spark's camelCase string metrics, and emits DatasetWriteCommitted from it."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from autopilot import Client, Settings
from autopilot.delta import commit_event_data, emit_delta_commit, read_latest_commit
from autopilot.spark import job_run
from autopilot.testing import FakeTransport

deltalake = pytest.importorskip("deltalake")
pa = pytest.importorskip("pyarrow")


def orders(days):
    return pa.table({"dt": days, "order_id": list(range(len(days)))})


@pytest.fixture
def job_client(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake, producer="job://orders_enriched_batch")
    client.fake = fake
    return client


def test_a_delta_rs_partitioned_append(tmp_path):
    table = tmp_path / "orders_enriched"
    deltalake.write_deltalake(str(table), orders(["2026-01-17"]), partition_by=["dt"])
    deltalake.write_deltalake(
        str(table), orders(["2026-01-18", "2026-01-18", "2026-01-19"]), partition_by=["dt"], mode="append"
    )
    commit = read_latest_commit(table)
    assert (commit.version, commit.partitions, commit.rows, commit.files_added, commit.operation) == (
        1,
        ["dt=2026-01-18", "dt=2026-01-19"],
        3,
        2,
        "WRITE",
    )
    assert commit.engine.startswith("delta-rs")
    assert datetime.fromisoformat(commit.timestamp).tzinfo is not None


def test_an_unpartitioned_overwrite(tmp_path):
    table = tmp_path / "t"
    deltalake.write_deltalake(str(table), orders(["a", "b"]))
    deltalake.write_deltalake(str(table), orders(["c"] * 5), mode="overwrite")
    commit = read_latest_commit(table)
    assert (commit.version, commit.partitions, commit.rows, commit.files_added) == (1, [], 5, 1)


def spark_commit(table, version, *, rows="1201000", files=48, metrics=True, stats=True):
    log = table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    commit_info = {
        "timestamp": 1768718820000,  # 2026-01-18T06:47:00Z
        "operation": "WRITE",
        "operationParameters": {"mode": "Append", "partitionBy": '["dt"]'},
        "isolationLevel": "Serializable",
        "isBlindAppend": True,
        "engineInfo": "Apache-Spark/3.5.1 Delta-Lake/3.2.0",
        "txnId": "5b0e0d1c-0000-4000-8000-000000000000",
    }
    if metrics:
        commit_info["operationMetrics"] = {"numFiles": str(files), "numOutputRows": rows, "numOutputBytes": "9437184"}
    lines = [{"commitInfo": commit_info}]
    for i in range(files):
        add = {
            "path": f"dt=2026-01-18/part-{i:05d}-c000.snappy.parquet",
            "partitionValues": {"dt": "2026-01-18"},
            "size": 196608,
            "modificationTime": 1768718819000,
            "dataChange": True,
        }
        if stats:
            add["stats"] = json.dumps({"numRecords": 25020 + (i == 0) * 40})
        lines.append({"add": add})
    (log / f"{version:020d}.json").write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def test_a_spark_commit_with_camel_case_string_metrics(tmp_path):
    table = tmp_path / "orders_enriched"
    spark_commit(table, 105, rows="1", files=1)
    spark_commit(table, 106)
    (table / "_delta_log" / "00000000000000000100.checkpoint.parquet").write_bytes(b"PAR1")
    (table / "_delta_log" / "_last_checkpoint").write_text('{"version":100,"size":3}')
    commit = read_latest_commit(table)
    assert (commit.version, commit.partitions, commit.rows, commit.files_added) == (106, ["dt=2026-01-18"], 1201000, 48)
    assert commit.timestamp == "2026-01-18T06:47:00.000+00:00"


def test_without_metrics_rows_come_from_file_stats(tmp_path):
    spark_commit(tmp_path / "t", 3, files=2, metrics=False)
    assert read_latest_commit(tmp_path / "t").rows == 25020 * 2 + 40


def test_without_metrics_or_stats_rows_are_unknown_not_zero(tmp_path):
    spark_commit(tmp_path / "t", 3, files=2, metrics=False, stats=False)
    assert read_latest_commit(tmp_path / "t").rows is None


def test_the_event_matches_the_commit_vector(tmp_path, valid_vectors, job_client, validate_event):
    table = tmp_path / "orders_enriched"
    spark_commit(table, 106)
    commit = emit_delta_commit(
        table, "ds://curated/orders_enriched", run_id="2026-01-18T06:11Z_r1", client=job_client
    )
    assert commit is not None and job_client.flush(2.0)
    [event] = job_client.fake.events
    validate_event(event)
    vector = next(v["event"] for v in valid_vectors if v["name"] == "dataset-write-committed")
    data = event["data"]
    assert {k: data[k] for k in vector["data"] if k != "commit_timestamp"} == {
        k: v for k, v in vector["data"].items() if k != "commit_timestamp"
    }
    assert datetime.fromisoformat(data["commit_timestamp"]) == datetime.fromisoformat(
        vector["data"]["commit_timestamp"]
    )
    assert (event["subject"], event["source"], event["time"]) == (
        "ds://curated/orders_enriched",
        "job://orders_enriched_batch",
        data["commit_timestamp"],
    )
    assert event["id"] == "commit:ds://curated/orders_enriched@106"


def test_the_job_run_attaches_its_run_id_to_the_commit(tmp_path, job_client):
    table = tmp_path / "orders_enriched"
    with job_run(run_id="run-9", client=job_client) as run:
        deltalake.write_deltalake(str(table), orders(["2026-01-18"]), partition_by=["dt"])
        run.commit(table, "ds://curated/orders_enriched")
    job_client.flush(2.0)
    types = [e["type"] for e in job_client.fake.events]
    assert types == ["JobRunStarted", "DatasetWriteCommitted", "JobRunCompleted"]
    commit = job_client.fake.events[1]
    assert commit["data"]["run_id"] == "run-9" and commit["data"]["commit_version"] == 0


def test_the_default_dataset_urn_is_the_table_location(tmp_path, job_client):
    deltalake.write_deltalake(str(tmp_path / "t"), orders(["x"]))
    emit_delta_commit(f"file://{tmp_path / 't'}", client=job_client)
    job_client.flush(2.0)
    assert job_client.fake.events[0]["data"]["dataset_urn"] == f"file://{tmp_path / 't'}"


def test_a_missing_table_or_object_store_path_is_logged_not_raised(tmp_path, job_client, caplog):
    assert emit_delta_commit(tmp_path / "nope", client=job_client) is None
    assert emit_delta_commit("s3://bucket/table", client=job_client) is None
    assert "could not read" in caplog.text


def test_when_the_sdk_is_off_the_log_is_not_even_read(tmp_path, monkeypatch):
    monkeypatch.setattr("autopilot.delta.read_latest_commit", lambda path: pytest.fail("read while disabled"))
    assert emit_delta_commit(tmp_path, client=Client(Settings())) is None


def test_commit_event_data_keeps_extra_facts_as_unknown_fields(tmp_path):
    spark_commit(tmp_path / "t", 1, files=1)
    data = commit_event_data(read_latest_commit(tmp_path / "t"), "ds://x")
    assert data["operation"] == "WRITE" and data["engine"].startswith("Apache-Spark")
