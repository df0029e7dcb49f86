#!/usr/bin/env python3
"""Writes the scenario files of evals/scenarios (format: docs/SCENARIOS.md).

    .venv/bin/python evals/scenarios/_generate.py           # (re)write every file listed in SCENARIOS
    .venv/bin/python evals/scenarios/_generate.py --check   # exit 1 if a committed file differs

Deterministic: every random choice comes from random.Random(seed) with a seed per scenario, so the same
script always writes the same bytes. The generated YAML is committed; this script only exists because
contract stories need a few hundred Kafka records and freshness stories a week of job runs.

Expectations are written from the story (what was sent), never read back from the detectors: first bad
and last good are the records the story made bad and good, bad rates are the shares the story sent.
A scenario written by hand (copy a file, edit it) needs no entry here; files not listed are left alone.

The stories are in evals/_stories (one module per kind of story, beside the helpers they are made of); this
script is the table of which story writes which file. It imports them from the installed project, so run it with
the project's environment (.venv/bin/python, after `make install`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals._stories import contract_blame, contract_breaks, contract_topics, freshness_late, freshness_written
from evals._stories.documents import dump

HERE = Path(__file__).resolve().parent

# file name -> builder
SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "spark_daily_revenue_oom_after_deploy.yaml": freshness_late.daily_revenue_oom_after_deploy,
    "spark_merchant_payouts_timeout.yaml": freshness_late.merchant_payouts_timeout,
    "spark_inventory_positions_missing_input.yaml": freshness_late.inventory_positions_missing_input,
    "spark_customer_ltv_slow_new_code_ref.yaml": freshness_late.customer_ltv_slow_new_code_ref,
    "spark_upi_wrong_partition_utc_dt.yaml": freshness_written.upi_wrong_partition_utc_dt,
    "spark_orders_enriched_partial_write.yaml": freshness_written.orders_enriched_partial_write,
    "spark_settlement_ledger_upstream_late.yaml": freshness_late.settlement_ledger_upstream_late,
    "spark_attribution_commits_only_insufficient.yaml": freshness_late.attribution_commits_only_insufficient,
    "spark_ad_spend_dst_spring_forward_not_triggered.yaml": freshness_late.ad_spend_dst_spring_forward_not_triggered,
    "spark_fraud_features_dst_fall_back_healthy.yaml": freshness_written.fraud_features_dst_fall_back_healthy,
    "spark_catalog_snapshot_healthy.yaml": freshness_written.catalog_snapshot_healthy,
    "spark_orders_enriched_before_deadline.yaml": freshness_written.orders_enriched_before_deadline,
    "spark_web_sessions_partial_write_shuffled.yaml": freshness_written.web_sessions_partial_write_shuffled,
    "spark_payments_recon_planted_failure_reason.yaml": freshness_late.payments_recon_planted_failure_reason,
    "spark_labor_hours_dag_broken_not_triggered.yaml": freshness_late.labor_hours_dag_broken_not_triggered,
    "spring_checkout_canary_missing_shipping_country.yaml": contract_breaks.checkout_canary_missing_shipping_country,
    "go_inventory_partial_tracing_quantity_type.yaml": contract_breaks.go_partial_tracing_quantity_type,
    "node_cart_schema_drift_unmapped.yaml": contract_topics.node_cart_schema_drift,
    "payments_topic_mapping_ambiguous.yaml": contract_topics.payments_topic_mapping_ambiguous,
    "spring_payments_status_enum_violation.yaml": contract_breaks.payments_status_enum_violation,
    "spring_fulfillment_null_warehouse_rejected.yaml": contract_breaks.fulfillment_null_warehouse_rejected,
    "spring_loyalty_avro_framed_undecodable.yaml": contract_breaks.loyalty_avro_framed_undecodable,
    "node_notifications_object_object_undecodable.yaml": contract_breaks.node_notifications_object_object,
    "partner_orders_enum_no_deploy_inconclusive.yaml": contract_blame.partner_orders_enum_no_deploy,
    "checkout_other_producer_deploy_not_correlated.yaml": contract_blame.checkout_other_producer_deploy_not_correlated,
    "go_inventory_old_deploy_hours_of_good.yaml": contract_blame.inventory_old_deploy_hours_of_good,
    "node_cart_checkout_two_deploys_closest_first.yaml": contract_blame.cart_checkout_two_deploys_closest_first,
    "checkout_recovered_after_rollback.yaml": contract_blame.checkout_recovered_after_rollback,
    "checkout_rollback_within_recovery_window.yaml": contract_blame.checkout_rollback_within_recovery_window,
    "payments_healthy_topic.yaml": contract_topics.payments_healthy_topic,
    "spring_pricing_stale_evidence_consumer_lag.yaml": contract_topics.pricing_stale_evidence_consumer_lag,
    "checkout_duplicated_out_of_order.yaml": contract_topics.checkout_duplicated_out_of_order,
    "checkout_planted_instruction_in_note.yaml": contract_blame.checkout_planted_instruction_in_note,
    "checkout_second_break_amount_type.yaml": contract_blame.checkout_second_break_amount_type,
}


def render_all() -> dict[str, str]:
    return {name: dump(build()) for name, build in SCENARIOS.items()}


def main(argv: list[str]) -> int:
    rendered = render_all()
    if "--check" in argv:
        stale = [n for n, text in rendered.items() if not (HERE / n).is_file() or (HERE / n).read_text() != text]
        for name in stale:
            print(f"out of date: {name} (run evals/scenarios/_generate.py)")
        return 1 if stale else 0
    for name, text in rendered.items():
        (HERE / name).write_text(text)
    print(f"wrote {len(rendered)} scenario files to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
