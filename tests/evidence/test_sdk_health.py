"""SdkHealth events: validated like every envelope type (a bad field named), and summed per producer from the latest
event of each instance, the same whatever the order or duplication of arrival."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from evidence import InvalidEvent, parse_event, sdk_health, summarize_sdk_health
from evidence._ingest import ingest_events, to_record
from evidence._store import Store

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def health(producer: str, instance: str, minutes_ago: int, delivered: int, dropped: dict[str, int],
           circuit: str = "closed", depth: int = 0) -> dict[str, object]:
    return {"specversion": "1.0", "id": f"h-{instance}-{minutes_ago}", "source": producer, "type": "SdkHealth",
            "time": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
            "data": {"language": "python", "sdk_version": "0.1.0", "instance": instance, "delivered": delivered,
                     "dropped": dropped, "queue_depth": depth, "queue_capacity": 2048, "circuit": circuit,
                     "env": "staging"}}


@pytest.mark.parametrize(("field", "value", "named"), [
    ("circuit", "ajar", "data.circuit"), ("delivered", -1, "data.delivered"),
    ("dropped", {"queue_full": "many"}, "data.dropped.queue_full"), ("language", None, "data.language"),
])
def test_a_bad_sdk_health_field_is_named(field: str, value: object, named: str) -> None:
    event = health("svc://a", "i1", 1, 10, {})
    event["data"][field] = value  # type: ignore[index]
    with pytest.raises(InvalidEvent) as bad:
        parse_event(event)
    assert bad.value.field == named


def test_latest_event_per_instance_summed_per_producer_in_any_order() -> None:
    events = [health("svc://a", "i1", 50, 100, {"queue_full": 1}),
              health("svc://a", "i1", 10, 400, {"queue_full": 4, "timeout": 1}, depth=7),  # i1's latest
              health("svc://a", "i2", 20, 600, {"rejected": 5}, circuit="open", depth=3),
              health("svc://b", "j1", 5, 0, {})]
    records = [to_record(e, NOW) for e in events]
    expected = summarize_sdk_health(records)
    for seed in range(5):
        shuffled = records * 2
        random.Random(seed).shuffle(shuffled)
        assert summarize_sdk_health(shuffled) == expected
    a, b = expected
    assert (a.producer_urn, a.instances, a.delivered, a.dropped, a.queue_depth, a.circuit) == (
        "svc://a", 2, 1000, {"queue_full": 4, "timeout": 1, "rejected": 5}, 10, "open")
    assert a.drop_rate == 10 / 1010 and a.model_dump(mode="json")["dropped_total"] == 10
    assert (b.drop_rate, b.model_dump(mode="json")["drop_rate"], b.env) == (None, None, "staging")


def test_only_events_in_the_window_count(store: Store) -> None:
    events = [health("svc://a", "old", 60 * 30, 10, {"timeout": 10}), health("svc://a", "new", 30, 100, {})]
    assert ingest_events(store, events, NOW).accepted == 2
    [summary] = sdk_health(store, NOW, timedelta(hours=24))
    assert (summary.instances, summary.delivered, summary.drop_rate) == (1, 100, 0.0)
    assert sdk_health(store, NOW, timedelta(hours=24), ["svc://other"]) == []
