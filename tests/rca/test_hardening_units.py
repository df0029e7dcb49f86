"""The parts of issue 13's fixes a live server cannot pin down deterministically: the detector schedule's rate (a
fake scheduling clock), the bounded token cache, what a pass reads, and SQLite refusing writes (read-only, full).
The reproductions themselves run through a real server in tests/e2e/test_hardening.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from detectors import DetectionResult, DetectSettings, run_detectors
from evidence import EvidenceRecord, FreshnessPolicy
from evidence._configs import POLICY, Configs
from evidence._ingest import ingest_events
from evidence._store import Store
from evidence._tokens import create_token
from rca import Settings, create_app
from rca._auth import Authenticator
from rca.app import _detect_loop
from support import FixedClock, deployment


class _Schedule:
    """A scheduling clock and stop event where waiting advances time, and a pass takes `pass_s` of it."""

    def __init__(self, pass_s: list[float], until: float) -> None:
        self.now, self.pass_s, self.until, self.starts = 0.0, pass_s, until, []

    def monotonic(self) -> float:
        return self.now

    def wait(self, timeout: float) -> bool:
        self.now += timeout
        return self.now >= self.until

    def detector_pass(self, *_: Any) -> DetectionResult:
        self.starts.append(self.now)
        self.now += self.pass_s[min(len(self.starts), len(self.pass_s)) - 1]
        return DetectionResult()


def _run(schedule: _Schedule, interval: float) -> list[float]:
    stop = threading.Event()
    stop.wait = schedule.wait  # type: ignore[method-assign]
    _detect_loop(schedule, lambda: datetime(2026, 3, 10, tzinfo=UTC), DetectSettings(), stop,  # type: ignore[arg-type]
                 interval, lambda _: None, monotonic=schedule.monotonic)
    return schedule.starts


def test_passes_keep_a_fixed_rate_whatever_they_take() -> None:
    # A 6 s pass every 10 s: a pass starts every 10 s (the old loop waited 10 s after each: every 16 s).
    assert _run(_Schedule([6.0], until=60.5), 10) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]


def test_an_overrun_is_followed_at_once_and_the_slots_it_covered_are_not_queued() -> None:
    starts = _run(_Schedule([25.0, 1.0], until=70.5), 10)
    assert starts == [10.0, 35.0, 45.0, 55.0, 65.0]


def test_the_token_cache_is_bounded(store: Store, clock: FixedClock) -> None:
    secret = create_token(store, "oncall", "reader", [], clock())[1]
    authenticator = Authenticator(store, disabled=False, cache_seconds=30, entries=50)

    class Request:
        def __init__(self, token: str) -> None:
            self.headers = {"authorization": f"Bearer {token}"}

    for n in range(500):
        with pytest.raises(Exception, match="unknown or revoked"):
            authenticator(Request(f"rca_r_not-a-token-{n}"))  # type: ignore[arg-type]
    assert authenticator.cached <= 50
    assert authenticator(Request(secret)).name == "oncall"  # type: ignore[arg-type]


class _CountingStore(Store):
    """The real store, counting the records it hands a detector pass."""

    loaded = 0

    def records(self, **kwargs: Any) -> list[EvidenceRecord]:
        found = super().records(**kwargs)
        self.loaded += len(found)
        return found


def test_a_pass_reads_its_policies_records_not_every_producers_deploys(database_url: str) -> None:
    store = _CountingStore.open(database_url)
    store.upgrade()
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    Configs(store).put(POLICY, FreshnessPolicy(dataset_urn="ds://watched", producer_urn="job://watched",
                                               expected_update_by="02:00"), now)
    noise = [deployment(f"d-{n}", f"svc://other-{n % 50}", time=(now - timedelta(minutes=n % 600)).isoformat())
             for n in range(3000)]  # the write load of other producers
    ingest_events(store, noise, now)
    store.loaded = 0
    run_detectors(store, now)
    assert store.loaded < 10  # the watched job's own records only (none), not the 3,000 deploys
    store.close()


def test_sqlite_that_refuses_writes_answers_503_json_and_healthz_says_so(tmp_path: Path) -> None:
    """A database SQLite opened read-only (PRAGMA query_only). A read-only file system and a full disk under a real
    server are in tests/e2e/test_hardening.py."""
    url = f"sqlite:///{tmp_path / 'rca.db'}"
    Store.open(url).upgrade()
    store = Store.open(url)
    event.listen(store.engine, "connect", lambda connection, _: connection.execute("PRAGMA query_only = 1"))
    client = TestClient(create_app(Settings(database_url="sqlite://", auth_disabled=True,
                                            chroma_path=str(tmp_path / "chroma")), store=store, clock=FixedClock()),
                        raise_server_exceptions=False)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    refused = client.post("/v1/events", json=deployment("d-1"))
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "database_unavailable" and "readonly" in refused.json()["message"]
    store.close()
