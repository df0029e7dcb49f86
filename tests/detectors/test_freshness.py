"""Freshness detector stories: a nightly Spark job's week of history, then today's variant at 02:15 ET."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors._freshness import (
    DatasetFreshness,
    FreshnessFinding,
    dataset_freshness,
    evaluate_freshness,
)
from detectors._job_changes import _service, job_changes, same_change
from detectors._runs import failure_class, runs_of
from evidence._policy import FreshnessPolicy, Watermark
from evidence._record import EvidenceRecord, evidence_id_for, iso
from support import examples

JOB = "job://orders_enriched_batch"
DS = "ds://curated/orders_enriched"
RAW = "ds://raw/orders"
ET = ZoneInfo("America/New_York")
TODAY = date(2026, 1, 19)


def policy(**overrides: Any) -> FreshnessPolicy:
    fields: dict[str, Any] = {
        "dataset_urn": DS, "producer_urn": JOB, "expected_update_by": "02:00", "timezone": "America/New_York",
        "grace_minutes": 10, "watermark": Watermark(), "schedule": "0 1 * * *",
    }
    return FreshnessPolicy(**{**fields, **overrides})


def local(day: date, hhmm: str, zone: ZoneInfo = ET) -> datetime:
    hour, minute = hhmm.split(":")
    return datetime.combine(day, time(int(hour), int(minute)), tzinfo=zone)


class Story:
    """Builds evidence records the way ingestion would, named by CloudEvents id (the source ref)."""

    def __init__(self, zone: ZoneInfo = ET, producer: str = JOB, dataset: str = DS) -> None:
        self.zone, self.producer, self.dataset = zone, producer, dataset
        self.records: list[EvidenceRecord] = []

    def add(self, kind: str, ref: str, when: datetime, data: dict[str, Any], *, producer: str | None = None,
            ingest: datetime | None = None) -> EvidenceRecord:
        source = producer or self.producer
        dataset = data.get("dataset_urn") if kind == "DatasetWriteCommitted" else None
        deploy_ref = data.get("deploy_ref") if kind == "DeploymentEvent" else data.get("code_ref")
        record = EvidenceRecord(
            evidence_id=evidence_id_for(source, ref), source=source, source_ref=ref, type=kind,
            event_time=when.astimezone(UTC), ingest_time=(ingest or when).astimezone(UTC), dataset_urn=dataset,
            producer_urn=source, sequence=data.get("commit_version"), deploy_ref=deploy_ref,
            run_id=data.get("run_id"),
            payload={"specversion": "1.0", "id": ref, "source": source, "type": kind, "time": when.isoformat(),
                     "data": data},
        )
        self.records.append(record)
        return record

    def deploy(self, ref: str, when: datetime, version: str, *, code: str, status: str = "succeeded",
               producer: str | None = None) -> EvidenceRecord:
        service = (producer or self.producer).split("://")[1]
        return self.add("DeploymentEvent", ref, when, {
            "service": service, "version": version, "deploy_ref": f"{service}@{code}", "commit": code,
            "status": status, "env": "prod", "source": "ci"}, producer=producer)

    def start(self, ref: str, run_id: str, when: datetime, *, code: str | None = "orders_enriched@4f2a9c1",
              inputs: tuple[str, ...] = (RAW,), scheduled: datetime | None = None) -> EvidenceRecord:
        return self.add("JobRunStarted", ref, when, {
            "run_id": run_id, "code_ref": code, "env": "prod", "input_datasets": list(inputs),
            "scheduled_time": (scheduled or when).isoformat(), "actual_start_time": when.isoformat()})

    def complete(self, ref: str, run_id: str, when: datetime, duration_s: float) -> EvidenceRecord:
        return self.add("JobRunCompleted", ref, when, {"run_id": run_id, "duration_s": duration_s, "exit_code": 0})

    def fail(self, ref: str, run_id: str, when: datetime, reason: str, duration_s: float = 600) -> EvidenceRecord:
        return self.add("JobRunFailed", ref, when, {
            "run_id": run_id, "duration_s": duration_s, "failure_reason": reason, "exit_code": 1, "retry_count": 0})

    def commit(self, ref: str, run_id: str | None, when: datetime, partitions: list[str], rows: int | None = 1_200_000,
               *, dataset: str | None = None, producer: str | None = None,
               ingest: datetime | None = None) -> EvidenceRecord:
        data: dict[str, Any] = {"dataset_urn": dataset or self.dataset, "commit_timestamp": when.isoformat(),
                                "output_partitions_written": partitions, "files_added": 48}
        if run_id is not None:
            data["run_id"] = run_id
        if rows is not None:
            data["rows_written"] = rows
        return self.add("DatasetWriteCommitted", ref, when, data, producer=producer, ingest=ingest)

    def nightly(self, day: date, *, at: str = "01:00", minutes: int = 35, rows: int | None = 1_200_000,
                code: str = "orders_enriched@4f2a9c1", starts: bool = True, ends: bool = True) -> str:
        """One good night: start at the schedule, commit the day's partition, complete."""
        tag = day.strftime("%m%d")
        run_id = f"run-{tag}"
        began = local(day, at, self.zone)
        if starts:
            self.start(f"run-start-{tag}", run_id, began, code=code)
        self.commit(f"commit-{tag}", run_id, began + timedelta(minutes=minutes), [f"dt={day.isoformat()}"], rows)
        if ends:
            self.complete(f"run-done-{tag}", run_id, began + timedelta(minutes=minutes + 1), minutes * 60)
        return run_id

    def week(self, until: date = TODAY, days: int = 7, **kwargs: Any) -> Story:
        for back in range(days, 0, -1):
            self.nightly(until - timedelta(days=back), **kwargs)
        return self

    def ev(self, ref: str, producer: str | None = None) -> str:
        return evidence_id_for(producer or self.producer, ref)

    def refs(self, ids: list[str]) -> list[str]:
        by_id = {r.evidence_id: r.source_ref for r in self.records}
        return [by_id[i] for i in ids]


NOW = local(TODAY, "02:15")


def finding(story: Story, now: datetime = NOW, pol: FreshnessPolicy | None = None,
            upstream: dict[str, DatasetFreshness] | None = None) -> FreshnessFinding:
    result = evaluate_freshness(pol or policy(), story.records, now, upstream or {})
    assert result is not None
    return result


# -- no incident -----------------------------------------------------------------------------------------------


def test_fresh_dataset_has_no_finding() -> None:
    story = Story().week()
    story.nightly(TODAY)
    assert evaluate_freshness(policy(), story.records, NOW) is None
    state = dataset_freshness(policy(), story.records, NOW)
    assert state.fresh and not state.breached
    assert state.current_watermark == state.expected_watermark == "dt=2026-01-19"
    assert state.last_good_commit is not None and state.last_good_commit.source_ref == "commit-0119"
    assert state.deadline == local(TODAY, "02:10")
    assert state.scheduled_time == local(TODAY, "01:00")


@pytest.mark.parametrize("now", [local(TODAY, "01:30"), local(TODAY, "02:09"), local(TODAY, "02:10") - timedelta(
    microseconds=1)])
def test_not_late_before_the_deadline_even_while_running_or_absent(now: datetime) -> None:
    story = Story().week()
    assert evaluate_freshness(policy(), story.records, now) is None  # not started yet
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    assert evaluate_freshness(policy(), story.records, now) is None  # running, not late yet
    state = dataset_freshness(policy(), story.records, now)
    assert not state.fresh and not state.breached


def test_late_from_the_deadline_on() -> None:
    story = Story().week()
    assert finding(story, now=local(TODAY, "02:10")).reason_code == "JOB_NOT_TRIGGERED"


def test_a_commit_that_landed_after_the_deadline_ends_the_breach() -> None:
    story = Story().week()
    story.nightly(TODAY, minutes=80)  # committed at 02:20
    assert finding(story, now=local(TODAY, "02:15")).reason_code == "JOB_RUNNING_SLOW"
    assert evaluate_freshness(policy(), story.records, local(TODAY, "02:25")) is None


# -- one story per reason ------------------------------------------------------------------------------------


