import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from evidence import ConfigError, GateCounter, UnknownEvidence
from evidence._ingest import ingest_events
from evidence._reader import MemoryReader, percentile
from evidence._record import EvidenceRecord, evidence_id_for
from evidence._schema import metadata
from evidence._store import EvidenceQuery, Store
from support import deployment

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def events(n: int, source: str = "svc://checkout-service") -> list[dict]:
    return [deployment(f"e-{i:05d}", source, (T0 + timedelta(seconds=i)).isoformat(), version=f"v{i}")
            for i in range(n)]


def test_migrations_create_exactly_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_the_same_10000_events_sent_twice_shuffled_are_stored_once(store: Store) -> None:
    batch = events(10_000)
    twice = batch + batch
    random.Random(7).shuffle(twice)
    reports = [ingest_events(store, twice[i : i + 1000], T0) for i in range(0, len(twice), 1000)]
    assert store.count() == 10_000
    assert sum(r.accepted for r in reports) == 10_000
    assert sum(r.duplicates for r in reports) == 10_000
    assert sum(r.rejected for r in reports) == 0


def test_one_bad_event_in_a_thousand_loses_nothing_else(store: Store) -> None:
    batch = events(1000)
    batch[417] = {**batch[417], "time": "not a time"}
    report = ingest_events(store, batch, T0)
    assert (report.accepted, report.duplicates, report.rejected) == (999, 0, 1)
    bad = report.results[417]
    assert (bad.status, bad.id, bad.field) == ("rejected", "e-00417", "time")
    assert "Event 'e-00417' (source svc://checkout-service): 'time' must be an RFC 3339 timestamp" in bad.error
    assert store.count() == 999


def test_writers_in_several_processes_sending_the_same_ids_at_once_store_each_once(database_url: str,
                                                                                    store: Store) -> None:
    # Four stores (one per process, as replicas have) send overlapping batches of one set of ids at the same time: the
    # writers' turns make each id accepted exactly once, and a duplicate everywhere else.
    batch = events(3000)
    plans = [batch[i * 500 : i * 500 + 1500] for i in range(4)]
    for n, plan in enumerate(plans):
        random.Random(n).shuffle(plan)
    stores = [Store.open(database_url) for _ in plans]
    try:
        with ThreadPoolExecutor(len(plans)) as pool:
            reports = list(pool.map(lambda sp: [ingest_events(sp[0], sp[1][i : i + 500], T0)
                                                for i in range(0, len(sp[1]), 500)], zip(stores, plans, strict=True)))
    finally:
        for other in stores:
            other.close()
    results = [r for per_store in reports for report in per_store for r in report.results]
    assert Counter(r.evidence_id for r in results if r.status == "accepted") == \
        Counter({r.evidence_id: 1 for r in results})
    assert {r.status for r in results} == {"accepted", "duplicate"}
    assert store.count() == 3000


@pytest.mark.postgres
def test_a_batch_whose_staging_table_a_session_reset_dropped_is_stored_the_first_way(pg_store: Store) -> None:
    # PostgreSQL stages a batch in a temporary table of its connection (evidence/_row_writes.py); a DISCARD TEMP under
    # it (a pooler's session reset) costs that batch the staged way, never the batch.
    pg_store.upgrade()
    batch = events(40)
    ingest_events(pg_store, batch[:10], T0)  # the month's first: its partition made the first way
    ingest_events(pg_store, batch[10:20], T0)  # staged: the one pooled connection has its staging table
    with pg_store.engine.connect() as conn:
        conn.exec_driver_sql("DISCARD TEMP")
        conn.commit()
    report = ingest_events(pg_store, batch[20:30] + batch[:5], T0)
    assert (report.accepted, report.duplicates, report.rejected) == (10, 5, 0)
    assert ingest_events(pg_store, batch[30:], T0).accepted == 10  # staged again, in a table made anew
    assert pg_store.count() == 40


