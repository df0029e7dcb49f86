"""The windows a detector applied travel with its incident (Incident.windows): the store keeps them beside the
incident's JSON without showing them, and retrieval and the verifier read them instead of deriving them again from
configuration that may have changed since detection (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from copilot import TemplateComposer, build_rca, incident_scope
from detectors import load_scenario, policy_day, replay
from evidence import (
    CONTRACT,
    POLICY,
    Configs,
    Incident,
    Store,
    load_incident,
    load_incidents,
    mark_false_positive,
    stored_incident,
    stored_incidents,
    to_json,
)
from support import REFERENCE, ROOT

SPRING = REFERENCE / "spring_missing_customer_id.yaml"
SLOW = REFERENCE / "spark_job_running_slow.yaml"
UPSTREAM = ROOT / "evals" / "scenarios" / "spark_settlement_ledger_upstream_late.yaml"
DRIFT = ROOT / "evals" / "scenarios" / "node_cart_schema_drift_unmapped.yaml"


def _replayed(path, database_url: str):
    store = Store.open(database_url)
    return replay(load_scenario(path), store=store)


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store's engine runs meanwhile."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_each_kind_of_incident_carries_the_windows_its_detector_applied(database_url: str) -> None:
    spring = _replayed(SPRING, database_url)
    [contract] = spring.detection.incidents
    assert contract.windows is not None
    assert contract.windows.deploy_window == timedelta(minutes=spring.scenario.contracts[0].deploy_window_minutes)
    assert contract.windows.lookback == timedelta(days=7)  # the gate counters' lookback (DetectSettings)
    assert contract.windows.cycle_start is None and contract.windows.lookback_start is None

    slow = _replayed(SLOW, database_url)
    [freshness] = slow.detection.incidents
    policy = next(p for p in slow.scenario.policies if p.dataset_urn == freshness.dataset_urn)
    day = policy_day(policy, slow.scenario.now)
    assert freshness.windows is not None
    assert (freshness.windows.cycle_start, freshness.windows.lookback_start) == (day.cycle_start, day.lookback_start)
    assert freshness.windows.lookback == timedelta(days=policy.lookback_days)
    assert freshness.windows.deploy_window == timedelta(minutes=60)  # no contract on the dataset: the default

    drift = _replayed(DRIFT, database_url)
    drifted = [i for i in drift.detection.incidents if i.kind == "drift"]
    assert drifted and all(i.windows is not None and i.windows.deploy_window == timedelta(minutes=60)
                           and i.windows.lookback is None for i in drifted)
    for result in (spring, slow, drift):
        result.store.close()


def test_the_store_keeps_the_windows_out_of_the_incidents_json(database_url: str) -> None:
    result = _replayed(SPRING, database_url)
    store = result.store
    [detected] = result.detection.incidents
    [body] = stored_incidents(store)
    assert "windows" not in body and "windows" not in stored_incident(store, detected.id)
    assert body == to_json(detected)  # the JSON is the incident's, exactly as before
    assert load_incident(store, detected.id).windows == detected.windows
    assert [i.windows for i in load_incidents(store)] == [detected.windows]
    marked = mark_false_positive(store, detected.id, "a test", result.scenario.now, "tests")
    assert "windows" not in marked and marked["status"] == "false_positive"
    assert load_incident(store, detected.id).windows == detected.windows  # still kept
    store.close()


def test_an_rca_reads_the_windows_of_its_detection_not_todays_configuration(database_url: str) -> None:
    result = _replayed(SPRING, database_url)
    store, now = result.store, result.scenario.now
    [incident] = load_incidents(store)
    before = build_rca(store, incident, TemplateComposer())
    assert before["verdict"] == "cause_identified" and before["correlated_deploy"] is not None
    # Someone narrows the contract's deploy window after detection: the incident's RCA stays what it was.
    configs = Configs(store)
    [stored] = [s for s in configs.all(CONTRACT) if s.spec.dataset_urn == incident.dataset_urn]
    configs.replace(CONTRACT, stored.id, stored.spec.model_copy(update={"deploy_window_minutes": 1}), now)
    assert build_rca(store, load_incident(store, incident.id), TemplateComposer()) == before
    # Had the detector applied a window too narrow for the deploy, the verifier would not correlate it.
    assert incident.windows is not None
    narrow = incident.model_copy(update={"windows": incident.windows.model_copy(
        update={"deploy_window": timedelta(seconds=1)})})
    assert build_rca(store, narrow, TemplateComposer())["correlated_deploy"] is None
    store.close()


@pytest.mark.parametrize("path", [SPRING, SLOW, UPSTREAM], ids=["contract", "freshness", "upstream"])
def test_an_incident_stored_before_windows_were_recorded_reads_as_it_did(database_url: str, path) -> None:
    """A row written before detectors recorded their windows: retrieval derives them from the configuration, as
    the detector does, so its RCA is the one it had."""
    result = _replayed(path, database_url)
    store = result.store
    for incident in load_incidents(store):
        legacy = Incident.model_validate(to_json(incident))
        assert legacy.windows is None
        assert incident_scope(store, legacy).incident.windows == incident.windows
        assert build_rca(store, legacy, TemplateComposer()) == build_rca(store, incident, TemplateComposer())
    store.close()


@pytest.mark.parametrize(("path", "most"), [(SPRING, 6), (SLOW, 7), (UPSTREAM, 7)],
                         ids=["contract", "freshness", "freshness-with-inputs"])
def test_a_scope_reads_the_configuration_once(database_url: str, path, most: int) -> None:
    """Counted against the tree before the incident carried its windows (SQLite): contract 7, freshness 9, upstream
    late 9 statements, of which 2, 3 and 3 read the configuration (policies, contracts, and lineage apart)."""
    result = _replayed(path, database_url)
    store = result.store
    incident = next(i for i in load_incidents(store) if path != UPSTREAM or i.reason_code == "UPSTREAM_DATA_LATE")
    with _statements(store) as seen:
        scope = incident_scope(store, incident)
    configuration = [s for s in seen if "configs" in s]
    assert len(configuration) == 1, configuration
    assert len(seen) <= most, seen
    assert scope.policy == next((p for p in Configs(store).specs(POLICY) if p.dataset_urn == incident.dataset_urn),
                                None)
    store.close()
