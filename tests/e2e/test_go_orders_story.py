"""The Go story of examples/go-orders, end to end: a Go service (franz-go with autopilot-go's identity headers,
shop orders traced through the HTTP middleware, partner orders untraced) deploys v1.5.0 through the CI
command, starts writing partner orders without customer_id, and rca, reading the topic with
`rca gate consume` from a real broker, opens the incident and explains it with the deploy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import ROOT, kafka_required

pytestmark = pytest.mark.e2e
STORY = ROOT / "examples" / "go-orders" / "story.py"


def go_available() -> bool:
    found = subprocess.run([str(ROOT / "scripts" / "go-toolchain")], capture_output=True, text=True)
    return found.returncode == 0


def test_the_go_story_gives_the_incident_and_the_rca(kafka: str) -> None:
    if not go_available():
        if kafka_required():
            pytest.fail("no Go 1.22+ (scripts/go-toolchain), and CI must run the Go story")
        pytest.skip("no Go 1.22+: scripts/go-toolchain could not find or fetch one")
    done = subprocess.run([sys.executable, str(STORY), "--bootstrap", kafka, "--json"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["problems"] == []
    written = result["written"]
    assert {w["traced"] for w in written} == {True, False}  # partial tracing
    assert all(w["traced"] for w in written if w["path"] == "shop")  # the middleware traced every request
    assert not any(w["traced"] for w in written if w["path"] == "partner")
    [incident], [rca] = result["incidents"], result["rcas"]
    assert result["expected"]["first_bad_traced"] is False
    assert incident["bad_rate"]["before"] == 0.0 and incident["bad_rate"]["after"] > 0
    assert rca["correlated_deploy"]["deploy_ref"] == "orders-api@v1.5.0+7d3f1b2"
    cited = {e["evidence_id"] for e in rca["evidence"]}
    assert all(set(claim["evidence_ids"]) <= cited for claim in rca["claims"])
    assert any("traceparent" in check for check in rca["next_checks"])
