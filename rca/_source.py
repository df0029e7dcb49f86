"""Where a reading command reads: a running server (the on-call path, with a reader token) or the database itself
(the admin path). Both answer with the API's JSON shapes, so the commands print the same either way."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from rca._client import ApiClient, saved_profile
from rca._terminal import CliError


class Source(Protocol):
    where: str

    def incidents(self, **filters: Any) -> list[dict[str, Any]]: ...
    def incident(self, incident_id: str) -> dict[str, Any]: ...
    def rca(self, incident_id: str) -> dict[str, Any]: ...
    def ask(self, question: str, incident_id: str | None, session_id: str | None) -> dict[str, Any]: ...
    def evidence(self, *, limit: int, **query: Any) -> list[dict[str, Any]]: ...
    def readiness(self, dataset_urn: str | None, producer_urn: str | None,
                  at: datetime | None) -> list[dict[str, Any]]: ...
    def drafts(self, status: str | None) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


def database_url() -> str:
    from rca._settings import Settings

    return Settings().database_url


def open_store(url: str | None = None, *, create: bool = False) -> Any:
    """The store at RCA_DATABASE_URL. Reading never creates: a database that does not exist or has no rca schema is
    an error that says how to fix it (a typo in the URL must not look like a quiet night). `create=True` (admin
    writes, `rca db upgrade`) creates and migrates an empty one."""
    from sqlalchemy.engine import make_url

    from evidence import Store, current_revision, head_revision

    url = url or database_url()
    shown = _shown(url)
    try:
        parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    except Exception:
        raise CliError(f"RCA_DATABASE_URL={url!r} is not a database URL; write sqlite:///var/rca.db or "
                       "postgresql://user:password@host/db") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        if not path.exists() and not create:
            raise CliError(f"no database at {path} ({shown}); create it with `rca db upgrade`, or point "
                           "RCA_DATABASE_URL (or --url, for a server) at the right one")
    store = Store.open(url)
    if create:
        store.ensure_schema()
        return store
    current, head = current_revision(store.engine), head_revision(store.engine)
    if current is None:
        store.close()
        raise CliError(f"{shown} has no rca schema; run `rca db upgrade` to create it (or check RCA_DATABASE_URL)")
    if current != head:
        store.close()
        raise CliError(f"{shown} is at schema revision {current} but this rca needs {head}; run `rca db upgrade`")
    return store


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"


class ServerSource:
    """Reads through the REST API: GET /v1/incidents (following next_cursor), /rca, /v1/chat, /v1/evidence, ..."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.where = client.url

    def incidents(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.client.pages("/v1/incidents", **filters))

    def incident(self, incident_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/v1/incidents/{_segment(incident_id)}"))

    def rca(self, incident_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/v1/incidents/{_segment(incident_id)}/rca"))

    def ask(self, question: str, incident_id: str | None, session_id: str | None) -> dict[str, Any]:
        body = {"question": question, "incident_id": incident_id, "session_id": session_id}
        return dict(self.client.post("/v1/chat", {k: v for k, v in body.items() if v is not None}))

    def evidence(self, *, limit: int, **query: Any) -> list[dict[str, Any]]:
        params = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in query.items()}
        return list(self.client.pages("/v1/evidence", at_most=limit, **params, payload="false",
                                      limit=min(limit, 1000)))

    def readiness(self, dataset_urn: str | None, producer_urn: str | None, at: datetime | None) -> list[dict[str, Any]]:
        if at is not None:
            raise CliError("--at needs the database: a server reads readiness at its own clock; drop --at or "
                           "run as an admin against RCA_DATABASE_URL", 2)
        return list(self.client.get("/v1/readiness", dataset_urn=dataset_urn, producer_urn=producer_urn)["items"])

    def drafts(self, status: str | None) -> list[dict[str, Any]]:
        return list(self.client.pages("/v1/policy-drafts", status=status))

    def close(self) -> None:
        self.client.close()


class DatabaseSource:
    """Reads the database directly (an admin with RCA_DATABASE_URL): the same functions the API calls."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.where = _shown(str(store.engine.url.render_as_string(hide_password=True)))

    def incidents(self, **filters: Any) -> list[dict[str, Any]]:
        from detectors import stored_incidents

        status = filters.pop("status", "open")
        return stored_incidents(self.store, status=None if status == "all" else status, **filters)

    def incident(self, incident_id: str) -> dict[str, Any]:
        from detectors import stored_incident

        return stored_incident(self.store, incident_id)

    def rca(self, incident_id: str) -> dict[str, Any]:
        from copilot import build_rca, default_composer
        from evidence import load_incident

        return build_rca(self.store, load_incident(self.store, incident_id), default_composer(_model_environment()))

    def ask(self, question: str, incident_id: str | None, session_id: str | None) -> dict[str, Any]:
        from copilot import ask, default_composer
        from rca.app import system_clock

        return ask(self.store, default_composer(_model_environment()), question, system_clock(),
                   incident_id=incident_id, session_id=session_id).as_json()

    def evidence(self, *, limit: int, **query: Any) -> list[dict[str, Any]]:
        from evidence import EvidenceQuery
        from rca._ingest_routes import record_json

        page = self.store.page(EvidenceQuery(query.get("dataset_urn"), query.get("producer_urn"),
                                             tuple(query.get("type") or ()), query.get("since"), query.get("until"),
                                             limit))
        return [record_json(r, with_payload=False) for r in page.records]

    def readiness(self, dataset_urn: str | None, producer_urn: str | None, at: datetime | None) -> list[dict[str, Any]]:
        from rca._control_routes import readiness
        from rca.app import system_clock

        items = readiness(self.store, at or system_clock(), dataset_urn=dataset_urn, producer_urn=producer_urn)
        return [r.as_json() for r in items]

    def drafts(self, status: str | None) -> list[dict[str, Any]]:
        from detectors import list_drafts

        return [draft.model_dump(mode="json") for draft in list_drafts(self.store, status)]

    def close(self) -> None:
        self.store.close()


def open_source(url: str | None, token: str | None, profile: str | None) -> Source:
    """--url / RCA_URL first, then a saved profile (`rca login`), then the database (RCA_DATABASE_URL)."""
    if url:
        return ServerSource(ApiClient(url, token))
    from rca._settings import Settings

    settings = Settings()
    if profile or "database_url" not in settings.model_fields_set or not settings.database_url:
        saved = saved_profile(profile)
        if saved is not None:
            return ServerSource(ApiClient(saved.url, token or saved.token))
    return DatabaseSource(open_store())


def _segment(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _model_environment() -> dict[str, str]:
    from rca._settings import Settings

    return Settings().model_environment()
