"""The FastAPI application: ingestion, evidence, configuration and control endpoints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from evidence import EvidenceRecord
from evidence._store import Store
from rca import _config_routes, _errors, _ingest_routes
from rca._auth import Authenticator
from rca._settings import Settings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The only wall-clock read in the service: everything below the API takes `now` as an argument."""
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock = system_clock,
    on_stored: Callable[[list[EvidenceRecord]], None] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    store = store or Store.open(settings.database_url)
    store.ensure_schema()
    app = FastAPI(
        title="rca",
        version=_version(),
        summary="Evidence-grounded root-cause copilot for data producers",
        description="Ingest producer evidence (envelope v1 CloudEvents, OpenLineage, CDEvents), read it back, "
        "and configure policies, contracts, resolution rules, lineage and SDK kill switches. All endpoints take "
        "'Authorization: Bearer <token>' (see `rca token create`).",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock
    app.state.on_stored = on_stored
    app.state.authenticator = Authenticator(store, settings.auth_disabled, settings.token_cache_seconds)
    _errors.install(app)

    @app.get("/healthz", tags=["operations"], summary="Liveness and the database in use")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "database": store.dialect}

    app.include_router(_ingest_routes.router)
    app.include_router(_config_routes.router)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rca")
    except PackageNotFoundError:
        return "0.0.0"
