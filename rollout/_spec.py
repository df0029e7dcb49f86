"""A fleet campaign as written (YAML): its repositories, rings (each by a list of names or a rule on the
inventory), limits, gates and the owner of last resort; and which ring takes each repository."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from rollout._fleet import FleetRepo
from rollout._gates import GateSettings
from rollout._limits import Limits
from rollout._model import RolloutError

RingName = Literal["ring-0", "ring-1", "ring-2"]
RING_NAMES: tuple[RingName, ...] = ("ring-0", "ring-1", "ring-2")


class RingRule(BaseModel):
    """Repositories whose inventory matches every field given (an empty rule matches every one left)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str | None = None
    archetype: str | None = None
    domain: str | None = None
    tier: int | None = None
    owner: str | None = None
    name: str | None = Field(None, description="a glob on the repository's name")

    def matches(self, repo: FleetRepo) -> bool:
        return all((
            self.language is None or repo.language == self.language,
            self.archetype is None or (repo.archetype is not None and repo.archetype.value == self.archetype),
            self.domain is None or repo.domain == self.domain,
            self.tier is None or repo.tier == self.tier,
            self.owner is None or self.owner in repo.owners,
            self.name is None or fnmatch.fnmatchcase(repo.name, self.name),
        ))


class RingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: RingName
    repos: tuple[str, ...] = ()
    rule: RingRule | None = None

    @model_validator(mode="after")
    def _one_way(self) -> RingSpec:
        if self.repos and self.rule is not None:
            raise ValueError(f"{self.name}: give repos or a rule, not both")
        if not self.repos and self.rule is None:
            raise ValueError(f"{self.name}: give repos (a list of names) or a rule")
        return self


class CampaignSpec(BaseModel):
    """A campaign as written (YAML): its repositories, rings, limits, gates and the owner of last resort."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    repos: tuple[str, ...] = Field(min_length=1, description="repository folders or checkouts")
    fallback_owner: str = Field(min_length=1)
    rings: tuple[RingSpec, ...] = Field(min_length=1)
    limits: Limits = Limits()
    gates: GateSettings = GateSettings()
    tracking_repo: str = "rollout-campaigns"

    @field_validator("rings")
    @classmethod
    def _ordered(cls, rings: tuple[RingSpec, ...]) -> tuple[RingSpec, ...]:
        names = [r.name for r in rings]
        if len(set(names)) != len(names) or names != sorted(names):
            raise ValueError(f"rings must be distinct and in order (ring-0, ring-1, ring-2), got {', '.join(names)}")
        return rings

    @classmethod
    def from_yaml(cls, path: Path) -> CampaignSpec:
        try:
            raw = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        except (OSError, YAMLError) as exc:
            raise RolloutError(f"{path}: cannot read the campaign ({exc})") from None
        if not isinstance(raw, dict):
            raise RolloutError(f"{path}: a campaign is a YAML mapping (name, repos, fallback_owner, rings, ...)")
        base = path.parent
        raw["repos"] = [str((base / r).resolve()) if not Path(r).is_absolute() else r for r in raw.get("repos") or []]
        return cls.parse(raw, str(path))

    @classmethod
    def parse(cls, raw: Any, where: str) -> CampaignSpec:
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            raise RolloutError(f"{where}: {field or 'campaign'}: {first['msg']}") from None


def assign_rings(spec: CampaignSpec, repos: list[FleetRepo]) -> dict[str, RingName]:
    """Each repository's ring: the first ring listing it by name, else the first whose rule matches it."""
    names = {r.name for r in repos}
    for ring in spec.rings:
        unknown = [n for n in ring.repos if n not in names]
        if unknown:
            raise RolloutError(f"{spec.name}: {ring.name} lists {unknown[0]}, which is not one of the campaign's "
                               "repositories (names are the services' names: `rca rollout plan` lists them)")
    found: dict[str, RingName] = {}
    for ring in spec.rings:
        for name in ring.repos:
            found.setdefault(name, ring.name)
    for repo in repos:
        if repo.name in found:
            continue
        for ring in spec.rings:
            if ring.rule is not None and ring.rule.matches(repo):
                found[repo.name] = ring.name
                break
    missing = [r.name for r in repos if r.name not in found]
    if missing:
        raise RolloutError(f"{spec.name}: no ring takes {', '.join(missing)}; list them or add a rule that matches "
                           "(an empty rule `rule: {}` takes every repository left)")
    return found
