"""The contract gate core: evidence from records, counters, and exact boundaries from counters."""

from __future__ import annotations

import base64
import itertools
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors._contract import (
    ContractValidator,
    compile_schema,
)
from detectors._gate import (
    ANY_REASON,
    PASSED,
    ContractBreak,
    GateOutput,
    GateRecord,
    ProducerBreak,
    contract_breaks,
    run_gate,
)
from detectors._wire import frame
from evidence import ReasonCode
from evidence._record import GATE_OBSERVATION, GateCounter, evidence_id_for
from support import ORDERS_SCHEMA, REFERENCE, examples

SCENARIO = REFERENCE / "spring_missing_customer_id.yaml"
DS = "ds://orders_v1"
PRODUCER = "svc://checkout-service"
OTHER_PRODUCER = "svc://payments-service"
T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
INGEST = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
VALIDATORS = {DS: compile_schema(ORDERS_SCHEMA, dataset_urn=DS)}
GOOD = {"order_id": "o-1", "customer_id": "c-1", "amount": 12.5, "currency": "EUR"}
NO_CUSTOMER = {"order_id": "o-1", "amount": 12.5, "currency": "EUR"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rec(offset: int, seconds: float, value: Any = GOOD, *, partition: int = 0, dataset: str = DS,
        producer: str | None = PRODUCER, schema_id: str | None = "42", topic: str = "orders.created",
        headers: dict[str, str] | None = None, ingest_time: datetime | None = None) -> GateRecord:
    return GateRecord(topic=topic, partition=partition, offset=offset, timestamp=at(seconds), key=f"o-{offset}",
                      schema_id=schema_id, headers=headers or {}, value=value, dataset_urn=dataset,
                      producer_urn=producer, ingest_time=ingest_time)


def merged(outputs: Iterable[GateOutput]) -> dict[tuple[Any, ...], GateCounter]:
    """What the store does with counters from many batches: merge by key."""
    out: dict[tuple[Any, ...], GateCounter] = {}
    for output in outputs:
        for counter in output.counters:
            out[counter.key] = out[counter.key].merge(counter) if counter.key in out else counter
    return out


@cache
def scenario() -> tuple[tuple[GateRecord, ...], dict[str, ContractValidator], datetime]:
    doc = yaml.safe_load(SCENARIO.read_text())
    contract = doc["contracts"][0]
    validators = {contract["dataset_urn"]: compile_schema(contract["schema"], dataset_urn=contract["dataset_urn"],
                                                          enforcement=contract["enforcement"])}
    mapping = doc["mappings"][0]
    records = tuple(
        GateRecord(topic=m["topic"], partition=m["partition"], offset=m["offset"],
                   timestamp=datetime.fromisoformat(m["timestamp"]), key=m["key"], schema_id=str(m["schema_id"]),
                   headers=m["headers"], value=m["value"], dataset_urn=mapping["dataset_urn"],
                   producer_urn=mapping["producer_urn"])
        for m in doc["messages"]
    )
    return records, validators, datetime.fromisoformat(doc["now"])


SCENARIO_BREAK = ContractBreak(
    dataset_urn="ds://orders_v1",
    producer_urn="svc://checkout-service",
    reason_code=ReasonCode.REQUIRED_FIELD_MISSING,
    field="customer_id",
    first_bad_time=datetime(2026, 3, 10, 10, 21, 4, tzinfo=UTC),
    first_bad_ref="orders.created/0/5191",
    last_good_time=datetime(2026, 3, 10, 10, 20, 58, tzinfo=UTC),
    last_good_ref="orders.created/0/5190",
    bad_rate_before=0.0,
    bad_rate_after=28 / 154,
    bad_count=28,
    total_after=154,
    sample_refs=["orders.created/0/5191", "orders.created/0/5194", "orders.created/0/5196",
                 "orders.created/0/5206", "orders.created/0/5209"],
    total_before=191,  # every record from 10:10:00 to 10:20:58 lies within the hour before
    last_bad_time=datetime(2026, 3, 10, 10, 29, 55, tzinfo=UTC),
    last_bad_ref="orders.created/0/5344",
    producers=(ProducerBreak("svc://checkout-service", datetime(2026, 3, 10, 10, 21, 4, tzinfo=UTC),
                             "orders.created/0/5191", 28),),
)


# --- the reference scenario ---------------------------------------------------------------------

def test_reference_scenario_break() -> None:
    records, validators, now = scenario()
    output = run_gate(records, validators, now)
    breaks = contract_breaks(output.counters, now)
    assert breaks == [SCENARIO_BREAK]
    assert abs(breaks[0].bad_rate_after - 0.18) <= 0.03
    assert output.rejected == []  # enforcement: flag


def test_reference_scenario_in_any_batching_and_order() -> None:
    records, validators, now = scenario()
    for seed in range(5):
        rng = random.Random(seed)
        shuffled = list(records)
        rng.shuffle(shuffled)
        cuts = sorted(rng.sample(range(1, len(shuffled)), rng.randrange(0, 12)))
        batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
        outputs = [run_gate(batch, validators, now) for batch in batches]
        assert contract_breaks([c for o in outputs for c in o.counters], now) == [SCENARIO_BREAK]
        stored = {ob.source_ref for o in outputs for ob in o.observations}
        assert {"orders.created/0/5191", "orders.created/0/5190", *SCENARIO_BREAK.sample_refs} <= stored


def test_reference_scenario_boundary_records_are_evidence() -> None:
    records, validators, now = scenario()
    output = run_gate(records, validators, now)
    by_ref = {o.source_ref: o for o in output.observations}
    first_bad = by_ref["orders.created/0/5191"]
    assert first_bad.evidence_id == evidence_id_for("kafka://orders.created", "orders.created/0/5191")
    assert (first_bad.type, first_bad.source, first_bad.reason_code, first_bad.field) == (
        GATE_OBSERVATION, "kafka://orders.created", ReasonCode.REQUIRED_FIELD_MISSING, "customer_id")
    assert (first_bad.dataset_urn, first_bad.producer_urn, first_bad.schema_id, first_bad.sequence) == (
        "ds://orders_v1", "svc://checkout-service", "42", 5191)
    assert first_bad.event_time == datetime(2026, 3, 10, 10, 21, 4, tzinfo=UTC)
    assert first_bad.ingest_time == now
    assert first_bad.traceparent == "00-cc858ee3b8c730cdce31175200b09f63-5ba4688147fd7d46-01"
    assert first_bad.payload == {
        "topic": "orders.created", "partition": 0, "offset": 5191, "timestamp": "2026-03-10T10:21:04Z",
        "key": "o-100191", "schema_id": "42",
        "headers": {"autopilot-producer": "svc://checkout-service", "autopilot-env": "prod",
                    "traceparent": "00-cc858ee3b8c730cdce31175200b09f63-5ba4688147fd7d46-01"},
        "value": {"order_id": "o-100191", "amount": 273.13, "currency": "EUR"},
        "violations": [{"reason_code": ReasonCode.REQUIRED_FIELD_MISSING, "field": "customer_id",
                        "detail": "required field customer_id is missing"}],
    }
    last_good = by_ref["orders.created/0/5190"]
    assert (last_good.reason_code, last_good.field, last_good.payload["violations"]) == (None, None, [])


# --- what run_gate stores -----------------------------------------------------------------------

def test_a_record_with_several_violations_is_one_observation_counted_for_each() -> None:
    value = {"order_id": 7, "amount": 1.0, "currency": "JPY"}
    output = run_gate([rec(1, 0.5, value)], VALIDATORS, INGEST)
    [observation] = output.observations
    assert (observation.reason_code, observation.field) == (ReasonCode.TYPE_MISMATCH, "order_id")
    assert [v["reason_code"] for v in observation.payload["violations"]] == [
        ReasonCode.TYPE_MISMATCH, ReasonCode.REQUIRED_FIELD_MISSING, ReasonCode.ENUM_VIOLATION]
    assert sorted((c.reason_code, c.field, c.count) for c in output.counters) == [
        (ANY_REASON, "", 1), (ReasonCode.ENUM_VIOLATION, "currency", 1),
        (ReasonCode.REQUIRED_FIELD_MISSING, "customer_id", 1), (ReasonCode.TYPE_MISMATCH, "order_id", 1)]


def test_counters_bucket_passed_records_and_the_tally_per_second_and_reasons_per_minute() -> None:
    records = [rec(i, i * 0.25, GOOD if i % 10 else NO_CUSTOMER) for i in range(480)]  # 2 minutes, 4 a second
    output = run_gate(records, VALIDATORS, INGEST)
    good = [c for c in output.counters if c.reason_code == PASSED]
    bad = [c for c in output.counters if c.reason_code == ReasonCode.REQUIRED_FIELD_MISSING]
    tally = [c for c in output.counters if c.reason_code == ANY_REASON]
    assert len(good) == 120 and all(c.bucket == c.first_time.replace(microsecond=0) for c in good)
    assert sum(c.count for c in good) == 432
    assert [c.bucket for c in bad] == [at(0), at(60)] and [c.count for c in bad] == [24, 24]
    assert bad[0].first_ref == "orders.created/0/0" and bad[0].last_ref == "orders.created/0/230"
    assert bad[0].samples == tuple(f"orders.created/0/{i}" for i in (0, 10, 20, 30, 40))
    assert len(tally) == 48 and all(c.count == 1 and c.samples == () for c in tally)
    assert tally[1].bucket == at(2) and tally[1].first_ref == "orders.created/0/10"


def test_storage_stays_bounded_and_every_ref_a_counter_names_is_stored() -> None:
    # 20,000 records within 50 seconds, 1 in 20 bad.
    records = [rec(i, i / 400, NO_CUSTOMER if i % 20 == 0 else GOOD, partition=i % 3) for i in range(20_000)]
    output = run_gate(records, VALIDATORS, INGEST)
    assert len(output.counters) == 50 + 1 + 50  # passed seconds, one (reason, field) minute, tally seconds
    stored = {o.source_ref for o in output.observations}
    named = {ref for c in output.counters for ref in (c.first_ref, c.last_ref, *c.samples)}
    assert named <= stored
    assert len(stored) <= 2 * 50 + 2 * 50 + 2 + GateCounter.MAX_SAMPLES
    assert len(output.failures) == 1000  # yet every failed record's reasons are reported


def test_reject_enforcement_lists_refused_records() -> None:
    validators = {DS: compile_schema(ORDERS_SCHEMA, dataset_urn=DS, enforcement="reject")}
    records = [rec(1001, 1, NO_CUSTOMER), rec(999, 2, GOOD), rec(998, 3, {**GOOD, "currency": "JPY"}),
               rec(5, 4, b"\x07junk")]
    output = run_gate(records, validators, INGEST)
    assert output.rejected == ["orders.created/0/5", "orders.created/0/998", "orders.created/0/1001"]
    assert {ref: [(v.reason_code, v.field) for v in found] for ref, found in output.failures.items()} == {
        "orders.created/0/5": [(ReasonCode.UNDECODABLE_MESSAGE, "")],
        "orders.created/0/998": [(ReasonCode.ENUM_VIOLATION, "currency")],
        "orders.created/0/1001": [(ReasonCode.REQUIRED_FIELD_MISSING, "customer_id")],
    }
    flagged = run_gate(records, VALIDATORS, INGEST)
    assert flagged.rejected == [] and list(flagged.failures) == output.rejected


def test_bytes_and_strings_are_decoded_and_the_frame_schema_id_counts() -> None:
    records = [
        rec(1, 1.0, frame(43, GOOD), schema_id="42"),
        rec(2, 2.0, {"base64": base64.b64encode(frame(42, NO_CUSTOMER)).decode()}),
        rec(3, 3.0, b"\x00\x00\x00\x00\x2a\x02\x06o-1"),  # an Avro payload
        rec(4, 4.0, '{"order_id": "o-4", "customer_id": null, "amount": 1, "currency": "USD"}'),
    ]
    output = run_gate(records, VALIDATORS, INGEST)
    keys = {(c.schema_id, c.reason_code, c.field) for c in output.counters}
    assert keys == {("43", PASSED, ""), ("42", ReasonCode.REQUIRED_FIELD_MISSING, "customer_id"),
                    ("42", ANY_REASON, ""),
                    ("42", ReasonCode.UNDECODABLE_MESSAGE, ""), ("42", ReasonCode.NULL_NOT_ALLOWED, "customer_id")}
    by_ref = {o.source_ref: o for o in output.observations}
    framed = by_ref["orders.created/0/1"]
    assert (framed.schema_id, framed.payload["value"], framed.payload["declared_schema_id"]) == ("43", GOOD, "42")
    assert by_ref["orders.created/0/2"].payload["value"] == NO_CUSTOMER
    avro = by_ref["orders.created/0/3"]
    assert (avro.reason_code, avro.field) == (ReasonCode.UNDECODABLE_MESSAGE, None)
    assert "likely Avro or Protobuf" in avro.payload["violations"][0]["detail"]
    assert avro.payload["value"] == {"base64": base64.b64encode(b"\x00\x00\x00\x00\x2a\x02\x06o-1").decode()}
    assert by_ref["orders.created/0/4"].reason_code == ReasonCode.NULL_NOT_ALLOWED


def test_a_schema_id_mismatch_is_noted_on_violations() -> None:
    output = run_gate([rec(1, 1.0, frame(43, NO_CUSTOMER), schema_id="42")], VALIDATORS, INGEST)
    [observation] = output.observations
    assert observation.payload["violations"][0]["detail"] == (
        "required field customer_id is missing (frame schema id 43 differs from declared schema id 42; "
        "the frame's wins)")
    assert observation.payload["note"].startswith("frame schema id 43")


def test_records_of_datasets_without_a_contract_are_observed_not_judged() -> None:
    records = [rec(i, 1.0 + i / 10, NO_CUSTOMER, dataset="ds://other") for i in range(5)]
    records.append(rec(9, 3.0, b"\x07garbage", dataset="ds://other"))
    output = run_gate(records, VALIDATORS, INGEST)
    assert (output.counters, output.rejected, output.failures) == ([], [], {})
    # The first and last of each second are kept, marked as observed without a contract.
    assert [(o.source_ref, o.reason_code) for o in output.observations] == [
        ("orders.created/0/0", None), ("orders.created/0/4", None), ("orders.created/0/9", "UNDECODABLE_MESSAGE")]
    assert all(o.payload["no_contract"] for o in output.observations)
    assert output.observations[0].payload["value"] == NO_CUSTOMER


def test_a_record_ingest_time_wins_over_the_batch_one() -> None:
    own = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    output = run_gate([rec(1, 1.0, ingest_time=own), rec(2, 2.0)], VALIDATORS, INGEST)
    assert [o.ingest_time for o in output.observations] == [own, INGEST]


def test_timestamps_must_be_aware_and_are_stored_in_utc() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        rec(1, 0).__class__(topic="t", partition=0, offset=1, timestamp=datetime(2026, 3, 10, 10, 0), key=None,
                            schema_id=None, headers={}, value={}, dataset_urn=DS, producer_urn=None)
    from zoneinfo import ZoneInfo

    local = GateRecord(topic="orders.created", partition=0, offset=1, key=None, schema_id=None, headers={},
                       timestamp=datetime(2026, 3, 10, 6, 0, tzinfo=ZoneInfo("America/New_York")), value=GOOD,
                       dataset_urn=DS, producer_urn=None)
    [counter] = run_gate([local], VALIDATORS, INGEST).counters
    assert counter.first_time.tzinfo is UTC and counter.first_time == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert counter.bucket == datetime(2026, 3, 10, 10, 0, tzinfo=UTC) and counter.producer_urn == ""


def test_duplicates_are_counted_twice_so_the_store_dedupes_first() -> None:
    record = rec(1, 1.0, NO_CUSTOMER)
    counts = {c.reason_code: c.count for c in run_gate([record, record], VALIDATORS, INGEST).counters}
    assert counts == {ReasonCode.REQUIRED_FIELD_MISSING: 2, ANY_REASON: 2}


class _NoOffset(tzinfo):
    """A zone that names no offset: a time in it is as good as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "nowhere"


def test_a_timestamp_whose_zone_names_no_offset_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^orders\.created/0/1: timestamp 2026-03-10T00:00:00 has no UTC offset$"):
        GateRecord(topic="orders.created", partition=0, offset=1, timestamp=datetime(2026, 3, 10, tzinfo=_NoOffset()),
                   key=None, schema_id=None, headers={}, value=GOOD, dataset_urn=DS, producer_urn=None)


def test_a_seconds_passed_records_keep_their_first_and_last_whatever_the_order() -> None:
    # One second: two records tie at its first instant and two at its last; ties go by ref, as GateCounter.merge does.
    records = [rec(1, 5.1), rec(2, 5.1), rec(3, 5.4), rec(4, 5.8), rec(5, 5.8)]
    for order in itertools.permutations(records):
        [counter] = run_gate(order, VALIDATORS, INGEST).counters
        assert (counter.first_ref, counter.first_time, counter.last_ref, counter.last_time, counter.count) == (
            "orders.created/0/1", at(5.1), "orders.created/0/5", at(5.8), 5), order


def test_counters_and_observations_carry_the_records_schema_id_or_none() -> None:
    named = run_gate([rec(1, 1.0), rec(2, 2.0, NO_CUSTOMER)], VALIDATORS, INGEST)
    assert {c.schema_id for c in named.counters} == {"42"}
    assert [o.schema_id for o in named.observations] == ["42", "42"]
    unnamed = run_gate([rec(1, 1.0, schema_id=None), rec(2, 2.0, NO_CUSTOMER, schema_id=None)], VALIDATORS, INGEST)
    assert {(c.reason_code, c.schema_id) for c in unnamed.counters} == {
        (PASSED, ""), (ANY_REASON, ""), (ReasonCode.REQUIRED_FIELD_MISSING, "")}
    assert [o.schema_id for o in unnamed.observations] == [None, None]


def test_an_undecodable_values_finding_carries_the_frames_note_only_when_there_is_one() -> None:
    avro = b"\x00\x00\x00\x00\x2b\x02\x06o-1"  # framed with schema id 43; a binary payload
    output = run_gate([rec(1, 1.0, avro, schema_id="42"), rec(2, 2.0, avro, schema_id="43")], VALIDATORS, INGEST)
    [noted], [plain] = output.failures["orders.created/0/1"], output.failures["orders.created/0/2"]
    assert noted.reason_code == plain.reason_code == ReasonCode.UNDECODABLE_MESSAGE
    assert plain.detail.startswith("payload after the header is binary (first byte 0x02)") and ";" not in plain.detail
    assert noted.detail == f"{plain.detail}; frame schema id 43 differs from declared schema id 42; the frame's wins"


def test_a_contract_without_a_top_level_type_judges_every_object() -> None:
    typeless = {DS: compile_schema({"properties": {"amount": {"type": "number"}}, "required": ["amount"]},
                                   dataset_urn=DS)}
    output = run_gate([rec(1, 1.0, {"amount": "twelve"}), rec(2, 2.0, {"amount": 12}), rec(3, 3.0, {})], typeless,
                      INGEST)
    assert {ref: [(v.reason_code, v.field) for v in found] for ref, found in output.failures.items()} == {
        "orders.created/0/1": [(ReasonCode.TYPE_MISMATCH, "amount")],
        "orders.created/0/3": [(ReasonCode.REQUIRED_FIELD_MISSING, "amount")]}


# --- boundaries and rates from counters ----------------------------------------------------------

def test_a_field_that_recovers_keeps_its_break_and_says_when_it_was_last_bad() -> None:
    records = [rec(i, i * 10, NO_CUSTOMER if 30 <= i < 40 else GOOD) for i in range(100)]
    [found] = contract_breaks(run_gate(records, VALIDATORS, INGEST).counters, at(2000))
    assert (found.first_bad_ref, found.last_good_ref, found.last_bad_ref) == (
        "orders.created/0/30", "orders.created/0/29", "orders.created/0/39")
    assert (found.first_bad_time, found.last_good_time, found.last_bad_time) == (at(300), at(290), at(390))
    assert (found.bad_count, found.total_after, found.total_before) == (10, 70, 30)


def test_last_good_in_the_first_bad_second_is_exact_to_the_second() -> None:
    # Good records on both sides of the first bad one within 10:00:05: the counter cannot say which
    # good record came last before it, so the answer is a stored good record of that same second.
    records = [rec(1, 4.5), rec(2, 5.1), rec(3, 5.3), rec(4, 5.5, NO_CUSTOMER), rec(5, 5.7), rec(6, 7)]
    [found] = contract_breaks(run_gate(records, VALIDATORS, INGEST).counters, at(60))
    assert (found.first_bad_time, found.first_bad_ref) == (at(5.5), "orders.created/0/4")
    assert (found.last_good_time, found.last_good_ref) == (at(5.1), "orders.created/0/2")
    # Without a good record after it in that second, the answer is exact.
    [exact] = contract_breaks(run_gate(records[:4], VALIDATORS, INGEST).counters, at(60))
    assert (exact.last_good_time, exact.last_good_ref) == (at(5.3), "orders.created/0/3")


def test_ties_on_time_are_ordered_by_ref_like_gate_counter_merge() -> None:
    records = [rec(10, 5, NO_CUSTOMER), rec(9, 5, NO_CUSTOMER), rec(8, 5), rec(11, 5)]
    [found] = contract_breaks(run_gate(records, VALIDATORS, INGEST).counters, at(60))
    # String order, as GateCounter.merge compares refs: ".../10" < ".../8" < ".../9"
    assert (found.first_bad_ref, found.last_good_ref) == ("orders.created/0/10", None)
    assert found.last_bad_ref == "orders.created/0/9"


def test_rates_count_every_record_once_whatever_its_violations() -> None:
    both = {"order_id": "o", "amount": 1.0, "currency": "JPY"}  # missing customer_id and a bad currency
    records = [rec(i, i, {**GOOD, "currency": "JPY"} if i % 4 == 0 else GOOD) for i in range(40)]  # baseline
    records += [rec(i, i, both if i % 2 else GOOD) for i in range(40, 80)]
    breaks = {(b.reason_code, b.field): b for b in contract_breaks(run_gate(records, VALIDATORS, INGEST).counters,
                                                                   at(100))}
    missing = breaks[(ReasonCode.REQUIRED_FIELD_MISSING, "customer_id")]
    assert (missing.first_bad_ref, missing.last_good_ref) == ("orders.created/0/41", "orders.created/0/40")
    assert (missing.bad_count, missing.total_after, missing.bad_rate_after) == (20, 39, 20 / 39)
    assert (missing.total_before, missing.bad_rate_before) == (41, 0.0)
    enum = breaks[(ReasonCode.ENUM_VIOLATION, "currency")]
    assert (enum.first_bad_ref, enum.bad_count, enum.total_after, enum.total_before) == (
        "orders.created/0/0", 30, 80, 0)


def test_the_baseline_window_bounds_the_before_rate() -> None:
    records = [rec(i, i * 60) for i in range(120)] + [rec(200, 120 * 60, NO_CUSTOMER)]
    [found] = contract_breaks(run_gate(records, VALIDATORS, INGEST).counters, at(3 * 3600))
    assert (found.total_before, found.total_after) == (60, 1)
    [wider] = contract_breaks(run_gate(records, VALIDATORS, INGEST).counters, at(3 * 3600),
                              baseline_window=timedelta(hours=3))
    assert wider.total_before == 120


def test_counters_after_now_are_ignored() -> None:
    records = [rec(1, 10), rec(2, 100, NO_CUSTOMER), rec(3, 200), rec(4, 300, NO_CUSTOMER)]
    counters = run_gate(records, VALIDATORS, INGEST).counters
    assert contract_breaks(counters, at(50)) == []
    [found] = contract_breaks(counters, at(150))
    assert (found.bad_count, found.total_after, found.last_bad_ref) == (1, 1, "orders.created/0/2")
    assert contract_breaks(counters, at(400))[0].bad_count == 2


def test_breaks_are_per_dataset_and_sorted() -> None:
    validators = {**VALIDATORS, "ds://b": compile_schema(ORDERS_SCHEMA)}
    records = [rec(1, 5, NO_CUSTOMER, dataset="ds://b"), rec(2, 1, {**GOOD, "amount": "1"}),
               rec(3, 3, NO_CUSTOMER, producer=None)]
    breaks = contract_breaks(run_gate(records, validators, INGEST).counters, at(60))
    assert [(b.dataset_urn, b.reason_code, b.producer_urn) for b in breaks] == [
        ("ds://b", ReasonCode.REQUIRED_FIELD_MISSING, PRODUCER), (DS, ReasonCode.TYPE_MISMATCH, PRODUCER),
        (DS, ReasonCode.REQUIRED_FIELD_MISSING, None)]


# --- properties: any batching, any order -----------------------------------------------------------

VALUES: list[Any] = [
    GOOD, GOOD, GOOD, NO_CUSTOMER, {**GOOD, "currency": "JPY"}, {"order_id": "o", "amount": 1.0, "currency": "JPY"},
    {**GOOD, "customer_id": None}, frame(42, GOOD), frame(43, NO_CUSTOMER), b"\x00\x00", '{"order_id": 1}',
    {"base64": base64.b64encode(frame(42, GOOD)).decode()},
]
PROPERTY_VALIDATORS = {DS: VALIDATORS[DS], "ds://b": compile_schema(ORDERS_SCHEMA, enforcement="reject")}
record_specs = st.lists(
    st.tuples(
        st.integers(0, 2),  # partition
        st.one_of(st.integers(0, 180_000), st.sampled_from([59_999, 60_000, 60_400, 61_000])),  # ms: forced ties
        st.integers(0, len(VALUES) - 1),
        st.sampled_from([DS, DS, "ds://b"]),
        st.sampled_from([PRODUCER, OTHER_PRODUCER, None]),
    ),
    min_size=1, max_size=60,
)


def build(specs: Sequence[tuple[int, int, int, str, str | None]]) -> list[GateRecord]:
    # Offsets cross a digit boundary so string and numeric ref orders differ; refs stay unique (deduplicated).
    return [rec(995 + i, ms / 1000, VALUES[kind], partition=p, dataset=ds, producer=producer)
            for i, (p, ms, kind, ds, producer) in enumerate(specs)]


@settings(max_examples=examples(120), deadline=None)
@given(specs=record_specs, data=st.data())
def test_any_batching_and_order_gives_the_same_counters_and_breaks(
        specs: list[tuple[int, int, int, str, str | None]], data: st.DataObject) -> None:
    records = build(specs)
    whole = run_gate(records, PROPERTY_VALIDATORS, INGEST)
    order = data.draw(st.permutations(records))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(records) - 1)), max_size=len(records))))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True) if order[a:b]]
    outputs = [run_gate(batch, PROPERTY_VALIDATORS, INGEST) for batch in batches]

    assert merged(outputs) == merged([whole])
    now = at(200)
    assert contract_breaks([c for o in outputs for c in o.counters], now) == contract_breaks(whole.counters, now)
    assert sorted(r for o in outputs for r in o.rejected) == sorted(whole.rejected)
    assert {ref: found for o in outputs for ref, found in o.failures.items()} == whole.failures
    # Every ref a merged counter names (first, last, samples: the boundaries included) was stored by some batch.
    stored = {ob.source_ref for o in outputs for ob in o.observations}
    assert {ref for c in merged(outputs).values() for ref in (c.first_ref, c.last_ref, *c.samples)} <= stored
    # Counters of one record each merge into the batch's counters: the gate aggregates as merge does.
    assert merged(run_gate([r], PROPERTY_VALIDATORS, INGEST) for r in reversed(records)) == merged([whole])


@settings(max_examples=examples(120), deadline=None)
@given(specs=record_specs)
def test_breaks_match_a_brute_force_reading_of_the_records(specs: list[tuple[int, int, int, str, str | None]]) -> None:
    records = build(specs)
    now = at(200)
    breaks = contract_breaks(run_gate(records, PROPERTY_VALIDATORS, INGEST).counters, now)
    outcomes = []
    for r in records:
        single = run_gate([r], PROPERTY_VALIDATORS, INGEST).observations[0]
        outcomes.append((r, {(v["reason_code"], v["field"] or None) for v in single.payload["violations"]}))

    def order(r: GateRecord) -> tuple[datetime, str]:
        return (r.timestamp, r.ref)

    expected_keys = {(r.dataset_urn, reason, fld) for r, found in outcomes for reason, fld in found}
    assert {(b.dataset_urn, b.reason_code, b.field) for b in breaks} == expected_keys
    for b in breaks:
        bad = [r for r, found in outcomes if r.dataset_urn == b.dataset_urn and (b.reason_code, b.field) in found]
        first, last = min(bad, key=order), max(bad, key=order)
        assert (b.first_bad_time, b.first_bad_ref, b.last_bad_time, b.last_bad_ref, b.bad_count) == (
            first.timestamp, first.ref, last.timestamp, last.ref, len(bad))
        dataset = [r for r, _ in outcomes if r.dataset_urn == b.dataset_urn]
        # Rates: every record counted once, on the right side of the boundary to the second.
        boundary_second = first.timestamp.replace(microsecond=0)
        at_or_after = [r for r in dataset if order(r) >= order(first)]
        assert len(at_or_after) <= b.total_after <= len([r for r in dataset if r.timestamp >= boundary_second])
        if not any(boundary_second <= r.timestamp and order(r) < order(first) for r in dataset):
            assert b.total_after == len(at_or_after)
        assert b.total_before + b.total_after == len(dataset)  # all within the hour before, none after now
        assert (b.bad_rate_before, b.bad_rate_after) == (0.0, len(bad) / b.total_after)
        # Each producer whose records carry the break, at its own first bad record, the first to break first.
        by_producer: dict[str | None, list[GateRecord]] = {}
        for r in bad:
            by_producer.setdefault(r.producer_urn, []).append(r)
        expected_producers = sorted(
            ((min(rs, key=order).timestamp, min(rs, key=order).ref, p, len(rs)) for p, rs in by_producer.items()),
            key=lambda e: (e[0], e[1]))
        assert [(p.first_bad_time, p.first_bad_ref, p.producer_urn, p.bad_count) for p in b.producers] == \
            expected_producers
        assert b.producer_urn == first.producer_urn == b.producers[0].producer_urn
        # Last good: the latest passed record strictly earlier than the first bad one (not one at the same instant).
        passed = [r for r, found in outcomes if r.dataset_urn == b.dataset_urn and not found]
        good_before = [r for r in passed if r.timestamp < first.timestamp]
        if not good_before:
            assert (b.last_good_time, b.last_good_ref) == (None, None)
            continue
        truth = max(good_before, key=order)
        assert b.last_good_time is not None
        assert b.last_good_time.replace(microsecond=0) == truth.timestamp.replace(microsecond=0)
        straddled = any(r.timestamp >= first.timestamp and r.timestamp.replace(microsecond=0)
                        == truth.timestamp.replace(microsecond=0) for r in passed)
        if not straddled:
            assert (b.last_good_time, b.last_good_ref) == (truth.timestamp, truth.ref)


def test_framed_and_wrapped_records_are_rejected_only_under_a_reject_contract() -> None:
    records = [rec(1, 1.0, frame(42, NO_CUSTOMER)),
               rec(2, 2.0, {"base64": base64.b64encode(frame(42, NO_CUSTOMER)).decode()}),
               rec(3, 3.0, frame(42, GOOD))]
    flagged = run_gate(records, VALIDATORS, INGEST)
    assert flagged.rejected == [] and sorted(flagged.failures) == ["orders.created/0/1", "orders.created/0/2"]
    refusing = {DS: compile_schema(ORDERS_SCHEMA, dataset_urn=DS, enforcement="reject")}
    assert run_gate(records, refusing, INGEST).rejected == ["orders.created/0/1", "orders.created/0/2"]


def test_a_base64_value_is_decoded_before_it_is_judged_even_when_the_wrapper_would_pass() -> None:
    # A contract every object passes, so the wrapper {"base64": ...} itself would pass it undecoded.
    permissive = {DS: compile_schema({"type": "object", "properties": {"amount": {"type": "number"}}},
                                     dataset_urn=DS)}
    inner = frame(42, {"order_id": "o-9", "amount": "twelve"})
    output = run_gate([rec(1, 1.0, {"base64": base64.b64encode(inner).decode()})], permissive, INGEST)
    assert {ref: [(v.reason_code, v.field) for v in found] for ref, found in output.failures.items()} == {
        "orders.created/0/1": [(ReasonCode.TYPE_MISMATCH, "amount")]}


def test_a_good_record_that_arrived_base64_wrapped_is_stored_decoded() -> None:
    # What a passed observation shows is the record that was judged, not its transport wrapper.
    output = run_gate([rec(1, 1.0, {"base64": base64.b64encode(frame(42, GOOD)).decode()})], VALIDATORS, INGEST)
    assert output.failures == {}
    [observation] = output.observations
    assert (observation.schema_id, observation.payload["value"]) == ("42", GOOD)


def test_a_break_at_the_clock_exists_and_its_samples_are_the_first_in_offset_order() -> None:
    # Offsets 7..13 cross a digit boundary: offset order, not string order, picks the samples (7, 8, 9, 10, 11).
    bad = [rec(offset, 1.0 + offset / 100, NO_CUSTOMER) for offset in range(7, 14)]
    output = run_gate(bad, VALIDATORS, INGEST)
    now = at(1.07)  # the first bad record is stamped at the clock itself: it has happened
    [brk] = [b for b in contract_breaks(output.counters, now) if b.reason_code == ReasonCode.REQUIRED_FIELD_MISSING]
    assert brk.first_bad_ref == "orders.created/0/7"
    assert brk.sample_refs == [f"orders.created/0/{n}" for n in range(7, 12)]
