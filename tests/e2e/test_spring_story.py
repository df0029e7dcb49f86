"""The brief's Spring story, end to end: examples/spring-checkout (the Java SDK's starter and CI jar) against a
real `rca serve` and the real broker, checked by the story's own reading of the topic (see story.py there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT

pytestmark = pytest.mark.e2e
STORY = ROOT / "examples" / "spring-checkout" / "story.py"
STARTER = Path.home() / ".m2" / "repository" / "dev" / "rca" / "autopilot" / "autopilot-spring-boot-starter" / "0.1.0"
CLI_JAR = ROOT / "sdk" / "java" / "autopilot-cli" / "target" / "autopilot-cli-0.1.0.jar"


def test_the_spring_story_gives_the_incident_with_v281_correlated_and_its_rca(kafka: str, tmp_path: Path) -> None:
    if not (shutil.which("java") and shutil.which("mvn")):
        if os.environ.get("CI") or os.environ.get("RCA_REQUIRE_KAFKA") == "1":
            pytest.fail("java and mvn are needed for the Spring story (CI installs them)")
        pytest.skip("java and mvn are needed for the Spring story")
    built = CLI_JAR.exists() and any(STARTER.glob("*.jar"))  # `make test-java` ran first (as `make test` does)
    summary = tmp_path / "summary.json"
    run = subprocess.run(
        [sys.executable, str(STORY), "--bootstrap", kafka, "--work", str(tmp_path / "work"), "--summary", str(summary),
         *(["--skip-sdk-build"] if built else [])],
        capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    checks = json.loads(summary.read_text())["checks"]
    assert checks and all(checks.values()), checks
