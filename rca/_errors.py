"""HTTP errors with a JSON body: {"error": <code>, "message": <what to do>}."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from detectors import UnknownIncident
from evidence import ConfigError, InvalidEvent, UnknownEvidence
from evidence._configs import ConfigConflict, UnknownConfig


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
        return JSONBody(error_body("invalid_request", f"'{where}' {first['msg'].lower()}", field=where,
                                         errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]),
                              422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONBody:
        return JSONBody(error_body("http_error", str(exc.detail)), exc.status_code)
