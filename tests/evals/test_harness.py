"""`rca eval` end to end on the reference scenarios (examples/scenarios): every one passes with the offline
composer, a broken expectation fails the run with a readable reason, the JSON and the reports have what they
promise, and the expectation checks agree with the independent checker (tests/independent/check_replay.py) key for
key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from copilot import Question, TemplateComposer
from evals import COMPOSER_MODES, EvalResult, make_composer, render_html, render_markdown, run_eval, scenario_files
from evals._checks import check_incident, check_rca, cited_refs, matching, rca_for
from evals._cli import eval_command
from evidence import ConfigError
from guardrails import Draft
from rca._settings import Settings
from support import REFERENCE, independent_checker

MISSING_CUSTOMER_ID = REFERENCE / "spring_missing_customer_id.yaml"

METRIC_KEYS = {"scenario_pass_rate", "detection_precision", "detection_recall", "reason_code_accuracy",
               "boundary_accuracy", "deploy_attribution_accuracy", "citation_recall", "citation_precision",
               "proposer_text_rate", "inconclusive_precision", "inconclusive_recall",
               "id_based_context_precision", "id_based_context_recall", "non_llm_context_precision",
               "non_llm_context_recall", "faithfulness", "response_groundedness"}


@pytest.fixture(scope="module")
def default_run() -> EvalResult:
    return run_eval([REFERENCE], "default")


def test_reference_scenarios_pass_with_the_offline_composer(default_run: EvalResult) -> None:
    assert len(default_run.scenarios) == len(list(REFERENCE.glob("*.yaml")))
    assert [f for s in default_run.scenarios for f in s.failures] == []
    overall = default_run.metrics["overall"]
    assert overall["proposer_text_rate"]["value"] == 0.0 and overall["proposer_text_rate"]["denominator"] > 0
    for name in ("detection_precision", "detection_recall", "reason_code_accuracy", "boundary_accuracy",
                 "deploy_attribution_accuracy", "citation_recall", "citation_precision"):
        assert overall[name]["value"] == 1.0, name
    assert overall["id_based_context_recall"]["value"] == 1.0 and overall["id_based_context_recall"]["samples"] > 0
    assert overall["faithfulness"] == {"value": None, "samples": 0}  # no LLM, no LLM metric
    assert set(default_run.metrics["families"]) == {"contract", "freshness"}


def test_json_document_has_the_promised_keys(default_run: EvalResult) -> None:
    document = json.loads(json.dumps(default_run.as_json()))
    assert {"passed", "failed", "scenarios", "metrics"} <= set(document)
    assert (document["passed"], document["failed"]) == (len(document["scenarios"]), 0)
    for scenario in document["scenarios"]:
        assert {"name", "passed", "failures"} <= set(scenario)
    assert set(document["metrics"]["overall"]) >= METRIC_KEYS
    for family in document["metrics"]["families"].values():
        assert set(family) >= METRIC_KEYS


def test_a_broken_expectation_fails_the_run_with_a_readable_reason(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    text = MISSING_CUSTOMER_ID.read_text()
    assert text.count("first_bad_time: '2026-03-10T10:21:04+00:00'") == 1
    broken.write_text(text.replace("first_bad_time: '2026-03-10T10:21:04+00:00'",
                                   "first_bad_time: '2026-03-10T10:21:05+00:00'"))
    assert eval_command([broken], "default", True, None) == 1
    document = json.loads(capsys.readouterr().out)
    assert (document["passed"], document["failed"]) == (0, 1)
    assert document["scenarios"][0]["failures"] == [
        "incident ds://orders_v1: first_bad_time is 2026-03-10T10:21:04Z, expected 2026-03-10T10:21:05+00:00"]
    assert document["metrics"]["overall"]["boundary_accuracy"]["value"] == 0.5


def test_text_output_and_exit_code_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_command([MISSING_CUSTOMER_ID], "default", False, tmp_path / "report.md") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("ok   spring-missing-customer-id-after-deploy")
    assert "proposer_text_rate            0.000 (0/" in out and out.rstrip().endswith("1 passed, 0 failed")
    assert (tmp_path / "report.md").read_text().startswith("# rca eval: 1 passed, 0 failed (composer: default)")


def test_usage_mistakes_exit_2_without_running(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert eval_command([MISSING_CUSTOMER_ID], "gpt", False, None) == 2
    assert eval_command([MISSING_CUSTOMER_ID], "default", False, tmp_path / "report.pdf") == 2
    assert eval_command([tmp_path / "nowhere"], "default", False, None) == 2
    assert eval_command([tmp_path], "default", False, None) == 2  # a folder without scenarios
    monkeypatch.delenv("RCA_LLM_MODEL", raising=False)
    monkeypatch.delenv("RCA_LLM_CLASS", raising=False)
    assert eval_command([MISSING_CUSTOMER_ID], "llm", False, None) == 2
    err = capsys.readouterr().err
    assert "choose one of default, llm, adversarial" in err and "report.pdf" in err and "nowhere" in err
    assert "--composer llm needs a model: set RCA_LLM_MODEL" in err
    assert COMPOSER_MODES == ("default", "llm", "adversarial")


def test_scenario_files_walks_folders_and_skips_private_files(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    for name in ("b.yaml", "nested/a.yml", "_generate.yaml", "notes.md"):
        (tmp_path / name).write_text("")
    assert scenario_files([tmp_path, tmp_path / "b.yaml"]) == [tmp_path / "b.yaml", tmp_path / "nested" / "a.yml"]
    with pytest.raises(ConfigError, match="no such scenario file or folder"):
        scenario_files([tmp_path / "missing"])


def test_reports_render_and_escape_scenario_text(tmp_path: Path, default_run: EvalResult) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(MISSING_CUSTOMER_ID.read_text().replace(
        "name: spring-missing-customer-id-after-deploy", "name: '<script>alert(1)</script> | pipe'", 1))
    result = run_eval([hostile], "default")
    assert result.scenarios[0].name == "<script>alert(1)</script> | pipe"
    html_text, markdown = render_html(result), render_markdown(result)
    assert "<script" not in html_text and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    assert "<script" not in markdown and "&lt;script&gt;alert(1)&lt;/script&gt; \\| pipe" in markdown
    assert "http" not in html_text.split("<body>")[0]  # no external assets
    for text in (html_text, markdown):
        assert "proposer_text_rate" in text and "citation_precision" in text
        assert "must_not_cite refs cited / distinct refs cited" in text  # the definitions travel with the numbers
    full = render_markdown(default_run)
    assert "| metric | overall | contract | freshness |" in full
    for scenario in default_run.scenarios:
        assert f"| {scenario.name} | {scenario.family} |" in full
    target = tmp_path / "report.html"
    assert eval_command([hostile], "default", True, target) == 0
    assert target.read_text().startswith("<!doctype html>")


class _OfflineWithJudge:
    """The offline composer, carrying a chat model the way LangChainComposer does: what --composer llm hands ragas."""

    name = "judged-offline"

    def __init__(self, chat_model: Any) -> None:
        self.chat_model = chat_model

    def compose(self, question: Question) -> Draft:
        return TemplateComposer().compose(question)


def test_llm_mode_runs_llm_metrics_with_the_composers_own_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    statement = "A claim."
    judge = FakeListChatModel(responses=[  # per RCA, in ragas' order: statements, verdicts, two groundedness judges
        json.dumps({"statements": [statement]}),
        json.dumps({"statements": [{"statement": statement, "reason": "stated", "verdict": 1}]}), "2", "2"])
    result = run_eval([MISSING_CUSTOMER_ID], "llm", composer=_OfflineWithJudge(judge))
    assert result.failed == 0
    overall = result.metrics["overall"]
    assert overall["faithfulness"] == {"value": 1.0, "samples": 1}
    assert overall["response_groundedness"] == {"value": 1.0, "samples": 1}
    assert judge.i == 0  # all four answers consumed: the list wrapped around exactly once


def test_llm_mode_builds_the_configured_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCA_LLM_CLASS", raising=False)
    monkeypatch.setenv("RCA_LLM_MODEL", "qwen2.5-7b-instruct")
    monkeypatch.setenv("RCA_LLM_BASE_URL", "http://llm.invalid/v1")
    monkeypatch.setenv("RCA_LLM_API_KEY", "none")
    composer = make_composer("llm", Settings().model_environment())  # as `rca eval` passes them
    assert composer.name == "qwen2.5-7b-instruct" and getattr(composer, "chat_model", None) is not None


# -- agreement with the independent checker --------------------------------------------------------------------


def _incident_mutations(want: dict[str, Any], got: dict[str, Any]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = [
        {"reason_code": "TYPE_MISMATCH"}, {"field": "nope"}, {"stale_evidence": not got.get("stale_evidence")},
        {"current_watermark": "dt=1999-01-01"}, {"first_bad_time": "2026-03-10T10:21:04-05:00"},
        {"last_good_time": "1999-01-01T00:00:00Z"}, {"correlated_deploy": "v0.0.0"}, {"correlated_deploy": None},
        {"impacted_downstream_includes": ["ds://nowhere"]}, {"evidence_includes": ["nope/0/1"]},
        {"bad_rate": {"before": 0.5, "after": 0.5, "tolerance": 0.01}}]
    for key in ("first_bad_time", "last_good_time"):  # the same instant in another offset must still hold
        if got.get(key):
            changes.append({key: got[key].replace("Z", "+00:00")})
    return [{**copy.deepcopy(want), **change} for change in changes]


def _rca_mutations(want: dict[str, Any], got: dict[str, Any]) -> list[dict[str, Any]]:
    cited = sorted(cited_refs(got))
    changes: list[dict[str, Any]] = [
        {"verdict": "inconclusive" if got["verdict"] != "inconclusive" else "cause_identified"},
        {"reason_code": "JOB_FAILED"}, {"correlated_deploy": "v0.0.0"}, {"correlated_deploy": None},
        {"must_cite": ["nope/0/1"]}, {"must_cite": cited}, {"must_not_cite": cited[:1]},
        {"next_checks_nonempty": True}]
    return [{**copy.deepcopy(want), **change} for change in changes]


def test_checks_agree_with_the_independent_checker(default_run: EvalResult) -> None:
    checker, compared = independent_checker(), 0
    for scenario in default_run.scenarios:
        assert scenario.observed is not None
        expect = yaml.safe_load(Path(scenario.file).read_text())["expect"]
        for want in expect.get("incidents") or []:
            got = matching(want, scenario.observed.incidents)[0]
            for mutated in [want, *_incident_mutations(want, got)]:
                theirs: list[str] = []
                checker.check_incident(mutated, got, theirs)
                assert bool(check_incident(mutated, got)) == bool(theirs), (scenario.name, mutated, theirs)
                compared += 1
        for want in expect.get("rca") or []:
            got = rca_for(want["dataset_urn"], scenario.observed)
            assert got is not None
            for mutated in [want, *_rca_mutations(want, got)]:
                theirs = []
                checker.check_rca(mutated, got, theirs)
                assert bool(check_rca(mutated, got)) == bool(theirs), (scenario.name, mutated, theirs)
                compared += 1
    assert compared > 40

