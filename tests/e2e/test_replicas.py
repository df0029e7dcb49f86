"""Three `rca serve` replicas on one PostgreSQL, detecting every second and taking a stream of events, one of them
killed with SIGKILL in the middle of a pass: each incident is opened once and posted to Slack once, the shards the
dead replica held are taken over, and every event a replica acknowledged is stored."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import text

from evidence import FreshnessPolicy
from evidence._configs import POLICY, Configs
from evidence._store import Store
from support import FakeSlack, Server, child_pids, plant_overdue, settled_incidents

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
DATASETS = 300


def _batch(n: int, size: int = 100) -> list[dict]:
    return [{"specversion": "1.0", "id": f"b{n}-e{i}", "source": "svc://replica-stream", "type": "DeploymentEvent",
             "time": "2026-03-10T10:20:00Z", "data": {"service": "replica-stream", "version": f"v{n}.{i}"}}
            for i in range(size)]


def _start(replicas: list[Server], count: int, pg_store: Store, slack: FakeSlack, tmp_path: Path) -> None:
    """`count` replicas detecting every second and posting to `slack`, appended to `replicas` as they start (so
    the caller stops every one that did)."""
    url = pg_store.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    for n in range(count):
        env = {"RCA_DETECT_INTERVAL_S": "1", "RCA_SLACK_SIGNING_SECRET": "s3cr3t", "RCA_SLACK_BOT_TOKEN": "xoxb-t",
               "RCA_SLACK_API_URL": slack.url, "RCA_SLACK_CHANNEL": "C-ONCALL"}
        replicas.append(Server(f"{url}?application_name=replica-{n}", tmp_path / f"replica-{n}.log",
                               "--insecure-no-auth", env=env))


def _holding(pg_store: Store, table: str, ready: Callable[[], bool] = lambda: True,
             steady_s: float = 0.0) -> str | None:
    """The replica seen mid-transaction right after claiming rows of `table` with SKIP LOCKED (its claim is its
    last statement, still open), once `ready()`, and still in that same transaction `steady_s` later (a claim
    that found nothing commits at once); None after 60 s."""
    deadline = time.monotonic() + 60
    query = text("SELECT application_name, xact_start FROM pg_stat_activity WHERE application_name LIKE 'replica-%' "
                 "AND state = 'idle in transaction' AND query LIKE :claim ORDER BY xact_start")
    with pg_store.engine.connect() as conn:
        while time.monotonic() < deadline:
            seen = set(conn.execute(query, {"claim": f"%FROM {table}%SKIP LOCKED%"}).all()) if ready() else set()
            conn.rollback()
            if seen and steady_s:
                time.sleep(steady_s)
                seen &= set(conn.execute(query, {"claim": f"%FROM {table}%SKIP LOCKED%"}).all())
                conn.rollback()
            if seen:
                return str(min(seen, key=lambda row: row[1])[0])
            time.sleep(0.01)
    return None


def _stop(replicas: list[Server], workers: list[int], slack: FakeSlack) -> None:
    for replica in replicas:
        replica.stop()
    for pid in workers:  # a detector worker whose replica was killed must not linger
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    slack.close()


def test_three_replicas_one_killed_mid_pass_open_and_post_each_incident_once(pg_store: Store,
                                                                             tmp_path: Path) -> None:
    plant_overdue(pg_store, "replica", DATASETS)
    slack = FakeSlack()
    replicas: list[Server] = []
    workers: list[int] = []
    try:
        _start(replicas, 3, pg_store, slack, tmp_path)
        acknowledged: list[int] = []
        stop = threading.Event()

        def stream() -> None:
            n = 0
            while not stop.is_set():
                try:  # a connection a batch: one to the killed replica must not stay open behind the test
                    response = httpx.post(f"{replicas[n % 3].url}/v1/events", content=orjson.dumps(_batch(n)),
                                          headers={"Content-Type": "application/cloudevents-batch+json"}, timeout=10)
                    if response.status_code == 200 and response.json()["accepted"] == 100:
                        acknowledged.append(n)
                except httpx.TransportError:
                    pass  # the killed replica: not acknowledged
                n += 1

        sender = threading.Thread(target=stream)
        sender.start()
        victim = _holding(pg_store, "detector_shards")  # mid-pass: a replica whose lease transaction holds shards
        assert victim is not None, "no replica was seen holding shards"
        killed = replicas[int(victim.rsplit("-", 1)[1])]
        for replica in replicas:
            workers += child_pids(replica.process.pid)
        held_before = len(slack.calls)
        killed.kill9()
        time.sleep(3)  # the others keep taking events and passing
        stop.set()
        sender.join(30)

        # The survivors take the dead replica's shards at their next passes: every dataset gets its incident.
        rows, posted = settled_incidents(pg_store, slack, DATASETS)
        per_dataset = Counter((r.dataset_urn, r.kind) for r in rows)
        assert len(per_dataset) == DATASETS and set(per_dataset.values()) == {1}
        assert posted == Counter({r.id: 1 for r in rows}), (held_before, len(slack.calls))
        stored = {r.source_ref for r in pg_store.records(producer_urns=["svc://replica-stream"])}
        missing = [e["id"] for n in acknowledged for e in _batch(n) if e["id"] not in stored]
        assert acknowledged and missing == []
    finally:
        _stop(replicas, workers, slack)


def test_a_replica_killed_while_posting_an_announcement_leaves_it_to_another(pg_store: Store,
                                                                           tmp_path: Path) -> None:
    """The Slack outbox across replicas (rca/_announce.py): the replica that claimed the announcement is killed
    while Slack holds its post; its row lock goes with its connection and the other replica posts it. Slack took the
    killed replica's post too: the one duplicate the guarantee allows (posted, then died before marking)."""
    from evidence import stored_announcements

    pg_store.upgrade()
    Configs(pg_store).put(POLICY, FreshnessPolicy(dataset_urn="ds://replica/announced", producer_urn="job://r",
                                                  expected_update_by="00:00"), datetime.now(UTC))
    slack = FakeSlack()
    slack.delay = 8.0  # the first post is held: its replica is killed meanwhile
    replicas: list[Server] = []
    workers: list[int] = []
    try:
        _start(replicas, 2, pg_store, slack, tmp_path)
        victim = _holding(pg_store, "announcements", lambda: slack.received > 0, steady_s=1.0)
        assert victim is not None, "no replica was seen posting an announcement"
        slack.delay = 0.0
        for replica in replicas:
            workers += child_pids(replica.process.pid)
        replicas[int(victim.rsplit("-", 1)[1])].kill9()
        [row] = stored_announcements(pg_store)
        assert row.state == "pending"  # not lost with its poster

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (stored_announcements(pg_store)[0].state != "sent"
                                               or len(slack.calls) < 2):
            time.sleep(0.2)
        time.sleep(3)  # a few more passes of the survivor: nothing is posted again
        [row] = stored_announcements(pg_store)
        assert (row.state, row.attempts) == ("sent", 1)
        posted = [m for _, body in slack.calls for m in re.findall(r"/incidents/(inc_[0-9a-f]+)\|", body["text"])]
        assert posted == [row.incident_id] * 2 and slack.received == 2
    finally:
        _stop(replicas, workers, slack)
