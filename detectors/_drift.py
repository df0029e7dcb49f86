"""Change requests for drift: list them, approve one (its rule becomes a mapping and its held records are
resolved and gated), or reject one (its records stay held, unattributed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from detectors._intake import intake_records
from detectors._kafka_records import IntakeReport
from evidence import (
    MAPPING,
    Configs,
    Mapping,
    RcaError,
    Store,
    change_requests,
    decide_row,
    get_row,
    held_by,
    iso,
    list_rows,
    release_held,
)


class ChangeRequestError(RcaError):
    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def change_request_json(row: Any) -> dict[str, Any]:
    """A change request's row (stored, or `ChangeRequestRow` in memory) as the API shows it."""
    return {
        "id": row.id, "topic": row.topic, "schema_id": row.schema_id, "reason_code": row.reason_code,
        "status": row.status, "proposal": orjson.loads(row.proposal), "detail": orjson.loads(row.detail),
        "first_seen_time": iso(row.first_seen_time), "first_seen_ref": row.first_seen_ref,
        "last_seen_time": iso(row.last_seen_time), "held": row.held, "created_at": iso(row.created_at),
        "decided_at": iso(row.decided_at), "decided_by": row.decided_by, "decision_note": row.decision_note,
    }


def list_change_requests(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    rows = list_rows(store, change_requests, ("first_seen_time", "id"), status or None)
    return [change_request_json(r) for r in rows]


def get_change_request(store: Store, cr_id: str) -> dict[str, Any]:
    row = get_row(store, change_requests, cr_id)
    if row is None:
        raise ChangeRequestError(f"No change request {cr_id!r}; list them with GET /v1/change-requests.", 404)
    return change_request_json(row)


def _decide(store: Store, cr_id: str, status: str, now: datetime, by: str, note: str | None) -> dict[str, Any]:
    current = get_change_request(store, cr_id)
    if current["status"] != "open":
        raise ChangeRequestError(f"Change request {cr_id} is already {current['status']}; only open ones can be "
                                 "decided.")
    decide_row(store, change_requests, cr_id, {"status": status, "decided_at": now, "decided_by": by,
                                               "decision_note": note})
    return get_change_request(store, cr_id)


def approve(store: Store, cr_id: str, now: datetime, by: str, *, note: str | None = None,
            override: dict[str, Any] | None = None) -> tuple[dict[str, Any], IntakeReport]:
    """Approve the proposed rule (optionally amended), then resolve and gate the records it held."""
    current = get_change_request(store, cr_id)
    if current["status"] != "open":
        raise ChangeRequestError(f"Change request {cr_id} is already {current['status']}; only open ones can be "
                                 "decided.")
    rule = Mapping.model_validate({**current["proposal"], **(override or {})})
    Configs(store).put(MAPPING, rule, now)
    decided = _decide(store, cr_id, "approved", now, by, note)
    report = intake_records(store, held_by(store, cr_id), now)
    release_held(store, cr_id)
    return decided, report


def reject(store: Store, cr_id: str, now: datetime, by: str, *, note: str | None = None) -> dict[str, Any]:
    return _decide(store, cr_id, "rejected", now, by, note)
