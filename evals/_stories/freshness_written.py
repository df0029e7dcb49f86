"""Freshness stories in which the run wrote: the wrong partition, part of the partition (its evidence shuffled
and duplicated in one story), and the nights on which no incident is the right answer."""

from __future__ import annotations

import copy
import random
from datetime import date, datetime, timedelta
from typing import Any

from evals._stories.documents import (
    BERLIN,
    KOLKATA,
    LOS_ANGELES,
    NEW_YORK,
    at,
    code_ref,
    deploy,
    rca,
    scenario,
    shuffled_with_duplicates,
)
from evals._stories.spark import Job, policy


def upi_wrong_partition_utc_dt() -> dict[str, Any]:
    rng = random.Random(105)
    today = date(2026, 2, 11)
    job = Job("job://upi_txn_daily_batch", "ds://curated/upi_transactions_daily", KOLKATA,
              code_ref("job://upi_txn_daily_batch", "v2.2.4", "0a9d3f1"), "dataproc-payments-1",
              ["ds://raw/upi_transactions"], rows=5_800_000)
    history = job.history(today, "00:30", 33, rng)
    change = deploy("deploy-upi-v2.3.0", job.producer, at(KOLKATA, date(2026, 2, 10), "16:00"), "v2.3.0", "5e6f7a8",
                    "payments")
    start = at(KOLKATA, today, "00:30")
    run_id = job.run_id(start, 0)
    new_code = code_ref(job.producer, "v2.3.0", "5e6f7a8")
    end = start + timedelta(minutes=34)
    today_events = [job.started(today, start, run_id, code=new_code),
                    job.committed(today, end - timedelta(minutes=1), run_id, "2026-02-10", 5_812_000),
                    job.completed(today, end, run_id, 34 * 60)]
    last = history[-2]
    return scenario(
        "spark-upi-wrong-partition-utc-dt",
        "upi_txn_daily_batch v2.3.0 set spark.sql.session.timeZone=UTC; at 00:30 IST the UTC date is still "
        "yesterday, so tonight's full run overwrote dt=2026-02-10 instead of writing dt=2026-02-11.",
        at(KOLKATA, today, "02:30"),
        policies=[policy(job, "02:00", "30 0 * * *", 15, "Payments Data", 1, "upi_transactions_daily")],
        lineage=[("ds://raw/upi_transactions", job.dataset), (job.dataset, "ds://marts/upi_daily_volumes")],
        events=[*history, change, *today_events],
        expect={"incidents": [{
            "dataset_urn": job.dataset, "kind": "freshness", "reason_code": "WRONG_PARTITION",
            "first_bad_time": "2026-02-11T02:15:00+05:30", "last_good_time": last["data"]["commit_timestamp"],
            "current_watermark": "dt=2026-02-10", "expected_watermark": "dt=2026-02-11",
            "correlated_deploy": "v2.3.0", "stale_evidence": False,
            "impacted_downstream_includes": ["ds://marts/upi_daily_volumes"],
            "evidence_includes": ["commit-0211", "deploy-upi-v2.3.0", last["id"]]}],
            "rca": [rca(job.dataset, "cause_identified", "WRONG_PARTITION", "v2.3.0",
                        ["commit-0211", "deploy-upi-v2.3.0"])]},
    )


def _regions(dt: str) -> list[str]:
    return [f"dt={dt}/region={r}" for r in ("us", "eu", "apac", "latam")]


