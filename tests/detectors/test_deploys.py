import dataclasses
from datetime import UTC, datetime, timedelta

from detectors._breaks import ContractBreak, ProducerBreak
from detectors._deploys import (
    DEPLOY_FOLD_LOOKBACK,
    BreakingProducer,
    breaking_producers,
    correlate_breaks,
    correlate_deploys,
    correlate_each,
    stored_deploys,
)
from evidence import MemoryReader, parse_event, record_from_event, to_json

FIRST_BAD = datetime(2026, 3, 10, 10, 21, 4, tzinfo=UTC)
HOUR = timedelta(hours=1)


def deploy(event_id: str, at: datetime, source: str = "svc://checkout-service", status: str = "succeeded",
           version: str = "v2.8.1", arrived: datetime | None = None):
    event = parse_event({"specversion": "1.0", "id": event_id, "source": source, "type": "DeploymentEvent",
                         "time": at.isoformat(), "data": {"service": source[6:], "version": version,
                                                          "status": status}})
    return record_from_event(event, arrived or at)


def test_deploys_of_the_producer_in_the_window_rank_closest_first() -> None:
    older = deploy("d-old", FIRST_BAD - timedelta(minutes=50), version="v2.8.0")
    newer = deploy("d-new", FIRST_BAD - timedelta(minutes=1), version="v2.8.1")
    ranked = correlate_deploys([older, newer], "svc://checkout-service", FIRST_BAD, HOUR)
    assert [d.version for d in ranked] == ["v2.8.1", "v2.8.0"]
    assert to_json(ranked[0]) == {"producer_urn": "svc://checkout-service", "service": "checkout-service",
                                  "version": "v2.8.1", "deploy_ref": "checkout-service@v2.8.1",
                                  "evidence_id": newer.evidence_id, "time": "2026-03-10T10:20:04Z",
                                  "seconds_before_first_bad": 60, "status": "succeeded"}


def test_other_producers_failed_deploys_and_old_deploys_are_never_correlated() -> None:
    others = [
        deploy("payments", FIRST_BAD - timedelta(minutes=2), source="svc://payments-service"),
        deploy("failed", FIRST_BAD - timedelta(minutes=3), status="failed"),
        deploy("yesterday", FIRST_BAD - timedelta(hours=20)),
        deploy("after", FIRST_BAD + timedelta(seconds=1)),
    ]
    assert correlate_deploys(others, "svc://checkout-service", FIRST_BAD, HOUR) == []
    assert correlate_deploys(others, None, FIRST_BAD, HOUR) == []


def test_a_rollback_is_a_change_too() -> None:
    rollback = deploy("rb", FIRST_BAD - timedelta(minutes=5), status="rolled_back", version="v2.7.9")
    assert [(d.version, d.status) for d in correlate_deploys([rollback], "svc://checkout-service", FIRST_BAD,
                                                                   HOUR)] == [("v2.7.9", "rolled_back")]


def test_a_startup_event_without_a_version_is_a_restart_not_a_deploy() -> None:
    restart = deploy("restart", FIRST_BAD - timedelta(minutes=2), version="unknown")
    restart = restart.__class__(**{**{f: getattr(restart, f) for f in restart.__slots__},
                                   "payload": {**restart.payload, "data": {**restart.data, "source": "startup"}}})
    assert correlate_deploys([restart], "svc://checkout-service", FIRST_BAD, HOUR) == []


def _with_data(record, **data):
    merged = {k: v for k, v in {**record.data, **data}.items() if v is not ...}
    return record.__class__(**{**{f: getattr(record, f) for f in record.__slots__},
                               "payload": {**record.payload, "data": merged}})


def test_a_deploy_without_a_status_shipped_and_a_start_up_without_a_version_is_a_restart() -> None:
    at = FIRST_BAD - timedelta(minutes=2)
    no_status = _with_data(deploy("no-status", at), status=...)
    assert "status" not in no_status.data
    assert [(d.evidence_id, d.status) for d in correlate_deploys([no_status], "svc://checkout-service",
                                                                       FIRST_BAD, HOUR)] == [
        (no_status.evidence_id, "succeeded")]  # no status means it shipped
    for version in (None, "", "unknown"):
        restart = _with_data(deploy(f"restart-{version}", at), source="startup", version=version)
        assert correlate_deploys([restart], "svc://checkout-service", FIRST_BAD, HOUR) == [], version
    named = _with_data(deploy("startup-named", at), source="startup")  # a start-up event naming its version
    ci_unknown = _with_data(deploy("ci-unknown", at - timedelta(seconds=1)), version="unknown")  # a CI deploy
    assert [d.evidence_id for d in correlate_deploys([named, ci_unknown], "svc://checkout-service", FIRST_BAD,
                                                        HOUR)] == [named.evidence_id, ci_unknown.evidence_id]


