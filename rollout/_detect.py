"""Which archetype a checked-out repository is, its service name, and whether it already has the SDK."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from rollout._maven import MAVEN_NS, Pom
from rollout._model import Archetype, Detection
from rollout._settings import RolloutSettings

SPRING_GROUP = "org.springframework.boot"
SDK_GROUP = "dev.rca.autopilot"
SDK_ARTIFACTS = ("autopilot-spring-boot-starter", "autopilot-core")
NPM_PACKAGE = "@rca/autopilot"
PYTHON_DISTRIBUTION = "autopilot"


def detect(root: Path, settings: RolloutSettings | None = None) -> Detection:
    """Read the manifests at the repository's root (pom.xml, go.mod, pyproject.toml, package.json, in that order:
    the first one found decides) and say what the repository is."""
    settings = settings or RolloutSettings()
    if (root / "pom.xml").is_file():
        return _maven(root / "pom.xml")
    if (root / "go.mod").is_file():
        return _go(root, settings.go_module)
    if (root / "pyproject.toml").is_file():
        return _python(root / "pyproject.toml")
    if (root / "package.json").is_file():
        return _node(root / "package.json")
    return Detection(None, root.name, False, "no pom.xml, go.mod, pyproject.toml or package.json at the root: not an "
                     "archetype the bot onboards (Spring Boot on Maven, Go module, Node service, Python service, "
                     "PySpark job)")


def _maven(path: Path) -> Detection:
    pom = Pom.read(path)
    name = pom.text("m:artifactId") or path.parent.name
    groups = {g.strip() for g in pom.root.xpath(".//m:groupId/text()", namespaces=MAVEN_NS)}
    if SPRING_GROUP not in groups:
        return Detection(None, name, False, "a Maven project without Spring Boot: the bot onboards Spring Boot "
                         "services (plain Java adopts autopilot-core by hand, see sdk/java/README.md)", "pom.xml")
    for artifact in SDK_ARTIFACTS:
        if pom.dependency(SDK_GROUP, artifact) is not None:
            return Detection(Archetype.SPRING_BOOT_MAVEN, name, True,
                             f"already depends on {SDK_GROUP}:{artifact}", "pom.xml")
    return Detection(Archetype.SPRING_BOOT_MAVEN, name, False, "Spring Boot on Maven", "pom.xml")


_GO_MODULE = re.compile(r"^module\s+(\S+)", re.MULTILINE)


def go_requires(text: str) -> set[str]:
    """The module paths a go.mod requires (single lines and blocks)."""
    paths: set[str] = set()
    block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if block:
            if line == ")":
                block = False
            elif line:
                paths.add(line.split()[0])
        elif line.startswith("require"):
            rest = line.removeprefix("require").strip()
            if rest == "(":
                block = True
            elif rest:
                paths.add(rest.split()[0])
    return paths


def _go(root: Path, sdk_module: str) -> Detection:
    text = (root / "go.mod").read_text()
    found = _GO_MODULE.search(text)
    module = found.group(1) if found else root.name
    name = module.rstrip("/").rsplit("/", 1)[-1]
    if sdk_module in go_requires(text):
        return Detection(Archetype.GO_MODULE, name, True, f"go.mod already requires {sdk_module}", "go.mod")
    if not go_main_files(root):
        return Detection(None, name, False, "a Go library (no package main): services adopt the SDK, the libraries "
                         "they import do not", "go.mod")
    return Detection(Archetype.GO_MODULE, name, False, "Go module", "go.mod")


def go_main_files(root: Path) -> list[Path]:
    """The non-test .go files of the main package at the module root, or else of the first cmd/<name>."""
    for folder in [root, *sorted(p for p in (root / "cmd").glob("*") if p.is_dir())]:
        files = [p for p in sorted(folder.glob("*.go")) if not p.name.endswith("_test.go")
                 and re.search(r"^package\s+main\b", p.read_text(errors="replace"), re.MULTILINE)]
        if files:
            return files
    return []


def _python(path: Path) -> Detection:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        return Detection(None, path.parent.name, False, f"pyproject.toml does not parse ({exc}); fix it first",
                         "pyproject.toml")
    project: dict[str, Any] = data.get("project") or {}
    if not project:
        return Detection(None, path.parent.name, False, "pyproject.toml has no [project] table (the bot edits "
                         "standard PEP 621 metadata; Poetry's [tool.poetry] is not supported)", "pyproject.toml")
    name = str(project.get("name") or path.parent.name)
    requirements = python_requirements(project.get("dependencies") or [])
    kind = Archetype.PYSPARK_JOB if "pyspark" in requirements else Archetype.PYTHON_SERVICE
    if PYTHON_DISTRIBUTION in requirements:
        return Detection(kind, name, True, f"already depends on {PYTHON_DISTRIBUTION}", "pyproject.toml")
    return Detection(kind, name, False, "PySpark job" if kind is Archetype.PYSPARK_JOB else "Python service",
                     "pyproject.toml")


def python_requirements(values: list[str]) -> dict[str, Requirement]:
    """Requirements by normalised distribution name; unparsable entries are left out (pip would refuse them)."""
    found: dict[str, Requirement] = {}
    for value in values:
        try:
            requirement = Requirement(str(value))
        except InvalidRequirement:
            continue
        found[requirement.name.lower().replace("_", "-")] = requirement
    return found


def _node(path: Path) -> Detection:
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return Detection(None, path.parent.name, False, f"package.json is not JSON ({exc}); fix it first",
                         "package.json")
    name = str(manifest.get("name") or path.parent.name).rsplit("/", 1)[-1]
    if NPM_PACKAGE in (manifest.get("dependencies") or {}):
        return Detection(Archetype.NODE_SERVICE, name, True, f"already depends on {NPM_PACKAGE}", "package.json")
    if node_entry(manifest) is None:
        return Detection(None, name, False, "a Node package without a start script or main: services adopt the "
                         "SDK, libraries do not", "package.json")
    return Detection(Archetype.NODE_SERVICE, name, False, "Node service", "package.json")


def node_entry(manifest: dict[str, Any]) -> str | None:
    """The file `npm start` runs (`node FILE` in scripts.start), else `main`."""
    start = str((manifest.get("scripts") or {}).get("start") or "")
    found = re.match(r"^node\s+(?:--\S+\s+)*(\S+\.[cm]?js)\b", start.strip())
    if found:
        return found.group(1).removeprefix("./")
    main = manifest.get("main")
    return str(main).removeprefix("./") if main else None
