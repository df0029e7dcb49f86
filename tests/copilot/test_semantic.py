from datetime import timedelta

from copilot import SemanticSearch, incident_scope
from detectors import intake_records, run_detectors, stored_incidents
from detectors._scenario import load_into, load_scenario
from evidence import Incident
from evidence._vector import VectorIndex
from support import REFERENCE

SPRING = REFERENCE / "spring_missing_customer_id.yaml"


def test_evidence_nearest_the_question_comes_first_and_past_incidents_are_suggested(store, tmp_path) -> None:
    search = SemanticSearch(lambda: VectorIndex.open(tmp_path / "chroma"))
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    [incident] = run_detectors(store, scenario.now).incidents
    scope = incident_scope(store, incident)
    ranked = search.rank(incident.id, scope.records.values(), "which deployment of checkout-service shipped?")
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
    again = incident.model_copy(update={"id": "inc_next"})
    related = search.related_incidents(store, again)
    assert [r["id"] for r in related] == [resolved["id"]]
    assert related[0]["reason_code"] == "REQUIRED_FIELD_MISSING"


class CountingIndex(VectorIndex):
    """The real index, counting what is added (each added entry is one embedding)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.added: list[str] = []

    def add(self, collection, ids, texts, metadatas=None) -> None:
        self.added.extend(f"{collection}:{i}" for i in ids)
        super().add(collection, ids, texts, metadatas)


def _past(n: int, day: int, dataset: str = "ds://orders") -> dict:
    return {"id": f"inc_{n:03d}", "kind": "freshness", "reason_code": "JOB_FAILED", "field": None,
            "dataset_urn": dataset, "producer_urn": "job://orders-nightly", "correlated_deploys": [],
            "detected_at": f"2026-03-{day:02d}T03:00:00+00:00", "first_bad_time": f"2026-03-{day:02d}T02:00:00+00:00"}


def test_each_entry_is_embedded_once_not_on_every_question(store, tmp_path, monkeypatch) -> None:
    import chromadb

    from evidence._vector import _settings

    index = CountingIndex(chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=_settings()))
    search = SemanticSearch(lambda: index)
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    [incident] = run_detectors(store, scenario.now).incidents
    scope = incident_scope(store, incident)
    past = [_past(1, 2), _past(2, 3, "ds://payments")]
    monkeypatch.setattr("detectors.stored_incidents", lambda store, status=None: list(past))

    first = search.rank(incident.id, scope.records.values(), "which deployment shipped?")
    assert search.related_incidents(store, incident)
    assert len(index.added) == len(scope.records) + 2
    index.added.clear()
    assert search.rank(incident.id, scope.records.values(), "which deployment shipped?") == first
    assert [r["id"] for r in search.related_incidents(store, incident)] == ["inc_001", "inc_002"]
    assert index.added == []  # the same question again embeds nothing
    past.append(_past(3, 4))
    search.related_incidents(store, incident)
    assert index.added == ["incidents:inc_003"]  # only what is new


def test_a_record_in_two_incidents_scopes_ranks_for_both_in_any_order(store, tmp_path) -> None:
    search = SemanticSearch(lambda: VectorIndex.open(tmp_path / "chroma"))
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    [incident] = run_detectors(store, scenario.now).incidents
    records = list(incident_scope(store, incident).records.values())
    question = "which deployment of checkout-service shipped?"
    a = search.rank("inc_a", records, question)
    b = search.rank("inc_b", records, question)
    assert a == b == search.rank("inc_a", records, question)
    assert set(a) <= {r.evidence_id for r in records} and len(a) == len(set(a)) == min(20, len(records))


def test_related_incidents_come_from_the_newest_resolved_ones(store, tmp_path, monkeypatch) -> None:
    # Listed by dataset, as the store does: the alphabetically first datasets hold the oldest incidents.
    past = [_past(n, n, f"ds://{'a' if n <= 3 else 'z'}-orders") for n in range(1, 7)]
    monkeypatch.setattr("detectors.stored_incidents", lambda store, status=None: list(past))
    monkeypatch.setattr("copilot._semantic._INCIDENTS_INDEXED", 3)
    search = SemanticSearch(lambda: VectorIndex.open(tmp_path / "chroma"))
    current = Incident.model_validate({**_past(9, 20, "ds://a-orders"), "id": "inc_now", "status": "open",
                                       "updated_at": "2026-03-20T03:00:00+00:00"})
    related = search.related_incidents(store, current, k=3)
    assert sorted(r["id"] for r in related) == ["inc_004", "inc_005", "inc_006"]
