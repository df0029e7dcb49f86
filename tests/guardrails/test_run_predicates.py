"""Predicates over freshness incidents: runs that never started, failed, are running or slow; commits to the wrong
partition or partial ones; late inputs; code and deploy changes. Each accepts a true claim and rejects a false one."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from evidence import Incident, to_json
from guardrails._claims import Claim, ClaimKind, Draft
from guardrails._verify import verify_claims

JOB = "job://orders_enriched_batch"
DS = "ds://curated/orders_enriched"


def verdict(scope, claim: Claim) -> str | None:
    result = verify_claims(Draft(claims=[claim]), scope)
    return None if result.accepted else result.rejected[0].why


@pytest.fixture
def slow(scope_of):
    return scope_of("spark_job_running_slow")


@pytest.fixture
def not_triggered(scope_of):
    return scope_of("spark_job_not_triggered")


def test_freshness_breach_and_last_good_cite_the_last_good_commit(slow, claim, ev):
    good, older = ev(slow, "commit-0118"), ev(slow, "commit-0117")
    watermarks = {"current_watermark": "dt=2026-01-18", "expected_watermark": "dt=2026-01-19"}
    assert verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good], **watermarks)) is None
    assert verdict(slow, claim(ClaimKind.LAST_GOOD, [good])) is None
    assert verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good], expected_watermark="dt=2026-01-20")) == (
        "states expected_watermark dt=2026-01-20, but the evidence gives dt=2026-01-19")
    assert verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [older])) == (
        f"does not cite the last good commit to {DS} ({good})")
    assert verdict(slow, claim(ClaimKind.LAST_GOOD, [older])) == (
        f"cites no commit to {DS} at last good 2026-01-18T06:47:00Z")


def test_job_not_triggered_needs_the_habit_and_no_start_since_the_schedule(not_triggered, slow, claim, ev, record,
                                                                          moment, add):
    habit = ev(not_triggered, "run-start-0118")
    assert verdict(not_triggered, claim(ClaimKind.JOB_NOT_TRIGGERED, [habit])) is None
    assert verdict(not_triggered, claim(ClaimKind.JOB_NOT_TRIGGERED, [ev(not_triggered, "commit-0118")])) == (
        f"cites no earlier JobRunStarted of {JOB} in its lookback: without the habit, no run today proves nothing")
    late = record("JobRunStarted", "run-start-late", moment("2026-01-19T06:40:00Z"),
                  {"run_id": "2026-01-19T06:40Z_r9", "code_ref": "orders_enriched@4f2a9c1"}, source=JOB)
    assert verdict(add(not_triggered, late), claim(ClaimKind.JOB_NOT_TRIGGERED, [habit])) == (
        f"{late.evidence_id} (JobRunStarted at 2026-01-19T06:40:00Z) shows a run of the producer started since the "
        "schedule 2026-01-19T06:00:00Z")
    assert verdict(slow, claim(ClaimKind.JOB_NOT_TRIGGERED, [ev(slow, "run-start-0118")])) == (
        "the incident's reason is JOB_RUNNING_SLOW, not JOB_NOT_TRIGGERED")


def test_job_running_needs_a_start_without_an_end_from_a_producer_that_reports_ends(slow, claim, ev, record, moment,
                                                                                  add):
    today = ev(slow, "run-start-today")
    assert verdict(slow, claim(ClaimKind.JOB_RUNNING, [today])) is None
    assert verdict(slow, claim(ClaimKind.JOB_RUNNING, [ev(slow, "run-start-0118")])).endswith(
        "is not a run of today's cycle (scheduled 2026-01-19T06:00:00Z)")
    done = record("JobRunCompleted", "run-done-today", moment("2026-01-19T07:05:00Z"),
                  {"run_id": "2026-01-19T06:00Z_abc", "duration_s": 3900}, source=JOB)
    assert verdict(add(slow, done), claim(ClaimKind.JOB_RUNNING, [today])) == (
        f"run 2026-01-19T06:00Z_abc has ended: {done.evidence_id} (JobRunCompleted at 2026-01-19T07:05:00Z)")
    silent = dataclasses.replace(slow, records={i: r for i, r in slow.records.items() if r.type != "JobRunCompleted"})
    assert verdict(silent, claim(ClaimKind.JOB_RUNNING, [today])) == (
        f"{JOB} reported no run end before this run, so a missing end does not show that it is still running")


def test_job_slow_compares_the_running_time_with_the_baseline(slow, claim, ev):
    cited = [ev(slow, "run-start-today"), ev(slow, "run-done-0118")]
    assert verdict(slow, claim(ClaimKind.JOB_SLOW, cited, running_for_s=4500, baseline_s=2100)) is None
    assert verdict(slow, claim(ClaimKind.JOB_SLOW, cited, running_for_s=2000)) == (
        "states running_for_s 2000, but the evidence gives 4500")
    assert verdict(slow, claim(ClaimKind.JOB_SLOW, cited[:1])) == (
        "cites no earlier JobRunCompleted of the producer as its baseline")
    early = dataclasses.replace(slow, now=slow.now - timedelta(minutes=45))  # 30 min into a 35 min habit
    assert verdict(early, claim(ClaimKind.JOB_SLOW, cited)) == (
        "run 2026-01-19T06:00Z_abc has run for 1800 s, not longer than the baseline of 2100 s")


def test_job_failed_cites_todays_failure_of_the_incidents_run(scope_of, claim, record, moment, add):
    oom = scope_of("spark_daily_revenue_oom_after_deploy")
    failure = oom.incident.correlated_run.terminal_evidence_id
    assert verdict(oom, claim(ClaimKind.JOB_FAILED, [failure], failure_class="out_of_memory")) is None
    assert verdict(oom, claim(ClaimKind.JOB_FAILED, [failure], failure_class="timeout")) == (
        "states failure_class timeout, but the evidence gives out_of_memory")
    yesterday = record("JobRunFailed", "run-fail-0216", moment("2026-02-16T01:10:00Z"),
                       {"run_id": "2026-02-16T01:00Z_r9", "duration_s": 600}, source="job://daily_revenue_rollup")
    assert verdict(add(oom, yesterday), claim(ClaimKind.JOB_FAILED, [yesterday.evidence_id])) == (
        f"{yesterday.evidence_id} (JobRunFailed at 2026-02-16T01:10:00Z) is before today's scheduled run "
        "2026-02-17T01:00:00Z")


def test_deploys_of_a_freshness_incident_must_be_the_ones_it_correlates(scope_of, claim, ev):
    oom = scope_of("spark_daily_revenue_oom_after_deploy")
    text = "daily_revenue_rollup v4.2.0 was deployed after the last good run."
    assert verdict(oom, claim(ClaimKind.DEPLOY_CORRELATED, [ev(oom, "deploy-rollup-v4.2.0")], text)) is None
    old = ev(oom, "deploy-rollup-v4.1.3")
    assert verdict(oom, claim(ClaimKind.DEPLOY_CORRELATED, [old], "v4.1.3 broke it.")) == (
        f"{old} is not among the changes between the last good run and today's run that the freshness detector "
        "correlated")


def test_code_changed_compares_code_ref_with_the_last_good_run(scope_of, slow, claim, ev):
    ltv = scope_of("spark_customer_ltv_slow_new_code_ref")
    assert verdict(ltv, claim(ClaimKind.CODE_CHANGED, [ev(ltv, "run-start-0602")],
                              code_ref="customer_ltv@7d41e0a")) is None
    assert verdict(ltv, claim(ClaimKind.CODE_CHANGED, [ev(ltv, "run-start-0601")])).startswith(
        "cites no run started after the last good run")
    today, base = ev(slow, "run-start-today"), ev(slow, "run-start-0118")
    assert verdict(slow, claim(ClaimKind.CODE_CHANGED, [today])) == (
        f"{today} runs code_ref orders_enriched@4f2a9c1, the same as the last good run's {base}")


def test_wrong_partition_needs_todays_commit_to_miss_the_expected_partition(scope_of, claim, ev, record, moment, add):
    upi = scope_of("spark_upi_wrong_partition_utc_dt")
    commit = upi.incident.correlated_run.commit_evidence_id
    assert verdict(upi, claim(ClaimKind.WRONG_PARTITION, [commit])) is None
    yesterday = ev(upi, "commit-0210")
    assert verdict(upi, claim(ClaimKind.WRONG_PARTITION, [yesterday])) == (
        f"{yesterday} (DatasetWriteCommitted at 2026-02-09T19:31:07Z) was committed before today's scheduled run "
        "2026-02-10T19:00:00Z")
    fixed = record("DatasetWriteCommitted", "commit-0211-rerun", moment("2026-02-10T20:50:00Z"),
                   {"dataset_urn": "ds://curated/upi_transactions_daily", "run_id": "rerun",
                    "output_partitions_written": ["dt=2026-02-11"], "rows_written": 5}, source="job://upi_txn_daily_batch")
    assert verdict(add(upi, fixed), claim(ClaimKind.WRONG_PARTITION, [commit])) == (
        f"{fixed.evidence_id} (DatasetWriteCommitted at 2026-02-10T20:50:00Z) wrote dt=2026-02-11, the expected "
        "partition")


def test_partial_write_compares_rows_with_the_baseline_median(scope_of, claim):
    partial = scope_of("spark_orders_enriched_partial_write")
    commit = partial.incident.correlated_run.commit_evidence_id
    assert verdict(partial, claim(ClaimKind.PARTIAL_WRITE, [commit], rows_written=298000, baseline_rows=1207000)) \
        is None
    assert verdict(partial, claim(ClaimKind.PARTIAL_WRITE, [commit], rows_written=300000)) == (
        "states rows_written 300000, but the evidence gives 298000")
    lenient = dataclasses.replace(partial, policy=partial.policy.model_copy(update={"partial_write_ratio": 0.2}))
    assert verdict(lenient, claim(ClaimKind.PARTIAL_WRITE, [commit])) == (
        "298000 rows written is not below 0.2 x the baseline median of 1207000 rows")


def test_upstream_late_cites_the_inputs_latest_commit_or_its_incident(scope_of, claim, ev, record, moment, add):
    ledger = scope_of("spark_settlement_ledger_upstream_late", "UPSTREAM_DATA_LATE")
    facts = ledger.incident.facts
    late = [facts["upstream_late"][0]["last_commit_evidence_id"], facts["inputs_named_by"]]
    upstream = "ds://raw/payment_settlements"
    assert verdict(ledger, claim(ClaimKind.UPSTREAM_LATE, late, dataset_urn=upstream)) is None
    assert verdict(ledger, claim(ClaimKind.UPSTREAM_LATE, late, dataset_urn="ds://raw/other")) == (
        f"names ds://raw/other, which is not an input of the job ({upstream})")
    older = ev(ledger, "settle-commit-0301")
    assert verdict(ledger, claim(ClaimKind.UPSTREAM_LATE, [older])) == (
        f"{older} is not the latest commit of {upstream}: {late[0]} (DatasetWriteCommitted at 2026-03-02T01:07:18Z) "
        "landed later")
    everything = scope_of("spark_settlement_ledger_upstream_late", "UPSTREAM_DATA_LATE", everything=True)
    failure = ev(everything, "settle-run-fail-0303")
    assert verdict(everything, claim(ClaimKind.UPSTREAM_LATE, [failure])) is None
    on_time = record("DatasetWriteCommitted", "settle-commit-0303", moment("2026-03-03T01:50:00Z"),
                     {"dataset_urn": upstream, "output_partitions_written": ["dt=2026-03-03"], "rows_written": 10},
                     source="job://settlement_file_ingest")
    assert verdict(add(ledger, on_time), claim(ClaimKind.UPSTREAM_LATE, [on_time.evidence_id])) == (
        f"{on_time.evidence_id} (DatasetWriteCommitted at 2026-03-03T01:50:00Z) reached dt=2026-03-03 before today's "
        f"run started: {upstream} was not late")


def test_a_run_that_completed_without_a_commit_is_a_wrong_partition(scope_of, claim, ev):
    upi = scope_of("spark_upi_wrong_partition_utc_dt")
    today = upi.incident.correlated_run.commit_evidence_id
    run = {**to_json(upi.incident)["correlated_run"], "state": "completed"}
    no_commit = dataclasses.replace(upi, records={i: r for i, r in upi.records.items() if i != today},
                                    incident=Incident.model_validate({**to_json(upi.incident), "correlated_run": run,
                                                                     "windows": upi.incident.windows}))
    done = ev(upi, "run-done-0211")
    assert verdict(no_commit, claim(ClaimKind.WRONG_PARTITION, [done])) is None
    assert verdict(upi, claim(ClaimKind.WRONG_PARTITION, [done])) == (
        "the incident's run did not complete without a commit")


def test_job_failed_must_be_the_incidents_failed_run(scope_of, claim, record, moment, add):
    oom = scope_of("spark_daily_revenue_oom_after_deploy")
    other = record("JobRunFailed", "run-fail-other", moment("2026-02-17T01:30:00Z"),
                   {"run_id": "2026-02-17T01:20Z_manual", "duration_s": 60}, source="job://daily_revenue_rollup")
    assert verdict(add(oom, other), claim(ClaimKind.JOB_FAILED, [other.evidence_id])) == (
        "cites no failure of run 2026-02-17T01:00Z_r0, the incident's failed run")


def test_no_recent_deploy_must_cite_the_latest_deploy(slow, claim, record, moment, add):
    old = record("DeploymentEvent", "deploy-job-0101", moment("2026-01-01T19:00:00Z"),
                 {"service": "orders_enriched_batch", "version": "v3.0.0"}, source=JOB)
    latest = record("DeploymentEvent", "deploy-job-0105", moment("2026-01-05T19:00:00Z"),
                    {"service": "orders_enriched_batch", "version": "v3.1.0"}, source=JOB)
    scope = add(slow, old, latest)
    assert verdict(scope, claim(ClaimKind.NO_RECENT_DEPLOY, [latest.evidence_id], "v3.1.0 shipped on Jan 5.")) is None
    assert verdict(scope, claim(ClaimKind.NO_RECENT_DEPLOY, [old.evidence_id])) == (
        f"{old.evidence_id} is not the producer's latest deploy: {latest.evidence_id} (DeploymentEvent at "
        "2026-01-05T19:00:00Z) came after it")


# -- pinned by `make mutate`: each assertion below failed on a mutant the suite had let through -------------------

def _incident(scope, **changes):
    return dataclasses.replace(scope, incident=scope.incident.model_copy(update=changes))


def test_a_contract_claim_on_a_freshness_incident_names_both_kinds(slow, claim, ev):
    assert verdict(slow, claim(ClaimKind.RATE_SHIFT, [ev(slow, "commit-0118")])) == (
        "a rate_shift claim needs a contract incident; this one is a freshness incident")
    assert verdict(slow, claim(ClaimKind.OTHER_BREAK, [ev(slow, "commit-0118")])) == (
        "a other_break claim needs a contract incident; this one is a freshness incident")


def test_a_freshness_breach_states_the_incidents_watermark_or_none(slow, claim, ev):
    good = ev(slow, "commit-0118")
    assert verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good], watermark="dt=2026-01-18")) is None
    assert verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good], watermark="dt=2026-01-17")) == (
        "states watermark dt=2026-01-17, but the incident's is dt=2026-01-18")


def test_a_freshness_breach_is_anchored_on_the_last_good_commit_not_a_later_one(slow, claim, ev, record, moment, add):
    later = record("DatasetWriteCommitted", "commit-later", moment("2026-01-18T09:00:00Z"),
                   {"dataset_urn": DS, "run_id": "run-later", "commit_version": 107, "rows_written": 1}, source=JOB)
    scope = add(slow, later)
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [ev(slow, "commit-0118")])) is None
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [later.evidence_id])) == (
        f"does not cite the last good commit to {DS} ({ev(slow, 'commit-0118')})")


def test_without_a_last_good_time_the_latest_commit_anchors_the_breach(slow, claim, ev):
    scope = _incident(slow, last_good_time=None)
    latest, older = ev(slow, "commit-0118"), ev(slow, "commit-0116")
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [latest])) is None
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [older])) == (
        f"does not cite the latest commit to {DS} ({latest})")


def test_without_a_last_good_time_or_any_commit_nothing_anchors_the_breach(slow, claim, ev):
    start = ev(slow, "run-start-0118")
    scope = dataclasses.replace(_incident(slow, last_good_time=None), records={
        i: r for i, r in slow.records.items() if r.type != "DatasetWriteCommitted"})
    assert verdict(scope, claim(ClaimKind.FRESHNESS_BREACH, [start])) == (
        f"no commit to {DS} in scope anchors the breach")
    assert verdict(scope, claim(ClaimKind.LAST_GOOD, [start])) == "the incident has no last good time"


def test_a_stray_citation_names_the_freshness_claims_kind(slow, claim, ev):
    good, start = ev(slow, "commit-0118"), ev(slow, "run-start-0118")
    why = verdict(slow, claim(ClaimKind.FRESHNESS_BREACH, [good, start]))
    assert why is not None and why.startswith(f"cites {start} (JobRunStarted at ")
    assert why.endswith(", which is not evidence for this freshness_breach claim")


def test_a_freshness_last_good_claim_may_cite_its_commits_run_and_nothing_else(slow, claim, ev):
    good, start, older = ev(slow, "commit-0118"), ev(slow, "run-start-0118"), ev(slow, "commit-0117")
    result = verify_claims(Draft(claims=[claim(ClaimKind.LAST_GOOD, [good, start])]), slow)
    [held] = result.accepted
    assert (held.params["what"], held.params["last_good_ref"]) == ("commit", "commit-0118")
    why = verdict(slow, claim(ClaimKind.LAST_GOOD, [good, older]))
    assert why is not None and why.startswith(f"cites {older} (DatasetWriteCommitted at ")
    assert why.endswith(", which is not evidence for this last_good claim")
