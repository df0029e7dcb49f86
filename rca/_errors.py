"""HTTP errors with a JSON body: {"error": <code>, "message": <what to do>}."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, InternalError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from detectors import RegistryUnavailable, UnknownIncident
from evidence import ConfigConflict, ConfigError, InvalidEvent, UnknownConfig, UnknownEvidence
from rca._limits import BodyTooLarge

log = logging.getLogger("rca.api")


class JSONBody(Response):
    """JSON rendered with orjson: ingestion answers carry a result per event, so rendering speed matters."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONBody:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONBody(error_body(exc.code, exc.message, **exc.extra), exc.status, headers=headers)

    @app.exception_handler(InvalidEvent)
    async def _invalid(_: Request, exc: InvalidEvent) -> JSONBody:
        return JSONBody(error_body("invalid_event", str(exc), id=exc.event_id, field=exc.field), 422)

    @app.exception_handler(UnknownEvidence)
    @app.exception_handler(UnknownConfig)
    @app.exception_handler(UnknownIncident)
    async def _unknown(_: Request, exc: Exception) -> JSONBody:
        return JSONBody(error_body("not_found", str(exc)), 404)

    @app.exception_handler(ConfigConflict)
    async def _conflict(_: Request, exc: ConfigConflict) -> JSONBody:
        return JSONBody(error_body("conflict", str(exc), id=exc.config_id), 409)

    @app.exception_handler(ConfigError)
    async def _config(_: Request, exc: ConfigError) -> JSONBody:
        return JSONBody(error_body("bad_request", str(exc)), 400)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONBody:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p != "body")
        msg = first["msg"]
        return JSONBody(error_body("invalid_request", f"'{where}' {msg[:1].lower()}{msg[1:]}", field=where,
                                         errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]),
                              422)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> JSONBody:
        return JSONBody(error_body("payload_too_large", str(exc.detail)), 413, headers={"Connection": "close"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONBody:
        # exc.headers carries Allow on a 405 (RFC 9110 requires it).
        return JSONBody(error_body("http_error", str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONBody:
        # Two requests raced to create the same thing (the checks before a write saw neither).
        log.warning("%s %s: %s", request.method, request.url.path, _first_line(exc))
        return JSONBody(error_body("conflict", "Another request changed the same item at the same time; read it "
                                   "again and retry."), 409)

    @app.exception_handler(OperationalError)  # down, disk full, read-only SQLite, locked past the busy timeout
    @app.exception_handler(InterfaceError)  # the connection went away
    @app.exception_handler(InternalError)  # PostgreSQL in read-only mode (25006), among others
    async def _database(request: Request, exc: DBAPIError) -> JSONBody:
        return _unavailable(request, exc)

    @app.exception_handler(RegistryUnavailable)
    async def _registry(request: Request, exc: RegistryUnavailable) -> JSONBody:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONBody(error_body("schema_registry_unavailable", f"{exc}; nothing of the batch was stored, retry "
                                   "shortly (RCA_SCHEMA_REGISTRY_URL)."), 503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONBody:
        # The last resort, so that even a bug answers JSON (Starlette then re-raises it: the server logs it).
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return _unavailable(request, exc)
        return JSONBody(error_body("internal_error", "The server failed on this request; the error is in its log. "
                                   "Retrying will not help until it is fixed."), 500)


def _unavailable(request: Request, exc: DBAPIError) -> JSONBody:
    # Down, read-only, disk full, locked past the busy timeout: not the client's fault, and worth a retry.
    log.error("%s %s: database unavailable: %s", request.method, request.url.path, _first_line(exc))
    return JSONBody(error_body("database_unavailable", f"The database could not serve this request "
                               f"({_first_line(exc)}); retry shortly, and see /healthz and the server log."),
                    503, headers={"Retry-After": "5"})


def _first_line(exc: DBAPIError) -> str:
    cause = exc.orig if exc.orig is not None else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
