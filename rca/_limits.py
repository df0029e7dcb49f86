"""Request bodies bounded before anything reads them: before auth, before JSON parsing, on every route.

A pure ASGI middleware. A URL with a NUL character is refused outright (no database column can hold one, and
no identifier has one). A declared Content-Length over the limit is answered 413 without reading a byte; a
chunked body is counted as it streams and refused the moment it passes the limit, so an unauthenticated client
can make the server hold at most the limit in memory. Ingestion routes take RCA_MAX_BODY_BYTES (batches of
evidence); everything else (chat, configuration, Slack) takes RCA_MAX_REQUEST_BYTES.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INGESTION_PATHS = frozenset({"/v1/events", "/api/v1/lineage", "/v1/gate/records"})


class BodyTooLarge(HTTPException):
    """Raised from the body stream; an HTTPException so that FastAPI's body parsing passes it on unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The body exceeds {limit} bytes; send smaller requests (batches).")
        self.limit = limit


class RequestLimits:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"].lower():
            await _answer(send, 400, "bad_request", "The URL contains a NUL character (%00); no identifier has one.")
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            size = int(declared) if declared.isdigit() else -1
            if size < 0 or size > limit:
                message = (f"The body is {size} bytes; the limit is {limit}. Send smaller requests (batches)."
                           if size >= 0 else "Content-Length must be a number of bytes.")
                await _answer(send, 413 if size >= 0 else 400, "payload_too_large" if size >= 0 else "bad_request",
                              message)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": code, "message": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
