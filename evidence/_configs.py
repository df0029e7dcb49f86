"""Operator configuration in the store: freshness policies, contracts, resolution rules, lineage edges."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select

from evidence._errors import RcaError
from evidence._policy import Contract, FreshnessPolicy, LineageEdge, Mapping
from evidence._schema import config_version, configs
from evidence._store import Store

Spec = TypeVar("Spec", bound=BaseModel)
log = logging.getLogger("rca.configs")


class ConfigConflict(RcaError):
    """Posting a resolution rule whose (topic, schema, headers) another rule already maps elsewhere: replacing
    it silently would re-attribute records, so it takes an explicit PUT on that rule. Also a PUT that would give
    a config the natural key another one already has (a second policy for the same dataset)."""

    def __init__(self, config_id: int, existing: BaseModel, message: str | None = None) -> None:
        super().__init__(message or (
            f"Rule {config_id} already maps these records to {getattr(existing, 'dataset_urn', '?')}; "
            f"change it with PUT /v1/mappings/{config_id}, or add headers that tell the two apart."))
        self.config_id = config_id


@dataclass(frozen=True)
class ConfigFinding:
    """A stored config that no longer validates (written by an older version, or by hand): skipped, not fatal."""

    kind: str
    id: int
    key: str
    error: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "key": self.key, "error": self.error}


class UnknownConfig(RcaError):
    def __init__(self, kind: str, config_id: int, plural: str | None = None) -> None:
        super().__init__(f"No {kind} with id {config_id}; list them with GET /v1/{plural or kind + 's'}.")
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
            # The records a rule claims and where it sends them: two approved rules may claim the same records
            # (a scenario or an older database can hold them); resolution then calls them MAPPING_AMBIGUOUS.
            identity = orjson.dumps([*_identity(spec), *_target(spec)]).decode()
            return hashlib.sha256(identity.encode()).hexdigest()
        raise TypeError(type(spec))

    @property
    def plural(self) -> str:
        return {"policy": "policies", "lineage": "lineage-edges"}.get(self.name, f"{self.name}s")


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

    def put(self, kind: ConfigKind[Spec], spec: Spec, now: datetime, *, allow_overlap: bool = False) -> Stored[Spec]:
        """Create, or replace the one with the same natural key.

        A resolution rule claiming the records another rule sends elsewhere is refused (ConfigConflict) unless
        `allow_overlap`: loading a scenario keeps both, so that resolution reports the overlap as drift.
        """
        key = kind.key(spec)
        body = spec.model_dump_json(by_alias=True, exclude_none=True)
        with self.store.writing() as conn:
            if not allow_overlap:
                _refuse_overlap(conn, kind, spec, configs.c.key != key)
            row = conn.execute(select(configs).where(configs.c.kind == kind.name, configs.c.key == key)).first()
            if row is None:
                conn.execute(configs.insert().values(kind=kind.name, key=key, spec=body, created_at=now,
                                                     updated_at=now))
            else:
                conn.execute(configs.update().where(configs.c.id == row.id).values(spec=body, updated_at=now))
            stored = conn.execute(select(configs).where(configs.c.kind == kind.name, configs.c.key == key)).one()
        return _stored(kind, stored)

    def replace(self, kind: ConfigKind[Spec], config_id: int, spec: Spec, now: datetime) -> Stored[Spec]:
        body, key = spec.model_dump_json(by_alias=True, exclude_none=True), kind.key(spec)
        with self.store.writing() as conn:
            other = conn.execute(select(configs).where(configs.c.kind == kind.name, configs.c.key == key,
                                                       configs.c.id != config_id)).first()
            if other is not None:
                raise ConfigConflict(other.id, spec, (
                    f"{kind.name.capitalize()} {other.id} already has this natural key ({_natural(spec)}); change "
                    f"that one with PUT /v1/{kind.plural}/{other.id}, or delete it first."))
            _refuse_overlap(conn, kind, spec, configs.c.id != config_id)
            updated = conn.execute(configs.update().where(configs.c.kind == kind.name, configs.c.id == config_id)
                                   .values(spec=body, key=key, updated_at=now))
            if updated.rowcount == 0:
                raise UnknownConfig(kind.name, config_id, kind.plural)
            row = conn.execute(select(configs).where(configs.c.id == config_id)).one()
        return _stored(kind, row)

    def get(self, kind: ConfigKind[Spec], config_id: int) -> Stored[Spec]:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(configs).where(configs.c.kind == kind.name, configs.c.id == config_id)).first()
        if row is None:
            raise UnknownConfig(kind.name, config_id, kind.plural)
        return _stored(kind, row)

    def load(self, kind: ConfigKind[Spec]) -> tuple[list[Stored[Spec]], list[ConfigFinding]]:
        """Every stored config of a kind, each validated again: the valid ones, and a finding per invalid one."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(configs).where(configs.c.kind == kind.name).order_by(configs.c.key)).all()
        valid, findings = [], []
        for row in rows:
            try:
                valid.append(_stored(kind, row))
            except ValidationError as exc:
                findings.append(_skipped(kind, row, exc))
        return valid, findings

    def all(self, kind: ConfigKind[Spec]) -> list[Stored[Spec]]:
        return self.load(kind)[0]

    def specs(self, kind: ConfigKind[Spec]) -> list[Spec]:
        """The valid specs of a kind (what detectors read): like load(), without the rows' timestamps."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(configs.c.id, configs.c.key, configs.c.spec).where(configs.c.kind == kind.name)
                                .order_by(configs.c.key)).all()
        out = []
        for row in rows:
            try:
                out.append(_validated(kind, row.spec))
            except ValidationError as exc:
                _skipped(kind, row, exc)
        return out

    def snapshot(self, *kinds: ConfigKind[Any]) -> ConfigSnapshot:
        """The stored configs of these kinds as one read, with a digest of them (a hash of ids, keys and texts), so
        that a caller may keep what it derives from them under the digest and skip validating and deriving again."""
        names = sorted(kind.name for kind in kinds)
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(configs.c.kind, configs.c.id, configs.c.key, configs.c.spec)
                                .where(configs.c.kind.in_(names)).order_by(configs.c.kind, configs.c.key)).all()
        # Rows are tuples of str and int: hashing them all is one C-level pass (a Python loop over 100,000 rows
        # took most of a readiness page). 64 bits, and per process, which is where the callers' caches live.
        return ConfigSnapshot(hash(tuple(rows)), rows)

    def version(self) -> int | None:
        """A number that changes with every write to the stored configs (triggers raise it, migration 0013): equal
        numbers, read before each snapshot, mean the same configs. None when the database has no such number."""
        with self.store.engine.connect() as conn:
            return conn.execute(select(config_version.c.version).where(config_version.c.id == 1)).scalar()

    def delete(self, kind: ConfigKind[Spec], config_id: int) -> None:
        with self.store.writing() as conn:
            gone = conn.execute(delete(configs).where(configs.c.kind == kind.name, configs.c.id == config_id))
            if gone.rowcount == 0:
                raise UnknownConfig(kind.name, config_id, kind.plural)


@dataclass(frozen=True)
class ConfigSnapshot:
    """Stored configs read at once (Configs.snapshot): their digest, and the valid specs of each kind."""

    digest: int
    rows: Sequence[Any]

    def specs(self, kind: ConfigKind[Spec]) -> list[Spec]:
        """The valid specs of a kind in key order, as Configs.specs() gives them."""
        return [spec for _, spec in self.load(kind)[0]]

    def load(self, kind: ConfigKind[Spec]) -> tuple[list[tuple[int, Spec]], list[ConfigFinding]]:
        """(id, spec) of the valid configs of a kind in key order, and a finding per invalid one, as Configs.load()
        gives them (without the rows' timestamps)."""
        valid, findings = [], []
        for row in self.rows:
            if row.kind == kind.name:
                try:
                    valid.append((row.id, _validated(kind, row.spec)))
                except ValidationError as exc:
                    findings.append(_skipped(kind, row, exc))
        return valid, findings


class _ConfigRow(NamedTuple):
    kind: str
    id: int
    key: str
    spec: str


class MemoryConfigs:
    """Configs without a database (a replayed scenario's): `put` and `snapshot` as `Configs` has them, the same ids,
    keys and stored texts, so a snapshot's specs, findings and order are the store's."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], _ConfigRow] = {}

    def put(self, kind: ConfigKind[Spec], spec: Spec) -> None:
        """Create, or replace the one with the same natural key (overlapping rules are kept, as `allow_overlap`)."""
        key = kind.key(spec)
        known = self._rows.get((kind.name, key))
        self._rows[(kind.name, key)] = _ConfigRow(kind.name, known.id if known else len(self._rows) + 1, key,
                                                  spec.model_dump_json(by_alias=True, exclude_none=True))

    def snapshot(self, *kinds: ConfigKind[Any]) -> ConfigSnapshot:
        names = {kind.name for kind in kinds}
        rows = [row for _, row in sorted(self._rows.items()) if row.kind in names]
        return ConfigSnapshot(hash(tuple(rows)), rows)


def _skipped(kind: ConfigKind[Any], row: Any, exc: ValidationError) -> ConfigFinding:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    finding = ConfigFinding(kind.name, row.id, row.key[:200], f"'{where}' {first['msg']}")
    log.warning("skipping stored %s %s: %s; fix it with PUT /v1/%s/%s or delete it", kind.name, row.id,
                finding.error, kind.plural, row.id)
    return finding


def _refuse_overlap(conn: Any, kind: ConfigKind[Spec], spec: Spec, others: Any) -> None:
    """A rule may not claim records another rule sends elsewhere (ConfigConflict names that rule)."""
    if not isinstance(spec, Mapping):
        return
    for row in conn.execute(select(configs).where(configs.c.kind == kind.name, others)):
        other = _valid(kind, row)
        if isinstance(other, Mapping) and _identity(other) == _identity(spec) and _target(other) != _target(spec):
            raise ConfigConflict(row.id, other)


def _identity(spec: Mapping) -> tuple[object, ...]:
    return spec.topic, spec.schema_id, tuple(sorted(spec.headers.items()))


def _target(spec: BaseModel) -> tuple[object, object]:
    return getattr(spec, "dataset_urn", None), getattr(spec, "producer_urn", None)


def _natural(spec: BaseModel) -> str:
    if isinstance(spec, LineageEdge):
        return f"{spec.upstream} -> {spec.downstream}"
    if isinstance(spec, Mapping):
        return f"topic {spec.topic}, schema {spec.schema_id}, headers {spec.headers}, to {spec.dataset_urn}"
    return str(getattr(spec, "dataset_urn", "?"))


def _valid(kind: ConfigKind[Spec], row: Any) -> Spec | None:
    try:
        return kind.model.model_validate_json(row.spec)
    except ValidationError:
        return None


# Validated configs by their exact stored text: every detector pass, gate batch and readiness page loads them all
# again, and validating 100,000 policies took seconds each time. The same text validates the same way, so a row is
# validated when its text is new to this process (and again once evicted).
# Bounded: past _VALIDATED_MAX entries the memory starts over (a plain dict: its lookups cost no Python frames).
_VALIDATED: dict[tuple[str, str], BaseModel] = {}
_VALIDATED_MAX = 200_000


def _validated(kind: ConfigKind[Spec], text: str) -> Spec:
    key = (kind.name, text)
    found = _VALIDATED.get(key)
    if found is None:
        found = kind.model.model_validate_json(text)
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[key] = found
    return found  # type: ignore[return-value]


def _stored(kind: ConfigKind[Spec], row: Any) -> Stored[Spec]:
    return Stored(row.id, _validated(kind, row.spec), row.created_at, row.updated_at)
