"""The scenario suite: every story in evals/scenarios (and the reference ones in examples/scenarios) replayed and
checked.

Each scenario is replayed in-process into a fresh SQLite store at its `now`, the document `rca replay --json`
prints is built from the result, and `expect` is checked with the independent checker's own functions
(tests/independent/check_replay.py), so this test and the checker can never disagree on what a key means.
The RCA half of `expect` is not checked here: the copilot that answers it is not built yet.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from detectors import load_scenario, replay
from support import REFERENCE, ROOT, independent_checker

SUITE = ROOT / "evals" / "scenarios"
# The reason code table every documented code must be expected from (its "## Reason codes" section).
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
FAMILIES = ("Contract gate", "Freshness", "Resolution")

OWN = sorted(SUITE.glob("*.yaml"))
ALL = OWN + sorted(REFERENCE.glob("*.yaml"))

# JOB_FAILED stories and the failure class their failure_reason must be read as (the scenario format has no
# key for it, so it is checked here).
FAILURE_CLASSES = {
    "spark_daily_revenue_oom_after_deploy.yaml": "out_of_memory",
    "spark_payments_recon_planted_failure_reason.yaml": "out_of_memory",
    "spark_merchant_payouts_timeout.yaml": "timeout",
    "spark_inventory_positions_missing_input.yaml": "dependency",
    "spark_settlement_ledger_upstream_late.yaml": "dependency",
}


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    return independent_checker()


@functools.cache
def replayed(path: Path) -> dict[str, Any]:
    """The document `rca replay FILE --json` prints, built in-process (in memory, as the command does)."""
    result = replay(load_scenario(path))
    assert not result.rejected, f"{path.name}: the replay rejected input: {result.rejected[:3]}"
    return {
        "incidents": result.incidents,
        "drift": [{k: d[k] for k in ("topic", "schema_id", "reason_code", "change_request_id")}
                  for d in result.detection.drift],
    }


def check_expectations(expect: dict[str, Any], doc: dict[str, Any], checker: ModuleType) -> list[str]:
    """check_replay.check() without the subprocess: incidents, no_incident and drift."""
    incidents, fails = doc.get("incidents") or [], []
    if expect.get("incidents") == [] and incidents:
        fails.append(f"expected no incident, got {[(i.get('dataset_urn'), i.get('reason_code')) for i in incidents]}")
    for want in expect.get("incidents") or []:
        found = [i for i in incidents if i.get("dataset_urn") == want["dataset_urn"]
                 and i.get("kind") == want.get("kind", i.get("kind"))]
        if len(found) != 1:
            fails.append(f"incident {want['dataset_urn']}: {len(found)} open incidents match, expected 1")
            continue
        checker.check_incident(want, found[0], fails)
    for ban in expect.get("no_incident") or []:
        for i in incidents:
            if i.get("dataset_urn") == ban["dataset_urn"] and ban.get("reason_code", i.get("reason_code")) == i.get(
                    "reason_code"):
                fails.append(f"unexpected incident {i.get('dataset_urn')} {i.get('reason_code')}")
    for want in expect.get("drift") or []:
        ok = any(d.get("topic") == want["topic"] and d.get("schema_id") == want["schema_id"]
                 and (d.get("change_request_id") or not want.get("change_request")) for d in doc.get("drift") or [])
        if not ok:
            fails.append(f"drift {want['topic']} schema {want['schema_id']} not flagged with a change request")
    return fails


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_scenario(path: Path, checker: ModuleType) -> None:
    scenario = load_scenario(path)
    fails = check_expectations(scenario.expect, replayed(path), checker)
    assert not fails, f"{path.name} ({scenario.name}): " + "; ".join(fails)


def _documented_codes() -> dict[str, list[str]]:
    """docs/ARCHITECTURE.md's reason code table: `| family (module) | CODE, CODE |` per row."""
    section = ARCHITECTURE.read_text().split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    found = {name: re.findall(r"[A-Z][A-Z_]+[A-Z]", codes)
             for name, codes in re.findall(r"^\| (Contract gate|Freshness|Resolution) [^|]*\|([A-Z_,\s]+)\|", section,
                                           re.M)}
    assert set(found) == set(FAMILIES) and all(found.values()), f"{ARCHITECTURE}: reason code table not found: {found}"
    return found


def _expected_incidents() -> list[dict[str, Any]]:
    return [inc for p in OWN for inc in (load_scenario(p).expect.get("incidents") or [])]


def test_suite_size() -> None:
    assert len(OWN) >= 25, f"only {len(OWN)} scenarios in {SUITE}"


def test_every_reason_code_is_expected_somewhere() -> None:
    expected = {inc.get("reason_code") for inc in _expected_incidents()}
    for family, codes in _documented_codes().items():
        missing = [c for c in codes if c not in expected]
        assert not missing, f"no scenario in evals/scenarios expects the {family} reason codes {missing}"


def test_controls_tags_and_verdicts_are_covered() -> None:
    expects = [load_scenario(p).expect for p in OWN]
    assert sum(1 for e in expects if e.get("incidents") == []) >= 4, "too few no-incident controls"
    assert any(inc.get("stale_evidence") is True for inc in _expected_incidents()), "no stale-evidence story"
    verdicts = {r.get("verdict") for e in expects for r in e.get("rca") or []}
    assert {"cause_identified", "inconclusive"} <= verdicts
    for e in expects:
        for r in e.get("rca") or []:
            if r.get("verdict") == "inconclusive":
                assert r.get("next_checks_nonempty") is True, f"{r['dataset_urn']}: inconclusive without next checks"
    kinds = {inc.get("kind") for inc in _expected_incidents()}
    assert {"freshness", "contract", "drift"} <= kinds


def test_job_failed_stories_cover_failure_classes() -> None:
    assert len(set(FAILURE_CLASSES.values())) >= 2
    for name, wanted in FAILURE_CLASSES.items():
        failed = [i for i in replayed(SUITE / name)["incidents"] if i.get("reason_code") == "JOB_FAILED"]
        assert failed, f"{name}: no JOB_FAILED incident"
        assert {i.get("failure_class") for i in failed} == {wanted}, f"{name}: failure_class is not {wanted}"


def test_generated_files_are_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("scenario_generator", SUITE / "_generate.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generator  # its dataclasses resolve their annotations through sys.modules
    try:
        spec.loader.exec_module(generator)
    finally:
        del sys.modules[spec.name]
    for name, text in generator.render_all().items():
        assert (SUITE / name).read_text() == text, f"{name} differs from what _generate.py writes; re-run it"
