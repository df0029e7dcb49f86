"""The Spark pack: job-run evidence (JobRunStarted / JobRunCompleted / JobRunFailed) around a job.

    from autopilot.spark import job_run

    with job_run("orders_enriched_batch", spark=spark, code_ref="orders_enriched@4f2a9c1") as run:
        df.write.format("delta").mode("append").save(path)
        run.commit(path, dataset_urn="ds://curated/orders_enriched")  # DatasetWriteCommitted

    @job_run("orders_enriched_batch")          # or as a decorator: a new run per call
    def main(): ...

PySpark is never imported: `spark` is any SparkSession-like object (duck-typed), so this module
costs nothing in jobs that do not pass one. The job's own exception always propagates unchanged.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from . import get_client
from ._client import Client
from ._envelope import TimeLike, format_time
from .delta import PathLike, emit_delta_commit

__all__ = ["JobRun", "job_run"]

logger = logging.getLogger("autopilot")

F = TypeVar("F", bound=Callable[..., Any])
MAX_REASON = 2000  # a failure reason is a sentence and the top of a trace, not a whole log


class JobRun:
    """One run of a batch job. Use through `job_run(...)`."""

    def __init__(
        self,
        job: str | None = None,
        *,
        run_id: str | None = None,
        code_ref: str | None = None,
        spark: Any = None,
        env: str | None = None,
        input_datasets: tuple[str, ...] | list[str] = (),
        scheduled_time: TimeLike | None = None,
        retry_count: int | None = None,
        cluster_id: str | None = None,
        client: Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._options = dict(
            job=job, run_id=run_id, code_ref=code_ref, spark=spark, env=env, input_datasets=input_datasets,
            scheduled_time=scheduled_time, retry_count=retry_count, cluster_id=cluster_id, client=client, clock=clock,
        )
        self.job = job
        self.run_id = run_id
        self.code_ref = code_ref
        self.spark = spark
        self.env = env
        self.input_datasets = list(input_datasets)
        self.scheduled_time = scheduled_time
        self.retry_count = retry_count
        self.cluster_id = cluster_id
        self.client = client
        self.source: str | None = None
        self.stage_timings: dict[str, float] = {}  # fill in as stages finish; sent with JobRunCompleted
        self._clock = clock
        self._started = 0.0

    def _resolve(self) -> None:
        """Fill the defaults at the start of the run, not at decoration (import) time."""
        if self.client is None:
            self.client = get_client()
        settings = self.client.settings
        producer = settings.producer or ""
        if not self.job and producer.startswith("job://"):
            self.job = producer[len("job://") :]
        self.source = f"job://{self.job}" if self.job else None
        self.run_id = self.run_id or os.environ.get("AUTOPILOT_RUN_ID") or _new_run_id(self._clock())
        self.code_ref = self.code_ref or os.environ.get("AUTOPILOT_CODE_REF") or _code_ref(self.job, settings.commit)
        self.env = self.env or settings.env
        if self.retry_count is None:
            self.retry_count = _env_int("AUTOPILOT_RETRY_COUNT", 0)

    # -- context manager ---------------------------------------------------------------------------

    def __enter__(self) -> JobRun:
        self._resolve()
        self._started = self._clock()
        self._emit("JobRunStarted", self._started_data(), "started")
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        ended = self._clock()
        if exc is None:
            self._emit("JobRunCompleted", self._finished_data(ended, exit_code=0), "completed", ended)
        else:
            data = self._finished_data(ended, exit_code=_exit_code(exc))
            data["failure_reason"] = _failure_reason(exc)
            self._emit("JobRunFailed", data, "failed", ended)
        # Returning None (falsy): the job's exception, if any, propagates unchanged.

    # -- decorator: a fresh run (and run id) per call -------------------------------------------

    def __call__(self, func: F) -> F:
        options = self._options

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with JobRun(**options):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # -- evidence inside the run ---------------------------------------------------------------

    def commit(self, table_path: PathLike, dataset_urn: str | None = None) -> Any:
        """Emit DatasetWriteCommitted for the newest commit of a Delta table this run wrote."""
        if self.client is None:
            self._resolve()
        return emit_delta_commit(table_path, dataset_urn, run_id=self.run_id, source=self.source, client=self.client)

    # -- internals -----------------------------------------------------------------------------

    def _started_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run_id": self.run_id, "code_ref": self.code_ref}
        if self.env:
            data["env"] = self.env
        cluster_id = self.cluster_id or _spark_conf(self.spark, "spark.databricks.clusterUsageTags.clusterId")
        if cluster_id:
            data["cluster_id"] = cluster_id
        app_id = _spark_app_id(self.spark)
        if app_id:
            data["spark_app_id"] = app_id
        data["input_datasets"] = self.input_datasets
        if self.scheduled_time is not None:
            data["scheduled_time"] = format_time(self.scheduled_time)
        data["actual_start_time"] = format_time(self._started)
        data["retry_count"] = self.retry_count
        data.update(self._resources())
        return data

    def _finished_data(self, ended: float, exit_code: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "duration_s": round(max(0.0, ended - self._started), 3),
            "retry_count": self.retry_count,
            "exit_code": exit_code,
        }
        data.update(self._resources())
        if self.stage_timings and exit_code == 0:
            data["stage_timings"] = dict(self.stage_timings)
        app_id = _spark_app_id(self.spark)
        if app_id:
            data["spark_app_id"] = app_id
        return data

    def _resources(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        executors = _executors(self.spark)
        if executors is not None:
            out["executors"] = executors
        memory = _spark_conf(self.spark, "spark.executor.memory")
        if memory:
            out["executor_memory"] = memory
        return out

    def _emit(self, event_type: str, data: dict[str, Any], phase: str, when: float | None = None) -> None:
        try:
            assert self.client is not None
            self.client.emit(
                event_type,
                data,
                source=self.source,
                # Deterministic per run and attempt, so a re-sent event is a duplicate, not a new run.
                event_id=f"run:{self.job}:{self.run_id}:{self.retry_count}:{phase}",
                time=when if when is not None else self._started,
            )
        except Exception as exc:  # pragma: no cover - emit() does not raise; belt and braces for the job
            logger.debug("autopilot: could not emit %s: %r", event_type, exc)


def job_run(job: str | None = None, **options: Any) -> JobRun:
    """A job run as a context manager (`with job_run(...) as run:`) or a decorator (`@job_run(...)`).

    `job` names the producer `job://<job>` (default: AUTOPILOT_PRODUCER when it is a job:// URN).
    Options: run_id, code_ref, spark, env, input_datasets, scheduled_time, retry_count, cluster_id.
    """
    return JobRun(job, **options)


def _new_run_id(now: float) -> str:
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    return f"{stamp}_{os.urandom(3).hex()}"


def _code_ref(job: str | None, commit: str | None) -> str | None:
    return f"{job}@{commit}" if job and commit else None


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        return max(0, int(raw)) if raw else default
    except ValueError:
        logger.warning("%s=%r is not an integer; using %s.", name, raw, default)
        return default


def _spark_app_id(spark: Any) -> str | None:
    try:
        return str(spark.sparkContext.applicationId) if spark is not None else None
    except Exception:
        return None


def _spark_conf(spark: Any, key: str) -> str | None:
    if spark is None:
        return None
    try:
        value = spark.conf.get(key, None)
        return str(value) if value not in (None, "") else None
    except Exception:
        return None


def _executors(spark: Any) -> int | None:
    """Configured executors, else the live count from the JVM (dynamic allocation)."""
    configured = _spark_conf(spark, "spark.executor.instances")
    if configured is not None:
        try:
            return int(configured)
        except ValueError:
            pass
    try:
        # getExecutorMemoryStatus has one entry per executor plus the driver.
        return max(0, int(spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()) - 1)
    except Exception:
        return None


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    if isinstance(exc, KeyboardInterrupt):
        return 130
    return 1


def _failure_reason(exc: BaseException) -> str:
    """`java.lang.OutOfMemoryError: Java heap space` for a JVM error, else `Type: message`."""
    try:
        # py4j's Py4JJavaError carries the JVM exception; PySpark converts the ones it knows (AnalysisException,
        # NumberFormatException, ...) into its own classes, which keep the JVM original as `_origin`.
        java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
        if java is not None:
            return str(java.toString())[:MAX_REASON]
    except Exception:
        pass
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    message = str(exc).strip()
    return (f"{name}: {message}" if message else name)[:MAX_REASON]