def test_job_not_triggered() -> None:
    story = Story().week()
    story.deploy("deploy-old", local(date(2026, 1, 5), "14:00"), "v3.1.0", code="4f2a9c1")
    got = finding(story)
    assert got.as_dict() == {
        "dataset_urn": DS,
        "reason_code": "JOB_NOT_TRIGGERED",
        "first_bad_time": "2026-01-19T07:10:00Z",
        "last_good_time": "2026-01-18T06:35:00Z",
        "current_watermark": "dt=2026-01-18",
        "expected_watermark": "dt=2026-01-19",
        "correlated_run": {"run_id": None, "evidence_id": None, "state": "not_started",
                           "scheduled_time": "2026-01-19T06:00:00Z"},
        "correlated_deploys": [],
        "failure_class": None,
        "facts": {
            "deadline": "2026-01-19T07:10:00Z", "scheduled_time": "2026-01-19T06:00:00Z", "late_by_s": 300,
            "lookback_days": 7, "producer_urn": JOB,
            "emitted_types_in_lookback": ["DatasetWriteCommitted", "JobRunCompleted", "JobRunStarted"],
            "runs_started_since_schedule": 0, "previous_run_started_at": "2026-01-18T06:00:00Z",
        },
        "evidence_ids": [story.ev("run-start-0118"), story.ev("commit-0118")],
    }


def test_job_failed_out_of_memory() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.fail("run-failed-today", "run-today", local(TODAY, "01:20"),
               "org.apache.spark.SparkException: Job aborted: java.lang.OutOfMemoryError: Java heap space", 1200)
    got = finding(story)
    assert got.reason_code == "JOB_FAILED"
    assert got.failure_class == "out_of_memory"
    assert got.correlated_run is not None
    assert got.correlated_run.state == "failed" and got.correlated_run.run_id == "run-today"
    assert got.facts["failure_reason"].endswith("Java heap space")
    assert got.facts["duration_s"] == 1200 and got.facts["retry_in_progress"] is None
    assert story.refs(got.evidence_ids) == ["commit-0118", "run-start-today", "run-failed-today"]
    assert got.last_good_time == local(date(2026, 1, 18), "01:35")


def test_job_failed_then_retry_still_running_is_the_failure() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.fail("run-failed-today", "run-today", local(TODAY, "01:20"), "Container killed by YARN for exceeding "
               "memory limits. 9.1 GB of 9 GB physical memory used")
    story.start("run-start-retry", "run-retry", local(TODAY, "01:50"))
    got = finding(story)
    assert (got.reason_code, got.failure_class) == ("JOB_FAILED", "out_of_memory")
    assert got.facts["retry_in_progress"] == "run-retry"
    assert "run-failed-today" in story.refs(got.evidence_ids)


def test_job_failed_facts_carry_the_failures_own_fields_and_todays_attempts() -> None:
    # The facts the copilot renders from: the failed run's own exit code and retry count (as the job reported
    # them), how many of today's runs failed, and the retry running now, if any.
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.add("JobRunFailed", "run-failed-today", local(TODAY, "01:20"), {
        "run_id": "run-today", "duration_s": 1200, "failure_reason": "java.lang.OutOfMemoryError: Java heap space",
        "exit_code": 137, "retry_count": 2})
    story.start("run-start-second", "run-second", local(TODAY, "01:30"))
    story.add("JobRunFailed", "run-failed-second", local(TODAY, "01:40"), {
        "run_id": "run-second", "duration_s": 600, "failure_reason": "java.lang.OutOfMemoryError: Java heap space",
        "exit_code": 143, "retry_count": 3})
    got = finding(story)
    assert got.reason_code == "JOB_FAILED"
    assert {key: got.facts[key] for key in ("failure_reason", "exit_code", "retry_count", "duration_s",
                                            "failed_attempts_today", "retry_in_progress")} == {
        "failure_reason": "java.lang.OutOfMemoryError: Java heap space", "exit_code": 143, "retry_count": 3,
        "duration_s": 600, "failed_attempts_today": 2, "retry_in_progress": None}


@pytest.mark.parametrize(("reason", "expected"), [
    ("java.lang.OutOfMemoryError: GC overhead limit exceeded", "out_of_memory"),
    ("Container killed by YARN for exceeding memory limits. 10.4 GB of 10 GB physical memory used", "out_of_memory"),
    ("Pod orders-exec-3 OOMKilled", "out_of_memory"),
    ("java.util.concurrent.TimeoutException: Futures timed out after [300 seconds]", "timeout"),
    ("Job exceeded the maximum run time of 3600 s", "timeout"),
    ("java.io.FileNotFoundException: s3://lake/raw/orders/dt=2026-01-19 does not exist", "dependency"),
    ("org.apache.spark.sql.AnalysisException: Table or view not found: raw.orders", "dependency"),
    ("[TABLE_OR_VIEW_NOT_FOUND] The table or view `raw`.`orders` cannot be found", "dependency"),
    ("upstream dataset ds://raw/orders not ready", "dependency"),
    ("java.lang.NullPointerException at OrdersEnricher.scala:42", "other"),
    (None, "other"),
])
def test_failure_classes(reason: str | None, expected: str) -> None:
    assert failure_class(reason) == expected
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.add("JobRunFailed", "run-failed-today", local(TODAY, "01:20"), {"run_id": "run-today",
                                                                           "failure_reason": reason})
    got = finding(story)
    assert (got.reason_code, got.failure_class) == ("JOB_FAILED", expected)


def test_job_running_slow() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    assert got.correlated_run is not None and got.correlated_run.state == "running"
    facts = got.facts
    assert (facts["running_for_s"], facts["baseline_duration_s"], facts["baseline_runs"]) == (4500, 2100, 7)
    assert facts["exceeds_slow_factor"] is True and facts["start_delay_s"] == 0
    assert len(facts["baseline_evidence_ids"]) == 7
    # Every run the baseline names is listed with the evidence (issue 13: every id an incident names is traceable).
    assert set(facts["baseline_evidence_ids"]) <= set(got.evidence_ids)
    assert story.refs(got.evidence_ids) == ["run-done-0112", "run-done-0113", "run-done-0114", "run-done-0115",
                                            "run-done-0116", "run-done-0117", "commit-0118", "run-done-0118",
                                            "run-start-today"]
    assert got.correlated_deploys == []


def test_a_heartbeat_says_the_slow_run_is_still_alive_and_is_cited() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.add("JobRunHeartbeat", "beat-1", local(TODAY, "01:30"), {"run_id": "run-today"})
    story.add("JobRunHeartbeat", "beat-2", local(TODAY, "02:05"), {"run_id": "run-today"})
    got = finding(story)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    assert (got.facts["last_heartbeat_at"], got.facts["since_last_heartbeat_s"]) == (
        iso(local(TODAY, "02:05")), 600)
    assert story.ev("beat-2") in got.evidence_ids and story.ev("beat-1") not in got.evidence_ids
    assert got.facts["running_for_s"] == 4500  # the start still dates the run


def test_heartbeats_alone_make_a_run_when_its_start_was_lost() -> None:
    story = Story().week()
    story.add("JobRunHeartbeat", "beat-1", local(TODAY, "01:10"), {"run_id": "run-today"})
    got = finding(story)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    assert got.correlated_run is not None and got.correlated_run.run_id == "run-today"
    assert got.facts["running_for_s"] == 3900  # from the first word of the run, the earliest heartbeat


def test_running_slow_baseline_is_the_median_of_recent_successful_runs_only() -> None:
    story = Story()
    for back, minutes in zip(range(7, 0, -1), [30, 31, 32, 33, 34, 90, 91], strict=True):
        story.nightly(TODAY - timedelta(days=back), minutes=minutes)
    story.nightly(TODAY - timedelta(days=9), minutes=5)  # outside the lookback
    story.start("run-start-failed", "run-failed", local(TODAY - timedelta(days=10), "01:00"))
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story)
    assert got.facts["baseline_duration_s"] == 33 * 60 and got.facts["baseline_runs"] == 7


def test_wrong_partition_when_the_watermark_did_not_advance() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.commit("commit-today", "run-today", local(TODAY, "01:34"), ["dt=2026-01-18"])
    story.complete("run-done-today", "run-today", local(TODAY, "01:35"), 2100)
    got = finding(story)
    assert got.reason_code == "WRONG_PARTITION"
    assert (got.current_watermark, got.expected_watermark) == ("dt=2026-01-18", "dt=2026-01-19")
    assert got.facts["partitions_written"] == ["dt=2026-01-18"]
    assert got.correlated_run is not None
    assert got.correlated_run.state == "committed" and got.correlated_run.run_id == "run-today"
    assert got.last_good_time == local(date(2026, 1, 18), "01:35")  # the rewrite of dt=01-18 today is not good
    # The correlated run's start and end are listed with the evidence, since the incident names them.
    assert story.refs(got.evidence_ids) == ["commit-0118", "run-start-today", "commit-today", "run-done-today"]


