from datetime import timedelta

from copilot import SemanticSearch, incident_scope
from detectors import intake_records, run_detectors, stored_incidents
from detectors._scenario import load_into, load_scenario
from evidence._vector import VectorIndex
from support import SHARED

SPRING = SHARED / "scenarios" / "spring_missing_customer_id.yaml"


def test_evidence_nearest_the_question_comes_first_and_past_incidents_are_suggested(store, tmp_path) -> None:
    search = SemanticSearch(lambda: VectorIndex.open(tmp_path / "chroma"))
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    [incident] = run_detectors(store, scenario.now).incidents
    scope = incident_scope(store, incident)
    ranked = search.rank(incident["id"], scope.records.values(), "which deployment of checkout-service shipped?")
    assert scope.records[ranked[0]].type == "DeploymentEvent"
    assert set(ranked) <= set(scope.records)
    assert search.related_incidents(store, incident) == []  # nothing resolved yet
    # the break heals, is resolved, and comes back a day later: the first one is suggested as related
    later = scenario.now + timedelta(hours=2)
    good = [{**m, "offset": 90_000 + n, "timestamp": (scenario.now + timedelta(seconds=n)).isoformat(),
             "value": {**m["value"], "customer_id": "c-1"}} for n, m in enumerate(scenario.messages[:50])]
    intake_records(store, good, later)
    run_detectors(store, later)
    [resolved] = stored_incidents(store, status="resolved")
    again = {**incident, "id": "inc_next"}
    related = search.related_incidents(store, again)
    assert [r["id"] for r in related] == [resolved["id"]]
    assert related[0]["reason_code"] == "REQUIRED_FIELD_MISSING"
