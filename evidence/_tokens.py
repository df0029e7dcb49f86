"""Bearer tokens: writers scoped to producer URN patterns and to the datasets they may speak for, readers,
admins. Only a SHA-256 of each is kept."""

from __future__ import annotations

import fnmatch
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson
from sqlalchemy import select

from evidence._errors import RcaError
from evidence._schema import tokens
from evidence._store import Store

Role = Literal["writer", "reader", "admin"]
ROLES: tuple[Role, ...] = ("writer", "reader", "admin")


class TokenError(RcaError):
    pass


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: Role
    producers: tuple[str, ...]  # glob patterns over producer URNs, e.g. "svc://checkout-*"
    # Glob patterns over the dataset URNs its events may name (a commit's dataset, a subject, an OpenLineage
    # output): a producer's fence covers what it writes, not only who it is.
    datasets: tuple[str, ...] = ()

    def may_write(self, source: str) -> bool:
        if self.role == "admin":
            return True
        return self.role == "writer" and any(fnmatch.fnmatchcase(source, p) for p in self.producers)

    def may_name(self, dataset_urn: str) -> bool:
        """Whether this token's events may speak for `dataset_urn` (commit to it, be about it)."""
        if self.role == "admin":
            return True
        return self.role == "writer" and any(fnmatch.fnmatchcase(dataset_urn, p) for p in self.datasets)

    def refusal(self, source: str, dataset_urn: str | None) -> tuple[Literal["source", "dataset"], str] | None:
        """Why an event from `source` naming `dataset_urn` is outside this token's fence (and which of the two
        is), or None when it is inside."""
        if not self.may_write(source):
            return "source", (f"token {self.name!r} may write {', '.join(self.producers) or 'no producers'}, "
                              f"not {source}")
        if dataset_urn is not None and not self.may_name(dataset_urn):
            return "dataset", (f"token {self.name!r} may speak for datasets {', '.join(self.datasets) or '(none)'}, "
                               f"not {dataset_urn}; a writer needs --dataset covering it")
        return None

    @property
    def may_read(self) -> bool:
        return self.role in ("reader", "admin")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, name: str, role: Role, producers: list[str], now: datetime,
                 datasets: list[str] | None = None) -> tuple[Token, str]:
    """Create a token; the secret is returned once and never stored. A writer without `datasets` may send
    deploys and runs but no event that names a dataset."""
    datasets = list(datasets or [])
    if role not in ROLES:
        raise TokenError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "writer" and not producers:
        raise TokenError("a writer token needs at least one producer pattern, e.g. --producer 'svc://checkout-*'")
    for pattern in producers:
        if "://" not in pattern:
            raise TokenError(f"producer pattern {pattern!r} must be a URN pattern such as svc://checkout-* or job://*")
    for pattern in datasets:
        if "://" not in pattern:
            raise TokenError(f"dataset pattern {pattern!r} must be a URN pattern such as ds://orders* or ds://curated/*")
    secret = f"rca_{role[0]}_{secrets.token_urlsafe(32)}"
    with store.writing() as conn:
        result = conn.execute(tokens.insert().values(
            name=name, role=role, producers=orjson.dumps(producers).decode(),
            datasets=orjson.dumps(datasets).decode(), secret_sha256=_digest(secret), created_at=now,
        ))
        token_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return Token(token_id, name, role, tuple(producers), tuple(datasets)), secret


def authenticate(store: Store, secret: str) -> Token | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(tokens).where(tokens.c.secret_sha256 == _digest(secret),
                                                tokens.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    return Token(row.id, row.name, row.role, tuple(orjson.loads(row.producers)), tuple(orjson.loads(row.datasets)))


def list_tokens(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(tokens).order_by(tokens.c.id)).all()
    return [{"id": r.id, "name": r.name, "role": r.role, "producers": orjson.loads(r.producers),
             "datasets": orjson.loads(r.datasets), "created_at": r.created_at, "revoked_at": r.revoked_at}
            for r in rows]


def revoke_token(store: Store, token_id: int, now: datetime) -> None:
    with store.writing() as conn:
        done = conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=now))
    if done.rowcount == 0:
        raise TokenError(f"no token with id {token_id}; see `rca token list`")
