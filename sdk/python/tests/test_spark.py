"""The Spark pack's job wrapper: JobRunStarted, then JobRunCompleted or JobRunFailed, never in the job's way.

The wrapper reads a SparkSession only through the attributes below, so a stand-in with those attributes
pins the contract here, fast and without Java; test_spark_session.py runs the same calls in a real
SparkSession writing real Delta tables.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from autopilot import Client, Settings
from autopilot.spark import job_run


class FakeConf:
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


class FakeSparkContext:
    applicationId = "app-202601190100-0000"


class FakeSpark:
    def __init__(self, **conf):
        self.sparkContext = FakeSparkContext()
        self.conf = FakeConf({"spark.executor.instances": "20", "spark.executor.memory": "8g", **conf})


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def test_a_successful_run_emits_started_then_completed(job_client, validate_event):
    clock = Clock(datetime(2026, 1, 19, 6, 0, tzinfo=timezone.utc).timestamp())
    with job_run(
        spark=FakeSpark(**{"spark.databricks.clusterUsageTags.clusterId": "emr-prod-7"}),
        run_id="2026-01-19T06:00Z_abc",
        input_datasets=["ds://raw/orders"],
        scheduled_time="2026-01-19T01:00:00-05:00",
        client=job_client,
        clock=clock,
    ) as run:
        run.stage_timings["stage-3"] = 1200.5
        clock.now += 2220
    assert job_client.flush(2.0)
    started, completed = job_client.fake.events
    for event in (started, completed):
        validate_event(event)
        assert event["source"] == "job://orders_enriched_batch"
    assert started["type"] == "JobRunStarted"
    assert started["time"] == "2026-01-19T06:00:00+00:00"
    assert started["data"] == {
        "run_id": "2026-01-19T06:00Z_abc",
        "code_ref": "orders_enriched_batch@4f2a9c1",
        "env": "prod",
        "cluster_id": "emr-prod-7",
        "spark_app_id": "app-202601190100-0000",
        "input_datasets": ["ds://raw/orders"],
        "scheduled_time": "2026-01-19T01:00:00-05:00",
        "actual_start_time": "2026-01-19T06:00:00+00:00",
        "retry_count": 0,
        "executors": 20,
        "executor_memory": "8g",
    }
    assert completed["type"] == "JobRunCompleted"
    assert completed["data"] == {
        "run_id": "2026-01-19T06:00Z_abc",
        "duration_s": 2220,
        "retry_count": 0,
        "exit_code": 0,
        "executors": 20,
        "executor_memory": "8g",
        "stage_timings": {"stage-3": 1200.5},
        "spark_app_id": "app-202601190100-0000",
    }


def test_matches_the_job_run_vectors_for_the_fields_they_give(job_client, valid_vectors):
    vectors = {v["name"]: v["event"] for v in valid_vectors}
    clock = Clock(datetime(2026, 1, 19, 6, 0, tzinfo=timezone.utc).timestamp())
    with pytest.raises(MemoryError), job_run(
        spark=FakeSpark(), run_id="2026-01-19T06:00Z_abc", retry_count=2, client=job_client, clock=clock
    ):
        clock.now += 2400
        raise MemoryError("java.lang.OutOfMemoryError: Java heap space")
    job_client.flush(2.0)
    failed = job_client.fake.events[-1]
    expected = vectors["job-run-failed"]["data"]
    assert {k: failed["data"][k] for k in expected if k not in ("failure_reason", "exit_code")} == {
        k: v for k, v in expected.items() if k not in ("failure_reason", "exit_code")
    }


def test_a_failed_run_emits_failed_and_the_exception_propagates_unchanged(job_client, validate_event):
    class Boom(Exception):
        pass

    error = Boom("stage 3 failed")
    with pytest.raises(Boom) as caught, job_run(run_id="r1", retry_count=1, client=job_client):
        raise error
    assert caught.value is error
    job_client.flush(2.0)
    failed = job_client.fake.events[-1]
    validate_event(failed)
    assert failed["type"] == "JobRunFailed"
    assert failed["data"]["failure_reason"].endswith("Boom: stage 3 failed")
    assert (failed["data"]["exit_code"], failed["data"]["retry_count"]) == (1, 1)


def test_a_jvm_error_is_named_by_its_java_class(job_client):
    class JavaException:
        def toString(self):
            return "java.lang.OutOfMemoryError: Java heap space"

    class Py4JJavaError(Exception):
        java_exception = JavaException()

    with pytest.raises(Py4JJavaError), job_run(run_id="r", client=job_client):
        raise Py4JJavaError("An error occurred while calling o123.save.\n: java.lang.OutOfMemoryError ...")
    job_client.flush(2.0)
    assert job_client.fake.events[-1]["data"]["failure_reason"] == "java.lang.OutOfMemoryError: Java heap space"


def test_an_error_pyspark_converted_is_named_by_its_jvm_original(job_client):
    class JavaOrigin:
        def toString(self):
            return "org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND] Path does not exist: file:/x."

    class AnalysisException(Exception):  # pyspark.errors' classes keep the JVM exception as `_origin`
        def __init__(self, message):
            super().__init__(message)
            self._origin = JavaOrigin()

    with pytest.raises(AnalysisException), job_run(run_id="r", client=job_client):
        raise AnalysisException("[PATH_NOT_FOUND] Path does not exist: file:/x.")
    job_client.flush(2.0)
    assert job_client.fake.events[-1]["data"]["failure_reason"] == (
        "org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND] Path does not exist: file:/x.")


def test_sys_exit_keeps_its_code(job_client):
    with pytest.raises(SystemExit), job_run(run_id="r", client=job_client):
        raise SystemExit(137)
    job_client.flush(2.0)
    assert job_client.fake.events[-1]["data"]["exit_code"] == 137


def test_as_a_decorator_each_call_is_a_new_run(job_client):
    @job_run("nightly_rollup", client=job_client)
    def nightly(x):
        return x * 2

    assert nightly(2) == 4 and nightly(3) == 6
    job_client.flush(2.0)
    events = job_client.fake.events
    assert [e["type"] for e in events] == ["JobRunStarted", "JobRunCompleted"] * 2
    assert {e["source"] for e in events} == {"job://nightly_rollup"}
    assert len({e["data"]["run_id"] for e in events}) == 2


def test_decorating_does_not_touch_the_sdk_until_the_job_runs(monkeypatch):
    import autopilot

    @job_run("lazy")
    def job():
        return "done"

    assert autopilot._current_client is None  # nothing configured, nothing started at import time
    assert job() == "done"


def test_the_retry_count_and_run_id_can_come_from_the_scheduler(job_client, monkeypatch):
    monkeypatch.setenv("AUTOPILOT_RETRY_COUNT", "2")
    monkeypatch.setenv("AUTOPILOT_RUN_ID", "airflow-run-7")
    with job_run(client=job_client):
        pass
    job_client.flush(2.0)
    started = job_client.fake.events[0]
    assert (started["data"]["run_id"], started["data"]["retry_count"]) == ("airflow-run-7", 2)
    assert started["id"] == "run:orders_enriched_batch:airflow-run-7:2:started"


def test_when_the_sdk_is_off_the_job_runs_and_nothing_happens():
    client = Client(Settings())
    with job_run("j", spark=FakeSpark(), client=client) as run:
        result = 42
    assert result == 42 and run.run_id
