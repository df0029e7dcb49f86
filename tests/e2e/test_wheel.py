"""The built wheel works on its own: prompts, demo stories, migrations and the console travel with it.

A checkout finds prompts/ and examples/scenarios/ at the repository root; an installed rca has no repository
root, so the wheel must carry them (pyproject's package-dir). The wheel is built offline from a copy of the
sources (no build isolation, no index), installed into a bare target directory, and exercised in a separate
interpreter whose import path puts that directory first, from a working directory with nothing in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "evidence", "detectors", "guardrails", "copilot", "evals", "rca", "rollout",
           "prompts", "examples")

PROBE = """
import json, sys
from pathlib import Path

target = Path(sys.argv[1]).resolve()
import copilot, evidence, rca
for module in (copilot, evidence, rca):
    assert Path(module.__file__).resolve().is_relative_to(target), module.__file__

from fastapi.testclient import TestClient

from copilot._prompts import PROMPTS_DIR, available_prompts, load_prompt
from rca._demo import demo_app, scenario_dir
from rca._settings import Settings

load_prompt("rca_v1")
load_prompt("chat")
app = demo_app(Settings(database_url="sqlite:///" + sys.argv[2]))
with TestClient(app) as client:
    page = client.get("/")
    script = client.get("/static/console.js")
    incidents = client.get("/v1/incidents").json()["items"]
print(json.dumps({
    "prompts_dir": str(PROMPTS_DIR), "prompts": available_prompts(), "scenario_dir": str(scenario_dir()),
    "page": page.status_code, "script": script.status_code,
    "reasons": sorted(incident["reason_code"] for incident in incidents),
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    wheels = root / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels),
                    str(source)], check=True, timeout=300)
    (wheel,) = wheels.glob("rca-*.whl")
    target = root / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    return target


def test_the_wheel_carries_prompts_demo_stories_migrations_and_the_console(installed: Path) -> None:
    (wheel,) = installed.parent.joinpath("dist").glob("rca-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    repo_prompts = {f"copilot/prompts/{p.name}" for p in (REPO / "prompts").glob("*.md")}
    repo_stories = {f"rca/demo_scenarios/{p.name}" for p in (REPO / "examples" / "scenarios").glob("*.yaml")}
    assert repo_prompts and repo_prompts <= names
    assert repo_stories and repo_stories <= names
    assert {"rca/console/console.html", "rca/console/static/console.js", "evidence/migrations/env.py",
            "evidence/migrations/script.py.mako"} <= names
    assert any(name.startswith("evidence/migrations/versions/0001") for name in names)


def test_an_installed_rca_serves_the_demo_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RCA_")}
    env["PYTHONPATH"] = str(installed)  # ahead of the editable checkout on the import path
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    done = subprocess.run([sys.executable, "-c", PROBE, str(installed), str(tmp_path / "demo.db")], cwd=workdir,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["prompts_dir"]).is_relative_to(installed)
    assert Path(report["scenario_dir"]).is_relative_to(installed)
    assert {"chat_v1", "rca_v1"} <= set(report["prompts"])
    assert report["page"] == 200 and report["script"] == 200
    # The two demo stories: a Spark job running slow and a Spring producer dropping a required field.
    assert report["reasons"] == ["JOB_RUNNING_SLOW", "REQUIRED_FIELD_MISSING"]
