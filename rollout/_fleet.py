"""The fleet inventory: what each repository is (archetype, language), who owns it (a Backstage catalog-info.yaml's
spec.owner, else CODEOWNERS, else the campaign's fallback owner), its domain and tier, and the producer URN the
service becomes once it sends evidence."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rollout._detect import detect
from rollout._model import Archetype, RolloutError
from rollout._settings import RolloutSettings
from rollout._yaml import load_all

OwnerSource = Literal["catalog", "codeowners", "fallback"]

LANGUAGES: dict[Archetype, str] = {
    Archetype.SPRING_BOOT_MAVEN: "java",
    Archetype.GO_MODULE: "go",
    Archetype.NODE_SERVICE: "node",
    Archetype.PYTHON_SERVICE: "python",
    Archetype.PYSPARK_JOB: "python",
}
# Where GitHub looks for CODEOWNERS, in its order (GitLab reads the same three places).
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
CATALOG_FILE = "catalog-info.yaml"
# Annotations (or labels) a catalog entry may carry for what Backstage has no field for.
DOMAIN_KEYS = ("rca.dev/domain", "domain")
TIER_KEYS = ("rca.dev/tier", "tier")
TIMEZONE_KEYS = ("rca.dev/timezone", "timezone")


@dataclass(frozen=True)
class FleetRepo:
    """One repository of the fleet as the campaign sees it."""

    name: str  # the service's name (the manifest's), also the repository's name on the local forge
    source: Path
    archetype: Archetype | None
    language: str | None
    owners: tuple[str, ...]
    owner_source: OwnerSource
    domain: str | None = None
    tier: int | None = None
    producer_urn: str | None = None
    timezone: str | None = None  # the catalog's word for the owner's time zone, if any
    onboarded: bool = False
    reason: str = ""

    @property
    def owner(self) -> str:
        """The first owner: the one per-owner limits and back-off count against."""
        return self.owners[0]


def inventory(sources: Iterable[Path], fallback_owner: str, settings: RolloutSettings | None = None) -> list[FleetRepo]:
    """Every repository of `sources` (folders or checkouts), in the order given."""
    return [describe(source, fallback_owner, settings) for source in sources]


def describe(source: Path, fallback_owner: str, settings: RolloutSettings | None = None) -> FleetRepo:
    detection = detect(source, settings)
    catalog = _catalog(source)
    owners, owner_source = _owners(source, catalog, fallback_owner)
    archetype = detection.archetype
    name = str(_get(catalog, "metadata", "name") or detection.name) if catalog else detection.name
    producer = None
    if archetype is not None:
        producer = f"job://{name}" if archetype is Archetype.PYSPARK_JOB else f"svc://{name}"
    tier = _annotation(catalog, TIER_KEYS)
    if tier is not None:
        try:
            tier_value: int | None = int(str(tier))
        except ValueError:
            raise RolloutError(f"{source / CATALOG_FILE}: tier {tier!r} is not a number; write e.g. "
                               "`rca.dev/tier: \"1\"`") from None
    else:
        tier_value = None
    domain = _annotation(catalog, DOMAIN_KEYS) or _get(catalog, "spec", "domain") or _get(catalog, "spec", "system")
    timezone = _annotation(catalog, TIMEZONE_KEYS)
    return FleetRepo(name, source, archetype, LANGUAGES.get(archetype) if archetype else None, owners, owner_source,
                     str(domain) if domain else None, tier_value, producer, str(timezone) if timezone else None,
                     detection.onboarded, detection.reason)


def _catalog(source: Path) -> dict[str, Any] | None:
    """The Component entity of the repository's catalog-info.yaml (the first document of kind Component)."""
    path = source / CATALOG_FILE
    if not path.is_file():
        return None
    for document in load_all(path.read_text(encoding="utf-8"), str(path)):
        if isinstance(document, dict) and str(document.get("kind", "")).lower() == "component":
            return document
    return None


def _get(document: dict[str, Any] | None, *keys: str) -> Any:
    value: Any = document
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _annotation(catalog: dict[str, Any] | None, keys: tuple[str, ...]) -> Any:
    for where in ("annotations", "labels"):
        found = _get(catalog, "metadata", where)
        if isinstance(found, dict):
            for key in keys:
                if found.get(key) not in (None, ""):
                    return found[key]
    return None


def _owners(source: Path, catalog: dict[str, Any] | None, fallback: str) -> tuple[tuple[str, ...], OwnerSource]:
    owner = _get(catalog, "spec", "owner")
    if owner:
        return (catalog_owner(str(owner)),), "catalog"
    for relative in CODEOWNERS_PATHS:
        path = source / relative
        if path.is_file():
            found = codeowners_for_root(path.read_text(encoding="utf-8"))
            if found:
                return found, "codeowners"
    return (fallback,), "fallback"


def catalog_owner(reference: str) -> str:
    """A Backstage entity reference (`group:default/team-payments`, `team-payments`) as a handle: `team-payments`."""
    return reference.rsplit("/", 1)[-1].split(":", 1)[-1]


_WHOLE_REPO = {"*", "/", "/*", "/**", "**", "**/*"}


def codeowners_for_root(text: str) -> tuple[str, ...]:
    """The owners of the whole repository: those of the last rule matching every path (`*`, `/**`, ...), as GitHub
    takes the last matching rule. GitLab's `[Section] @owners` headers give a section's default owners."""
    found: tuple[str, ...] = ()
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        section = re.match(r"^\^?\[[^\]]+\](?:\[\d+\])?\s*(.*)$", line)
        if section:
            defaults = tuple(o for o in section.group(1).split() if "@" in o)
            if defaults and not found:
                found = defaults
            continue
        pattern, *rest = line.split()
        owners = tuple(rest)
        if pattern in _WHOLE_REPO and owners:
            found = owners
    return found
