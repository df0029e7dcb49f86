"""Kafka records through offsets, resolution and the gate, on SQLite and PostgreSQL."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from detectors import ChangeRequestError, approve, intake_records, list_change_requests, reject
from evidence import Contract, Mapping
from evidence._configs import CONTRACT, MAPPING, Configs
from evidence._store import EvidenceQuery

T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
SCHEMA = {"type": "object", "required": ["order_id", "customer_id"],
          "properties": {"order_id": {"type": "string"}, "customer_id": {"type": "string"},
                         "currency": {"type": "string", "enum": ["USD", "EUR"]}}}


def message(offset: int, schema_id: int = 42, **value) -> dict:
    body = {"order_id": f"o-{offset}", "customer_id": f"c-{offset}", "currency": "USD", **value}
    return {"topic": "orders.created", "partition": 0, "offset": offset, "key": f"o-{offset}",
            "timestamp": (T0 + timedelta(seconds=offset)).isoformat(), "schema_id": schema_id,
            "headers": {"autopilot-producer": "svc://checkout-service"},
            "value": {k: v for k, v in body.items() if v is not None}}


@pytest.fixture
def configured(store):
    configs = Configs(store)
    configs.put(CONTRACT, Contract(dataset_urn="ds://orders_v1", schema=SCHEMA), T0)
    configs.put(MAPPING, Mapping(topic="orders.created", schema_id=42, dataset_urn="ds://orders_v1",
                                 producer_urn="svc://checkout-service"), T0)
    return store


def test_records_are_gated_and_redelivery_is_recognised_by_offset(configured) -> None:
    batch = [message(i) for i in range(10)] + [message(10, customer_id=None), message(11, currency="JPY")]
    report = intake_records(configured, batch, T0 + timedelta(minutes=1))
    assert report.as_json()["accepted"] == 12
    results = {r.ref: r for r in report.results}
    assert (results["orders.created/0/10"].reason_code, results["orders.created/0/10"].field) == (
        "REQUIRED_FIELD_MISSING", "customer_id")
    assert results["orders.created/0/11"].reason_code == "ENUM_VIOLATION"
    shuffled = batch[:]
    random.Random(3).shuffle(shuffled)
    again = intake_records(configured, [*shuffled, message(12)], T0 + timedelta(minutes=2))
    assert (again.count("duplicate"), again.count("accepted")) == (12, 1)
    counted = sum(c.count for c in configured.counters(["ds://orders_v1"]) if c.reason_code == "")
    assert counted == 11  # ten good first, one more good later; nothing counted twice


def test_a_malformed_record_is_rejected_alone_naming_its_field(configured) -> None:
    bad = {**message(1), "timestamp": "2026-03-10T10:00:01"}
    report = intake_records(configured, [message(0), bad, {"topic": "orders.created", "offset": -1}], T0)
    assert [r.status for r in report.results] == ["accepted", "rejected", "rejected"]
    assert report.results[1].field == "timestamp" and "orders.created/0/1" in report.results[1].error
    assert report.results[2].field == "offset"


def test_enforcement_reject_reports_blocked_records(configured) -> None:
    Configs(configured).put(CONTRACT, Contract(dataset_urn="ds://orders_v1", enforcement="reject", schema=SCHEMA), T0)
    report = intake_records(configured, [message(0), message(1, customer_id=None)], T0)
    assert [r.blocked for r in report.results] == [False, True]


def test_a_new_schema_is_held_with_a_change_request_until_approved(configured) -> None:
    drifted = [message(100 + i, schema_id=43) for i in range(5)]
    report = intake_records(configured, drifted, T0)
    assert {r.status for r in report.results} == {"held"}
    [request] = list_change_requests(configured)
    assert (request["topic"], request["schema_id"], request["reason_code"], request["held"]) == (
        "orders.created", "43", "UNMAPPED_SCHEMA", 5)
    assert request["proposal"]["dataset_urn"] == "ds://orders_v1"
    # nothing was attributed to the dataset: no gate counters, only the drift evidence with no dataset
    assert configured.counters(["ds://orders_v1"]) == []
    held = configured.page(EvidenceQuery(types=("GateObservation",))).records
    assert [(r.source_ref, r.dataset_urn, r.reason_code) for r in held] == [
        ("orders.created/0/100", None, "UNMAPPED_SCHEMA")]
    # the same records again stay held once, not counted twice
    assert intake_records(configured, drifted, T0).count("held") == 5
    assert list_change_requests(configured)[0]["held"] == 5

    decided, replayed = approve(configured, request["id"], T0 + timedelta(hours=1), "platform", note="v43 is orders")
    assert decided["status"] == "approved" and decided["decided_by"] == "platform"
    assert replayed.count("accepted") == 5
    assert sum(c.count for c in configured.counters(["ds://orders_v1"]) if c.reason_code == "") == 5
    with pytest.raises(ChangeRequestError, match="already approved"):
        reject(configured, request["id"], T0, "platform")


def test_a_rejected_change_request_keeps_its_records_unattributed(configured) -> None:
    intake_records(configured, [message(200, schema_id=44)], T0)
    [request] = list_change_requests(configured, "open")
    assert reject(configured, request["id"], T0, "platform", note="test traffic")["status"] == "rejected"
    assert intake_records(configured, [message(201, schema_id=44)], T0).count("held") == 1
    assert configured.counters(["ds://orders_v1"]) == []
