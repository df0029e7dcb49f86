"""The Spark pack in a real Spark job: a local SparkSession (PySpark 4.0, Delta Lake 4.0) writing Delta tables.

test_spark.py pins the wrapper's contract with a stand-in session; here the same calls meet the real thing: the
application id and executor settings read from a live SparkConf, Spark's own commit log (camelCase string
metrics) read by the Delta hook and checked against `deltalake`'s independent reading of the same table, and
failures raised by Spark and by the JVM through py4j. Needs Java 17+, the `test-spark` extra and the Delta jars
(`scripts/spark-jars`); `make install` sets up the last two. Skipped when missing, except under CI.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autopilot.spark import job_run

JARS = Path(os.environ.get("AUTOPILOT_SPARK_JARS") or Path(sys.prefix) / "spark-jars")
DATASET = "ds://curated/orders_enriched"


def _missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install -e 'sdk/python[test-spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (Spark 4.0 needs Java 17 or later)"
    if not sorted(JARS.glob("delta-*.jar")):
        return f"no Delta jars in {JARS} (run scripts/spark-jars {JARS})"
    return None


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; CI must run the Spark pack against a real SparkSession")
        pytest.skip(missing)
    from pyspark.sql import SparkSession

    work = tmp_path_factory.mktemp("spark")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[1]")
        .appName("autopilot-spark-pack-test")
        .config("spark.jars", ",".join(str(p) for p in sorted(JARS.glob("*.jar"))))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        # Loopback only, no UI, one shuffle partition: a test session, not a cluster.
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.warehouse.dir", str(work / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        # What a cluster job sets; the wrapper must report it as the live SparkConf has it.
        .config("spark.executor.instances", "3")
        .config("spark.executor.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def _orders(spark: Any, ids: range, dt_of: Any) -> Any:
    return spark.createDataFrame([(i, dt_of(i)) for i in ids], "order_id INT, dt STRING")


def test_a_spark_job_writing_delta_emits_its_run_and_each_commit(spark, job_client, tmp_path, validate_event):
    from deltalake import DeltaTable

    table = tmp_path / "orders_enriched"
    with job_run(spark=spark, run_id="run-2026-03-10", input_datasets=["ds://raw/orders"], client=job_client) as run:
        _orders(spark, range(100), lambda i: "2026-03-10" if i % 4 else "2026-03-09").write.format("delta") \
            .partitionBy("dt").save(str(table))
        first = run.commit(table, dataset_urn=DATASET)
        _orders(spark, range(100, 107), lambda i: "2026-03-11").write.format("delta").mode("append") \
            .partitionBy("dt").save(str(table))
        second = run.commit(table, dataset_urn=DATASET)
    assert job_client.flush(5.0)
    events = job_client.fake.events
    assert [e["type"] for e in events] == ["JobRunStarted", "DatasetWriteCommitted", "DatasetWriteCommitted",
                                           "JobRunCompleted"]
    for event in events:
        validate_event(event)
        assert event["source"] == "job://orders_enriched_batch"
    started, commit0, commit1, completed = (e["data"] for e in events)
    app_id = spark.sparkContext.applicationId
    assert started["spark_app_id"] == completed["spark_app_id"] == app_id
    assert (started["executors"], started["executor_memory"]) == (3, "1g")
    assert (started["run_id"], started["code_ref"], started["input_datasets"]) == (
        "run-2026-03-10", "orders_enriched_batch@4f2a9c1", ["ds://raw/orders"])
    assert completed["exit_code"] == 0 and completed["duration_s"] > 0

    # Each commit as Spark wrote it, checked against deltalake's own reading of the same log.
    history = {h["version"]: h for h in DeltaTable(str(table)).history()}
    assert (first.version, second.version) == (0, 1)
    for data, version in ((commit0, 0), (commit1, 1)):
        spark_commit = history[version]
        assert data["dataset_urn"] == DATASET and data["run_id"] == "run-2026-03-10"
        assert data["commit_version"] == version
        assert data["rows_written"] == int(spark_commit["operationMetrics"]["numOutputRows"])
        assert data["files_added"] == int(spark_commit["operationMetrics"]["numFiles"])
        assert data["engine"].startswith("Apache-Spark/4.0")
        assert data["commit_timestamp"].startswith(_rfc3339_ms(spark_commit["timestamp"]))
    assert (commit0["rows_written"], commit0["output_partitions_written"]) == (100, ["dt=2026-03-09", "dt=2026-03-10"])
    assert (commit1["rows_written"], commit1["output_partitions_written"]) == (7, ["dt=2026-03-11"])
    assert commit0["operation"] == "WRITE"
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 107


def test_a_failure_raised_by_spark_is_reported_and_propagates_unchanged(spark, job_client, tmp_path):
    from pyspark.errors import AnalysisException

    with pytest.raises(AnalysisException) as caught, job_run(spark=spark, run_id="run-missing", client=job_client):
        spark.read.format("delta").load(str(tmp_path / "no_such_table")).count()
    assert job_client.flush(5.0)
    failed = job_client.fake.events[-1]
    assert failed["type"] == "JobRunFailed"
    assert failed["data"]["exit_code"] == 1 and failed["data"]["spark_app_id"] == spark.sparkContext.applicationId
    # PySpark re-raises the JVM's exception as its own class; the report names the JVM's, as a Spark log does.
    reason = failed["data"]["failure_reason"]
    assert reason.startswith("org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND]")
    assert "no_such_table" in reason and type(caught.value).__name__ == "AnalysisException"


@pytest.mark.parametrize(("call", "raised", "reason"), [
    # PySpark converts this one into pyspark.errors...NumberFormatException, keeping the JVM original.
    (lambda jvm: jvm.java.lang.Integer.parseInt("not-a-number"), "NumberFormatException",
     'java.lang.NumberFormatException: For input string: "not-a-number"'),
    # and leaves this one as py4j's Py4JJavaError.
    (lambda jvm: jvm.java.util.Objects.requireNonNull(None, "order id missing"), "Py4JJavaError",
     "java.lang.NullPointerException: order id missing"),
])
def test_a_jvm_error_is_named_by_its_java_class(spark, job_client, call, raised, reason):
    with pytest.raises(Exception) as caught, job_run(spark=spark, run_id="run-jvm", client=job_client):
        call(spark.sparkContext._jvm)
    assert type(caught.value).__name__ == raised
    assert job_client.flush(5.0)
    assert job_client.fake.events[-1]["data"]["failure_reason"] == reason


def _rfc3339_ms(epoch_ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
