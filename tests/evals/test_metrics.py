"""The metric definitions and the expectation checks on small hand-made inputs, and ragas on hand-made samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evals import DEFINITIONS, GroundingSample, Observed, check, summarize, tally
from evals._metrics import CONTROL, Tally, family, metrics


def incident(urn: str = "ds://a", kind: str = "contract", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": f"inc_{urn[5:]}_{kind}", "dataset_urn": urn, "kind": kind,
                            "reason_code": "REQUIRED_FIELD_MISSING", "first_bad_time": "2026-03-10T10:21:04Z",
                            "last_good_time": "2026-03-10T10:20:58Z", "correlated_deploys": [], "evidence": []}
    return {**base, **fields}


def rca(incident_id: str, cited: dict[str, str], *, verdict: str = "cause_identified",
        cause: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    """An RCA whose one claim cites the ids of `cited` ({evidence_id: source_ref})."""
    return {"incident_id": incident_id, "verdict": verdict, "reason_code": "REQUIRED_FIELD_MISSING",
            "claims": [{"text": "t", "kind": "contract_break", "evidence_ids": list(cited)}],
            "most_likely_cause": {"statement": "t", "evidence_ids": cause} if cause else None,
            "evidence": [{"evidence_id": i, "source_ref": r} for i, r in cited.items()],
            "correlated_deploy": None, "next_checks": [], **fields}


def value(tallied: Tally, name: str) -> Any:
    return metrics(tallied)[name]["value"]


def test_detection_counts_only_constrained_false_positives() -> None:
    expect = {"incidents": [{"dataset_urn": "ds://a", "kind": "contract"}, {"dataset_urn": "ds://b"}],
              "no_incident": [{"dataset_urn": "ds://c", "reason_code": "ENUM_VIOLATION"}]}
    observed = Observed(incidents=[incident("ds://a"), incident("ds://c", reason_code="ENUM_VIOLATION"),
                                   incident("ds://c"), incident("ds://d")])  # ds://d is not constrained: ignored
    counts = tally(expect, observed).counts
    assert (counts["detect_tp"], counts["detect_fn"], counts["detect_fp"]) == (1, 1, 1)
    assert metrics(tally(expect, observed))["detection_precision"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert value(tally(expect, observed), "detection_recall") == 0.5


def test_control_scenario_counts_every_incident_as_false_positive() -> None:
    tallied = tally({"incidents": []}, Observed(incidents=[incident("ds://a"), incident("ds://b")]))
    assert value(tallied, "detection_precision") == 0.0
    assert value(tallied, "detection_recall") is None  # nothing was expected: undefined, not a flattering 1.0
    assert value(tally({"incidents": []}, Observed(incidents=[])), "detection_precision") is None


def test_second_match_of_an_expected_incident_is_a_false_positive() -> None:
    tallied = tally({"incidents": [{"dataset_urn": "ds://a"}]}, Observed(incidents=[incident(), incident()]))
    assert (tallied.counts["detect_tp"], tallied.counts["detect_fp"]) == (1, 1)


def test_reason_and_boundaries_compare_instants_to_the_second() -> None:
    expect = {"incidents": [
        {"dataset_urn": "ds://a", "reason_code": "REQUIRED_FIELD_MISSING",
         "first_bad_time": "2026-03-10T05:21:04-05:00",  # the same instant written in another offset
         "last_good_time": "2026-03-10T10:20:57+00:00"},  # one second off
        {"dataset_urn": "ds://missing", "reason_code": "JOB_FAILED", "first_bad_time": "2026-03-10T10:00:00Z"}]}
    observed = Observed(incidents=[incident(first_bad_time="2026-03-10T10:21:04.900Z")])
    tallied = tally(expect, observed)
    assert metrics(tallied)["reason_code_accuracy"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert metrics(tallied)["boundary_accuracy"] == {"value": round(1 / 3, 6), "numerator": 1, "denominator": 3}


def test_deploy_attribution_counts_incidents_and_rcas() -> None:
    deploy = {"version": "v2.8.1", "evidence_id": "ev_d"}
    inc = incident(correlated_deploys=[deploy, {"version": "v2.8.0"}])
    expect = {"incidents": [{"dataset_urn": "ds://a", "correlated_deploy": "v2.8.1"}],
              "rca": [{"dataset_urn": "ds://a", "correlated_deploy": None}]}
    observed = Observed(incidents=[inc], rcas=[rca(inc["id"], {}, correlated_deploy=deploy)])
    assert metrics(tally(expect, observed))["deploy_attribution_accuracy"] == {
        "value": 0.5, "numerator": 1, "denominator": 2}


def test_citation_recall_and_precision_through_the_rca_evidence_list() -> None:
    inc = incident()
    answer = rca(inc["id"], {"ev_1": "deploy-1", "ev_2": "t/0/1"}, cause=["ev_3"])
    answer["evidence"].append({"evidence_id": "ev_3", "source_ref": "deploy-other"})
    expect = {"rca": [{"dataset_urn": "ds://a", "must_cite": ["deploy-1", "t/0/9"], "must_not_cite": ["deploy-other"]}]}
    result = metrics(tally(expect, Observed(incidents=[inc], rcas=[answer])))
    assert result["citation_recall"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    # three refs cited (deploy-1, t/0/1, deploy-other), one of them forbidden: 1 - 1/3
    assert result["citation_precision"] == {"value": round(2 / 3, 6), "numerator": 2, "denominator": 3}
    # without a must_not_cite list, an RCA does not count towards precision at all
    del expect["rca"][0]["must_not_cite"]
    assert metrics(tally(expect, Observed(incidents=[inc], rcas=[answer])))["citation_precision"]["value"] is None


def test_inconclusive_precision_and_recall() -> None:
    total = Tally()
    for expected, given in (("inconclusive", "inconclusive"), ("cause_identified", "inconclusive"),
                            ("inconclusive", "cause_identified"), ("cause_identified", "cause_identified")):
        inc = incident()
        expect = {"rca": [{"dataset_urn": "ds://a", "verdict": expected}]}
        total.add(tally(expect, Observed(incidents=[inc], rcas=[rca(inc["id"], {}, verdict=given)])))
    assert metrics(total)["inconclusive_precision"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert metrics(total)["inconclusive_recall"] == {"value": 0.5, "numerator": 1, "denominator": 2}


def test_proposer_text_rate_and_empty_tallies() -> None:
    tallied = Tally()
    tallied.counts.update(sentences_surfaced=8, proposer_text_surfaced=1)
    assert metrics(tallied)["proposer_text_rate"] == {"value": 0.125, "numerator": 1, "denominator": 8}
    empty = metrics(Tally())
    assert all(entry["value"] is None for entry in empty.values())
    assert set(empty) - {"scenario_pass_rate"} <= set(DEFINITIONS)


def test_families_and_summary() -> None:
    assert family({"incidents": []}, [incident()]) == CONTROL
    assert family({"incidents": [{"dataset_urn": "ds://a", "kind": "freshness"}]}, []) == "freshness"
    assert family({"rca": []}, [incident(kind="drift")]) == "drift"
    contract = tally({"incidents": [{"dataset_urn": "ds://a"}]}, Observed(incidents=[incident()]))
    control = tally({"incidents": []}, Observed(incidents=[incident()]))
    summary = summarize([("contract", contract), (CONTROL, control)])
    assert summary["overall"]["detection_precision"]["value"] == 0.5
    assert summary["families"]["contract"]["detection_precision"]["value"] == 1.0
    assert summary["families"][CONTROL]["detection_precision"]["value"] == 0.0
    assert json.loads(json.dumps(summary)) == summary  # plain JSON: no NaN, no objects


def test_failures_are_sentences_naming_the_item() -> None:
    inc = incident(first_bad_time="2026-03-10T10:21:05Z", bad_rate={"before": 0.0, "after": 0.3})
    expect = {"incidents": [{"dataset_urn": "ds://a", "kind": "contract", "first_bad_time": "2026-03-10T10:21:04Z",
                             "bad_rate": {"before": 0.0, "after": 0.18, "tolerance": 0.03}}],
              "no_incident": [{"dataset_urn": "ds://a"}],
              "drift": [{"topic": "t", "schema_id": 8, "change_request": True}],
              "rca": [{"dataset_urn": "ds://a", "verdict": "inconclusive", "must_cite": ["t/0/1"]},
                      {"dataset_urn": "ds://z", "verdict": "inconclusive"}]}
    observed = Observed(incidents=[inc], drift=[{"topic": "t", "schema_id": 8, "change_request_id": None}],
                        rcas=[rca(inc["id"], {})])
    assert check(expect, observed) == [
        "incident ds://a: first_bad_time is 2026-03-10T10:21:05Z, expected 2026-03-10T10:21:04Z",
        "incident ds://a: bad_rate.after is 0.3, expected 0.18 +- 0.03",
        "unexpected incident ds://a REQUIRED_FIELD_MISSING (no_incident)",
        "drift t schema 8 not flagged with a change request",
        "rca ds://a: verdict is cause_identified, expected inconclusive",
        "rca ds://a: no verified claim cites t/0/1",
        "rca ds://z: no RCA, as no open incident is on that dataset",
    ]
    assert check({"incidents": []}, observed) == [
        "expected no incident, found ds://a (contract, REQUIRED_FIELD_MISSING)"]
    assert check({"incidents": [{"dataset_urn": "ds://a", "kind": "freshness"}]}, observed) == [
        "incident ds://a (freshness): 0 open incidents match, expected 1"]


def test_ragas_id_and_string_metrics_on_hand_made_samples() -> None:
    from evals._ragas import score_samples

    summary = "DeploymentEvent checkout-service v2.8.1 from svc://checkout-service at 2026-03-10T10:20:00Z"
    cited = GroundingSample(user_input="q", response="r", retrieved_ids=["ev_a", "ev_b"], reference_ids=["ev_a"],
                            retrieved_contexts=[summary, "GateObservation orders.created/0/5190 passed"],
                            reference_contexts=[summary])
    silent = GroundingSample(user_input="q", response="", retrieved_ids=[], reference_ids=["ev_a"],
                             retrieved_contexts=[], reference_contexts=[summary])
    unreferenced = GroundingSample(user_input="q", response="r", retrieved_ids=["ev_a"], reference_ids=[],
                                   retrieved_contexts=[summary], reference_contexts=[])
    first, second, third = score_samples([cited, silent, unreferenced])
    assert first["id_based_context_precision"] == 0.5 and first["id_based_context_recall"] == 1.0
    assert first["non_llm_context_recall"] == 1.0
    assert first["non_llm_context_precision"] == pytest.approx(1.0)  # the matching summary is ranked first
    assert second == {"id_based_context_precision": None, "id_based_context_recall": 0.0,
                      "non_llm_context_precision": None, "non_llm_context_recall": 0.0}
    assert third == {}  # nothing to compare with, and no LLM
    assert score_samples([cited]) == [first]  # deterministic


def test_ragas_llm_metrics_use_the_model_they_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from evals._ragas import score_samples

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a silently built default client would fail here
    statement = "checkout-service v2.8.1 was deployed at 10:20."
    chat = FakeListChatModel(responses=[
        json.dumps({"statements": [statement]}),  # Faithfulness: statements, then one verdict per statement
        json.dumps({"statements": [{"statement": statement, "reason": "in the context", "verdict": 1}]}),
        "2", "2"])  # ResponseGroundedness: two judges
    sample = GroundingSample(user_input="q", response=statement, retrieved_ids=["ev_a"], reference_ids=[],
                             retrieved_contexts=["DeploymentEvent checkout-service v2.8.1 at 10:20"],
                             reference_contexts=[])
    assert score_samples([sample], chat) == [{"faithfulness": 1.0, "response_groundedness": 1.0}]
