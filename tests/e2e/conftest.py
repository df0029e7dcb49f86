"""A real `rca serve` process (uvicorn) on a free loopback port: one per test (`serve`), or one per module and
database for suites of many cases (`live`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence._store import Store
from evidence._tokens import create_token
from support import POSTGRES_URL, Live, Server, fresh_postgres


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(database_url: str, *extra: str, env: dict[str, str] | None = None) -> Server:
        server = Server(database_url, tmp_path / "serve.log", *extra, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _tokens(store: Store) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "checkout": create_token(store, "checkout-ci", "writer", ["svc://checkout-*"], now, ["ds://checkout*"])[1],
        "orders": create_token(store, "orders-jobs", "writer", ["job://orders-*", "job://*/orders-*"], now, ["ds://orders*"])[1],
        "jobs": create_token(store, "all-jobs", "writer", ["job://*", "svc://*"], now, ["ds://*"])[1],
        "gate": create_token(store, "gate", "writer", ["kafka://*"], now)[1],
        "reader": create_token(store, "oncall", "reader", [], now)[1],
        "admin": create_token(store, "platform", "admin", [], now)[1],
    }


# Mounts POST /slack/events; the Web API points nowhere (nothing is posted: no channel is set).
SLACK_ENV = {"RCA_SLACK_SIGNING_SECRET": "s3cr3t", "RCA_SLACK_BOT_TOKEN": "xoxb-test",
             "RCA_SLACK_API_URL": "http://127.0.0.1:9/api/"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server per module and database, with writer (checkout, orders, jobs, gate), reader and admin tokens."""
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'rca.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip("no PostgreSQL: set RCA_TEST_POSTGRES_URL (make test does when it can)")
        fresh_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    store = Store.open(url)
    store.upgrade()
    tokens = _tokens(store)
    server = Server(url, tmp / "serve.log", env={"RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": str(tmp / "chroma"),
                                                   **SLACK_ENV})
    try:
        yield Live(server, store, tokens, request.param)
    finally:
        server.stop()
        store.close()


CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    """A page of Debian's headless Chromium, driven by playwright."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()