def test_wrong_partition_when_a_time_zone_bug_writes_tomorrow() -> None:
    story = Story().week()
    story.nightly(TODAY)
    story.records = [r for r in story.records if r.source_ref != "commit-0119"]
    story.commit("commit-today", "run-0119", local(TODAY, "01:35"), ["dt=2026-01-20"])
    got = finding(story)
    assert got.reason_code == "WRONG_PARTITION"
    assert (got.current_watermark, got.expected_watermark) == ("dt=2026-01-20", "dt=2026-01-19")


def test_completed_run_without_a_commit_is_a_watermark_that_did_not_advance() -> None:
    """It states that nothing was written, and names the run that completed."""
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.complete("run-done-today", "run-today", local(TODAY, "01:35"), 2100)
    got = finding(story)
    assert got.reason_code == "WRONG_PARTITION"
    assert {key: got.facts[key] for key in ("commits_since_schedule", "partitions_written",
                                            "run_completed_without_commit")} == {
        "commits_since_schedule": 0, "partitions_written": [], "run_completed_without_commit": True}
    assert got.correlated_run is not None and got.correlated_run.state == "completed"


def test_partial_write_breaches_although_the_watermark_advanced() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.commit("commit-today", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=90_000)
    story.complete("run-done-today", "run-today", local(TODAY, "01:21"), 1260)
    state = dataset_freshness(policy(), story.records, NOW)
    assert state.current_watermark == state.expected_watermark == "dt=2026-01-19"
    assert not state.fresh and state.breached
    got = finding(story)
    assert got.reason_code == "PARTIAL_WRITE"
    assert (got.facts["rows_written"], got.facts["baseline_rows"], got.facts["rows_ratio"]) == (90_000, 1_200_000,
                                                                                                0.075)
    assert got.last_good_time == local(date(2026, 1, 18), "01:35")
    assert got.correlated_run is not None and got.correlated_run.commit_evidence_id == story.ev("commit-today")
    # The baseline commits the facts name, and the run's start and end, are listed with the evidence.
    assert story.refs(got.evidence_ids) == [*(f"commit-01{day}" for day in range(12, 19)), "run-start-today",
                                            "commit-today", "run-done-today"]


def test_a_retry_that_appends_the_rest_is_not_partial() -> None:
    story = Story().week()
    story.commit("commit-today-1", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=400_000)
    story.commit("commit-today-2", "run-today", local(TODAY, "01:40"), ["dt=2026-01-19"], rows=800_000)
    assert evaluate_freshness(policy(), story.records, NOW) is None


def test_partial_write_needs_row_counts_on_both_sides() -> None:
    story = Story().week(rows=None)
    story.commit("commit-today", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=10)
    assert evaluate_freshness(policy(), story.records, NOW) is None


def test_only_commits_to_the_dataset_itself_count() -> None:
    story = Story().week()
    story.commit("commit-other-table", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"],
                 dataset="ds://curated/orders_daily")
    state = dataset_freshness(policy(), story.records, NOW)
    assert state.dataset_urn == DS
    assert (state.fresh, state.breached, state.current_watermark) == (False, True, "dt=2026-01-18")
    assert state.last_commit is not None and state.last_commit.source_ref == "commit-0118"


def test_without_a_schedule_a_commit_at_local_midnight_is_todays() -> None:
    pol = policy(schedule=None, watermark=None)
    story = Story().week()
    story.commit("commit-midnight", None, local(TODAY, "00:00"), [])
    assert dataset_freshness(pol, story.records, NOW).fresh


def test_the_rows_baseline_is_the_lookback_before_todays_cycle() -> None:
    # [lookback_start, cycle_start): a commit at the lookback's first instant is in it; one at the cycle's first
    # instant (a re-run rewriting yesterday), one older than the lookback and today's own commit are not.
    story = Story().week()
    story.commit("commit-old", None, local(date(2026, 1, 11), "01:35"), ["dt=2026-01-11"])
    story.commit("commit-at-lookback-start", None, local(date(2026, 1, 12), "01:00"), ["dt=2026-01-11"])
    story.commit("commit-at-cycle-start", None, local(TODAY, "01:00"), ["dt=2026-01-18"])
    story.commit("commit-today", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=90_000)
    got = finding(story)
    assert got.reason_code == "PARTIAL_WRITE"
    assert story.refs(got.facts["baseline_evidence_ids"]) == [
        "commit-at-lookback-start", *(f"commit-01{day}" for day in range(12, 19))]
    assert (got.facts["baseline_commits"], got.facts["baseline_rows"]) == (8, 1_200_000)


@pytest.mark.parametrize(("baseline", "today", "partial"), [
    (1_200_000, 600_000, False),  # exactly the ratio (0.5) of the baseline: not fewer rows than that share
    (1_200_000, 599_999, True),
    (0, 0, False),  # a table that stays empty: zero rows is the baseline, and nothing is missing
])
def test_a_partial_write_is_fewer_rows_than_the_ratio_of_the_baseline(baseline: int, today: int,
                                                                       partial: bool) -> None:
    story = Story().week(rows=baseline)
    story.commit("commit-today", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=today)
    state = dataset_freshness(policy(), story.records, NOW)
    assert (state.fresh, state.breached) == (not partial, partial)


def test_a_commit_is_good_for_its_own_local_day() -> None:
    # 20:00 in New York on the 18th is already the 19th in UTC: the commit wrote the 18th's partition, which is
    # what the 18th (local) expected, so it is the last good commit.
    story = Story().week()
    late = story.commit("commit-evening-rerun", None, local(date(2026, 1, 18), "20:00"), ["dt=2026-01-18"])
    state = dataset_freshness(policy(), story.records, NOW)
    assert state.last_good_commit == late


# -- upstream ---------------------------------------------------------------------------------------------------


RAW_POLICY = policy(dataset_urn=RAW, producer_urn="job://raw_orders_ingest", expected_update_by="00:30",
                    schedule="0 0 * * *")


def raw_state(landed: str | None) -> DatasetFreshness:
    raw = Story(producer="job://raw_orders_ingest", dataset=RAW)
    for back in range(7, 0, -1):
        day = TODAY - timedelta(days=back)
        raw.commit(f"raw-{day:%m%d}", f"raw-run-{day:%m%d}", local(day, "00:20"), [f"dt={day}"])
    if landed is not None:
        raw.commit("raw-today", "raw-run-today", local(TODAY, landed), [f"dt={TODAY}"])
    return dataset_freshness(RAW_POLICY, raw.records, NOW)


def test_upstream_data_late_explains_a_job_that_waits_for_it() -> None:
    story = Story().week()
    late = raw_state(None)
    assert late.breached and late.current_watermark == "dt=2026-01-18"
    got = finding(story, upstream={RAW: late})
    assert got.reason_code == "UPSTREAM_DATA_LATE"
    [entry] = got.facts["upstream_late"]
    assert entry["dataset_urn"] == RAW and entry["current_watermark"] == "dt=2026-01-18"
    assert entry["expected_watermark"] == "dt=2026-01-19" and entry["breached"] is True
    raw_commit = evidence_id_for("job://raw_orders_ingest", "raw-0118")
    assert raw_commit in got.evidence_ids and story.ev("run-start-0118") in got.evidence_ids
    assert got.correlated_run is not None and got.correlated_run.state == "not_started"


def test_upstream_that_landed_after_the_run_began_explains_a_wrong_partition() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.commit("commit-today", "run-today", local(TODAY, "01:34"), ["dt=2026-01-18"])
    got = finding(story, upstream={RAW: raw_state("01:30")})
    assert got.reason_code == "UPSTREAM_DATA_LATE"
    assert got.correlated_run is not None
    assert (got.correlated_run.run_id, got.correlated_run.state) == ("run-today", "committed")
    [entry] = got.facts["upstream_late"]
    assert entry["fresh"] is True and entry["last_commit_time"] == "2026-01-19T06:30:00Z"  # after our 06:00 start
    raw_today = evidence_id_for("job://raw_orders_ingest", "raw-today")
    assert got.evidence_ids == [story.ev("commit-0118"), story.ev("run-start-today"), raw_today,
                                story.ev("commit-today")]


def test_fresh_upstream_is_not_blamed() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    assert finding(story, upstream={RAW: raw_state("00:20")}).reason_code == "JOB_RUNNING_SLOW"
    assert finding(story, upstream={"ds://raw/other": raw_state(None)}).reason_code == "JOB_RUNNING_SLOW"


