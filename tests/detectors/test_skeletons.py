"""Policy skeletons from real evidence: the reference scenarios with their policies and contracts taken away."""

from __future__ import annotations

from detectors._drafts import accept, dismiss, list_drafts, suggest
from detectors._scenario import load_into, load_scenario
from detectors._skeletons import Draft, suggest_drafts
from evidence._configs import CONTRACT, POLICY, Configs
from evidence._store import Store
from support import REFERENCE, ROOT

SLOW = load_scenario(REFERENCE / "spark_job_running_slow.yaml")
PAYMENTS = load_scenario(ROOT / "evals" / "scenarios" / "payments_healthy_topic.yaml")
ORDERS = "ds://curated/orders_enriched"


def spark_without_policy(store: Store) -> None:
    scenario = load_scenario(REFERENCE / "spark_job_running_slow.yaml")
    scenario.policies = []
    assert load_into(store, scenario) == []


def test_a_freshness_policy_is_read_off_a_weeks_commits_in_the_datasets_time_zone(store: Store) -> None:
    spark_without_policy(store)
    [draft] = suggest_drafts(store.records(), timezones={ORDERS: "America/New_York"})
    # The operator's own policy for this job says 02:00 New York, runs at 01:00, must reach today's dt.
    assert (draft.kind, draft.spec) == ("policy", {
        "dataset_urn": ORDERS, "expected_update_by": "02:00", "timezone": "America/New_York", "grace_minutes": 15,
        "producer_urn": "job://orders_enriched_batch", "watermark": {"dimension": "dt", "must_reach": "today"},
        "schedule": "0 1 * * *", "owner_team": "orders", "tier": 3})
    assert draft.basis["typical_commit"] == "01:34" and draft.basis["p95_commit"] == "01:47"
    assert draft.basis["volume"] == {"median_rows": 1204000, "commits_with_rows": 7}
    assert len(draft.basis["evidence_ids"]) == 7


def test_without_a_time_zone_the_deadline_is_stated_in_utc(store: Store) -> None:
    spark_without_policy(store)
    [draft] = suggest_drafts(store.records())
    assert (draft.spec["expected_update_by"], draft.spec["timezone"], draft.spec["schedule"]) == (
        "07:00", "UTC", "0 6 * * *")


def test_too_few_days_of_commits_propose_no_deadline(store: Store) -> None:
    spark_without_policy(store)
    few = [r for r in store.records() if r.type != "DatasetWriteCommitted" or r.event_time.day < 14]
    assert suggest_drafts(few) == []


def test_a_contract_is_read_off_the_gate_observations_of_a_topic(store: Store) -> None:
    assert load_into(store, PAYMENTS) == []
    [draft] = suggest_drafts(store.records(), configured_policies=["ds://payments_settlements"])
    schema = draft.spec["schema"]
    assert (draft.kind, draft.spec["owner_team"], draft.spec["tier"]) == ("contract", "payments", 3)
    assert schema["required"] == ["amount_minor", "currency", "merchant_id", "settlement_id", "status"]
    assert schema["properties"] == {
        "amount_minor": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR", "GBP", "USD"]},
        "merchant_id": {"type": "string"}, "settlement_id": {"type": "string"},
        "status": {"type": "string", "enum": ["FAILED", "PENDING", "SETTLED"]}}
    configured = suggest_drafts(store.records(), configured_policies=["ds://payments_settlements"],
                                configured_contracts=["ds://payments_settlements"])
    assert configured == []


def test_optional_nullable_and_high_cardinality_fields() -> None:
    from datetime import UTC, datetime

    from evidence import EvidenceRecord

    t = datetime(2026, 1, 1, tzinfo=UTC)
    values = [{"id": f"x{i}", "note": None if i % 2 else "n", **({"extra": 1.5} if i == 0 else {})} for i in range(20)]
    records = [EvidenceRecord(f"e{i}", "kafka://t", f"t/0/{i}", "GateObservation", t, t, "ds://t", None, "1", i,
                              None, None, None, None, None, {"value": v, "violations": []})
               for i, v in enumerate(values)]
    [draft] = suggest_drafts(records)
    assert draft.spec["schema"] == {"type": "object", "required": ["id", "note"], "properties": {
        "extra": {"type": "number"}, "id": {"type": "string"}, "note": {"type": ["string", "null"], "enum": ["n"]}}}
    assert "owner_team" not in draft.spec  # no deploy names a domain: no owner is guessed


def test_drafts_are_stored_accepted_with_edits_and_not_proposed_again(store: Store, clock) -> None:
    spark_without_policy(store)
    clock.now = SLOW.now
    [draft] = suggest(store, clock(), timezones={ORDERS: "America/New_York"})
    assert draft.status == "draft" and suggest(store, clock(), timezones={ORDERS: "America/New_York"}) == [draft]
    decided = accept(store, draft.id, clock(), "oncall", {"tier": 1, "runbook_url": "https://runbooks/x"})
    assert decided.status == "accepted" and decided.decided_by == "oncall"
    [policy] = Configs(store).specs(POLICY)
    assert (policy.expected_update_by, policy.tier, policy.runbook_url) == ("02:00", 1, "https://runbooks/x")
    assert suggest(store, clock()) == []
    assert Draft("policy", ORDERS, {}).id == Draft("policy", ORDERS, {}).id


def test_a_dismissed_draft_stays_dismissed(store: Store, clock) -> None:
    load_into(store, PAYMENTS)
    Configs(store).delete(CONTRACT, Configs(store).all(CONTRACT)[0].id)
    clock.now = PAYMENTS.now
    [draft] = suggest(store, clock())
    assert dismiss(store, draft.id, clock(), "oncall").status == "dismissed"
    assert suggest(store, clock()) == []
    assert [d.status for d in list_drafts(store)] == ["dismissed"]
