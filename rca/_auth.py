"""Bearer-token checks for the API. Writers are scoped to producer URN patterns; readers read; admins do all."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evidence import Store, Token, authenticate
from rca._errors import ApiError

OPEN = Token(0, "auth-disabled", "admin", ("*",), ("*",))


# Enough for every live token of a large fleet; unknown secrets are cached too (so a flood of them costs no
# queries), and a bounded cache evicts the oldest instead of growing with every secret ever tried.
TOKEN_CACHE_ENTRIES = 10_000


class Authenticator:
    """Resolves bearer secrets to tokens with a short, bounded cache: ingestion must not pay a query per batch."""

    def __init__(self, store: Store, disabled: bool, cache_seconds: float,
                 entries: int = TOKEN_CACHE_ENTRIES) -> None:
        self.store, self.disabled, self.cache_seconds = store, disabled, cache_seconds
        self._cache: TTLCache[str, Token | None] | None = (
            TTLCache(maxsize=entries, ttl=cache_seconds) if cache_seconds > 0 else None)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Token:
        if self.disabled:
            return OPEN
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "unauthorized", "Send 'Authorization: Bearer <token>'; create one with "
                           "`rca token create`.")
        token = self._lookup(secret.strip())
        if token is None:
            raise ApiError(401, "unauthorized", "The bearer token is unknown or revoked; create one with "
                           "`rca token create`.")
        return token

    def _lookup(self, secret: str) -> Token | None:
        if self._cache is None:
            return authenticate(self.store, secret)
        key = hashlib.sha256(secret.encode()).hexdigest()
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        token = authenticate(self.store, secret)
        with self._lock:
            self._cache[key] = token
        return token

    @property
    def cached(self) -> int:
        return len(self._cache) if self._cache is not None else 0


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


def check_datasets(token: Token, datasets: list[str]) -> None:
    """A writer speaks only for the datasets its scope covers: one foreign dataset refuses the whole request."""
    foreign = sorted({d for d in datasets if not token.may_name(d)})
    if foreign:
        raise ApiError(403, "forbidden_dataset",
                       f"Token {token.name!r} may speak for datasets {', '.join(token.datasets) or '(none)'}; it may "
                       f"not write lineage or evidence for {', '.join(foreign)}.", datasets=foreign)


ReaderDep = Annotated[Token, Depends(reader)]
AdminDep = Annotated[Token, Depends(admin)]
WriterDep = Annotated[Token, Depends(writer)]
Guard = Callable[..., Token]