def test_dependency_failure_with_late_upstream_is_upstream_but_oom_is_the_job() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    failed = story.fail("run-failed-today", "run-today", local(TODAY, "01:05"),
                        "AnalysisException: Path does not exist: s3://lake/raw/orders/dt=2026-01-19")
    got = finding(story, upstream={RAW: raw_state(None)})
    assert got.reason_code == "UPSTREAM_DATA_LATE"
    assert failed.evidence_id in got.evidence_ids
    assert finding(story).failure_class == "dependency"
    story.records[-1] = replace(failed, payload={**failed.payload, "data": {
        **failed.data, "failure_reason": "java.lang.OutOfMemoryError"}})
    assert finding(story, upstream={RAW: raw_state(None)}).reason_code == "JOB_FAILED"


def test_upstream_data_late_names_the_run_it_explains() -> None:
    late = {RAW: raw_state(None)}
    # No run today: the scheduled run that never started.
    got = finding(Story().week(), upstream=late)
    assert got.as_dict()["correlated_run"] == {"run_id": None, "evidence_id": None, "state": "not_started",
                                               "scheduled_time": "2026-01-19T06:00:00Z"}
    # A run still waiting for its input.
    waiting = Story().week()
    waiting.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(waiting, upstream=late)
    assert got.correlated_run is not None and (got.correlated_run.run_id, got.correlated_run.state) == (
        "run-today", "running")
    # Two commits today (an append): the latest is the run's.
    appended = Story().week()
    appended.commit("commit-today-1", "run-today-1", local(TODAY, "01:20"), ["dt=2026-01-18"])
    appended.commit("commit-today-2", "run-today-2", local(TODAY, "01:40"), ["dt=2026-01-18"])
    got = finding(appended, upstream=late)
    assert got.correlated_run is not None and got.correlated_run.commit_evidence_id == appended.ev("commit-today-2")


def test_upstream_data_late_after_failed_attempts_cites_the_latest_failure() -> None:
    story = Story().week()
    missing = "AnalysisException: Path does not exist: s3://lake/raw/orders/dt=2026-01-19"
    story.start("run-start-today-1", "run-today-1", local(TODAY, "01:00"))
    story.fail("run-failed-today-1", "run-today-1", local(TODAY, "01:05"), f"{missing} (attempt 1)")
    story.start("run-start-today-2", "run-today-2", local(TODAY, "01:30"))
    last = story.fail("run-failed-today-2", "run-today-2", local(TODAY, "01:35"), f"{missing} (attempt 2)")
    got = finding(story, upstream={RAW: raw_state(None)})
    assert (got.reason_code, got.facts["failure_reason"]) == ("UPSTREAM_DATA_LATE", f"{missing} (attempt 2)")
    assert last.evidence_id in got.evidence_ids and story.ev("run-failed-today-1") not in got.evidence_ids


# -- evidence of absence ----------------------------------------------------------------------------------------


def test_no_run_evidence_ever_is_insufficient_evidence() -> None:
    story = Story().week(starts=False, ends=False)  # the producer only reports commits, then stops
    got = finding(story)
    assert got.reason_code == "INSUFFICIENT_EVIDENCE"
    assert got.facts["missing"] == ["JobRunStarted"]
    assert got.facts["emitted_types_in_lookback"] == ["DatasetWriteCommitted"]
    assert got.facts["commits_in_lookback"] == 7 and got.facts["last_commit_time"] == "2026-01-18T06:35:00Z"
    assert story.refs(got.evidence_ids) == ["commit-0118"]
    assert got.last_good_time == local(date(2026, 1, 18), "01:35")


def test_run_starts_older_than_the_lookback_prove_nothing() -> None:
    story = Story().week(days=10)
    story.records = [r for r in story.records if not (r.type == "JobRunStarted" and r.event_time > local(
        TODAY - timedelta(days=8), "00:00"))]
    assert finding(story).reason_code == "INSUFFICIENT_EVIDENCE"
    assert finding(story, pol=policy(lookback_days=14)).reason_code == "JOB_NOT_TRIGGERED"


def test_a_started_run_is_not_proof_of_slowness_when_the_producer_never_reports_run_ends() -> None:
    story = Story().week(ends=False)
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story)
    assert got.reason_code == "INSUFFICIENT_EVIDENCE"
    assert got.facts["missing"] == ["JobRunCompleted", "JobRunFailed"]
    assert got.correlated_run is not None and got.correlated_run.run_id == "run-today"
    assert story.ev("run-start-today") in got.evidence_ids


def test_a_dataset_never_seen_is_insufficient_evidence() -> None:
    got = finding(Story())
    assert got.reason_code == "INSUFFICIENT_EVIDENCE"
    assert (got.last_good_time, got.current_watermark, got.evidence_ids) == (None, None, [])
    assert got.facts["missing"] == ["JobRunStarted", "DatasetWriteCommitted"]


# -- deploy correlation -----------------------------------------------------------------------------------------


def test_a_deploy_of_the_job_since_the_last_good_run_is_correlated_others_are_not() -> None:
    story = Story().week()
    story.deploy("deploy-old", local(date(2026, 1, 5), "14:00"), "v3.1.0", code="4f2a9c1")
    new = story.deploy("deploy-new", local(date(2026, 1, 18), "15:00"), "v3.2.0", code="9bd1e07")
    story.deploy("deploy-failed", local(date(2026, 1, 18), "16:00"), "v3.2.1", code="aaaaaaa", status="failed")
    story.deploy("deploy-other", local(date(2026, 1, 18), "17:00"), "v9", code="bbbbbbb", producer="svc://checkout")
    story.start("run-start-today", "run-today", local(TODAY, "01:00"), code="orders_enriched_batch@9bd1e07")
    story.deploy("deploy-after-start", local(TODAY, "01:30"), "v3.2.2", code="ccccccc")
    story.fail("run-failed-today", "run-today", local(TODAY, "01:20"), "java.lang.OutOfMemoryError")
    got = finding(story)
    deploys = got.as_dict()["correlated_deploys"]
    assert deploys == [{"service": "orders_enriched_batch", "version": "v3.2.0",
                                       "deploy_ref": "orders_enriched_batch@9bd1e07", "evidence_id": new.evidence_id,
                                       "time": "2026-01-18T20:00:00Z", "code_ref": "orders_enriched_batch@9bd1e07",
                                       "code_ref_evidence_id": story.ev("run-start-today")}]
    assert new.evidence_id in got.evidence_ids
    assert story.ev("deploy-old") not in got.evidence_ids
    assert story.ev("deploy-other", "svc://checkout") not in got.evidence_ids


def test_a_deploy_while_the_last_good_run_ran_is_correlated_one_before_it_began_is_not() -> None:
    # The last good run loaded its code when it began: a deploy after that (even before its commit) may be what
    # today's run runs; one before it was already proven good by that run.
    story = Story().week()
    story.deploy("deploy-before-good", local(date(2026, 1, 18), "00:50"), "v3.1.9", code="1111111")
    during = story.deploy("deploy-during-good", local(date(2026, 1, 18), "01:10"), "v3.2.0", code="9bd1e07")
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.fail("run-failed-today", "run-today", local(TODAY, "01:20"), "java.lang.OutOfMemoryError")
    got = finding(story)
    assert got.reason_code == "JOB_FAILED"
    assert [d["evidence_id"] for d in got.as_dict()["correlated_deploys"]] == [during.evidence_id]
    assert story.ev("deploy-before-good") not in got.evidence_ids


def test_without_a_run_on_the_last_good_commit_its_commit_time_bounds_the_deploys() -> None:
    # A commit that names no run gives no run start: the commit itself is the last moment known good.
    story = Story()
    for back in range(7, 0, -1):
        day = TODAY - timedelta(days=back)
        story.commit(f"commit-{day:%m%d}", None, local(day, "01:35"), [f"dt={day.isoformat()}"])
    story.deploy("deploy-before-commit", local(date(2026, 1, 18), "01:20"), "v3.1.9", code="1111111")
    after = story.deploy("deploy-after-commit", local(date(2026, 1, 18), "15:00"), "v3.2.0", code="9bd1e07")
    got = finding(story)
    assert got.last_good_time == local(date(2026, 1, 18), "01:35")
    assert [d["evidence_id"] for d in got.as_dict()["correlated_deploys"]] == [after.evidence_id]
    assert story.ev("deploy-before-commit") not in got.evidence_ids


