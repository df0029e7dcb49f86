"""Who is blamed for a contract break: the producer whose records broke, and only that producer's deploys.

The property test generates histories of one dataset written by one to three producers (each on its own
topic or on a shared one, identified by a mapping rule or by the autopilot-producer header), breaks and
deploys placed at and around the window's edges, delivered shuffled and duplicated, and compares the incident
`rca replay` opens with an oracle written here from the rules (DESIGN.md, "Incident and RCA"):

- the incident's producer is the producer of the first bad record (earliest by time, then topic, partition,
  offset); every producer whose records broke is listed, the first to break first, each at its own first bad
  record;
- a deploy is correlated with a breaking producer when it is that producer's, it shipped (succeeded or rolled
  back; no status means succeeded), it had arrived by the clock, it is not a restart, and it lies in
  [its first bad - window, its first bad): strictly earlier than the first bad record; the closest first.
  Other producers' deploys are never correlated;
- a restart (issue 13) is a start-up event (`source: startup`) without a version, or of a version that the
  same producer's CI reported (a shipped, arrived, non-start-up deploy), or that an earlier start-up of that
  producer reported (the first replica up stands for the deploy; at one instant, the smaller evidence id is
  earlier), counting only what happened strictly before that producer's first bad record: a restart folds
  into the deploy of its version wherever that lies in the window or before it;
- the last good record is the latest good record strictly earlier than the first bad one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import Scenario, load_scenario, replay
from evidence import Contract, Mapping, evidence_id_for, to_json
from support import ORDERS_SCHEMA, ROOT, examples

DS = "ds://orders_v1"
NOW = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
T0 = NOW - timedelta(minutes=40)  # every record lies within the 60 minutes before the clock: no break has healed
PRODUCERS = ("svc://checkout-service", "svc://payments-service", "svc://legacy-orders")
SILENT = "svc://orders-backfill"  # mapped to the dataset, never sends a record
SHARED_TOPIC = "orders.created"
GOOD = {"order_id": "o-1", "customer_id": "c-1", "amount": 12.5, "currency": "EUR"}
BREAKS = {  # what a bad record lacks or gets wrong -> (reason_code, field)
    "missing": ("REQUIRED_FIELD_MISSING", "customer_id"),
    "enum": ("ENUM_VIOLATION", "currency"),
}


@dataclass(frozen=True)
class Message:
    producer: str
    topic: str
    partition: int
    offset: int
    at: datetime
    bad: str | None  # a key of BREAKS, or None for a good record
    header: bool  # carries autopilot-producer

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def order(self) -> tuple[datetime, str, int, int]:
        return (self.at, self.topic, self.partition, self.offset)

    def wire(self) -> dict[str, Any]:
        value = dict(GOOD, order_id=f"o-{self.offset}")
        if self.bad == "missing":
            del value["customer_id"]
        elif self.bad == "enum":
            value["currency"] = "XXX"
        headers = {"autopilot-producer": self.producer} if self.header else {}
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                "timestamp": self.at.isoformat(), "schema_id": 42, "headers": headers, "value": value}


@dataclass(frozen=True)
class Deploy:
    ref: str
    producer: str
    at: datetime
    status: str | None  # None: the event carries no status
    version: str
    startup: bool
    arrived: datetime

    @property
    def evidence_id(self) -> str:
        return evidence_id_for(self.producer, self.ref)

    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = {"service": self.producer.split("://")[1], "env": "prod", "version": self.version,
                                "source": "startup" if self.startup else "ci"}
        if self.status is not None:
            data["status"] = self.status
        return {"specversion": "1.0", "id": self.ref, "source": self.producer, "type": "DeploymentEvent",
                "time": self.at.isoformat(), "ingesttime": self.arrived.isoformat(), "data": data}


def mappings_for(layout: str, producers: list[str], silent: bool) -> list[Mapping]:
    """per-topic: one topic and rule per producer (rule-identified); shared-rules: one topic, a rule per
    producer pinned by its header (rule-identified); shared-header: one topic, one rule naming no producer
    (header-identified)."""
    if layout == "per-topic":
        rules = [Mapping(topic=f"orders.{p.split('://')[1]}", schema_id=42, dataset_urn=DS, producer_urn=p)
                 for p in producers]
    elif layout == "shared-rules":
        rules = [Mapping(topic=SHARED_TOPIC, schema_id=42, headers={"autopilot-producer": p}, dataset_urn=DS,
                         producer_urn=p) for p in producers]
    else:
        rules = [Mapping(topic=SHARED_TOPIC, schema_id=42, dataset_urn=DS)]
    if silent:
        rules.append(Mapping(topic="orders.backfill", schema_id=42, dataset_urn=DS, producer_urn=SILENT))
    return rules


def topic_of(layout: str, producer: str) -> str:
    return f"orders.{producer.split('://')[1]}" if layout == "per-topic" else SHARED_TOPIC


# -- the oracle -----------------------------------------------------------------------------------------------


def expected_deploys(deploys: list[Deploy], producer: str, first_bad: datetime, window: timedelta) -> list[str]:
    # What this producer had shipped, and the clock had seen, before its own first bad record.
    before = [d for d in deploys if d.producer == producer and d.arrived <= NOW and d.at < first_bad
              and (d.status or "succeeded") in ("succeeded", "rolled_back")]

    def restart(d: Deploy) -> bool:
        if not d.startup:
            return False
        return d.version in ("", "unknown") or any(
            o.version == d.version and (not o.startup or (o.at, o.evidence_id) < (d.at, d.evidence_id))
            for o in before if o.evidence_id != d.evidence_id)

    ranked = sorted({d.evidence_id: d for d in before if not restart(d) and first_bad - window <= d.at}.values(),
                    key=lambda d: (first_bad - d.at, d.evidence_id))
    return [d.evidence_id for d in ranked]


def oracle(messages: list[Message], deploys: list[Deploy], window: timedelta) -> dict[str, Any] | None:
    bad = sorted((m for m in messages if m.bad), key=lambda m: m.order)
    if not bad:
        return None
    first = bad[0]
    breaking: list[tuple[str, Message]] = []
    for m in bad:
        if m.producer not in {p for p, _ in breaking}:
            breaking.append((m.producer, m))
    good_before = [m for m in messages if not m.bad and m.at < first.at]
    last_good = max(good_before, key=lambda m: m.order) if good_before else None
    per_producer = [(p, m.ref, expected_deploys(deploys, p, m.at, window)) for p, m in breaking]
    return {
        "producer_urn": first.producer,
        "reason_field": BREAKS[first.bad],  # type: ignore[index]
        "first_bad": (first.at, first.ref),
        "last_good_second": last_good.at.replace(microsecond=0) if last_good else None,
        "breaking": per_producer,
        "correlated_deploys": [i for _, _, ids in per_producer for i in ids],
    }


# -- histories ----------------------------------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[Scenario, dict[str, Any] | None, list[Message], list[Deploy]]:
    count = draw(st.integers(1, 3))
    producers = list(PRODUCERS[:count])
    layout = draw(st.sampled_from(["per-topic", "shared-rules", "shared-header"]))
    silent = draw(st.booleans())
    window = timedelta(minutes=draw(st.sampled_from([15, 60, 90])))
    messages: list[Message] = []
    offsets: dict[tuple[str, int], int] = {}
    for producer in producers:
        topic = topic_of(layout, producer)
        # Whether and how this producer breaks: from its k-th record on, some records fail one way.
        breaks_from = draw(st.sampled_from([0, 1, None, 2, 0, 4]))
        kind = draw(st.sampled_from(sorted(BREAKS)))
        for i in range(draw(st.integers(1, 7))):
            partition = draw(st.integers(0, 2))
            # Offsets keep four digits, so ref strings order as (partition, offset) do.
            offset = offsets[(topic, partition)] = offsets.get((topic, partition), 1000 + draw(st.integers(0, 50))) + 1
            # Whole seconds or milliseconds, often colliding across producers and partitions: ties at an instant.
            seconds = draw(st.one_of(st.integers(0, 40 * 60), st.sampled_from([600, 601, 900])))
            at = T0 + timedelta(seconds=seconds, milliseconds=draw(st.sampled_from([0, 0, 250, 999])))
            is_bad = breaks_from is not None and (i == breaks_from or (i > breaks_from and draw(st.booleans())))
            header = layout != "per-topic" or draw(st.booleans())
            messages.append(Message(producer, topic, partition, offset, at, kind if is_bad else None, header))
    bad_at = {p: min((m.order for m in messages if m.producer == p and m.bad), default=None) for p in producers}
    anchors = [o[0] for o in bad_at.values() if o is not None] or [T0 + timedelta(minutes=20)]
    deploys: list[Deploy] = []
    # Deploys at and around the window's edges, inside it (most often), before it and after the break (in ms).
    w_ms = int(window.total_seconds() * 1000)
    placed = {"edge": st.sampled_from([-w_ms, -w_ms - 1, -1, 0, -70_000, -47 * 60_000, 1000]),
              "inside": st.integers(-w_ms, -1), "before": st.integers(-3 * w_ms, -w_ms - 1),
              "after": st.integers(0, 600_000)}
    for producer in [*producers, *([SILENT] if silent else [])]:
        own: list[Deploy] = []
        for n in range(draw(st.integers(0, 3))):  # three: a CI deploy, its restarts and replicas, another version
            anchor = bad_at.get(producer)
            base = anchor[0] if anchor is not None else draw(st.sampled_from(anchors))
            where = draw(st.sampled_from(["edge", "inside", "inside", "before", "after"]))
            offset_s = draw(placed[where]) / 1000
            at = base + timedelta(seconds=offset_s)
            late = draw(st.sampled_from([False, False, False, True]))  # arrived after the clock: not there yet
            # Often a pod starting up on a version this producer already deployed (a restart or a replica), before
            # or after that deploy; else a deploy of its own.
            again = draw(st.sampled_from(own)) if own and draw(st.sampled_from([True, True, False])) else None
            own.append(Deploy(
                ref=f"deploy-{producer.split('://')[1]}-{n}", producer=producer, at=at,
                status=draw(st.sampled_from([None, "succeeded", "succeeded", "rolled_back", "failed"])),
                version=again.version if again else draw(st.sampled_from(["v2.8.1", "v2.8.2", "unknown"])),
                startup=True if again else draw(st.booleans()),
                arrived=NOW + timedelta(minutes=1) if late else max(at, T0)))
        deploys += own
    rules = mappings_for(layout, producers, silent)
    rules = draw(st.permutations(rules))  # the order of the mapping rules never matters
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    wire = [m.wire() for m in messages]
    events = [d.event() for d in deploys]
    wire += [m for m in wire if rnd.random() < 0.3]  # delivered twice
    events += [e for e in events if rnd.random() < 0.3]
    rnd.shuffle(wire)
    rnd.shuffle(events)
    scenario = Scenario(name="blame", description="", now=NOW, mappings=list(rules),
                        contracts=[Contract(dataset_urn=DS, schema=ORDERS_SCHEMA,
                                            deploy_window_minutes=int(window.total_seconds() // 60))],
                        events=events, messages=wire)
    return scenario, oracle(messages, deploys, window), messages, deploys


def incident_of(scenario: Scenario) -> dict[str, Any] | None:
    result = replay(scenario)
    assert result.rejected == []
    contract = [to_json(i) for i in result.detection.incidents if i.kind == "contract"]
    assert len(contract) <= 1
    return contract[0] if contract else None


@settings(max_examples=examples(60), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=histories())
def test_the_incident_blames_the_producers_whose_records_broke(history) -> None:
    scenario, want, _, _ = history
    got = incident_of(scenario)
    if want is None:
        assert got is None
        return
    assert got is not None
    first_at, first_ref = want["first_bad"]
    assert got["producer_urn"] == want["producer_urn"]
    assert (got["reason_code"], got["field"]) == want["reason_field"]
    assert (got["first_bad_time"], got["facts"]["first_bad_ref"]) == (iso(first_at), first_ref)
    last_good = got["last_good_time"]
    assert (last_good and datetime.fromisoformat(last_good.replace("Z", "+00:00")).replace(microsecond=0)) \
        == (want["last_good_second"] or None)
    assert [(p["producer_urn"], p["first_bad_ref"], p["correlated_deploy_ids"])
            for p in got["facts"]["breaking_producers"]] == want["breaking"]
    assert [d["evidence_id"] for d in got["correlated_deploys"]] == want["correlated_deploys"]
    breaking = {p for p, _, _ in want["breaking"]}
    assert {d["producer_urn"] for d in got["correlated_deploys"]} <= breaking
    # The incident cites each breaking producer's first bad record and each correlated deploy.
    topic_of_ref = {ref: ref.rsplit("/", 2)[0] for _, ref, _ in want["breaking"]}
    cited = set(got["evidence_ids"])
    assert {evidence_id_for(f"kafka://{topic_of_ref[ref]}", ref) for _, ref, _ in want["breaking"]} <= cited
    assert set(want["correlated_deploys"]) <= cited


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- the minimal cases the differential test found ------------------------------------------------------------


def two_records(layout: str, deploys: list[Deploy], order: list[int]) -> Scenario:
    """checkout-service sends a good record then a bad one; payments-service is mapped to the same dataset."""
    breaking, other = PRODUCERS[0], PRODUCERS[1]
    topic = topic_of(layout, breaking)
    records = [Message(breaking, topic, 0, 1001, T0 + timedelta(minutes=10), None, True),
               Message(breaking, topic, 0, 1002, T0 + timedelta(minutes=20), "missing", True)]
    rules = mappings_for(layout, [breaking, other], silent=False)
    return Scenario(name="minimal", description="", now=NOW, mappings=[rules[i] for i in order],
                    contracts=[Contract(dataset_urn=DS, schema=ORDERS_SCHEMA)],
                    events=[d.event() for d in deploys], messages=[m.wire() for m in records])


FIRST_BAD = T0 + timedelta(minutes=20)


def deploy_of(producer: str, before: timedelta, ref: str) -> Deploy:
    at = FIRST_BAD - before
    return Deploy(ref, producer, at, "succeeded", "v2.8.1", False, at)


MINIMAL = [pytest.param(layout, order, id=f"{layout}-{'-'.join(map(str, order))}")
           for layout in ("per-topic", "shared-rules") for order in ([0, 1], [1, 0])]


@pytest.mark.parametrize(("layout", "order"), MINIMAL)
def test_only_another_mapped_producer_deployed_nothing_is_blamed(layout: str, order: list[int]) -> None:
    other = deploy_of(PRODUCERS[1], timedelta(seconds=70), "deploy-payments")
    incident = incident_of(two_records(layout, [other], order))
    assert incident is not None
    assert incident["producer_urn"] == PRODUCERS[0]
    assert incident["correlated_deploys"] == []
    assert other.evidence_id not in incident["evidence_ids"]


@pytest.mark.parametrize(("layout", "order"), MINIMAL)
def test_the_breaking_producers_deploy_47_minutes_before_is_blamed(layout: str, order: list[int]) -> None:
    own = deploy_of(PRODUCERS[0], timedelta(minutes=47), "deploy-checkout")
    incident = incident_of(two_records(layout, [own], order))
    assert incident is not None
    assert incident["producer_urn"] == PRODUCERS[0]
    assert [(d["evidence_id"], d["seconds_before_first_bad"]) for d in incident["correlated_deploys"]] == [
        (own.evidence_id, 47 * 60)]


@pytest.mark.parametrize(("layout", "order"), MINIMAL)
def test_when_both_deployed_only_the_breaking_producers_deploy_is_blamed(layout: str, order: list[int]) -> None:
    own = deploy_of(PRODUCERS[0], timedelta(minutes=47), "deploy-checkout")
    other = deploy_of(PRODUCERS[1], timedelta(seconds=70), "deploy-payments")
    incident = incident_of(two_records(layout, [other, own], order))
    assert incident is not None
    assert [d["evidence_id"] for d in incident["correlated_deploys"]] == [own.evidence_id]


@pytest.mark.parametrize(("before", "correlated"), [
    (timedelta(minutes=60), True),  # the window's oldest instant is inside it
    (timedelta(minutes=60, microseconds=1), False),
    (timedelta(microseconds=1), True),
    (timedelta(0), False),  # at the first bad record's very instant: not before it
])
def test_the_window_edges(before: timedelta, correlated: bool) -> None:
    own = deploy_of(PRODUCERS[0], before, "deploy-checkout")
    incident = incident_of(two_records("per-topic", [own], [0, 1]))
    assert incident is not None
    assert [d["evidence_id"] for d in incident["correlated_deploys"]] == ([own.evidence_id] if correlated else [])


def test_the_contracts_own_window_decides() -> None:
    own = deploy_of(PRODUCERS[0], timedelta(minutes=75), "deploy-checkout")
    scenario = two_records("per-topic", [own], [0, 1])
    wide = Scenario(**{**scenario.__dict__, "contracts": [
        Contract(dataset_urn=DS, schema=ORDERS_SCHEMA, deploy_window_minutes=90)]})
    narrow = Scenario(**{**scenario.__dict__, "contracts": [
        Contract(dataset_urn=DS, schema=ORDERS_SCHEMA, deploy_window_minutes=30)]})
    assert [d["evidence_id"] for d in incident_of(wide)["correlated_deploys"]] == [own.evidence_id]  # type: ignore[index]
    own_30 = deploy_of(PRODUCERS[0], timedelta(minutes=29), "deploy-checkout-2")
    narrow.events.append(own_30.event())
    assert [d["evidence_id"] for d in incident_of(narrow)["correlated_deploys"]] == [own_30.evidence_id]  # type: ignore[index]


def test_a_deploy_that_arrived_after_the_clock_is_not_there_yet() -> None:
    own = deploy_of(PRODUCERS[0], timedelta(minutes=5), "deploy-checkout")
    late = Deploy(own.ref, own.producer, own.at, own.status, own.version, own.startup, NOW + timedelta(seconds=1))
    assert incident_of(two_records("per-topic", [late], [0, 1]))["correlated_deploys"] == []  # type: ignore[index]
    on_time = Deploy(own.ref, own.producer, own.at, own.status, own.version, own.startup, NOW)
    assert len(incident_of(two_records("per-topic", [on_time], [0, 1]))["correlated_deploys"]) == 1  # type: ignore[index]


def test_a_good_record_at_the_first_bad_instant_is_not_last_good() -> None:
    breaking = PRODUCERS[0]
    topic = topic_of("per-topic", breaking)
    records = [Message(breaking, topic, 0, 1001, FIRST_BAD - timedelta(seconds=30), None, True),
               Message(breaking, topic, 1, 1001, FIRST_BAD, None, True),  # same instant, another partition
               Message(breaking, topic, 2, 1001, FIRST_BAD, "missing", True)]
    scenario = Scenario(name="tie", description="", now=NOW, mappings=mappings_for("per-topic", [breaking], False),
                        contracts=[Contract(dataset_urn=DS, schema=ORDERS_SCHEMA)],
                        messages=[m.wire() for m in records])
    incident = incident_of(scenario)
    assert incident is not None
    assert (incident["last_good_time"], incident["facts"]["last_good_ref"]) == (
        iso(FIRST_BAD - timedelta(seconds=30)), f"{topic}/0/1001")


def test_two_producers_breaking_at_once_each_get_their_own_correlation() -> None:
    checkout, payments = PRODUCERS[0], PRODUCERS[1]
    records = [Message(checkout, SHARED_TOPIC, 0, 1001, FIRST_BAD, "missing", True),
               Message(payments, SHARED_TOPIC, 1, 1001, FIRST_BAD + timedelta(minutes=2), "enum", True)]
    own = deploy_of(checkout, timedelta(minutes=3), "deploy-checkout")
    theirs = Deploy("deploy-payments", payments, FIRST_BAD + timedelta(minutes=1), "succeeded", "v1.4.0", False,
                    FIRST_BAD + timedelta(minutes=1))
    scenario = Scenario(name="both", description="", now=NOW,
                        mappings=mappings_for("shared-header", [checkout, payments], False),
                        contracts=[Contract(dataset_urn=DS, schema=ORDERS_SCHEMA)],
                        events=[own.event(), theirs.event()], messages=[m.wire() for m in records])
    incident = incident_of(scenario)
    assert incident is not None
    assert incident["producer_urn"] == checkout
    assert [(p["producer_urn"], p["reason_code"], p["correlated_deploy_ids"])
            for p in incident["facts"]["breaking_producers"]] == [
        (checkout, "REQUIRED_FIELD_MISSING", [own.evidence_id]),
        (payments, "ENUM_VIOLATION", [theirs.evidence_id]),  # a minute before payments' own first bad record
    ]
    assert [(d["producer_urn"], d["seconds_before_first_bad"]) for d in incident["correlated_deploys"]] == [
        (checkout, 180), (payments, 60)]


def test_a_restart_is_not_a_second_deploy_and_folds_only_into_its_own_producers_ci_deploy() -> None:
    # checkout-service's CI shipped v2.8.2 two hours ago (outside the window); its pods restarting on it minutes
    # before the break are no deploy. payments-service starting up on a version of the same name, with no CI
    # report of its own, is payments' deploy (its first replica; the second folds into it): folding, like blame,
    # stays within one producer.
    checkout, payments = PRODUCERS[0], PRODUCERS[1]
    records = [Message(checkout, SHARED_TOPIC, 0, 1001, FIRST_BAD, "missing", True),
               Message(payments, SHARED_TOPIC, 1, 1001, FIRST_BAD + timedelta(minutes=2), "enum", True)]

    def at(producer: str, before: timedelta, ref: str, startup: bool, first_bad: datetime = FIRST_BAD) -> Deploy:
        return Deploy(ref, producer, first_bad - before, "succeeded", "v2.8.2", startup, first_bad - before)

    ci = at(checkout, timedelta(hours=2), "ci-checkout", startup=False)
    restart = at(checkout, timedelta(minutes=5), "restart-checkout", startup=True)
    replica = at(checkout, timedelta(minutes=4), "replica-checkout", startup=True)
    payments_up = at(payments, timedelta(minutes=6), "up-payments", startup=True, first_bad=records[1].at)
    payments_replica = at(payments, timedelta(minutes=3), "replica-payments", startup=True, first_bad=records[1].at)
    deploys = [ci, restart, replica, payments_up, payments_replica]
    scenario = Scenario(name="restarts", description="", now=NOW,
                        mappings=mappings_for("shared-header", [checkout, payments], False),
                        contracts=[Contract(dataset_urn=DS, schema=ORDERS_SCHEMA)],
                        events=[d.event() for d in deploys], messages=[m.wire() for m in records])
    incident = incident_of(scenario)
    assert incident is not None
    assert [(p["producer_urn"], p["correlated_deploy_ids"]) for p in incident["facts"]["breaking_producers"]] == [
        (checkout, []), (payments, [payments_up.evidence_id])]
    assert [d["evidence_id"] for d in incident["correlated_deploys"]] == [payments_up.evidence_id]
    assert oracle(records, deploys, timedelta(minutes=60))["breaking"] == [  # type: ignore[index]
        (checkout, records[0].ref, []), (payments, records[1].ref, [payments_up.evidence_id])]


def test_a_drift_incident_sees_only_deploys_that_arrived_by_the_clock() -> None:
    scenario = load_scenario(ROOT / "evals" / "scenarios" / "node_cart_schema_drift_unmapped.yaml")

    def drift_deploys(arrived: datetime) -> list[str]:
        events = [dict(e, ingesttime=arrived.isoformat()) if e["type"] == "DeploymentEvent" else e
                  for e in scenario.events]
        result = replay(Scenario(**{**scenario.__dict__, "events": events}))
        drift = [to_json(i) for i in result.detection.incidents if i.kind == "drift"]
        assert len(drift) == 1
        return [d["version"] for d in drift[0]["correlated_deploys"]]

    assert drift_deploys(scenario.now) == ["v5.0.0"]
    assert drift_deploys(scenario.now + timedelta(seconds=1)) == []
