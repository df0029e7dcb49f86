"""Bearer-token checks for the API. Writers are scoped to producer URN patterns; readers read; admins do all."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evidence._store import Store
from evidence._tokens import Token, authenticate
from rca._errors import ApiError

OPEN = Token(0, "auth-disabled", "admin", ("*",))


class Authenticator:
    """Resolves bearer secrets to tokens with a short cache: ingestion must not pay a query per batch."""

    def __init__(self, store: Store, disabled: bool, cache_seconds: float) -> None:
        self.store, self.disabled, self.cache_seconds = store, disabled, cache_seconds
        self._cache: dict[str, tuple[float, Token | None]] = {}

    def __call__(self, request: Request) -> Token:
        if self.disabled:
            return OPEN
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "unauthorized", "Send 'Authorization: Bearer <token>'; create one with "
                           "`rca token create`.")
        key = hashlib.sha256(secret.strip().encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            token = cached[1]
        else:
            token = authenticate(self.store, secret.strip())
            self._cache[key] = (time.monotonic(), token)
        if token is None:
            raise ApiError(401, "unauthorized", "The bearer token is unknown or revoked; create one with "
                           "`rca token create`.")
        return token


# Declared so that the OpenAPI description carries the bearer scheme; the Authenticator reads the header itself.
_BEARER = HTTPBearer(auto_error=False, description="A token from `rca token create` (writer, reader or admin).")


def current_token(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Token:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator(request)


TokenDep = Annotated[Token, Depends(current_token)]


def reader(token: TokenDep) -> Token:
    if not token.may_read:
        raise ApiError(403, "forbidden", f"Token {token.name!r} is a {token.role} token; reading needs a reader "
                       "or admin token.")
    return token


def admin(token: TokenDep) -> Token:
    if token.role != "admin":
        raise ApiError(403, "forbidden", f"Token {token.name!r} is a {token.role} token; this change needs an "
                       "admin token.")
    return token


def writer(token: TokenDep) -> Token:
    if token.role not in ("writer", "admin"):
        raise ApiError(403, "forbidden", f"Token {token.name!r} is a {token.role} token; sending evidence needs "
                       "a writer token.")
    return token


def check_sources(token: Token, sources: list[str]) -> None:
    """A writer may only write its own producers' evidence: one foreign source refuses the whole request."""
    foreign = sorted({s for s in sources if not token.may_write(s)})
    if foreign:
        raise ApiError(403, "forbidden_source",
                       f"Token {token.name!r} may write {', '.join(token.producers) or 'no producers'}; it may not "
                       f"write events whose source is {', '.join(foreign)}.", sources=foreign)


ReaderDep = Annotated[Token, Depends(reader)]
AdminDep = Annotated[Token, Depends(admin)]
WriterDep = Annotated[Token, Depends(writer)]
Guard = Callable[..., Token]