def _startup(record):
    """The same deploy reported by the service's own SDK at start-up (source: startup)."""
    return _with_data(record, source="startup")


def test_restarts_and_replicas_fold_into_the_ci_deploy_of_their_version() -> None:
    ci = deploy("ci-v2.8.1", FIRST_BAD - timedelta(minutes=10))
    replicas = [_startup(deploy(f"pod-{n}", FIRST_BAD - timedelta(minutes=9 - n))) for n in range(3)]
    ranked = correlate_deploys([*replicas, ci], "svc://checkout-service", FIRST_BAD, HOUR)
    assert [d.evidence_id for d in ranked] == [ci.evidence_id]


def test_a_restart_in_the_window_of_a_version_ci_shipped_before_it_is_no_deploy() -> None:
    shipped = deploy("ci-v2.8.1", FIRST_BAD - timedelta(hours=5))
    restart = _startup(deploy("pod-restart", FIRST_BAD - timedelta(minutes=3)))
    assert correlate_deploys([shipped, restart], "svc://checkout-service", FIRST_BAD, HOUR) == []


def test_without_a_ci_report_the_first_replica_up_stands_for_the_deploy() -> None:
    replicas = [_startup(deploy(f"pod-{n}", FIRST_BAD - timedelta(minutes=6 - n), version="v2.9.0")) for n in range(3)]
    other = _startup(deploy("pod-v3", FIRST_BAD - timedelta(minutes=1), version="v3.0.0"))
    ranked = correlate_deploys([other, *replicas], "svc://checkout-service", FIRST_BAD, HOUR)
    assert [(d.version, d.evidence_id) for d in ranked] == [("v3.0.0", other.evidence_id),
                                                                  ("v2.9.0", replicas[0].evidence_id)]


def test_only_what_happened_before_first_bad_folds_a_start_up_away() -> None:
    # The pods came up on v2.9.0 before the first bad record; CI reporting it at (or after) that instant says
    # nothing about the code already running, so the first replica up stands for the deploy.
    up = _startup(deploy("pod-v2.9.0", FIRST_BAD - timedelta(minutes=4), version="v2.9.0"))
    for late in (FIRST_BAD, FIRST_BAD + timedelta(minutes=10)):
        ci = deploy(f"ci-{late.minute}", late, version="v2.9.0")
        assert [d.evidence_id for d in correlate_deploys([ci, up], "svc://checkout-service", FIRST_BAD,
                                                            HOUR)] == [up.evidence_id]
    earlier = deploy("ci-earlier", FIRST_BAD - timedelta(minutes=5), version="v2.9.0")
    assert [d.evidence_id for d in correlate_deploys([up, earlier], "svc://checkout-service", FIRST_BAD,
                                                        HOUR)] == [earlier.evidence_id]


def test_a_start_up_folds_only_into_its_own_producers_ci_deploy() -> None:
    # payments-service's CI shipping a version of the same name is not checkout-service's deploy: each breaking
    # producer is judged on its own deploys, restarts folded within that producer only.
    payments_ci = deploy("pay-ci", FIRST_BAD - timedelta(minutes=20), source="svc://payments-service")
    checkout_up = _startup(deploy("chk-up", FIRST_BAD - timedelta(minutes=7)))
    checkout_restart = _startup(deploy("chk-restart", FIRST_BAD - timedelta(minutes=2)))
    payments_restart = _startup(deploy("pay-restart", FIRST_BAD - timedelta(minutes=1), source="svc://payments-service"))
    first_bad = {"svc://checkout-service": FIRST_BAD, "svc://payments-service": FIRST_BAD + timedelta(minutes=3)}
    producers = [BreakingProducer(urn, at, f"ref-{urn}", "TYPE_MISMATCH", "amount", 1) for urn, at in first_bad.items()]
    judged = correlate_each(producers, [payments_ci, checkout_up, checkout_restart, payments_restart], HOUR)
    assert {p.producer_urn: [d.evidence_id for d in p.deploys] for p in judged} == {
        "svc://checkout-service": [checkout_up.evidence_id],
        "svc://payments-service": [payments_ci.evidence_id],
    }
    assert judged[1].deploys[0].seconds_before_first_bad == 23 * 60  # against its own first bad record
    assert [dataclasses.replace(p, deploys=[]) for p in judged] == producers  # each otherwise as it broke


def _break(reason: str, fld: str | None, *parts: ProducerBreak) -> ContractBreak:
    first = min(parts, key=lambda p: (p.first_bad_time, p.first_bad_ref))
    return ContractBreak(dataset_urn="ds://orders", producer_urn=first.producer_urn, reason_code=reason, field=fld,
                         first_bad_time=first.first_bad_time, first_bad_ref=first.first_bad_ref, last_good_time=None,
                         last_good_ref=None, bad_rate_before=0.0, bad_rate_after=1.0,
                         bad_count=sum(p.bad_count for p in parts), total_after=10, sample_refs=[], producers=parts)


