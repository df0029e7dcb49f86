"""GET /v1/readiness's pages in keyset order: walked page by page at any size, they are exactly the all-at-once
answer, on SQLite and PostgreSQL (whose default collation orders URNs differently from Python), and a page follows
a configuration change made between two pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evidence import Contract, FreshnessPolicy, Mapping, parse_event, record_from_event
from evidence._configs import CONTRACT, MAPPING, POLICY, Configs
from evidence._schema import configs
from evidence._store import Store
from rca._control_routes import readiness, readiness_page

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# Case, punctuation and digits that a locale collation orders otherwise than code points.
NAMES = ["a-b", "a_b", "A", "a", "aB", "a.b", "Z9", "z", "a~", "a/b", "10", "9"]


def _record(kind: str, n: int, source: str, at: datetime, arrived: datetime, **data: Any) -> Any:
    event = parse_event({"specversion": "1.0", "id": f"{kind}-{n}", "source": source, "type": kind,
                         "time": at.isoformat(), "data": data})
    return record_from_event(event, arrived)


def _seed(store: Store) -> None:
    records = []
    for n, name in enumerate(NAMES):
        at = NOW - timedelta(hours=n + 1)
        # Seen only in records: a run's commit by its job, and a deploy of that job.
        records.append(_record("DatasetWriteCommitted", n, f"job://w-{name}", at, at, dataset_urn=f"ds://seen/{name}",
                               rows_written=10))
        if n % 2:
            records.append(_record("DeploymentEvent", n, f"job://w-{name}", at, at, service=f"w{n}", version="v1"))
    old, late = NOW - timedelta(days=40), NOW - timedelta(hours=1)
    records.append(_record("DatasetWriteCommitted", 100, "job://too-old", old, old, dataset_urn="ds://too-old",
                           rows_written=1))
    records.append(_record("DatasetWriteCommitted", 101, "job://not-yet", late, NOW + timedelta(minutes=1),
                           dataset_urn="ds://not-yet", rows_written=1))
    store.add_records(records)
    config = Configs(store)
    for n, name in enumerate(NAMES):
        config.put(POLICY, FreshnessPolicy(dataset_urn=f"ds://policy/{name}", expected_update_by="02:00",
                                           producer_urn=f"job://p-{name}", tier=1 if n % 3 else None), NOW)
        if n % 2:  # a dataset both seen and configured
            config.put(CONTRACT, Contract.model_validate({"dataset_urn": f"ds://seen/{name}", "schema": {}}), NOW)
        config.put(MAPPING, Mapping(topic=f"t.{n}", dataset_urn=f"ds://mapped/{name}",
                                    producer_urn=f"svc://m-{name}"), NOW)
    with store.writing() as conn:  # a stored policy that no longer validates: skipped, on every page too
        conn.execute(configs.insert().values(kind="policy", key="ds://broken", spec='{"dataset_urn": "ds://broken"}',
                                             created_at=NOW, updated_at=NOW))


def _walk(store: Store, limit: int) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page, cursor = readiness_page(store, NOW, limit=limit, cursor=cursor)
        assert len(page) <= limit
        items += [r.as_json() for r in page]
        if cursor is None:
            return items


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 12, 13, 500])
def test_the_walk_is_the_all_at_once_answer(store: Store, limit: int) -> None:
    _seed(store)
    everything = [r.as_json() for r in readiness(store, NOW)]
    subjects = [(r["kind"], r["subject"]) for r in everything]
    assert subjects == sorted(subjects) and len(subjects) == len(set(subjects))
    assert ("dataset", "ds://too-old") not in subjects and ("dataset", "ds://not-yet") not in subjects
    assert ("dataset", "ds://broken") not in subjects
    assert {("dataset", f"ds://{where}/a-b") for where in ("seen", "policy", "mapped")} <= set(subjects)
    assert {("producer", "job://w-a_b"), ("producer", "svc://m-a_b")} <= set(subjects)
    assert _walk(store, limit) == everything


def test_a_page_after_a_configuration_change_reads_the_new_configuration(store: Store) -> None:
    _seed(store)
    first, cursor = readiness_page(store, NOW, limit=2)
    assert [r.subject for r in first] == ["ds://mapped/10", "ds://mapped/9"]
    Configs(store).put(POLICY, FreshnessPolicy(dataset_urn="ds://mapped/A", expected_update_by="03:00",
                                               owner_team="orders", tier=2, runbook_url="https://runbooks/a"), NOW)
    [dataset], _ = readiness_page(store, NOW, limit=1, cursor=cursor)
    assert dataset.subject == "ds://mapped/A"
    assert dataset.as_json() == readiness(store, NOW, dataset_urn="ds://mapped/A")[0].as_json()
    assert [c.value for c in dataset.criteria if c.name == "policy_completeness"] == [1.0]