def test_a_rollback_of_the_job_is_a_change_and_a_failed_deploy_is_not() -> None:
    # As in contract correlation: a rollback shipped (older) code, so it is a change; a failed deploy shipped nothing.
    story = Story().week()
    rollback = story.deploy("deploy-rollback", local(date(2026, 1, 18), "15:00"), "v3.0.9", code="0ddba11",
                            status="rolled_back")
    story.deploy("deploy-failed", local(date(2026, 1, 18), "16:00"), "v3.2.1", code="aaaaaaa", status="failed")
    start = story.start("run-start-today", "run-today", local(TODAY, "01:00"), code="orders_enriched@0ddba11")
    story.fail("run-failed-today", "run-today", local(TODAY, "01:20"), "java.lang.OutOfMemoryError")
    got = finding(story)
    assert got.reason_code == "JOB_FAILED"
    # One change: the rollback, with today's run on its code cited beside it.
    assert [(d["evidence_id"], d["version"], d.get("code_ref_evidence_id"))
            for d in got.as_dict()["correlated_deploys"]] == [(rollback.evidence_id, "v3.0.9", start.evidence_id)]
    assert rollback.evidence_id in got.evidence_ids and story.ev("deploy-failed") not in got.evidence_ids


def test_a_changed_code_ref_without_a_deploy_event_is_correlated() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"), code="orders_enriched@77c0ffe")
    got = finding(story)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    deploys = got.as_dict()["correlated_deploys"]
    assert deploys == [{"service": "orders_enriched_batch", "version": "orders_enriched@77c0ffe",
                                       "deploy_ref": "orders_enriched@77c0ffe",
                                       "evidence_id": story.ev("run-start-today"), "time": "2026-01-19T06:00:00Z"}]


@pytest.mark.parametrize("code_ref", ["orders_enriched@9bd1e07", "orders_enriched@9bd1e07c4a5f"])
def test_a_code_ref_naming_a_deploys_commit_is_that_deploy_listed_once(code_ref: str) -> None:
    story = Story().week()
    deploy = story.add("DeploymentEvent", "deploy-new", local(date(2026, 1, 18), "15:00"), {
        "service": "orders_enriched_batch", "version": "v3.2.0", "commit": "9bd1e07c4a5f",
        "deploy_ref": "orders_enriched_batch@v3.2.0+9bd1e07c4a5f", "status": "succeeded", "source": "ci"})
    start = story.start("run-start-today", "run-today", local(TODAY, "01:00"), code=code_ref)
    got = finding(story)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    # One change, the deploy's version first-class; the run's code_ref is supporting evidence, not a second entry.
    deploys = got.as_dict()["correlated_deploys"]
    assert deploys == [{"service": "orders_enriched_batch", "version": "v3.2.0",
                                       "deploy_ref": "orders_enriched_batch@v3.2.0+9bd1e07c4a5f",
                                       "evidence_id": deploy.evidence_id, "time": "2026-01-18T20:00:00Z",
                                       "code_ref": code_ref, "code_ref_evidence_id": start.evidence_id}]
    assert {deploy.evidence_id, start.evidence_id} <= set(got.evidence_ids)


@pytest.mark.parametrize("code_ref", ["orders_enriched@77c0ffe", "orders_enriched@9bd1e0", "orders_enriched@"])
def test_a_code_ref_of_another_commit_stays_a_change_of_its_own(code_ref: str) -> None:
    story = Story().week()
    story.add("DeploymentEvent", "deploy-new", local(date(2026, 1, 18), "15:00"), {
        "service": "orders_enriched_batch", "version": "v3.2.0", "commit": "9bd1e07c4a5f",
        "deploy_ref": "orders_enriched_batch@v3.2.0+9bd1e07c4a5f", "status": "succeeded", "source": "ci"})
    story.start("run-start-today", "run-today", local(TODAY, "01:00"), code=code_ref)
    got = finding(story)
    # Newest first: today's run on other code, then the deploy (which it did not run).
    deploys = got.as_dict()["correlated_deploys"]
    assert [(d["version"], "code_ref" in d) for d in deploys] == [(code_ref, False), ("v3.2.0", False)]


def test_a_deploy_before_a_missed_trigger_is_correlated() -> None:
    story = Story().week()
    new = story.deploy("deploy-new", local(TODAY, "00:30"), "v3.2.0", code="9bd1e07")
    got = finding(story)
    assert got.reason_code == "JOB_NOT_TRIGGERED"
    assert [d["evidence_id"] for d in got.as_dict()["correlated_deploys"]] == [new.evidence_id]


# -- the clock --------------------------------------------------------------------------------------------------


def test_evidence_from_after_the_clock_does_not_exist_yet() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.commit("commit-today", "run-today", local(TODAY, "01:35"), ["dt=2026-01-19"],
                 ingest=local(TODAY, "02:20"))  # the commit event reached us late
    assert finding(story).reason_code == "JOB_RUNNING_SLOW"
    assert evaluate_freshness(policy(), story.records, local(TODAY, "02:20")) is None
    story.start("run-start-future", "run-future", local(TODAY, "03:00"))
    assert finding(story).correlated_run.run_id == "run-today"  # type: ignore[union-attr]


def test_must_reach_yesterday() -> None:
    pol = policy(watermark=Watermark(must_reach="yesterday"))
    story = Story()
    for back in range(7, 0, -1):
        day = TODAY - timedelta(days=back)
        story.commit(f"commit-{day:%m%d}", None, local(day, "01:35"), [f"dt={day - timedelta(days=1)}"])
    state = dataset_freshness(pol, story.records, NOW)
    assert (state.current_watermark, state.expected_watermark) == ("dt=2026-01-17", "dt=2026-01-18")
    assert state.breached and state.last_good_commit is not None
    assert state.last_good_commit.source_ref == "commit-0118"
    story.commit("commit-0119", None, local(TODAY, "01:35"), ["dt=2026-01-18"])
    assert dataset_freshness(pol, story.records, NOW).fresh


def test_without_a_schedule_or_watermark_a_commit_since_local_midnight_is_fresh() -> None:
    pol = policy(schedule=None, watermark=None)
    story = Story().week()
    state = dataset_freshness(pol, story.records, NOW)
    assert state.breached and state.scheduled_time is None and state.expected_watermark is None
    got = finding(story, pol=pol)
    assert got.reason_code == "JOB_NOT_TRIGGERED" and got.last_good_time == local(date(2026, 1, 18), "01:35")
    story.commit("commit-today", None, local(TODAY, "00:05"), [])
    assert evaluate_freshness(pol, story.records, NOW) is None


def test_partitions_are_read_from_nested_paths_and_bad_values_skipped() -> None:
    story = Story()
    story.commit("c1", None, local(TODAY, "01:10"), ["region=eu/dt=2026-01-19", "dt=__HIVE_DEFAULT_PARTITION__"])
    state = dataset_freshness(policy(), story.records, NOW)
    assert state.fresh and state.current_watermark == "dt=2026-01-19"


@pytest.mark.parametrize(("zone", "deadline", "now", "first_bad", "expected"), [
    # 06:00 IST is 00:30 UTC: at 00:40 UTC on the 18th it is already the 19th in Kolkata.
    ("Asia/Kolkata", "06:00", datetime(2026, 1, 19, 0, 45, tzinfo=UTC), "2026-01-19T00:40:00Z", "dt=2026-01-19"),
    ("Europe/Berlin", "06:00", datetime(2026, 1, 19, 5, 15, tzinfo=UTC), "2026-01-19T05:10:00Z", "dt=2026-01-19"),
    ("Europe/Berlin", "06:00", datetime(2026, 7, 19, 4, 15, tzinfo=UTC), "2026-07-19T04:10:00Z", "dt=2026-07-19"),
])
def test_time_zones_other_than_utc(zone: str, deadline: str, now: datetime, first_bad: str, expected: str) -> None:
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    pol = policy(timezone=zone, expected_update_by=deadline, schedule="0 5 * * *")
    story = Story(zone=tz).week(until=today, at="05:00")
    got = finding(story, now=now, pol=pol)
    assert got.reason_code == "JOB_NOT_TRIGGERED"
    assert iso(got.first_bad_time) == first_bad
    assert got.expected_watermark == expected
    assert got.current_watermark == f"dt={today - timedelta(days=1)}"
    assert got.correlated_run is not None
    assert got.correlated_run.scheduled_time == local(today, "05:00", tz)
    assert evaluate_freshness(pol, story.records, now - timedelta(minutes=10)) is None