def orders_enriched_partial_write() -> dict[str, Any]:
    rng = random.Random(106)
    today = date(2026, 1, 26)
    job = Job("job://orders_enriched_batch", "ds://curated/orders_enriched", NEW_YORK, "orders_enriched@4f2a9c1",
              "emr-prod-7", ["ds://raw/orders"], partitions=_regions)
    history = job.history(today, "01:00", 35, rng)
    other = deploy("deploy-checkout-v2.7.3", "svc://checkout-service", at(NEW_YORK, date(2026, 1, 25), "22:00"),
                   "v2.7.3", "d17c0e2", "orders")
    start = at(NEW_YORK, today, "01:00")
    run_id = job.run_id(start, 0)
    end = start + timedelta(minutes=23)
    today_events = [job.started(today, start, run_id),
                    job.committed(today, end - timedelta(minutes=1), run_id, "2026-01-26", 298_000,
                                  partitions=["dt=2026-01-26/region=us"]),
                    job.completed(today, end, run_id, 23 * 60)]
    last = history[-2]
    return scenario(
        "spark-orders-enriched-partial-write",
        "orders_enriched_batch finished early and committed dt=2026-01-26 for region=us only: 298k rows against "
        "~1.2M a night (eu, apac and latam missing). checkout-service deployed the evening before, which is not "
        "this job's change.",
        at(NEW_YORK, today, "02:15"),
        policies=[policy(job, "02:00", "0 1 * * *", 10, "Orders Analytics", 1, "orders_enriched")],
        lineage=[("ds://raw/orders", job.dataset), (job.dataset, "ds://curated/daily_revenue")],
        events=[*history, other, *today_events],
        expect={"incidents": [{
            "dataset_urn": job.dataset, "kind": "freshness", "reason_code": "PARTIAL_WRITE",
            "first_bad_time": "2026-01-26T02:10:00-05:00", "last_good_time": last["data"]["commit_timestamp"],
            "current_watermark": "dt=2026-01-26", "expected_watermark": "dt=2026-01-26",
            "correlated_deploy": None, "stale_evidence": False,
            "impacted_downstream_includes": ["ds://curated/daily_revenue"],
            "evidence_includes": ["commit-0126", last["id"]]}],
            "rca": [rca(job.dataset, "cause_identified", "PARTIAL_WRITE", None, ["commit-0126"],
                        ["deploy-checkout-v2.7.3"])]},
    )


def fraud_features_dst_fall_back_healthy() -> dict[str, Any]:
    rng = random.Random(110)
    today = date(2026, 11, 1)
    job = Job("job://fraud_features_batch", "ds://curated/fraud_features", NEW_YORK, "fraud_features@a3e9c77",
              "emr-risk-2", ["ds://raw/card_authorizations"], rows=2_700_000)
    history = job.history(today, "01:30", 34, rng)
    first = datetime.fromisoformat("2026-11-01T01:30:00-04:00")  # the first 01:30 (EDT)
    second = datetime.fromisoformat("2026-11-01T01:30:00-05:00")  # the repeated 01:30 (EST), an hour later
    run_a, run_b = job.run_id(first, 0), job.run_id(second, 1)
    today_events = [
        job.started(today, first, run_a),
        job.committed(today, first + timedelta(minutes=34), run_a, "2026-11-01", 2_712_000),
        job.completed(today, first + timedelta(minutes=35), run_a, 35 * 60),
        job.started(today, second, run_b, scheduled=second, suffix="-b"),
        job.committed(today, second + timedelta(minutes=33), run_b, "2026-11-01", 2_712_000, suffix="-b"),
        job.completed(today, second + timedelta(minutes=34), run_b, 34 * 60, suffix="-b"),
    ]
    return scenario(
        "spark-fraud-features-dst-fall-back-healthy",
        "Fall back on 2026-11-01: 01:30 happens twice in New York. The job ran at the first 01:30 EDT and committed at "
        "01:04 EST (wall clock earlier, instant later); the scheduler fired again at the repeated 01:30 and rewrote "
        "the same partition. The table is fresh before the 02:10 EST deadline: no incident.",
        datetime.fromisoformat("2026-11-01T02:30:00-05:00"),
        policies=[policy(job, "02:00", "30 1 * * *", 10, "Risk Data", 1, "fraud_features")],
        lineage=[("ds://raw/card_authorizations", job.dataset), (job.dataset, "ds://ml/fraud_model_scores")],
        events=[*history, *today_events],
        expect={"incidents": []},
    )


def catalog_snapshot_healthy() -> dict[str, Any]:
    rng = random.Random(111)
    today = date(2026, 5, 20)
    job = Job("job://catalog_snapshot_batch", "ds://curated/product_catalog_snapshot", BERLIN,
              code_ref("job://catalog_snapshot_batch", "v3.0.1", "77aa0c3"), "emr-catalog-1",
              ["ds://raw/pim_exports"], rows=350_000)
    history = job.history(today, "01:00", 17, rng)
    change = deploy("deploy-catalog-v3.0.2", job.producer, at(BERLIN, date(2026, 5, 19), "14:10"), "v3.0.2",
                    "8b1d4e0", "catalog")
    start = at(BERLIN, today, "01:00")
    job.code = code_ref(job.producer, "v3.0.2", "8b1d4e0")
    today_events = job.good_run(today, start, 18, rng, 0)
    return scenario(
        "spark-catalog-snapshot-healthy",
        "A healthy night: catalog_snapshot_batch (deployed v3.0.2 the afternoon before) started at 01:00 Berlin and "
        "committed dt=2026-05-20 well before the 02:40 deadline. A deploy alone is not an incident.",
        at(BERLIN, today, "03:00"),
        policies=[policy(job, "02:30", "0 1 * * *", 10, "Catalog Data", 2, "product_catalog_snapshot")],
        lineage=[("ds://raw/pim_exports", job.dataset), (job.dataset, "ds://search/product_index")],
        events=[*history, change, *today_events],
        expect={"incidents": []},
    )


