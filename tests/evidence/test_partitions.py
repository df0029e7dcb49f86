"""PostgreSQL evidence partitioned by month: the migration of an existing database, retention, and the plans of
the detector's and the RCA's reads (EXPLAIN), on a real PostgreSQL. Retention on SQLite deletes rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from evidence._ingest import ingest_events
from evidence._migrate import upgrade
from evidence._partitions import EVIDENCE_LOCK, existing_partitions
from evidence._record import evidence_id_for
from evidence._row_writes import STORED_IDS, WRITERS_TURN, _row
from evidence._schema import evidence
from evidence._store import Store
from support import deployment

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
postgres = pytest.mark.postgres


def commits(n: int, start: datetime, datasets: int = 50, step: timedelta = timedelta(minutes=10)) -> list[dict]:
    return [{"specversion": "1.0", "id": f"c-{start:%m}-{i}", "source": f"job://job-{i % datasets}",
             "type": "DatasetWriteCommitted", "time": (start + i * step).isoformat(),
             "data": {"dataset_urn": f"ds://curated/t{i % datasets}", "run_id": f"r{i}", "commit_version": i,
                      "rows_written": 10}} for i in range(n)]


@postgres
def test_an_existing_database_is_migrated_into_month_partitions_with_every_record(pg_store: Store) -> None:
    upgrade(pg_store.engine, "0006")  # the schema before partitioning, holding records of three months
    from evidence._ingest import to_record

    old = [to_record(e, T0 + timedelta(days=70)) for e in commits(300, T0, step=timedelta(hours=6))]
    with pg_store.engine.begin() as conn:
        conn.execute(evidence.insert(), [_row(r) for r in old])
    pg_store.upgrade()
    with pg_store.engine.connect() as conn:
        assert existing_partitions(conn) == {(2026, 1), (2026, 2), (2026, 3)}
        kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'evidence'")).scalar_one()
    assert kind == "p"
    assert pg_store.get_many(r.evidence_id for r in old) == {r.evidence_id: r for r in old}
    # Sent again: duplicates, whatever month; a new id in a month with no partition yet makes one.
    sent = [*commits(300, T0, step=timedelta(hours=6))[:5], deployment("new", time="2026-07-01T00:00:00Z")]
    again = ingest_events(pg_store, sent, T0 + timedelta(days=200))
    assert [r.status for r in again.results] == ["duplicate"] * 5 + ["accepted"]
    with pg_store.engine.connect() as conn:
        assert (2026, 7) in existing_partitions(conn)


@postgres
def test_an_id_sent_again_under_another_time_is_a_conflict_not_a_second_record(pg_store: Store) -> None:
    pg_store.upgrade()
    first = ingest_events(pg_store, [deployment("d-1", time="2026-03-10T10:00:00Z")], T0)
    again = ingest_events(pg_store, [deployment("d-1", time="2026-05-10T10:00:00Z")], T0)
    assert [first.results[0].status, again.results[0].status] == ["accepted", "conflict"]
    assert pg_store.count() == 1


def test_ingestion_looks_ids_up_by_probing_the_primary_key_not_by_reading_the_month(pg_store: Store) -> None:
    # With seq scans off alone, PostgreSQL looked a batch's ids up with a bitmap scan of the whole (event_time,
    # evidence_id) index and every heap page of the month: a lookup that grew with the month. The writers' turn
    # turns bitmap scans off too, so the ids are probes of the primary key whatever the table's size and statistics.
    pg_store.upgrade()
    for month in range(3):
        ingest_events(pg_store, commits(20_000, T0 + timedelta(days=31 * month), step=timedelta(seconds=1)),
                      T0 + timedelta(days=100))
    ids = ",".join(evidence_id_for(f"job://job-{i % 50}", f"new-{i}") for i in range(1000))
    with pg_store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE evidence")
        conn.exec_driver_sql(WRITERS_TURN, (EVIDENCE_LOCK,))
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {STORED_IDS}", (ids,)))
    assert plan.count("Index Only Scan using evidence_y2026m0") == 3, plan
    assert "Bitmap" not in plan and "Seq Scan" not in plan, plan


def test_prune_removes_what_is_older_than_the_cut_off(store: Store) -> None:
    ingest_events(store, commits(300, T0, step=timedelta(hours=6)), T0 + timedelta(days=80))
    assert store.count() == 300
    cut = datetime(2026, 2, 15, tzinfo=UTC)
    gone = store.prune(cut)
    left = store.records()
    if store.dialect == "postgresql":
        # Whole months only: January ended before the cut-off, February did not.
        assert gone == {"dropped_partitions": ["evidence_y2026m01"]}
        assert min(r.event_time for r in left) == datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
    else:
        assert gone == {"deleted_records": 300 - len(left)}
        assert min(r.event_time for r in left) >= cut
    assert all(r.event_time >= datetime(2026, 2, 1, tzinfo=UTC) for r in left)
    ingest_events(store, commits(5, T0), T0 + timedelta(days=80))  # January again: its partition comes back
    assert store.count() == len(left) + 5


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """The SQL (and parameters) a block sends, as sent, to EXPLAIN afterwards."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)


