"""The KPI functions on hand-made data, each figure worked out by hand in the comment beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evidence import SdkHealthSummary
from rollout import Archetype, PullRequest, PullRequestRecord
from rollout._kpis import (
    correlated_deploy_rate,
    drift_remediation_hours,
    evidence_backed_boundaries,
    false_positive_rate,
    inconclusive_rate,
    median_time_to_merge_hours,
    onboarding_by_language,
    platform_kpis,
    revert_figures,
    reverts_by_week,
    ring_progress,
    sdk_rates,
    time_to_merge_by_week,
)

T = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # a Monday


def pr(repo: str, kind: str, opened: datetime, merged: datetime | None, state: str = "merged") -> PullRequestRecord:
    pull = PullRequest("local", repo, 1 if kind == "onboard" else 2, "u", "b", "main", "t", state, "sha")  # type: ignore[arg-type]
    return PullRequestRecord(pull, kind, Archetype.SPRING_BOOT_MAVEN, "", "0.1.0", 2, "not_run", opened, opened,  # type: ignore[arg-type]
                             merged, merged)


def test_onboarding_by_language_fills_every_week_with_running_totals() -> None:
    merged = [("java", T), ("java", T + timedelta(days=2)), ("go", T + timedelta(days=15)),
              ("java", T + timedelta(days=16))]
    assert [(w.week, w.language, w.onboarded, w.total) for w in onboarding_by_language(merged)] == [
        ("2026-02-02", "go", 0, 0), ("2026-02-09", "go", 0, 0), ("2026-02-16", "go", 1, 1),
        ("2026-02-02", "java", 2, 2), ("2026-02-09", "java", 0, 2), ("2026-02-16", "java", 1, 3)]
    assert onboarding_by_language([]) == []


def test_median_time_to_merge_counts_merged_onboarding_prs_only() -> None:
    records = [pr("a", "onboard", T, T + timedelta(hours=2)), pr("b", "onboard", T, T + timedelta(hours=10)),
               pr("c", "onboard", T, T + timedelta(hours=5)), pr("d", "onboard", T, None, "open"),
               pr("a", "remove", T, T + timedelta(hours=100))]
    assert median_time_to_merge_hours(records) == 5.0  # 2, 5, 10
    assert median_time_to_merge_hours([]) is None


def test_revert_rate_counts_removals_and_rollbacks_after_the_onboarding_once_per_service() -> None:
    records = [pr("a", "onboard", T, T + timedelta(hours=1)), pr("b", "onboard", T, T + timedelta(hours=1)),
               pr("c", "onboard", T, T + timedelta(hours=1)), pr("d", "onboard", T, T + timedelta(hours=1)),
               pr("a", "remove", T + timedelta(days=1), T + timedelta(days=2))]
    rollbacks = {"svc://a": [T + timedelta(days=3)],  # a: removed and rolled back, counted once
                 "svc://b": [T - timedelta(days=1)],  # b: rolled back before the onboarding: not a revert
                 "svc://c": [T + timedelta(hours=5)]}  # c: rolled back after: a revert
    services = {"a": "svc://a", "b": "svc://b", "c": "svc://c", "d": "svc://d"}
    figures = revert_figures(records, rollbacks, services)
    assert (figures.onboarded, figures.reverted_prs, figures.rolled_back, figures.rate) == (4, 1, 2, 0.5)
    assert revert_figures([], {}, {}).rate is None


def test_time_to_merge_by_week_is_the_median_of_each_week_of_merges_with_empty_weeks_kept() -> None:
    records = [pr("a", "onboard", T, T + timedelta(hours=2)),  # merged Mon week 1: 2 h
               pr("b", "onboard", T + timedelta(days=1), T + timedelta(days=1, hours=10)),  # week 1: 10 h
               pr("c", "onboard", T + timedelta(days=6), T + timedelta(days=7, hours=3)),  # Sun -> Mon week 2: 27 h
               pr("d", "onboard", T, None, "open"), pr("a", "remove", T, T + timedelta(hours=1))]
    assert [(w.week, w.merged, w.median_hours) for w in time_to_merge_by_week(records)] == [
        ("2026-02-02", 2, 6.0), ("2026-02-09", 1, 27.0)]  # week 1: median of 2 and 10
    # up to a later `until`: the weeks with no merge are there, with no median
    assert [(w.week, w.merged, w.median_hours) for w in time_to_merge_by_week(records, T + timedelta(days=22))] == [
        ("2026-02-02", 2, 6.0), ("2026-02-09", 1, 27.0), ("2026-02-16", 0, None), ("2026-02-23", 0, None)]
    assert time_to_merge_by_week([]) == [] and time_to_merge_by_week([], T) == []


def test_reverts_by_week_counts_first_reverts_and_the_rate_at_each_weeks_end() -> None:
    records = [pr("a", "onboard", T, T + timedelta(hours=1)), pr("b", "onboard", T, T + timedelta(hours=1)),
               pr("c", "onboard", T + timedelta(days=7), T + timedelta(days=8)),  # onboarded in week 2
               pr("d", "onboard", T + timedelta(days=7), T + timedelta(days=8)),
               pr("a", "remove", T + timedelta(days=2), T + timedelta(days=3))]  # a: removed in week 1
    rollbacks = {"svc://a": [T + timedelta(days=15)],  # a again in week 3: counted once, in week 1
                 "svc://b": [T - timedelta(days=1)],  # before its onboarding: not a revert
                 "svc://c": [T + timedelta(days=16)]}  # c: week 3
    services = {"a": "svc://a", "b": "svc://b", "c": "svc://c", "d": "svc://d"}
    weeks = reverts_by_week(records, rollbacks, services)
    assert [(w.week, w.reverted, w.onboarded, w.rate) for w in weeks] == [
        ("2026-02-02", 1, 2, 0.5),  # a of a, b
        ("2026-02-09", 0, 4, 0.25),  # a of a, b, c, d
        ("2026-02-16", 1, 4, 0.5)]  # a and c of four
    assert weeks[-1].rate == revert_figures(records, rollbacks, services).rate  # the last week's is the tile's
    later = reverts_by_week(records, rollbacks, services, T + timedelta(days=21))
    assert [(w.week, w.reverted, w.rate) for w in later[3:]] == [("2026-02-23", 0, 0.5)]
    assert reverts_by_week([], {}, {}, T) == []


def test_sdk_rates_per_service() -> None:
    summaries = [SdkHealthSummary(producer_urn="svc://a", language="java", sdk_version="0.1.0", instances=2,
                                  delivered=900, dropped={"rejected": 50, "queue_full": 50}),
                 SdkHealthSummary(producer_urn="svc://b", language="python", sdk_version="0.1.0", instances=1,
                                  delivered=0)]
    a, b = sdk_rates(summaries)
    assert (a.dropped, a.rejected, a.drop_rate, a.error_rate) == (100, 50, 0.1, 0.05)  # 100 / 1000, 50 / 1000
    assert (b.drop_rate, b.error_rate) == (None, None)  # nothing handled yet


def test_ring_progress_counts_states_per_ring_in_ring_order() -> None:
    rings = ring_progress("c", [("ring-1", "prod"), ("ring-2", "staging")],
                          [("ring-2", "merged"), ("ring-1", "merged"), ("ring-2", "declined"), ("ring-2", "failed"),
                           ("ring-2", "opened")])
    assert [(r.ring, r.flag, r.repos, r.opened, r.merged, r.declined, r.other) for r in rings] == [
        ("ring-1", "prod", 1, 0, 1, 0, 0), ("ring-2", "staging", 4, 1, 1, 1, 1)]


def incident(ident: str, **fields: object) -> dict[str, object]:
    return {"id": ident, "kind": "contract", "status": "open", "first_bad_time": "2026-02-02T09:00:00Z",
            "last_good_time": None, "evidence_ids": [], "correlated_deploys": [], "detected_at": "2026-02-02T09:05:00Z",
            "resolved_at": None, **fields}


INCIDENTS = [
    incident("a", last_good_time="2026-02-02T08:59:00Z", evidence_ids=["ev_1"], correlated_deploys=[{"x": 1}]),
    incident("b", last_good_time="2026-02-02T08:00:00Z", evidence_ids=[]),  # no evidence cited: not backed
    incident("c", kind="drift", status="resolved", evidence_ids=["ev_2"], resolved_at="2026-02-02T12:05:00Z"),  # 3 h
    incident("d", kind="drift", status="resolved", detected_at="2026-02-03T00:00:00Z",
             resolved_at="2026-02-03T07:00:00Z"),  # 7 h
    incident("e", kind="drift", status="open"),  # unresolved: not in the remediation time
    incident("f", status="false_positive", last_good_time="2026-02-02T08:00:00Z", evidence_ids=["ev_3"]),
]


def test_platform_kpis_on_hand_made_incidents() -> None:
    assert evidence_backed_boundaries(INCIDENTS) == round(2 / 6, 4)  # a and f
    assert correlated_deploy_rate(INCIDENTS) == round(1 / 6, 4)  # a
    assert drift_remediation_hours(INCIDENTS) == 5.0  # median of 3 h and 7 h
    assert false_positive_rate(INCIDENTS) == round(1 / 6, 4)  # f
    verdicts = {"a": "cause_identified", "b": "inconclusive", "c": "inconclusive", "d": "cause_identified",
                "e": "inconclusive", "f": "inconclusive"}
    # f is a false positive: judged over a..e, of which b, c and e are inconclusive
    assert inconclusive_rate(INCIDENTS, lambda i: verdicts[str(i["id"])]) == 0.6
    kpis = platform_kpis(INCIDENTS, lambda i: verdicts[str(i["id"])])
    assert (kpis.incidents, kpis.inconclusive_rate) == (6, 0.6)
    empty = platform_kpis([], lambda i: "inconclusive")
    assert (empty.evidence_backed_boundaries, empty.drift_remediation_hours, empty.inconclusive_rate) == (
        None, None, None)