def orders_enriched_before_deadline() -> dict[str, Any]:
    rng = random.Random(112)
    today = date(2026, 1, 27)
    job = Job("job://orders_enriched_batch", "ds://curated/orders_enriched", NEW_YORK, "orders_enriched@4f2a9c1",
              "emr-prod-7", ["ds://raw/orders"])
    history = job.history(today, "01:00", 35, rng)
    start = at(NEW_YORK, today, "01:00")
    today_events = [job.started(today, start, job.run_id(start, 0))]
    return scenario(
        "spark-orders-enriched-before-deadline",
        "Someone checks orders_enriched at 01:50 ET: tonight's run started at 01:00 and has not committed yet, but the "
        "deadline is 02:00 + 10 minutes grace. Not late yet: no incident.",
        at(NEW_YORK, today, "01:50"),
        policies=[policy(job, "02:00", "0 1 * * *", 10, "Orders Analytics", 1, "orders_enriched")],
        lineage=[("ds://raw/orders", job.dataset)],
        events=[*history, *today_events],
        expect={"incidents": []},
    )


def web_sessions_partial_write_shuffled() -> dict[str, Any]:
    rng = random.Random(113)
    today = date(2026, 7, 14)
    job = Job("job://sessionize_clickstream", "ds://curated/web_sessions_daily", LOS_ANGELES,
              "sessionize_clickstream@2d5e8f1", "emr-web-5", ["ds://raw/clickstream"], rows=2_400_000)
    history = job.history(today, "03:00", 38, rng)
    start = at(LOS_ANGELES, today, "03:00")
    run_id = job.run_id(start, 0)
    burst = at(LOS_ANGELES, today, "05:05")  # the SDK's local buffer flushed after a network partition
    end = start + timedelta(minutes=40)
    today_events = [job.started(today, start, run_id, ingesttime=burst),
                    job.committed(today, end - timedelta(minutes=1), run_id, "2026-07-14", 1_130_000,
                                  ingesttime=burst),
                    job.completed(today, end, run_id, 40 * 60, ingesttime=burst)]
    delivered = shuffled_with_duplicates(history, rng, 0.25) + [copy.deepcopy(e) for e in today_events]
    delivered = delivered + today_events
    rng.shuffle(delivered)
    last = history[-2]
    return scenario(
        "spark-web-sessions-partial-write-shuffled",
        "sessionize_clickstream wrote 1.13M rows for dt=2026-07-14 against ~2.4M a night (half the shards were not "
        "listed). Its evidence arrived in one burst after a network partition: shuffled, and a quarter of it twice, "
        "today's commit included. Counting that commit twice would hide the partial write.",
        at(LOS_ANGELES, today, "05:30"),
        policies=[policy(job, "05:00", "0 3 * * *", 15, "Web Analytics", 2, "web_sessions_daily")],
        lineage=[("ds://raw/clickstream", job.dataset), (job.dataset, "ds://marts/conversion_funnel")],
        events=delivered,
        expect={"incidents": [{
            "dataset_urn": job.dataset, "kind": "freshness", "reason_code": "PARTIAL_WRITE",
            "first_bad_time": "2026-07-14T05:15:00-07:00", "last_good_time": last["data"]["commit_timestamp"],
            "current_watermark": "dt=2026-07-14", "expected_watermark": "dt=2026-07-14",
            "correlated_deploy": None, "stale_evidence": False,
            "impacted_downstream_includes": ["ds://marts/conversion_funnel"],
            "evidence_includes": ["commit-0714", last["id"]]}],
            "rca": [rca(job.dataset, "cause_identified", "PARTIAL_WRITE", None, ["commit-0714"])]},
    )
