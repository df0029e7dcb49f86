"""A pass over many policies reads every commit of the window first and the rest of the evidence (runs, deploys) only
of the datasets that missed their deadline (detectors/_detect.py). It finds exactly what the per-dataset read of a
pass over few policies finds, whichever way it reads the late ones (by index, or in one scan)."""

from __future__ import annotations

from pathlib import Path

import pytest

import detectors._detect as detect
from detectors import find_stored_incidents, load_into, load_scenario
from detectors._incremental import FreshnessMemory
from evidence import Store

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted([*(ROOT / "evals" / "scenarios").glob("spark_*.yaml"), *(ROOT / "examples" / "scenarios").glob(
    "spark_*.yaml")])


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_reading_commits_first_finds_what_reading_everything_finds(path: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(path)
    store = Store.open(f"sqlite:///{tmp_path}/many.db")
    store.ensure_schema()
    assert load_into(store, scenario) == []
    expected = find_stored_incidents(store, scenario.now)  # few policies: every record of each, by index
    for few in (0, 1):  # as many policies: the late ones' records in one scan (0), or by index if one is late (1)
        monkeypatch.setattr(detect, "_FEW_POLICIES", few)
        assert find_stored_incidents(store, scenario.now) == expected
        assert find_stored_incidents(store, scenario.now, memory=FreshnessMemory()) == expected
