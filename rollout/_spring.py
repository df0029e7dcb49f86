"""Spring Boot on Maven: the starter in pom.xml, `autopilot.enabled: false` in application.yml and per-ring
profile files, a start-up test, and the CI (the autopilot-cli jar from the same Maven repository)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from rollout import _yaml
from rollout._detect import SDK_GROUP
from rollout._maven import Pom
from rollout._model import Archetype, Change, ChangeItem, RolloutError
from rollout._shared import Toolkit, environments, remove_shared, write_ci, write_dry_run
from rollout._workspace import Workspace, render

STARTER = "autopilot-spring-boot-starter"
RESOURCES = "src/main/resources"
TEST_NAME = "AutopilotStartupTest"
BUILD = "mvn -B verify"


def toolkit(ws: Workspace) -> Toolkit:
    version = ws.settings.sdk_version
    fetch = (f"mvn -B -q dependency:copy -Dartifact={SDK_GROUP}:autopilot-cli:{version} "
             "-DoutputDirectory=target/autopilot -Dmdep.stripVersion=true")
    return Toolkit(
        cli="java -jar target/autopilot/autopilot-cli.jar",
        prepare=(fetch,),
        github_setup=("      - uses: actions/setup-java@v4",
                      "        with: { distribution: temurin, java-version: \"17\", cache: maven }"),
        gitlab_image="maven:3.9-eclipse-temurin-17",
        gitlab_setup=(),
        prerequisite=" (Java 17 and Maven; it fetches the autopilot-cli jar from the Maven repository)")


def onboard(ws: Workspace) -> Change:
    pom = Pom.read(ws.path("pom.xml"))
    raw = pom.with_dependency(SDK_GROUP, STARTER, ws.settings.sdk_version,
                              "evidence SDK, off unless autopilot.enabled=true (removal: delete this dependency)")
    items = [ChangeItem("pom.xml", f"adds `{SDK_GROUP}:{STARTER}:{ws.settings.sdk_version}` (pinned; nothing else "
                        "in the file changes)")]
    if not Pom(raw).has_artifact("junit-jupiter", "junit-jupiter-api", "spring-boot-starter-test"):
        raw = Pom(raw).with_dependency("org.junit.jupiter", "junit-jupiter", None,
                                       "runs the autopilot start-up test (version from the Spring Boot BOM)", "test")
        items.append(ChangeItem("pom.xml", "adds `org.junit.jupiter:junit-jupiter` (test scope) for the start-up test"))
    ws.path("pom.xml").write_bytes(raw)
    items += _config(ws)
    package, main_class, main_path = _application(ws.root)
    test = f"src/test/java/{package.replace('.', '/')}/{TEST_NAME}.java"
    ws.write(test, render("AutopilotStartupTest.java.j2", package=package, main_class=main_class))
    items.append(ChangeItem(test, f"{main_class} starts with the SDK off and with it on against a dead rca"))
    kit = toolkit(ws)
    items += write_dry_run(ws, kit)
    ci_items, notes = write_ci(ws, kit)
    return Change("onboard", Archetype.SPRING_BOOT_MAVEN, ws.service, ws.settings.sdk_version,
                  tuple(items + ci_items), tests=(f"{TEST_NAME} ({main_path})",), notes=tuple(notes), build=BUILD,
                  ci=ws.ci)


def remove(ws: Workspace) -> Change:
    pom = Pom.read(ws.path("pom.xml"))
    raw = pom.without_dependency(SDK_GROUP, STARTER)
    raw = Pom(raw).without_dependency(SDK_GROUP, "autopilot-core")
    raw = Pom(raw).without_dependency("org.junit.jupiter", "junit-jupiter", only_if_marked=True)
    items = [ChangeItem("pom.xml", f"removes `{SDK_GROUP}:{STARTER}`")] if raw != pom.raw else []
    ws.path("pom.xml").write_bytes(raw)
    for name in _config_files(ws):
        relative = f"{RESOURCES}/{name}"
        text = ws.read(relative)
        new = _without_autopilot(text, relative)
        if new == text:
            continue
        if new.strip():
            ws.write(relative, new)
            items.append(ChangeItem(relative, "autopilot settings removed"))
        else:
            ws.delete(relative)
            items.append(ChangeItem(relative, "deleted (it held only the autopilot settings)"))
    for test in sorted(ws.root.glob(f"src/test/java/**/{TEST_NAME}.java")):
        relative = str(test.relative_to(ws.root))
        ws.delete(relative)
        items.append(ChangeItem(relative, "deleted"))
    items += remove_shared(ws)
    notes = _leftovers(ws.root)
    return Change("remove", Archetype.SPRING_BOOT_MAVEN, ws.service, ws.settings.sdk_version, tuple(items),
                  notes=tuple(notes), build=BUILD, ci=ws.ci)


def _config(ws: Workspace) -> list[ChangeItem]:
    """application.yml (or .properties): the flag off; application-<env>.yml: the per-ring overrides, flag off."""
    properties = ws.exists(f"{RESOURCES}/application.properties") and not ws.exists(f"{RESOURCES}/application.yml")
    suffix = "properties" if properties else "yml"
    items: list[ChangeItem] = []
    base = {"enabled": False, "startup-event": False}
    items.append(_add(ws, f"application.{suffix}", base, "the evidence SDK, off until this service's ring turns it on",
                      "`autopilot.enabled: false`; deploys are recorded by the CI step"))
    for environment, endpoint in environments(ws):
        ring = ws.plan.ring_of(environment)
        values = {"enabled": False, "env": environment, "endpoint": endpoint}
        items.append(_add(ws, f"application-{environment}.{suffix}", values,
                          f"ring {ring} turns the SDK on in {environment} (enabled: true)",
                          f"profile `{environment}`: flag off until ring {ring}"))
    return items


def _add(ws: Workspace, name: str, values: Mapping[str, object], comment: str, what: str) -> ChangeItem:
    relative = f"{RESOURCES}/{name}"
    text = ws.read(relative) if ws.exists(relative) else ""
    if name.endswith(".properties"):
        if re.search(r"(?m)^\s*autopilot\.", text):
            return ChangeItem(relative, "already has autopilot settings; left as it is")
        lines = [f"{_yaml.COMMENT}: {comment}", *(f"autopilot.{k}={_scalar(v)}" for k, v in values.items())]
        lead = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        ws.write(relative, text + lead + "\n".join(lines) + "\n")
    else:
        new = _yaml.with_block(text, "autopilot", dict(values), comment, relative)
        if new == text:
            return ChangeItem(relative, "already has an `autopilot:` block; left as it is")
        ws.write(relative, new)
    return ChangeItem(relative, what if text else f"new: {what}")


def _scalar(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _config_files(ws: Workspace) -> list[str]:
    folder = ws.path(RESOURCES)
    return sorted(p.name for p in folder.glob("application*") if p.suffix in (".yml", ".yaml", ".properties"))


def _without_autopilot(text: str, where: str) -> str:
    if where.endswith(".properties"):
        lines = text.splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith((f"{_yaml.COMMENT}:", "autopilot."))]
        while kept and not kept[-1].strip() and len(kept) < len(lines):
            kept.pop()
        return "".join(kept)
    return _yaml.without_block(text, "autopilot", where)


def _application(root: Path) -> tuple[str, str, str]:
    """(package, class, path) of the @SpringBootApplication class."""
    for path in sorted(root.glob("src/main/java/**/*.java")):
        text = path.read_text(errors="replace")
        if "@SpringBootApplication" in text:
            package = re.search(r"^\s*package\s+([\w.]+)\s*;", text, re.MULTILINE)
            found = re.search(r"@SpringBootApplication[\s\S]*?\bclass\s+(\w+)", text)
            if found:
                return (package.group(1) if package else ""), found.group(1), str(path.relative_to(root))
    raise RolloutError(f"{root.name}: no @SpringBootApplication class under src/main/java; the start-up test needs "
                       "one (onboard by hand, see sdk/java/README.md)")


def _leftovers(root: Path) -> list[str]:
    """References to the SDK the removal cannot take out by itself (calls someone added by hand)."""
    found = []
    for path in sorted(root.glob("src/**/*.java")):
        if re.search(r"\bdev\.rca\.autopilot\b", path.read_text(errors="replace")):
            found.append(f"`{path.relative_to(root)}` still imports dev.rca.autopilot: remove those calls.")
    return found
