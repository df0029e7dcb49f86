import copy
import dataclasses
import json
import pickle
from datetime import UTC, datetime

import pytest

from evidence import EvidenceRecord, parse_event, record_from_event
from support import ROOT

VALID = json.loads((ROOT / "sdk" / "spec" / "vectors" / "valid.json").read_text())["vectors"]
ARRIVED = datetime(2026, 3, 10, 1, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_a_record_built_slot_by_slot_is_the_dataclass_s_own(vector: dict) -> None:
    """record_from_event fills an unfrozen twin and seals it as an EvidenceRecord: every field must be set (an unset
    slot raises on read), and the result must behave as the frozen dataclass's constructor's would."""
    record = record_from_event(parse_event(vector["event"]), ARRIVED, vector["event"])
    fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(EvidenceRecord)}
    built = EvidenceRecord(**fields)
    assert type(record) is EvidenceRecord
    assert record == built and repr(record) == repr(built)
    assert pickle.loads(pickle.dumps(record)) == record == copy.deepcopy(record)
    assert dataclasses.replace(record, source_ref="other").source_ref == "other"
    assert record.producer_urn == record.source and record.source_ref == vector["event"]["id"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.source = "svc://someone-else"  # type: ignore[misc]