def test_a_duplicate_inside_one_batch_is_acknowledged_and_stored_once(store: Store) -> None:
    one = events(1)
    report = ingest_events(store, one + one, T0)
    assert [r.status for r in report.results] == ["accepted", "duplicate"]
    assert report.results[0].evidence_id == report.results[1].evidence_id
    assert store.count() == 1


def test_the_same_id_from_two_sources_is_two_records(store: Store) -> None:
    report = ingest_events(store, [deployment("same"), deployment("same", "svc://payments-service")], T0)
    assert report.accepted == 2


def test_records_keep_times_in_utc_and_the_payload_as_sent(store: Store) -> None:
    sent = deployment("d-1", time="2026-03-10T05:20:00-05:00")
    ingest_events(store, [sent], T0 + timedelta(minutes=3))
    [record] = store.records(producer_urns=["svc://checkout-service"])
    assert record.event_time == datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
    assert record.ingest_time == T0 + timedelta(minutes=3)
    assert record.payload == sent
    assert store.get(record.evidence_id) == record
    with pytest.raises(UnknownEvidence, match="No evidence with id 'ev_nope'"):
        store.get("ev_nope")


def test_text_that_copy_escapes_and_empty_text_come_back_as_stored(store: Store) -> None:
    # COPY's text format gives backslash, tab, newline and carriage return a meaning, and \\N is NULL (ingestion sends
    # the binary format, which has none): values holding them, an empty string (not NULL) and non-ASCII text are read
    # back exactly, on both databases; so are times before 2000 (binary COPY's epoch) and under another offset.
    odd = "a\\b\tc\nd\re \\N é 漢"
    record = EvidenceRecord(
        evidence_id=evidence_id_for("svc://odd", odd), source="svc://odd", source_ref=odd, type="DeploymentEvent",
        event_time=T0, ingest_time=T0 + timedelta(seconds=1), dataset_urn="", producer_urn="\\N", schema_id=None,
        sequence=2**63 - 1, deploy_ref=odd, reason_code="\t", field="\\", run_id="\n", traceparent=None,
        payload={"id": odd, "data": {"quote": '"\\"', "nested": [odd, {"k\tey": None}], "unicode": "\u2028"}})
    plain = EvidenceRecord(evidence_id=evidence_id_for("svc://odd", "plain"), source="svc://odd", source_ref="plain",
                           type="DeploymentEvent", event_time=T0, ingest_time=T0, payload={})
    early = EvidenceRecord(evidence_id=evidence_id_for("svc://odd", "early"), source="svc://odd", source_ref="early",
                           type="DeploymentEvent", event_time=datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
                           ingest_time=datetime(1999, 12, 31, 19, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
                           payload={})
    assert store.add_records([record, plain, early]) == {record.evidence_id, plain.evidence_id, early.evidence_id}
    assert store.get(record.evidence_id) == record
    assert store.get(plain.evidence_id) == plain
    assert store.get(early.evidence_id) == early


def test_paging_walks_every_record_once_in_time_order(store: Store) -> None:
    ingest_events(store, events(25), T0)
    seen, cursor = [], None
    while True:
        page = store.page(EvidenceQuery(producer_urn="svc://checkout-service", limit=10, cursor=cursor))
        seen += [r.source_ref for r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"e-{i:05d}" for i in range(25)]


def test_queries_filter_by_dataset_producer_type_and_window(store: Store) -> None:
    ingest_events(store, events(10) + events(5, "svc://payments-service"), T0)
    window = store.page(EvidenceQuery(producer_urn="svc://checkout-service", since=T0 + timedelta(seconds=3),
                                      until=T0 + timedelta(seconds=6)))
    assert [r.source_ref for r in window.records] == ["e-00003", "e-00004", "e-00005"]
    assert store.page(EvidenceQuery(types=("JobRunStarted",))).records == []
    assert len(store.records(producer_urns=["svc://payments-service"])) == 5


def test_ingestion_lag_percentiles_per_source(store: Store) -> None:
    now = T0 + timedelta(minutes=10)
    for lag in (1, 2, 3, 4, 100):
        ingest_events(store, [deployment(f"lag-{lag}", time=(now - timedelta(seconds=lag)).isoformat())], now)
    ingest_events(store, [deployment("old", time=T0.isoformat())], now - timedelta(minutes=6))
    lag = store.ingestion_lag(now, timedelta(minutes=5))
    assert lag == {"svc://checkout-service": {"count": 5, "p50_s": 3.0, "p95_s": 100.0, "max_s": 100.0,
                                              "backfill": 0}}
    # Past `backfill_after` on arrival an item is a backfill: counted, and kept out of the percentiles.
    lag = store.ingestion_lag(now, timedelta(minutes=5), backfill_after=timedelta(seconds=50))
    assert lag == {"svc://checkout-service": {"count": 4, "p50_s": 2.0, "p95_s": 4.0, "max_s": 4.0, "backfill": 1}}
    ingest_events(store, [deployment("replayed", source="svc://history", time="2021-01-01T00:00:00Z")], now)
    assert store.ingestion_lag(now, timedelta(minutes=5), ["svc://history"], timedelta(hours=6)) == {
        "svc://history": {"count": 0, "p50_s": 0.0, "p95_s": 0.0, "max_s": 0.0, "backfill": 1}}


def test_ingestion_lag_computed_by_the_database_equals_the_lags_of_the_same_rows_in_python(store: Store) -> None:
    # Issue 13: the database ranks the lags and returns a few rows a source; the figures must be exactly those
    # `Lags` computes over every row (microsecond lags, events from the future, backfills, ties, window edges).
    rng = random.Random(13)
    now = T0 + timedelta(hours=8)
    for batch in range(24):
        arrived = now - timedelta(seconds=15 * batch, microseconds=rng.randrange(10**6))
        sent = []
        for i in range(rng.randrange(1, 40)):
            lag = rng.choice([rng.randrange(0, 10**9) / 10**6, rng.randrange(0, 5), -rng.random() * 5,
                              6 * 3600 + rng.random(), 30 * 86400.0, 120.0])
            sent.append(deployment(f"b{batch}-{i}", f"svc://s{rng.randrange(5)}",
                                   (arrived - timedelta(seconds=lag)).isoformat()))
        ingest_events(store, sent, arrived)
    memory = MemoryReader(store.records())
    some = ["svc://s1", "svc://s3", "svc://none"]
    for window, sources, backfill in [(timedelta(minutes=5), None, timedelta(hours=6)),
                                      (timedelta(minutes=2), None, None),
                                      (timedelta(minutes=5), some, timedelta(hours=6)),
                                      (timedelta(minutes=6), None, timedelta(seconds=120))]:
        expected = memory.ingestion_lag(now, window, sources, backfill)
        assert expected and store.ingestion_lag(now, window, sources, backfill) == expected


def test_an_unfiltered_evidence_page_is_read_in_index_order_not_sorted(store: Store) -> None:
    # Issue 13: GET /v1/evidence?limit=200 sorted the whole table for every page. The plan of the page's own
    # statement (first page and a cursor's) must walk an index in (event_time, evidence_id) order, with no sort.
    from sqlalchemy import event

    ingest_events(store, [deployment(f"p-{i}", time=(T0 + timedelta(days=20 * i)).isoformat()) for i in range(5)],
                  T0 + timedelta(days=100))
    issued: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        issued.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        first = store.page(EvidenceQuery(limit=2))
        store.page(EvidenceQuery(limit=2, cursor=first.next_cursor))
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(issued) == 2
    with store.engine.connect() as conn:
        for statement, parameters in issued:
            if store.dialect == "sqlite":
                plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
                assert "USING INDEX ix_evidence_event_time_evidence_id" in plan and "B-TREE" not in plan, plan
            else:  # seq scans priced out, so the plan shows whether an ordered index path exists at all
                conn.exec_driver_sql("SET enable_seqscan = off")
                plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))
                assert "Index Scan" in plan and "Sort" not in plan, plan


