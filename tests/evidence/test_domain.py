"""The incident and RCA models the API declares describe what it returns: every incident and RCA of the reference
stories and a few of the suite validates against them, times as datetimes, and the OpenAPI description shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot import TemplateComposer, build_rca, replay_source
from detectors import load_scenario, replay
from evidence import Incident, Rca, ReasonCode

ROOT = Path(__file__).resolve().parents[2]
STORIES = [*(ROOT / "examples" / "scenarios").glob("*.yaml"),
           *(ROOT / "evals" / "scenarios" / n for n in ("node_cart_schema_drift_unmapped.yaml",
                                                        "spark_settlement_ledger_upstream_late.yaml"))]


@pytest.mark.parametrize("path", sorted(STORIES), ids=lambda p: p.stem)
def test_incidents_and_rcas_are_what_the_models_say(path: Path) -> None:
    result = replay(load_scenario(path))
    incidents = result.incidents
    assert incidents
    for body in incidents:
        incident = Incident.model_validate(body)
        assert incident.first_bad_time.tzinfo is not None and isinstance(incident.reason_code, ReasonCode)
        assert incident.model_dump(mode="json").keys() == body.keys()  # nothing dropped
        rca = Rca.model_validate(build_rca(replay_source(result), incident, TemplateComposer()))
        assert rca.incident_id == incident.id and rca.reason_code == incident.reason_code


def test_the_openapi_description_shows_the_models() -> None:
    import json

    spec = json.loads((ROOT / "docs" / "openapi.json").read_text())
    def ref(path: str) -> str:
        return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]

    assert ref("/v1/incidents/{incident_id}").endswith("/Incident")
    assert ref("/v1/incidents/{incident_id}/rca").endswith("/Rca")
    assert ref("/v1/incidents").endswith("/IncidentPage")
    assert {"CorrelatedDeploy", "CorrelatedRun", "Claim"} <= spec["components"]["schemas"].keys()
