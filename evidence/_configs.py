"""Operator configuration in the store: freshness policies, contracts, resolution rules, lineage edges."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import delete, select

from evidence._errors import RcaError
from evidence._policy import Contract, FreshnessPolicy, LineageEdge, Mapping
from evidence._schema import configs
from evidence._store import Store

Spec = TypeVar("Spec", bound=BaseModel)


class ConfigConflict(RcaError):
    """Posting a resolution rule whose (topic, schema, headers) another rule already maps elsewhere: replacing
    it silently would re-attribute records, so it takes an explicit PUT on that rule."""

    def __init__(self, config_id: int, existing: BaseModel) -> None:
        super().__init__(f"Rule {config_id} already maps these records to {getattr(existing, 'dataset_urn', '?')}; "
                         f"change it with PUT /v1/mappings/{config_id}, or add headers that tell the two apart.")
        self.config_id = config_id


class UnknownConfig(RcaError):
    def __init__(self, kind: str, config_id: int) -> None:
        super().__init__(f"No {kind} with id {config_id}; list them with GET /v1/{kind}s.")
        self.kind, self.config_id = kind, config_id


@dataclass(frozen=True)
class ConfigKind(Generic[Spec]):
    name: str
    model: type[Spec]

    def key(self, spec: Spec) -> str:
        """The natural key: posting the same dataset's policy twice updates it instead of adding a second."""
        if isinstance(spec, FreshnessPolicy | Contract):
            return spec.dataset_urn
        if isinstance(spec, LineageEdge):
            return f"{spec.upstream} -> {spec.downstream}"
        if isinstance(spec, Mapping):
            identity = orjson.dumps([spec.topic, spec.schema_id, sorted(spec.headers.items())]).decode()
            return hashlib.sha256(identity.encode()).hexdigest()
        raise TypeError(type(spec))


POLICY = ConfigKind("policy", FreshnessPolicy)
CONTRACT = ConfigKind("contract", Contract)
MAPPING = ConfigKind("mapping", Mapping)
LINEAGE = ConfigKind("lineage", LineageEdge)
KINDS: dict[str, ConfigKind[Any]] = {k.name: k for k in (POLICY, CONTRACT, MAPPING, LINEAGE)}


@dataclass(frozen=True)
class Stored(Generic[Spec]):
    id: int
    spec: Spec
    created_at: datetime
    updated_at: datetime


class Configs:
    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, kind: ConfigKind[Spec], spec: Spec, now: datetime) -> Stored[Spec]:
        """Create, or replace the one with the same natural key."""
        key = kind.key(spec)
        body = spec.model_dump_json(by_alias=True, exclude_none=True)
        with self.store.writing() as conn:
            row = conn.execute(select(configs).where(configs.c.kind == kind.name, configs.c.key == key)).first()
            if row is None:
                conn.execute(configs.insert().values(kind=kind.name, key=key, spec=body, created_at=now,
                                                     updated_at=now))
            elif kind.name == "mapping" and _target(kind.model.model_validate_json(row.spec)) != _target(spec):
                raise ConfigConflict(row.id, kind.model.model_validate_json(row.spec))
            else:
                conn.execute(configs.update().where(configs.c.id == row.id).values(spec=body, updated_at=now))
            stored = conn.execute(select(configs).where(configs.c.kind == kind.name, configs.c.key == key)).one()
        return _stored(kind, stored)

    def replace(self, kind: ConfigKind[Spec], config_id: int, spec: Spec, now: datetime) -> Stored[Spec]:
        body = spec.model_dump_json(by_alias=True, exclude_none=True)
        with self.store.writing() as conn:
            updated = conn.execute(configs.update().where(configs.c.kind == kind.name, configs.c.id == config_id)
                                   .values(spec=body, key=kind.key(spec), updated_at=now))
            if updated.rowcount == 0:
                raise UnknownConfig(kind.name, config_id)
            row = conn.execute(select(configs).where(configs.c.id == config_id)).one()
        return _stored(kind, row)

    def get(self, kind: ConfigKind[Spec], config_id: int) -> Stored[Spec]:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(configs).where(configs.c.kind == kind.name, configs.c.id == config_id)).first()
        if row is None:
            raise UnknownConfig(kind.name, config_id)
        return _stored(kind, row)

    def all(self, kind: ConfigKind[Spec]) -> list[Stored[Spec]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(configs).where(configs.c.kind == kind.name).order_by(configs.c.key)).all()
        return [_stored(kind, row) for row in rows]

    def specs(self, kind: ConfigKind[Spec]) -> list[Spec]:
        return [s.spec for s in self.all(kind)]

    def delete(self, kind: ConfigKind[Spec], config_id: int) -> None:
        with self.store.writing() as conn:
            gone = conn.execute(delete(configs).where(configs.c.kind == kind.name, configs.c.id == config_id))
            if gone.rowcount == 0:
                raise UnknownConfig(kind.name, config_id)


def _target(spec: BaseModel) -> tuple[object, object]:
    return getattr(spec, "dataset_urn", None), getattr(spec, "producer_urn", None)


def _stored(kind: ConfigKind[Spec], row: Any) -> Stored[Spec]:
    return Stored(row.id, kind.model.model_validate_json(row.spec), row.created_at, row.updated_at)
