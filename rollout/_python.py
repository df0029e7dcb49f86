"""Python service and PySpark job: the `autopilot` requirement in pyproject.toml through tomlkit, the code wiring
through libcst (the drop-in Kafka Producer and configure() for services, @job_run for jobs), a start-up test for
pytest, and the CI (`python -m autopilot deploy-event`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import tomlkit

from rollout._detect import PYTHON_DISTRIBUTION, python_requirements
from rollout._libcst import has_main, unwire_job, unwire_service, wire_job, wire_service
from rollout._model import Archetype, Change, ChangeItem, RolloutError
from rollout._shared import Toolkit, remove_shared, write_ci, write_dry_run, write_env_files
from rollout._workspace import Workspace, render

TEST_FILE = "test_autopilot_start.py"
BUILD = "pip install '.[test]' && pytest"


def toolkit(ws: Workspace, requirement: str) -> Toolkit:
    index = ws.channel.pip_index_env().get("PIP_INDEX_URL")
    install = f"pip install '{requirement}'" + (f" --index-url {index}" if index else "")
    return Toolkit(
        cli="python -m autopilot",
        prepare=(),
        github_setup=("      - uses: actions/setup-python@v5", "        with: { python-version: \"3.11\" }",
                      f"      - run: {install}"),
        gitlab_image="python:3.11",
        gitlab_setup=(install,),
        prerequisite=f" with the SDK installed (`{install}`)")


def onboard(ws: Workspace) -> Change:
    job = ws.detection.archetype is Archetype.PYSPARK_JOB
    document = tomlkit.parse(ws.read("pyproject.toml"))
    project: Any = document["project"]
    uses_kafka = "confluent-kafka" in python_requirements(list(project.get("dependencies") or []))
    requirement = ws.channel.python_requirement("kafka" if uses_kafka and not job else None)
    if "dependencies" not in project:
        project["dependencies"] = tomlkit.array()
    project["dependencies"].append(requirement)
    ws.write("pyproject.toml", tomlkit.dumps(document))
    items = [ChangeItem("pyproject.toml", f"depends on `{requirement}` (pinned to {ws.settings.sdk_version}; the rest "
                        "of the file is untouched, tomlkit)")]
    entry, function = _entry(ws, job)
    relative = str(entry.relative_to(ws.root))
    edit = (wire_job(entry.read_text(), relative, ws.service) if job
            else wire_service(entry.read_text(), relative))
    entry.write_text(edit.text)
    compile(edit.text, relative, "exec")
    items.append(ChangeItem(relative, "; ".join(edit.changed)))
    tests = _tests_folder(ws)
    module = _module_of(ws.root, entry)
    if job:
        test = render("test_autopilot_start_job.py.j2", module=module, job=ws.service)
    else:
        command = f"import sys; from {module} import {function}; sys.exit({function}())"
        test = render("test_autopilot_start_service.py.j2", service=ws.service, command=command)
    ws.write(f"{tests}/{TEST_FILE}", test)
    what = ("the job runs with the SDK off and with it on against a dead rca" if job
            else "the service starts with the SDK off and with it on against a dead rca")
    items.append(ChangeItem(f"{tests}/{TEST_FILE}", what))
    kit = toolkit(ws, requirement)
    extra = {"AUTOPILOT_PRODUCER": f"job://{ws.service}"} if job else {}
    items += write_env_files(ws, extra)
    items += write_dry_run(ws, kit)
    ci_items, notes = write_ci(ws, kit)
    archetype = Archetype.PYSPARK_JOB if job else Archetype.PYTHON_SERVICE
    return Change("onboard", archetype, ws.service, ws.settings.sdk_version, tuple(items + ci_items),
                  tests=(f"{tests}/{TEST_FILE}",), notes=tuple(notes), build=BUILD, ci=ws.ci)


def remove(ws: Workspace) -> Change:
    job = ws.detection.archetype is Archetype.PYSPARK_JOB
    document = tomlkit.parse(ws.read("pyproject.toml"))
    dependencies: Any = document["project"].get("dependencies") or []
    items: list[ChangeItem] = []
    for index in reversed(range(len(dependencies))):
        if PYTHON_DISTRIBUTION in python_requirements([str(dependencies[index])]):
            del dependencies[index]
    ws.write("pyproject.toml", tomlkit.dumps(document))
    items.append(ChangeItem("pyproject.toml", f"no longer depends on {PYTHON_DISTRIBUTION}"))
    for path in _python_files(ws.root):
        relative = str(path.relative_to(ws.root))
        text = path.read_text()
        if path.name == TEST_FILE and "Added by rca rollout" in text[:300]:
            ws.delete(relative)
            items.append(ChangeItem(relative, "deleted"))
            continue
        if "autopilot" not in text:
            continue
        edit = unwire_job(text, relative) if job else unwire_service(text, relative)
        if edit.text != text:
            path.write_text(edit.text)
            items.append(ChangeItem(relative, "; ".join(edit.changed)))
    items += remove_shared(ws)
    notes = [f"`{p.relative_to(ws.root)}` still imports autopilot: remove those calls."
             for p in _python_files(ws.root) if re.search(r"^\s*(import|from)\s+autopilot\b", p.read_text(),
                                                          re.MULTILINE)]
    archetype = Archetype.PYSPARK_JOB if job else Archetype.PYTHON_SERVICE
    return Change("remove", archetype, ws.service, ws.settings.sdk_version, tuple(items), notes=tuple(notes),
                  build=BUILD, ci=ws.ci)


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if not {".venv", "venv", "build", ".git"} & set(p.parts))


def _entry(ws: Workspace, job: bool) -> tuple[Path, str]:
    """The module whose main() starts the service or runs the job: the console script's, else the one
    `__main__.py` runs (itself, or the module it imports main from)."""
    project = tomllib.loads(ws.read("pyproject.toml"))["project"]
    for target in (project.get("scripts") or {}).values():
        module, _, function = str(target).partition(":")
        path = _module_path(ws.root, module)
        if path is not None and function == "main" and has_main(path.read_text()):
            return path, function
    for main in sorted(ws.root.rglob("__main__.py")):
        if {".venv", "venv", "build"} & set(main.parts):
            continue
        text = main.read_text()
        if has_main(text):
            return main, "main"
        imported = re.search(r"^from\s+([\w.]+)\s+import\s+.*\bmain\b", text, re.MULTILINE)
        path = _module_path(ws.root, imported.group(1)) if imported else None
        if path is not None and has_main(path.read_text()):
            return path, "main"
    kind = "job" if job else "service"
    raise RolloutError(f"{ws.root.name}: no main() found (a [project.scripts] entry or a __main__.py that runs one); "
                       f"the bot wires the {kind} there, so wire it by hand")


def _roots(root: Path) -> list[Path]:
    return [root / "src", root] if (root / "src").is_dir() else [root]


def _module_path(root: Path, module: str) -> Path | None:
    for base in _roots(root):
        for candidate in (base / (module.replace(".", "/") + ".py"), base / module.replace(".", "/") / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _module_of(root: Path, path: Path) -> str:
    base = next(b for b in _roots(root) if path.is_relative_to(b))
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tests_folder(ws: Workspace) -> str:
    try:
        paths = tomllib.loads(ws.read("pyproject.toml"))["tool"]["pytest"]["ini_options"]["testpaths"]
        return str(paths[0]).strip("/")
    except (KeyError, IndexError, TypeError):
        return "tests"