def plans(store: Store, call: Callable[[], object]) -> list[str]:
    with statements(store) as seen:
        call()
    out = []
    with store.engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters in seen:
            cursor.execute("EXPLAIN " + statement, parameters)
            out.append("\n".join(row[0] for row in cursor.fetchall()))
    return out


@postgres
def test_the_detector_and_rca_reads_use_their_indexes_and_only_their_months(pg_store: Store) -> None:
    pg_store.upgrade()
    # Four months of commits over 400 datasets, and deploys of 100 services: enough rows for the planner to care.
    items = commits(20_000, T0, datasets=400, step=timedelta(minutes=9))
    items += [deployment(f"d-{i}", f"svc://svc-{i % 100}", (T0 + timedelta(hours=i)).isoformat(), version=f"v{i}")
              for i in range(2000)]
    for start in range(0, len(items), 2000):
        ingest_events(pg_store, items[start : start + 2000], T0 + timedelta(days=150))
    with pg_store.engine.begin() as conn:
        conn.execute(text("ANALYZE evidence"))
    now = datetime(2026, 3, 20, tzinfo=UTC)
    since = now - timedelta(days=7)

    # The detector's read of a few datasets' window (detectors/_detect.py): the dataset index, March alone.
    [detector] = plans(pg_store, lambda: pg_store.records(dataset_urns=["ds://curated/t7", "ds://curated/t9"],
                                                          types=["DatasetWriteCommitted"], since=since, until=now))
    assert "dataset_urn_event_time" in detector, detector
    assert "evidence_y2026m03" in detector
    assert not any(f"evidence_y2026m0{m}" in detector for m in (1, 2, 4)), detector
    # A producer's deploys (deploy correlation, the RCA's last deploy): the producer/type index.
    [deploys] = plans(pg_store, lambda: pg_store.records(producer_urns=["svc://svc-3"], types=["DeploymentEvent"],
                                                         since=since, until=now))
    assert "producer_urn_type_event_time" in deploys, deploys
    [latest] = plans(pg_store, lambda: pg_store.latest("svc://svc-3", "DeploymentEvent", now))
    assert "producer_urn_type_event_time" in latest, latest
    # The RCA's evidence by id: the primary key of each month.
    ids = [r.evidence_id for r in pg_store.records(dataset_urns=["ds://curated/t7"], since=since, until=now)][:20]
    [by_id] = plans(pg_store, lambda: pg_store.get_many(ids))
    assert "pkey" in by_id and "Seq Scan" not in by_id, by_id
    # Ingestion lag over the last five minutes: the ingest_time index.
    [lag] = plans(pg_store, lambda: pg_store.ingestion_lag(now, timedelta(minutes=5)))
    assert "ingest_time" in lag and "Seq Scan" not in lag, lag