def test_kolkata_day_boundary_is_local() -> None:
    tz = ZoneInfo("Asia/Kolkata")
    pol = policy(timezone="Asia/Kolkata", expected_update_by="06:00", schedule="0 5 * * *")
    story = Story(zone=tz).week(until=TODAY, at="05:00")
    story.nightly(TODAY, at="05:00")
    # 2026-01-18T23:00Z is already 04:30 on the 19th in Kolkata: today there is the 19th, due at 06:10 IST.
    state = dataset_freshness(pol, story.records, datetime(2026, 1, 18, 23, 0, tzinfo=UTC))
    assert state.expected_watermark == "dt=2026-01-19" and not state.breached
    assert state.current_watermark == "dt=2026-01-18"


# -- daylight saving time (America/New_York) -------------------------------------------------------------------


SPRING = date(2026, 3, 8)
FALL = date(2026, 11, 1)


def dst_story(day: date, at: str) -> Story:
    story = Story()
    for back in range(7, 0, -1):
        story.nightly(day - timedelta(days=back), at=at, minutes=20)
    return story


def test_spring_forward_deadline_in_the_gap_is_the_jump() -> None:
    pol = policy(expected_update_by="02:30", schedule="0 1 * * *")
    story = dst_story(SPRING, "01:00")
    # 02:30 never shows on 2026-03-08: the clock reads 02:30 or later first at the jump, 03:00 EDT (07:00Z).
    state = dataset_freshness(pol, story.records, local(SPRING, "12:00"))
    assert iso(state.deadline) == "2026-03-08T07:10:00Z"
    assert iso(state.scheduled_time) == "2026-03-08T06:00:00Z"  # 01:00 EST, before the jump
    assert evaluate_freshness(pol, story.records, datetime(2026, 3, 8, 7, 9, tzinfo=UTC)) is None
    got = finding(story, now=datetime(2026, 3, 8, 7, 15, tzinfo=UTC), pol=pol)
    assert got.reason_code == "JOB_NOT_TRIGGERED" and iso(got.first_bad_time) == "2026-03-08T07:10:00Z"
    assert got.expected_watermark == "dt=2026-03-08" and got.current_watermark == "dt=2026-03-07"
    # The day before and after keep their ordinary offsets.
    assert iso(dataset_freshness(pol, story.records, local(SPRING - timedelta(days=1), "12:00")).deadline) == (
        "2026-03-07T07:40:00Z")
    assert iso(dataset_freshness(pol, story.records, local(SPRING + timedelta(days=1), "12:00")).deadline) == (
        "2026-03-09T06:40:00Z")


def test_spring_forward_schedule_in_the_gap_fires_at_the_jump() -> None:
    pol = policy(expected_update_by="03:00", schedule="30 2 * * *", grace_minutes=15)
    story = dst_story(SPRING, "02:30")
    state = dataset_freshness(pol, story.records, local(SPRING, "12:00"))
    assert iso(state.scheduled_time) == "2026-03-08T07:00:00Z"  # 03:00 EDT, like cron runs the skipped hour
    assert iso(state.deadline) == "2026-03-08T07:15:00Z"  # 03:00 EDT + 15
    story.start("run-start-today", "run-today", local(SPRING, "03:00"))
    got = finding(story, now=local(SPRING, "03:40"), pol=pol)
    assert got.reason_code == "JOB_RUNNING_SLOW" and got.facts["start_delay_s"] == 0


def test_spring_forward_durations_are_elapsed_time() -> None:
    # Started 01:50 EST; at 03:25 EDT the wall clocks differ by 95 minutes but 35 have elapsed.
    pol = policy(expected_update_by="03:00", schedule="50 1 * * *", grace_minutes=0)
    story = dst_story(SPRING, "01:50")
    story.start("run-start-today", "run-today", local(SPRING, "01:50"))
    got = finding(story, now=local(SPRING, "03:25"), pol=pol)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    assert got.facts["running_for_s"] == 35 * 60 and got.facts["baseline_duration_s"] == 20 * 60
    assert got.facts["late_by_s"] == 25 * 60


def test_fall_back_deadline_in_the_repeated_hour_is_its_first_occurrence() -> None:
    pol = policy(expected_update_by="01:30", schedule="0 1 * * *", grace_minutes=10)
    story = dst_story(FALL, "01:00")
    state = dataset_freshness(pol, story.records, local(FALL, "12:00"))
    assert iso(state.deadline) == "2026-11-01T05:40:00Z"  # 01:30 EDT + 10
    assert iso(state.scheduled_time) == "2026-11-01T05:00:00Z"  # 01:00 EDT, the first 01:00
    got = finding(story, now=datetime(2026, 11, 1, 5, 45, tzinfo=UTC), pol=pol)
    assert got.reason_code == "JOB_NOT_TRIGGERED"
    # The second 01:00 (EST) is not a second schedule: a run then is the same day's run, late.
    story.start("run-start-today", "run-today", datetime(2026, 11, 1, 6, 0, tzinfo=UTC))
    assert finding(story, now=datetime(2026, 11, 1, 6, 15, tzinfo=UTC), pol=pol).reason_code == "JOB_RUNNING_SLOW"


def test_fall_back_grace_is_elapsed_time_and_cron_fires_are_compared_as_instants() -> None:
    # 01:20 EDT + 60 minutes of grace = 01:20 EST (06:20Z). The cron fire "45 1" (01:45 EDT, 05:45Z) has a
    # later wall time than the deadline's but is the earlier instant, so it is today's scheduled run.
    pol = policy(expected_update_by="01:20", schedule="45 1 * * *", grace_minutes=60)
    story = dst_story(FALL, "01:45")
    state = dataset_freshness(pol, story.records, local(FALL, "12:00"))
    assert iso(state.deadline) == "2026-11-01T06:20:00Z"
    assert iso(state.scheduled_time) == "2026-11-01T05:45:00Z"
    assert finding(story, now=datetime(2026, 11, 1, 6, 30, tzinfo=UTC), pol=pol).reason_code == "JOB_NOT_TRIGGERED"


def test_the_lookback_counts_calendar_days_across_a_fall_back() -> None:
    day_after = FALL + timedelta(days=1)
    story = dst_story(day_after, "01:00")
    story.start("run-start-today", "run-today", local(day_after, "01:00"))
    got = finding(story, now=local(day_after, "02:15"))
    assert got.reason_code == "JOB_RUNNING_SLOW" and got.facts["baseline_runs"] == 7


# -- determinism ------------------------------------------------------------------------------------------------


def _variants() -> list[tuple[Story, dict[str, DatasetFreshness]]]:
    not_triggered = Story().week()
    not_triggered.deploy("deploy-new", local(TODAY, "00:30"), "v3.2.0", code="9bd1e07")
    slow = Story().week()
    slow.start("run-start-today", "run-today", local(TODAY, "01:00"), code="orders_enriched@77c0ffe")
    failed = Story().week()
    failed.start("run-start-today", "run-today", local(TODAY, "01:00"))
    failed.fail("run-failed-today", "run-today", local(TODAY, "01:20"), "OutOfMemoryError")
    failed.start("run-start-retry", "run-retry", local(TODAY, "01:25"))
    wrong = Story().week()
    wrong.commit("commit-today", "run-today", local(TODAY, "01:34"), ["dt=2026-01-18"])
    wrong.commit("commit-today-b", "run-today", local(TODAY, "01:34"), ["dt=2026-01-17"])
    partial = Story().week()
    partial.commit("commit-today", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=5)
    upstream = Story().week()
    insufficient = Story().week(starts=False, ends=False)
    return [(not_triggered, {}), (slow, {}), (failed, {}), (wrong, {}), (partial, {}),
            (upstream, {RAW: raw_state(None)}), (insufficient, {})]


VARIANTS = _variants()


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(VARIANTS) - 1), seed=st.randoms(use_true_random=False),
       copies=st.integers(0, 12), late_copy_minutes=st.integers(0, 120))
def test_order_and_duplication_never_change_the_finding(which: int, seed: random.Random, copies: int,
                                                        late_copy_minutes: int) -> None:
    story, upstream = VARIANTS[which]
    expected = evaluate_freshness(policy(), story.records, NOW, upstream)
    assert expected is not None
    shuffled = list(story.records)
    # Re-deliveries: the same evidence again, some ingested later (still before the clock or not).
    for _ in range(copies):
        original = seed.choice(story.records)
        later = min(original.ingest_time + timedelta(minutes=late_copy_minutes), NOW + timedelta(hours=1))
        shuffled.append(seed.choice([original, replace(original, ingest_time=later)]))
    seed.shuffle(shuffled)
    assert evaluate_freshness(policy(), shuffled, NOW, upstream) == expected


