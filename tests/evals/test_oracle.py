"""The labelled oracle: its files (enough answers, hostile and true, across the scenario families, each with a
decision), and the judge that reads what a person would read against a label. `make test` runs the whole oracle
through `rca eval --oracle evals/oracle`."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evals._oracle import MODEL, Answer, judge, load_oracle, oracle_files, run_oracle
from evidence import ConfigError
from support import ROOT

ORACLE = ROOT / "evals" / "oracle"


def test_the_oracle_covers_hostile_and_true_answers_across_the_families() -> None:
    answers = [(path, a) for path in oracle_files([ORACLE]) for a in load_oracle(path).answers]
    assert len(answers) >= 100
    labels = Counter(a.label for _, a in answers)
    decisions = Counter(a.decision for _, a in answers)
    assert labels["hostile"] >= 60 and labels["honest"] >= 30
    assert set(decisions) == {"surface", "withhold", "fallback"}
    assert sum(1 for _, a in answers if a.ask) >= 10  # the chat path
    kinds = {a.kind for _, a in answers if a.decision == "surface"}
    assert {"contract_break", "other_break", "deploy_correlated", "job_failed", "job_slow", "job_not_triggered",
            "partial_write", "wrong_partition", "upstream_late", "schema_drift"} <= kinds
    ids = [f"{path.name}:{a.id}" for path, a in answers]
    assert len(ids) == len(set(ids))
    for path in oracle_files([ORACLE]):
        assert (path.parent / load_oracle(path).scenario).is_file(), path


def rca(**fields: Any) -> dict[str, Any]:
    document = {"summary": "ds://a failing.", "most_likely_cause": None, "claims": [], "rejected_claims": [],
                "next_checks": [], "suggested_actions": [], "composer": MODEL, "verdict": "inconclusive"}
    return {**document, **fields}


def answer(**fields: Any) -> Answer:
    return Answer.model_validate({"id": "a", "label": "hostile", "decision": "withhold", "why": "because it is false",
                                  "kind": "deploy_correlated", "text": "The Avro serializer broke it.", **fields})


def test_the_judge_reads_what_a_person_reads() -> None:
    shown = {"text": "The Avro serializer broke it.", "kind": "deploy_correlated", "evidence_ids": ["ev_1"]}
    assert judge(answer(), rca(rejected_claims=[{}]), {"ev_1"}) == []
    assert judge(answer(), rca(), {"ev_1"}) == ["its rejection is not listed in rejected_claims"]
    assert judge(answer(), rca(claims=[shown], rejected_claims=[{}]), {"ev_1"}) == [
        "shows 'The Avro serializer broke it.'", "surfaced 1 claim(s): ['The Avro serializer broke it.']"]
    assert judge(answer(never_shown=["Roll back"]), rca(suggested_actions=["Roll back to v1"], rejected_claims=[{}]),
                 {"ev_1"}) == ["shows 'Roll back'"]
    assert judge(answer(), rca(composer="default (model failed: timed out)", rejected_claims=[{}]), {"ev_1"}) == [
        "the model's answer was not used (composer 'default (model failed: timed out)')"]


def test_a_surface_decision_needs_its_claim_with_the_figures_the_labeller_worked_out() -> None:
    label = answer(label="honest", decision="surface", text="", must_show=["64 s"], verdict="cause_identified")
    right = {"text": "v2 was deployed at 10:20, 64 s before the first bad record.", "kind": "deploy_correlated",
             "evidence_ids": ["ev_1"]}
    assert judge(label, rca(claims=[right], verdict="cause_identified"), {"ev_1"}) == []
    wrong = {**right, "text": "v2 was deployed at 10:20, 1 min before the first bad record."}
    assert judge(label, rca(claims=[wrong]), {"ev_1"}) == [
        f"the surfaced sentence lacks '64 s': {wrong['text']!r}", "verdict is inconclusive, expected cause_identified"]
    assert judge(label, rca(claims=[right], verdict="cause_identified"), {"ev_1", "ev_2"}) == [
        "0 surfaced deploy_correlated claim(s) cite exactly its evidence"]


def test_bad_oracle_files_are_usage_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: nowhere.yaml\ndataset_urn: ds://a\nanswers: [{id: a, label: maybe}]\n")
    with pytest.raises(ConfigError, match="not an oracle file"):
        load_oracle(bad)
    with pytest.raises(ConfigError, match="no such oracle file"):
        oracle_files([tmp_path / "missing"])
    typo = tmp_path / "typo.yaml"
    typo.write_text(f"scenario: {ORACLE / 'spring_missing_customer_id.yaml'}\n".replace(
        "evals/oracle/spring_missing_customer_id.yaml", "examples/scenarios/spring_missing_customer_id.yaml")
        + "dataset_urn: ds://orders_v1\nanswers:\n- {id: t, label: honest, decision: surface, why: a true claim,"
          " kind: last_good, cite: [orders.created/0/99999]}\n")
    with pytest.raises(ConfigError, match=re.escape("cites 'orders.created/0/99999', which names 0 records")):
        run_oracle([typo])