CHECKOUT, PAYMENTS = "svc://checkout-service", "svc://payments-service"


def test_each_producer_breaks_at_its_earliest_bad_record_of_any_break() -> None:
    later = FIRST_BAD + timedelta(minutes=5)
    breaks = [
        # Records resolved to no producer broke first: they blame nobody, and hide no producer listed after them.
        _break("REQUIRED_FIELD_MISSING", "customer_id",
               ProducerBreak(None, FIRST_BAD - timedelta(minutes=1), "t/0/1", 4),
               ProducerBreak(CHECKOUT, FIRST_BAD, "t/0/7", 3), ProducerBreak(PAYMENTS, later, "t/1/2", 2)),
        # The same record of checkout-service breaking a second rule, and payments-service breaking it earlier.
        _break("TYPE_MISMATCH", "amount", ProducerBreak(CHECKOUT, FIRST_BAD, "t/0/7", 9),
               ProducerBreak(PAYMENTS, FIRST_BAD + timedelta(minutes=2), "t/1/1", 6)),
    ]
    assert breaking_producers(breaks) == [
        BreakingProducer(CHECKOUT, FIRST_BAD, "t/0/7", "REQUIRED_FIELD_MISSING", "customer_id", 3),
        BreakingProducer(PAYMENTS, FIRST_BAD + timedelta(minutes=2), "t/1/1", "TYPE_MISMATCH", "amount", 6),
    ]


def test_a_restart_folds_into_a_ci_deploy_up_to_the_fold_lookback_before_the_window() -> None:
    # CI shipped v2.8.1 a week before first bad; a pod restarting on it inside the window is no deploy, so the stored
    # deploys read for the window reach back DEPLOY_FOLD_LOOKBACK before its start.
    ci = deploy("ci-v2.8.1", FIRST_BAD - DEPLOY_FOLD_LOOKBACK)
    restart = _startup(deploy("pod-restart", FIRST_BAD - timedelta(minutes=3)))
    brk = _break("TYPE_MISMATCH", "amount", ProducerBreak(CHECKOUT, FIRST_BAD, "t/0/7", 1))
    [judged] = correlate_breaks(MemoryReader([ci, restart]), [brk], HOUR, FIRST_BAD + HOUR)
    assert (judged.producer_urn, judged.deploys) == (CHECKOUT, [])


def test_a_deploy_that_arrived_after_the_clock_is_not_correlated() -> None:
    # A replay at an earlier clock sees only what had arrived by then.
    now = FIRST_BAD + timedelta(minutes=10)
    early = deploy("ci-early", FIRST_BAD - timedelta(minutes=30), version="v2.8.0", arrived=now)
    late = deploy("ci-late", FIRST_BAD - timedelta(minutes=5), arrived=now + timedelta(seconds=1))
    brk = _break("TYPE_MISMATCH", "amount", ProducerBreak(CHECKOUT, FIRST_BAD, "t/0/7", 1))
    [judged] = correlate_breaks(MemoryReader([early, late]), [brk], HOUR, now)
    assert [d.evidence_id for d in judged.deploys] == [early.evidence_id]
    assert correlate_breaks(MemoryReader([early, late]), [], HOUR, now) == []


def test_stored_deploys_are_the_producers_own_in_the_window_and_the_fold_lookback_before_it() -> None:
    since, until = FIRST_BAD - HOUR, FIRST_BAD
    kept = [deploy("fold-edge", since - DEPLOY_FOLD_LOOKBACK), deploy("in-window", FIRST_BAD - timedelta(minutes=9)),
            deploy("at-until", until, version="v2.8.2")]
    dropped = [deploy("too-old", since - DEPLOY_FOLD_LOOKBACK - timedelta(seconds=1)),
               deploy("after", until + timedelta(seconds=1), version="v2.8.3"),
               deploy("someone-else", FIRST_BAD - timedelta(minutes=9), source=PAYMENTS)]
    started = deploy("not-a-deploy", FIRST_BAD - timedelta(minutes=8))
    fields = {f: getattr(started, f) for f in started.__slots__}
    dropped.append(started.__class__(**{**fields, "type": "JobRunStarted"}))
    reader = MemoryReader([*kept, *dropped])
    assert [d.evidence_id for d in stored_deploys(reader, [CHECKOUT], since, until, until + HOUR)] == [
        d.evidence_id for d in kept]
    assert stored_deploys(reader, [], since, until, until) == []  # no producers: nobody's deploys, never everyone's
