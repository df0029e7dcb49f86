"""Same evidence, same clock, same incidents: whatever the order or duplication of arrival."""

import dataclasses
import random

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import load_scenario, replay
from support import REFERENCE

SCENARIOS = sorted(REFERENCE.glob("*.yaml"))
BASELINES = {path.name: None for path in SCENARIOS}


def document(scenario) -> bytes:
    result = replay(scenario)
    return orjson.dumps({"incidents": result.incidents, "drift": result.detection.drift},
                        option=orjson.OPT_SORT_KEYS)


def baseline(path) -> bytes:
    if BASELINES[path.name] is None:
        BASELINES[path.name] = document(load_scenario(path))
    return BASELINES[path.name]  # type: ignore[return-value]


def _jumble(items: list, rnd: random.Random, duplicate_share: float) -> list:
    copies = [item for item in items if rnd.random() < duplicate_share]
    out = items + copies
    rnd.shuffle(out)
    return out


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(SCENARIOS), seed=st.integers(0, 2**32 - 1), share=st.floats(0, 0.5))
def test_shuffled_and_duplicated_evidence_gives_byte_identical_incidents(which, seed, share) -> None:
    scenario = load_scenario(which)
    rnd = random.Random(seed)
    jumbled = dataclasses.replace(scenario, events=_jumble(scenario.events, rnd, share),
                                  messages=_jumble(scenario.messages, rnd, share))
    assert document(jumbled) == baseline(which)
