"""Nightly Spark jobs writing Delta tables: the evidence their autopilot pack emits (JobRunStarted,
DatasetWriteCommitted, JobRunCompleted, JobRunFailed), a week of healthy nights, and the freshness policy."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from evals._stories.documents import RUNBOOKS, UTC, at, days_before, event, stamp


@dataclass
class Job:
    """A nightly Spark job writing one Delta table, and the evidence its autopilot pack emits."""

    producer: str
    dataset: str
    zone: ZoneInfo
    code: str
    cluster: str
    inputs: list[str] = field(default_factory=list)
    prefix: str = ""
    executors: int = 20
    memory: str = "8g"
    rows: int = 1_200_000
    files: int = 48
    version: int = 100
    lag_days: int = 0  # 1: the run on day D writes dt=D-1 (watermark must_reach: yesterday)
    partitions: Callable[[str], list[str]] = field(default=lambda dt: [f"dt={dt}"])

    def local(self, moment: datetime) -> datetime:
        """Stamped as the job's host would: in its zone, with the offset in effect at that instant."""
        return moment.astimezone(self.zone)

    def _id(self, kind: str, day: date, suffix: str = "") -> str:
        return f"{self.prefix}{kind}-{day:%m%d}{suffix}"

    def run_id(self, start: datetime, n: int) -> str:
        return f"{start.astimezone(UTC):%Y-%m-%dT%H:%MZ}_r{n}"

    def started(self, day: date, start: datetime, run_id: str, *, scheduled: datetime | None = None,
                code: str | None = None, suffix: str = "", **extra: Any) -> dict[str, Any]:
        start, scheduled = self.local(start), self.local(scheduled or start)
        app = f"app-{start:%Y%m%d%H%M}-{zlib.crc32(run_id.encode()) % 10_000:04d}"
        data = {"run_id": run_id, "code_ref": code or self.code, "env": "prod", "cluster_id": self.cluster,
                "spark_app_id": app, "input_datasets": list(self.inputs),
                "scheduled_time": stamp(scheduled), "actual_start_time": stamp(start)}
        return event(self._id("run-start", day, suffix), "JobRunStarted", self.producer, start, data, **extra)

    def committed(self, day: date, moment: datetime, run_id: str, dt: str, rows: int, *, suffix: str = "",
                  partitions: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        self.version += 1
        moment = self.local(moment)
        data = {"dataset_urn": self.dataset, "run_id": run_id, "commit_version": self.version,
                "commit_timestamp": stamp(moment), "output_partitions_written": partitions or self.partitions(dt),
                "rows_written": rows, "files_added": max(1, round(self.files * rows / self.rows))}
        return event(self._id("commit", day, suffix), "DatasetWriteCommitted", self.producer, moment, data,
                     subject=self.dataset, **extra)

    def completed(self, day: date, moment: datetime, run_id: str, duration_s: int, *, suffix: str = "",
                  **extra: Any) -> dict[str, Any]:
        data = {"run_id": run_id, "duration_s": duration_s, "retry_count": 0, "exit_code": 0,
                "executors": self.executors, "executor_memory": self.memory}
        return event(self._id("run-done", day, suffix), "JobRunCompleted", self.producer, self.local(moment), data,
                     **extra)

    def failed(self, day: date, moment: datetime, run_id: str, duration_s: int, reason: str, *, retry_count: int = 0,
               exit_code: int = 1, memory: str | None = None, suffix: str = "", **extra: Any) -> dict[str, Any]:
        data = {"run_id": run_id, "duration_s": duration_s, "failure_reason": reason, "retry_count": retry_count,
                "exit_code": exit_code, "executors": self.executors, "executor_memory": memory or self.memory}
        return event(self._id("run-fail", day, suffix), "JobRunFailed", self.producer, self.local(moment), data,
                     **extra)

    def dt(self, day: date) -> str:
        return f"{day - timedelta(days=self.lag_days):%Y-%m-%d}"

    def good_run(self, day: date, start: datetime, minutes: int, rng: random.Random, n: int) -> list[dict[str, Any]]:
        """One healthy night: started, committed a minute before the end, completed."""
        run_id = self.run_id(start, n)
        duration = minutes * 60 + rng.randint(-90, 90)
        end = start + timedelta(seconds=duration)
        rows = round(self.rows * (1 + rng.uniform(-0.01, 0.01)), -3)
        return [self.started(day, start, run_id),
                self.committed(day, end - timedelta(minutes=1), run_id, self.dt(day), int(rows)),
                self.completed(day, end, run_id, duration)]

    def history(self, today: date, hh_mm: str, minutes: int, rng: random.Random,
                nights: int = 7) -> list[dict[str, Any]]:
        out = []
        for n, day in enumerate(days_before(today, nights)):
            out += self.good_run(day, at(self.zone, day, hh_mm), minutes, rng, nights - n)
        return out


def policy(job: Job, expected_update_by: str, schedule: str, grace: int, owner: str, tier: int, runbook: str, *,
           must_reach: str = "today") -> dict[str, Any]:
    return {"dataset_urn": job.dataset, "producer_urn": job.producer, "expected_update_by": expected_update_by,
            "timezone": job.zone.key, "grace_minutes": grace,
            "watermark": {"dimension": "dt", "must_reach": must_reach},
            "schedule": schedule, "owner_team": owner, "tier": tier, "runbook_url": f"{RUNBOOKS}/{runbook}"}