def test_a_readiness_page_of_subjects_walks_its_subject_index_not_the_window(store: Store) -> None:
    # Issue 13: with the (event_time, evidence_id) index SQLite chose it for subject_page and read (and sorted for
    # DISTINCT) every record of the window; the subject's own index, in URN order, stops at the page's limit.
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics; the partition tests read its plans on real volumes")
    from sqlalchemy import event

    issued: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        issued.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        for column in ("dataset_urn", "producer_urn"):
            store.subject_page(column, T0, T0 + timedelta(days=1), None, 50)
            store.subject_page(column, T0, T0 + timedelta(days=1), "ds://a", 50)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(issued) == 4
    with store.engine.connect() as conn:
        for (statement, parameters), index in zip(issued, ["dataset_urn_event_time"] * 2 + ["producer_urn_type"] * 2,
                                                  strict=True):
            plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert f"USING INDEX ix_evidence_{index}" in plan and "B-TREE" not in plan, plan


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def _counter(count: int, first: int, last: int, samples: tuple[str, ...]) -> GateCounter:
    return GateCounter("ds://orders_v1", "svc://checkout-service", "42", "REQUIRED_FIELD_MISSING", "customer_id",
                       T0, count, T0 + timedelta(seconds=first), f"orders.created/0/{first}",
                       T0 + timedelta(seconds=last), f"orders.created/0/{last}", samples)