# -- what the mutation run found unpinned (issue 24) -----------------------------------------------------------


def test_an_unknown_row_count_today_never_proves_a_partial_write() -> None:
    story = Story().week()
    story.commit("commit-today", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=None)
    assert evaluate_freshness(policy(), story.records, NOW) is None
    story.commit("commit-today-2", "run-today", local(TODAY, "01:30"), ["dt=2026-01-19"], rows=10)
    assert evaluate_freshness(policy(), story.records, NOW) is None  # 10 rows plus an unknown count: unknown


def test_a_baseline_of_zero_second_runs_is_no_yardstick() -> None:
    story = Story().week(minutes=0)
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story)
    assert got.reason_code == "INSUFFICIENT_EVIDENCE"
    assert got.facts["missing"] == ["baseline_duration_s"]


def _never_ends() -> Story:
    story = Story().week(ends=False)
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    return story


def _no_commits() -> Story:
    story = Story()
    for back in range(7, 0, -1):
        day = TODAY - timedelta(days=back)
        story.start(f"run-start-{back}", f"run-{back}", local(day, "01:00"))
        story.complete(f"run-done-{back}", f"run-{back}", local(day, "01:35"), 2100)
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.complete("run-done-today", "run-today", local(TODAY, "01:35"), 2100)
    return story


def _no_baseline() -> Story:
    story = Story().week(minutes=0)
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    return story


def _never_lists_partitions() -> Story:
    story = Story()
    for back in range(7, 0, -1):
        story.commit(f"commit-{back}", None, local(TODAY - timedelta(days=back), "01:35"), [])
    story.commit("commit-today", None, local(TODAY, "01:35"), [])
    return story


@pytest.mark.parametrize(("story", "missing", "cannot_tell", "why", "run_id"), [
    (_never_lists_partitions, ["output_partitions_written"], ["WRONG_PARTITION", "PARTIAL_WRITE"],
     "the producer's commits never list partitions, so the watermark cannot be read", None),
    (_never_ends, ["JobRunCompleted", "JobRunFailed"], ["JOB_RUNNING_SLOW", "JOB_FAILED"],
     f"{JOB} never reported how a run ended in the lookback, so a run without an end is not proof that it is still "
     "running", "run-today"),
    (_no_baseline, ["baseline_duration_s"], ["JOB_RUNNING_SLOW"],
     "no completed run in the lookback to measure this run's duration against", "run-today"),
    (_no_commits, ["DatasetWriteCommitted"], ["WRONG_PARTITION", "PARTIAL_WRITE"],
     f"{JOB} reported no commits in the lookback, so a run without one proves nothing", "run-today"),
    (Story, ["JobRunStarted", "DatasetWriteCommitted"], ["JOB_NOT_TRIGGERED", "JOB_FAILED", "JOB_RUNNING_SLOW"],
     f"no JobRunStarted from {JOB} in the 7 days before today's run, so its absence today proves nothing", None),
], ids=["commits never list partitions", "run ends never reported", "no baseline duration", "commits never reported",
        "never seen"])
def test_insufficient_evidence_says_what_is_missing_what_it_cannot_tell_apart_and_why(
        story: Any, missing: list[str], cannot_tell: list[str], why: str, run_id: str | None) -> None:
    got = finding(story())
    assert got.reason_code == "INSUFFICIENT_EVIDENCE"
    assert (got.facts["missing"], got.facts["cannot_tell_apart"], got.facts["why"]) == (missing, cannot_tell, why)
    run = got.as_dict()["correlated_run"]
    assert (run["run_id"] if run is not None else None) == run_id


def test_running_slow_is_beyond_slow_factor_times_the_baseline() -> None:
    story = Story().week(minutes=30)  # 1800 s runs
    story.start("run-start-today", "run-today", local(TODAY, "01:30"))
    facts = finding(story).facts  # at 02:15 it has run 2700 s: exactly 1.5 (the slow factor) x 1800 s
    assert (facts["running_for_s"], facts["baseline_duration_s"], facts["duration_ratio"]) == (2700, 1800, 1.5)
    assert (facts["exceeds_slow_factor"], facts["start_delay_s"]) == (False, 1800)
    assert finding(story, now=NOW + timedelta(seconds=1)).facts["exceeds_slow_factor"] is True


def test_a_baseline_of_one_second_runs_is_a_yardstick() -> None:
    story = Story()
    for back in range(7, 0, -1):
        day = TODAY - timedelta(days=back)
        run_id = story.nightly(day, minutes=0, ends=False)
        story.complete(f"run-done-{back}", run_id, local(day, "01:00") + timedelta(seconds=1), 1)
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story)
    assert (got.reason_code, got.facts["baseline_duration_s"]) == ("JOB_RUNNING_SLOW", 1)


def test_without_a_schedule_a_slow_run_has_no_start_delay() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story, pol=policy(schedule=None))
    assert (got.reason_code, got.facts["start_delay_s"]) == ("JOB_RUNNING_SLOW", None)


def test_wrong_partition_cites_todays_run_and_correlates_only_changes_before_it_began() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.deploy("deploy-during-run", local(TODAY, "01:20"), "v3.2.0", code="9bd1e07")
    story.commit("commit-today", "run-today", local(TODAY, "01:34"), ["dt=2026-01-18"])
    got = finding(story)
    assert got.reason_code == "WRONG_PARTITION"
    assert (got.facts["commits_since_schedule"], got.facts["partitions_written"]) == (1, ["dt=2026-01-18"])
    assert got.correlated_deploys == []  # deployed after the run began, which ran the code it had loaded
    # A commit that names no run: today's run is cited beside it all the same.
    anonymous = Story().week()
    anonymous.start("run-start-today", "run-today", local(TODAY, "01:00"))
    anonymous.commit("commit-today", None, local(TODAY, "01:34"), ["dt=2026-01-18"])
    got = finding(anonymous)
    assert got.reason_code == "WRONG_PARTITION" and anonymous.ev("run-start-today") in got.evidence_ids


def test_insufficient_evidence_counts_the_lookbacks_commits_from_its_first_instant() -> None:
    story = _never_lists_partitions()
    story.commit("commit-at-lookback-start", None, local(date(2026, 1, 12), "01:00"), [])
    story.commit("commit-at-cycle-start", None, local(TODAY, "01:00"), [])  # today's: not the lookback's
    got = finding(story)
    assert (got.reason_code, got.facts["commits_in_lookback"]) == ("INSUFFICIENT_EVIDENCE", 8)


def test_insufficient_evidence_about_a_run_correlates_only_changes_before_it_began() -> None:
    story = _never_ends()
    story.deploy("deploy-during-run", local(TODAY, "01:10"), "v3.2.0", code="9bd1e07")
    got = finding(story)
    assert (got.reason_code, got.correlated_deploys) == ("INSUFFICIENT_EVIDENCE", [])


def test_a_commit_of_a_run_never_seen_is_its_own_correlated_run() -> None:
    story = Story().week()
    commit = story.commit("commit-today", "spark-app-7", local(TODAY, "01:34"), ["dt=2026-01-18"])
    got = finding(story)
    assert got.reason_code == "WRONG_PARTITION"
    assert got.as_dict()["correlated_run"] == {
        "run_id": "spark-app-7", "evidence_id": commit.evidence_id, "state": "committed", "started_at": None,
        "scheduled_time": None, "code_ref": None, "ended_at": None, "terminal_evidence_id": None,
        "commit_evidence_id": commit.evidence_id, "committed_at": "2026-01-19T06:34:00Z"}


def test_partial_write_states_its_ratios_and_partitions_and_correlates_only_changes_before_the_run() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.deploy("deploy-during-run", local(TODAY, "01:10"), "v3.2.0", code="9bd1e07")
    story.commit("commit-today", "run-today", local(TODAY, "01:20"), ["dt=2026-01-19"], rows=100_000)
    got = finding(story)
    assert got.reason_code == "PARTIAL_WRITE"
    assert {key: got.facts[key] for key in ("rows_ratio", "partial_write_ratio", "partitions_written")} == {
        "rows_ratio": 0.083, "partial_write_ratio": 0.5, "partitions_written": ["dt=2026-01-19"]}
    assert got.correlated_deploys == []  # deployed after the run began, which ran the code it had loaded


