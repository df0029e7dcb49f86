"""Shared fixtures: every store test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence._store import Store
from evidence._tokens import create_token
from rca import Settings, create_app
from support import KAFKA_BOOTSTRAP, POSTGRES_URL, FakeSlack, FixedClock, fresh_postgres, kafka_required


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not POSTGRES_URL and os.environ.get("RCA_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("RCA_REQUIRE_POSTGRES=1 but RCA_TEST_POSTGRES_URL is not set")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rca.db'}"
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL: set RCA_TEST_POSTGRES_URL (make test does when it can)")
    fresh_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def pg_store() -> Iterator[Store]:
    """A store on an empty PostgreSQL schema (no tables yet: call upgrade()), for the PostgreSQL-only tests."""
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL: set RCA_TEST_POSTGRES_URL (make test does when it can)")
    fresh_postgres(POSTGRES_URL)
    store = Store.open(POSTGRES_URL)
    yield store
    store.close()


@pytest.fixture(scope="session")
def kafka() -> str:
    """The bootstrap address of a real Kafka broker (RCA_TEST_KAFKA_BOOTSTRAP, which scripts/with-kafka sets)."""
    if KAFKA_BOOTSTRAP:
        return KAFKA_BOOTSTRAP
    reason = "no Kafka broker: set RCA_TEST_KAFKA_BOOTSTRAP, or run under scripts/with-kafka (make test does)"
    if kafka_required():
        pytest.fail(f"{reason}; RCA_REQUIRE_KAFKA=1 or CI is set, so the Kafka tests must run")
    pytest.skip(reason)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    store.upgrade()
    yield store
    store.engine.dispose()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A local Slack Web API (support.FakeSlack), closed after the test."""
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def make_client(store: Store, clock: FixedClock, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(auth: bool = False, **settings: Any) -> TestClient:
        settings.setdefault("chroma_path", str(tmp_path / "chroma"))
        app = create_app(Settings(database_url="sqlite://", auth_disabled=not auth, **settings), store=store,
                         clock=clock)
        client = TestClient(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def tokens(store: Store, clock: FixedClock) -> dict[str, str]:
    """Bearer headers' secrets by role name."""
    return {
        "checkout": create_token(store, "checkout-ci", "writer", ["svc://checkout-*"], clock(),
                                 datasets=["ds://orders*"])[1],
        "jobs": create_token(store, "spark-jobs", "writer", ["job://*"], clock(), datasets=["ds://*"])[1],
        "reader": create_token(store, "oncall", "reader", [], clock())[1],
        "admin": create_token(store, "platform", "admin", [], clock())[1],
    }