def test_gate_counters_merge_across_writes(store: Store) -> None:
    store.merge_counters([_counter(2, 10, 20, ("orders.created/0/10", "orders.created/0/20"))])
    store.merge_counters([_counter(3, 5, 15, ("orders.created/0/5", "orders.created/0/15", "orders.created/0/9"))])
    [merged] = store.counters(["ds://orders_v1"])
    assert merged == _counter(5, 5, 20, ("orders.created/0/5", "orders.created/0/9", "orders.created/0/10",
                                         "orders.created/0/15", "orders.created/0/20"))


def test_serving_refuses_a_database_whose_schema_is_behind(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(ConfigError, match="run `rca db upgrade` first"):
        store.ensure_schema()


def test_an_empty_database_is_upgraded_on_first_use(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'new' / 'rca.db'}")
    store.ensure_schema()
    assert store.count() == 0


def test_every_write_to_the_configs_changes_their_version_and_nothing_else_does(store: Store) -> None:
    """Triggers (migration 0013) raise the version on each insert, update and delete of `configs`, whoever writes
    it: through Configs, or by hand (as an older version or an operator could). Evidence writes leave it alone."""
    from evidence._configs import POLICY, Configs
    from evidence._policy import FreshnessPolicy
    from evidence._schema import configs

    versions = [Configs(store).version()]

    def changed() -> bool:
        versions.append(Configs(store).version())
        return versions[-1] != versions[-2]

    policy = FreshnessPolicy(dataset_urn="ds://v/t0", expected_update_by="02:00")
    stored = Configs(store).put(POLICY, policy, T0)
    assert changed()
    Configs(store).put(POLICY, policy.model_copy(update={"owner_team": "team-b"}), T0)  # same key, same clock
    assert changed()
    Configs(store).replace(POLICY, stored.id, policy.model_copy(update={"expected_update_by": "03:00"}), T0)
    assert changed()
    ingest_events(store, events(3), T0)
    assert not changed()
    with store.writing() as conn:
        conn.execute(configs.update().where(configs.c.id == stored.id).values(spec='{"dataset_urn": "ds://v/t0"}'))
    assert changed()
    with store.writing() as conn:
        conn.execute(configs.insert().values(kind="policy", key="ds://v/t1", spec="{}", created_at=T0, updated_at=T0))
    assert changed()
    Configs(store).delete(POLICY, stored.id)
    assert changed()
    assert len(set(versions)) == 7 and None not in versions