def test_failed_runs_are_not_in_the_running_slow_baseline() -> None:
    story = Story().week()
    for back in range(7, 0, -1):  # a quick failed attempt before every good night
        day = TODAY - timedelta(days=back)
        story.start(f"run-start-early-{back}", f"run-early-{back}", local(day, "00:50"))
        story.fail(f"run-failed-early-{back}", f"run-early-{back}", local(day, "00:51"), "timeout", duration_s=60)
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    assert (got.facts["baseline_duration_s"], got.facts["baseline_runs"]) == (2100, 7)


def test_after_retries_the_latest_failed_attempt_is_reported() -> None:
    story = Story().week()
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    story.fail("run-failed-today", "run-today", local(TODAY, "01:10"), "java.lang.OutOfMemoryError", 600)
    story.start("run-start-retry", "run-retry", local(TODAY, "01:20"))
    story.fail("run-failed-retry", "run-retry", local(TODAY, "01:40"), "Futures timed out after [300 seconds]", 1200)
    got = finding(story)
    assert (got.reason_code, got.failure_class) == ("JOB_FAILED", "timeout")
    assert got.correlated_run is not None and got.correlated_run.run_id == "run-retry"


def test_deploys_after_the_deadline_are_not_correlated_and_the_newest_comes_first() -> None:
    story = Story().week()
    older = story.deploy("deploy-a", local(date(2026, 1, 18), "15:00"), "v3.2.0", code="9bd1e07")
    newer = story.deploy("deploy-b", local(date(2026, 1, 18), "18:00"), "v3.2.1", code="77c0ffe")
    story.deploy("deploy-after-deadline", local(TODAY, "02:12"), "v3.2.2", code="ccccccc")
    got = finding(story)  # no run today at all: JOB_NOT_TRIGGERED, judged up to the deadline
    assert got.reason_code == "JOB_NOT_TRIGGERED"
    assert [d["evidence_id"] for d in got.as_dict()["correlated_deploys"]] == [newer.evidence_id, older.evidence_id]


def test_a_deploy_after_the_deadline_is_not_correlated_even_before_a_late_run() -> None:
    story = Story().week()
    before = story.deploy("deploy-before", local(TODAY, "00:30"), "v3.2.0", code="9bd1e07")
    story.deploy("deploy-after-deadline", local(TODAY, "02:11"), "v3.2.1", code="77c0ffe")
    story.start("run-start-today", "run-today", local(TODAY, "02:12"))  # started after the 02:10 deadline
    got = finding(story)
    assert [d["evidence_id"] for d in got.as_dict()["correlated_deploys"]] == [before.evidence_id]


def test_a_deploy_without_a_status_is_a_change_of_the_job() -> None:
    # The envelope's status defaults to succeeded (DESIGN.md, DeploymentEvent): a CI report that leaves it out shipped.
    story = Story().week()
    deploy = story.add("DeploymentEvent", "deploy-no-status", local(date(2026, 1, 18), "15:00"), {
        "service": "orders_enriched_batch", "version": "v3.2.0", "deploy_ref": "orders_enriched_batch@9bd1e07",
        "source": "ci"})
    got = finding(story)
    assert got.reason_code == "JOB_NOT_TRIGGERED"
    assert [d["evidence_id"] for d in got.as_dict()["correlated_deploys"]] == [deploy.evidence_id]
    assert deploy.evidence_id in got.evidence_ids


def test_without_a_good_run_the_code_baseline_is_the_last_run_that_began_by_since() -> None:
    # No good run known (its commit named no run): the code to compare with is that of the latest run that began at
    # or before `since`, the start of the window (since, until]; today's run on other code is a change of its own.
    story = Story()
    since = local(date(2026, 1, 18), "01:00")
    story.start("run-start-0118", "run-0118", since, code="orders_enriched@1111111")
    story.start("run-start-0118b", "run-0118b", since, code=None)  # names no code: it does not erase the baseline
    today = story.start("run-start-today", "run-today", local(TODAY, "01:00"), code="orders_enriched@2222222")
    runs = runs_of(story.records, JOB)
    changes = job_changes(story.records, runs, JOB, None, since, local(TODAY, "02:10"))
    assert [(c.version, c.evidence_id, c.time) for c in changes] == [
        ("orders_enriched@2222222", today.evidence_id, local(TODAY, "01:00"))]
    # Today's run on the code of the last run before the window changed nothing.
    same = Story()
    same.start("run-start-0118", "run-0118", since, code="orders_enriched@1111111")
    same.start("run-start-today", "run-today", local(TODAY, "01:00"), code="orders_enriched@1111111")
    assert job_changes(same.records, runs_of(same.records, JOB), JOB, None, since, local(TODAY, "02:10")) == []


@pytest.mark.parametrize(("today_code", "changed"), [("orders_enriched@1111111", False),
                                                     ("orders_enriched@2222222", True)])
def test_the_last_good_runs_code_is_the_baseline_and_a_run_begun_with_it_is_no_change(today_code: str,
                                                                                     changed: bool) -> None:
    # A second run triggered at the very instant of the last good run, on other code: it began at `since`, outside
    # the window (since, until], and the good run's code, not its twin's, is what today's run is compared with.
    story = Story()
    began = local(date(2026, 1, 18), "01:00")
    story.start("run-start-good", "run-a", began, code="orders_enriched@1111111")
    story.start("run-start-twin", "run-b", began, code="orders_enriched@2222222")
    today = story.start("run-start-today", "run-c", local(TODAY, "01:00"), code=today_code)
    runs = runs_of(story.records, JOB)
    good = next(run for run in runs if run.run_id == "run-a")
    changes = job_changes(story.records, runs, JOB, good, began, local(TODAY, "02:10"))
    assert [c.evidence_id for c in changes] == ([today.evidence_id] if changed else [])


def _deploy_record(deploy_ref: str, **data: Any) -> EvidenceRecord:
    return Story().add("DeploymentEvent", "d", local(date(2026, 1, 18), "15:00"), {"deploy_ref": deploy_ref, **data})


@pytest.mark.parametrize(("code_ref", "deploy_ref", "data", "same"), [
    (None, "svc@v3.2.0", {"version": "v3.2.0"}, False),
    ("v3.2.0", "svc@release-7", {"version": "v3.2.0"}, True),  # the version as written
    ("slug@9bd1e07", "svc@v3.2.0", {"commit": "9bd1e07c4a5f"}, True),  # the deploy's commit, short for full
    ("mono@jobs@9bd1e07", "svc@v3.2.0", {"commit": "9bd1e07"}, True),  # the commit is after the last @
    ("slug@9bd1e07", "svc@v3.2.0", {}, False),  # no commit named anywhere
    ("slug@9bd1e07", "mono@svc@9bd1e07", {}, True),  # the deploy_ref's commit, after its last @
    ("slug@9bd1e07", "svc@v3.2.0+9bd1e07c4a5f", {}, True),  # semver build metadata
    ("slug@9bd1e07", "svc@v3.2.0+rc.1+9bd1e07", {}, True),  # after the last +
    ("slug@77c0ffe", "svc@v3.2.0+9bd1e07c4a5f", {"commit": "9bd1e07c4a5f"}, False),
])
def test_a_code_ref_is_the_same_change_as_a_deploy_when_it_names_its_code(code_ref: str | None, deploy_ref: str,
                                                                          data: dict[str, Any], same: bool) -> None:
    assert same_change(code_ref, _deploy_record(deploy_ref, **data)) is same


@pytest.mark.parametrize(("producer", "service"), [("job://orders_enriched_batch", "orders_enriched_batch"),
                                                   ("job://lake://orders", "lake://orders"), ("orders", "orders")])
def test_a_code_ref_change_is_named_after_the_producer(producer: str, service: str) -> None:
    assert _service(producer) == service


def test_the_job_changes_window_opens_after_the_last_good_run_began_and_closes_when_todays_began() -> None:
    story = Story().week()  # the last good run began 2026-01-18 01:00
    story.deploy("deploy-as-good-run-began", local(date(2026, 1, 18), "01:00"), "v3.1.9", code="1111111")
    closing = story.deploy("deploy-as-todays-run-began", local(TODAY, "01:00"), "v3.2.0", code="9bd1e07")
    story.start("run-start-today", "run-today", local(TODAY, "01:00"))
    got = finding(story)
    assert got.reason_code == "JOB_RUNNING_SLOW"
    assert [d["evidence_id"] for d in got.as_dict()["correlated_deploys"]] == [closing.evidence_id]
