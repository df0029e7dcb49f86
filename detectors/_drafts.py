"""Policy drafts in the store: suggested from evidence, accepted into the configuration or dismissed by a human."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from detectors._contract import compile_contract
from detectors._skeletons import SKELETON_TYPES, Draft, suggest_drafts
from evidence import (
    CONTRACT,
    POLICY,
    Configs,
    Contract,
    FreshnessPolicy,
    RcaError,
    Store,
    Time,
    decide_row,
    get_row,
    keep_drafts,
    list_rows,
    policy_drafts,
    utc,
)

SUGGEST_LOOKBACK_DAYS = 30


class PolicyDraft(BaseModel):
    """A policy or contract drafted from evidence, as stored and as the API shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: Literal["policy", "contract"]
    dataset_urn: str
    status: Literal["draft", "accepted", "dismissed"]
    spec: dict[str, Any] = Field(description="the drafted FreshnessPolicy or Contract (accepted: as stored, with the "
                                 "reviewer's edits)")
    basis: dict[str, Any] = Field(description="the evidence it was drafted from: counts, times, evidence ids")
    created_at: Time
    decided_at: Time | None
    decided_by: str | None


class AcceptedDraft(PolicyDraft):
    """An accepted draft and the configuration item it became."""

    config_id: int = Field(description="the stored policy's or contract's id (GET /v1/policies/{id}, ...)")


class PolicyDrafts(BaseModel):
    """GET /v1/policy-drafts and POST /v1/policy-drafts/suggest: drafts by dataset, kind and id."""

    model_config = ConfigDict(frozen=True)

    items: list[PolicyDraft]


class DraftError(RcaError):
    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def suggest(store: Store, now: datetime, *, timezones: dict[str, str] | None = None,
            lookback_days: int = SUGGEST_LOOKBACK_DAYS) -> list[PolicyDraft]:
    """Draft what is missing from the last `lookback_days` of evidence, keep the drafts, return the undecided ones.

    A draft already decided (accepted or dismissed) is not proposed again; an undecided draft for the same
    dataset and kind is replaced by the newer one.
    """
    now = utc(now)
    configs = Configs(store)
    records = store.records(types=SKELETON_TYPES, since=now - timedelta(days=lookback_days), until=now)
    drafts = suggest_drafts([r for r in records if r.ingest_time <= now],
                            configured_policies=[p.dataset_urn for p in configs.specs(POLICY)],
                            configured_contracts=[c.dataset_urn for c in configs.specs(CONTRACT)],
                            timezones=timezones)
    keep_drafts(store, drafts, now)
    wanted = {d.id for d in drafts}
    return [d for d in list_drafts(store, "draft") if d.id in wanted]


def list_drafts(store: Store, status: str | None = None) -> list[PolicyDraft]:
    return [_draft(row) for row in list_rows(store, policy_drafts, ("dataset_urn", "kind", "id"), status)]


def get_draft(store: Store, draft_id: str) -> PolicyDraft:
    row = get_row(store, policy_drafts, draft_id)
    if row is None:
        raise DraftError(f"No policy draft {draft_id!r}; list them with GET /v1/policy-drafts or "
                         "`rca policies list`.", 404)
    return _draft(row)


def accept(store: Store, draft_id: str, now: datetime, by: str,
           edits: dict[str, Any] | None = None) -> AcceptedDraft:
    """Write the draft (with the reviewer's edits, e.g. tier or runbook_url) through the configuration."""
    draft = _undecided(store, draft_id)
    body = {**draft.spec, **(edits or {})}
    spec: FreshnessPolicy | Contract
    if draft.kind == "policy":
        spec = FreshnessPolicy.model_validate(body)
        stored_id = Configs(store).put(POLICY, spec, now).id
    else:
        spec = Contract.model_validate(body)
        compile_contract(spec)  # ConfigError: the gate could not run it, so it is not stored
        stored_id = Configs(store).put(CONTRACT, spec, now).id
    decided = _decide(store, draft_id, "accepted", now, by, spec.model_dump(mode="json", by_alias=True,
                                                                             exclude_none=True))
    return AcceptedDraft(**decided.model_dump(), config_id=stored_id)


def dismiss(store: Store, draft_id: str, now: datetime, by: str) -> PolicyDraft:
    _undecided(store, draft_id)
    return _decide(store, draft_id, "dismissed", now, by, None)


def _undecided(store: Store, draft_id: str) -> PolicyDraft:
    draft = get_draft(store, draft_id)
    if draft.status != "draft":
        raise DraftError(f"Policy draft {draft_id} is already {draft.status}; suggest again for a new one.")
    return draft


def _decide(store: Store, draft_id: str, status: str, now: datetime, by: str,
            spec: dict[str, Any] | None) -> PolicyDraft:
    values: dict[str, Any] = {"status": status, "decided_at": utc(now), "decided_by": by}
    if spec is not None:
        values["spec"] = orjson.dumps(spec).decode()
    decide_row(store, policy_drafts, draft_id, values)
    return get_draft(store, draft_id)


def _draft(row: Any) -> PolicyDraft:
    return PolicyDraft(id=row.id, kind=row.kind, dataset_urn=row.dataset_urn, status=row.status,
                       spec=orjson.loads(row.spec), basis=orjson.loads(row.basis), created_at=row.created_at,
                       decided_at=row.decided_at or None, decided_by=row.decided_by)


__all__ = ["AcceptedDraft", "Draft", "DraftError", "PolicyDraft", "PolicyDrafts", "accept", "dismiss", "get_draft",
           "list_drafts", "suggest"]
