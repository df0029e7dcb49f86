"""The control plane: policy drafts from evidence, readiness, false-positive marks and quality rates."""

from __future__ import annotations

import base64
import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field, StrictInt
from starlette.concurrency import run_in_threadpool

from copilot import TemplateComposer, build_rca
from detectors import (
    AcceptedDraft,
    DraftError,
    PolicyDraft,
    PolicyDrafts,
    Readiness,
    ReadinessConfig,
    ReadinessIndex,
    ReadinessPage,
    UnknownIncident,
    accept,
    dismiss,
    list_drafts,
    mark_false_positive,
    suggest,
)
from evidence import (
    CONTRACT,
    GATE_OBSERVATION,
    MAPPING,
    MAX_URN,
    POLICY,
    ConfigError,
    Configs,
    EventType,
    EvidenceRecord,
    MarkedIncident,
    Store,
    load_incidents,
    utc,
)
from rca._auth import AdminDep, ReaderDep
from rca._errors import ApiError
from rca._responses import QualityGroup, QualityReport, documented

router = APIRouter()
READINESS_LOOKBACK_DAYS = 30


def readiness(store: Store, now: datetime, *, dataset_urn: str | None = None, producer_urn: str | None = None,
              lookback_days: int = READINESS_LOOKBACK_DAYS) -> list[Readiness]:
    """Readiness of one dataset, one producer, or (neither given) every dataset and producer seen or configured:
    one read of the window, grouped once (linear in records and datasets)."""
    now = utc(now)
    config = _configured(store).config
    since = now - timedelta(days=lookback_days)
    if dataset_urn or producer_urn:
        return _evaluate(store, now, since, config, [dataset_urn] if dataset_urn else [],
                         [producer_urn] if producer_urn else [])
    index = ReadinessIndex(_records(store, now, since), config)
    datasets, producers = index.subjects()
    return [index.dataset(urn) for urn in datasets] + [index.producer(urn) for urn in producers]


def readiness_page(store: Store, now: datetime, *, limit: int, cursor: str | None = None,
                   lookback_days: int = READINESS_LOOKBACK_DAYS) -> tuple[list[Readiness], str | None]:
    """A page of readiness in GET /v1/readiness's order (datasets, then producers, each by URN), in keyset order:
    the page's subjects are the first `limit` after the cursor among those the records name (read in their index's
    order) and those configured (kept sorted per configuration digest), and only their own records are read, so a
    page costs its own subjects whatever its depth or the number of datasets."""
    now = utc(now)
    configured = _configured(store)
    since = now - timedelta(days=lookback_days)
    kind, after = _after(cursor) if cursor else ("dataset", None)
    page: list[tuple[str, str]] = []
    if kind == "dataset":
        seen = store.subject_page("dataset_urn", since, now, after, limit + 1)
        page = [("dataset", urn) for urn in _first(seen, configured.datasets, after, limit + 1)]
        after = None
    if len(page) <= limit:
        wanted = limit + 1 - len(page)
        seen = store.subject_page("producer_urn", since, now, after, wanted)
        page += [("producer", urn) for urn in _first(seen, configured.producers, after, wanted)]
    more, page = len(page) > limit, page[:limit]
    items = _evaluate(store, now, since, configured.config, [u for k, u in page if k == "dataset"],
                      [u for k, u in page if k == "producer"])
    next_cursor = base64.urlsafe_b64encode(orjson.dumps(list(page[-1]))).decode() if more and page else None
    return items, next_cursor


def _first(seen: list[str], configured: list[str], after: str | None, count: int) -> list[str]:
    """The first `count` URNs after `after` of the union of `seen` (already the first `count` of its own) and the
    sorted `configured`."""
    start = bisect.bisect_right(configured, after) if after is not None else 0
    return sorted(set(seen).union(configured[start : start + count]))[:count]


def _after(cursor: str) -> tuple[str, str]:
    try:
        kind, urn = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if kind not in ("dataset", "producer") or not isinstance(urn, str):
            raise ValueError(cursor)
        return kind, urn
    except (ValueError, TypeError, UnicodeError, orjson.JSONDecodeError) as exc:
        raise ApiError(400, "bad_cursor", f"cursor {cursor[:100]!r} is not one this server issued; start again "
                       "without it", field="cursor") from exc


@dataclass(frozen=True)
class _Configured:
    """Readiness's configuration, grouped, and the datasets and producers it names (each sorted)."""

    digest: int
    config: ReadinessConfig
    datasets: list[str]
    producers: list[str]


_CONFIGURED: list[_Configured] = []  # the last one built: every page of a walk reads the same configuration


def _configured(store: Store) -> _Configured:
    """The configuration readiness reads, validated, grouped and its subjects sorted once per stored state (by the
    digest of the rows): with 100,000 policies that took most of each page's time."""
    snapshot = Configs(store).snapshot(POLICY, CONTRACT, MAPPING)
    for found in _CONFIGURED:
        if found.digest == snapshot.digest:
            return found
    config = ReadinessConfig(snapshot.specs(POLICY), snapshot.specs(CONTRACT), snapshot.specs(MAPPING))
    datasets, producers = ReadinessIndex((), config).subjects()
    built = _Configured(snapshot.digest, config, datasets, producers)
    _CONFIGURED[:] = [built]
    return built


def _records(store: Store, now: datetime, since: datetime, **who: Any) -> list[EvidenceRecord]:
    """What readiness reads: records arrived by `now`, with the payload only where it is read (gate observations
    are resolved again)."""
    return store.records(since=since, until=now, ordered=False, arrived_by=now, payloads_of=[GATE_OBSERVATION],
                         **who)


def _evaluate(store: Store, now: datetime, since: datetime, config: ReadinessConfig, datasets: list[str],
              producers: list[str]) -> list[Readiness]:
    """Readiness of these subjects from their own records and the deploys of every producer they name."""
    mine = _records(store, now, since, dataset_urns=datasets) if datasets else []
    theirs = _records(store, now, since, producer_urns=producers) if producers else []
    grouped = config.grouped
    named = {r.producer_urn for r in mine if r.producer_urn}
    named |= {p for urn in datasets for p in grouped.dataset_producers.get(urn, ())}
    deploys = _records(store, now, since, producer_urns=sorted(p for p in named if p),
                       types=[EventType.DEPLOYMENT]) if named else []
    index = ReadinessIndex({r.evidence_id: r for r in [*mine, *theirs, *deploys]}.values(), config)
    return [index.dataset(urn) for urn in datasets] + [index.producer(urn) for urn in producers]


def quality(store: Store, now: datetime, by: str, days: int) -> list[QualityGroup]:
    """False-positive and inconclusive-RCA rates of incidents detected in the last `days`, per dataset or day.

    Verdicts come from the offline composer: deterministic, and a report must not call a paid model per incident.
    Whether an RCA is inconclusive is the verifier's call on the evidence, so the rate tracks evidence coverage.
    """
    composer = TemplateComposer()
    since = utc(now) - timedelta(days=days)
    groups: dict[str, dict[str, int]] = defaultdict(lambda: {"incidents": 0, "false_positives": 0, "rcas": 0,
                                                             "inconclusive": 0})
    for incident in load_incidents(store, status=None):
        detected = incident.detected_at
        if detected < since:
            continue
        group = groups[incident.dataset_urn if by == "dataset" else detected.date().isoformat()]
        group["incidents"] += 1
        if incident.status == "false_positive":
            group["false_positives"] += 1
            continue
        group["rcas"] += 1
        if build_rca(store, incident, composer)["verdict"] == "inconclusive":
            group["inconclusive"] += 1
    return [QualityGroup.model_validate({
        by: key, **counts, "false_positive_rate": round(counts["false_positives"] / counts["incidents"], 3),
        "inconclusive_rate": round(counts["inconclusive"] / counts["rcas"], 3) if counts["rcas"] else None})
        for key, counts in sorted(groups.items())]


def _draft_call(run: Any) -> Any:
    try:
        return run()
    except DraftError as exc:
        raise ApiError(exc.status, "not_found" if exc.status == 404 else "conflict", str(exc)) from None


@router.get("/v1/policy-drafts", tags=["control"], summary="Policy and contract drafts suggested from evidence")
def policy_drafts(request: Request, _: ReaderDep,
                  status: Literal["draft", "accepted", "dismissed"] | None = None) -> PolicyDrafts:
    return PolicyDrafts(items=list_drafts(request.app.state.store, status))


class SuggestRequest(BaseModel):
    timezones: dict[str, str] = Field(default_factory=dict, description="dataset URN -> IANA zone (default UTC)")
    lookback_days: StrictInt = Field(default=30, ge=1, le=365)


@router.post("/v1/policy-drafts/suggest", tags=["control"],
             summary="Draft baseline policies and contracts for datasets that lack them (admin)")
async def suggest_drafts(request: Request, _: AdminDep,
                         body: Annotated[SuggestRequest | None, Body()] = None) -> PolicyDrafts:
    state = request.app.state
    body = body or SuggestRequest()
    drafts = await run_in_threadpool(suggest, state.store, state.clock(), timezones=body.timezones,
                                     lookback_days=body.lookback_days)
    return PolicyDrafts(items=drafts)


class Acceptance(BaseModel):
    edits: dict[str, Any] = Field(default_factory=dict, description="fields to set before accepting, e.g. "
                                  "{\"tier\": 1, \"runbook_url\": \"https://...\"}")


@router.post("/v1/policy-drafts/{draft_id}/accept", tags=["control"],
             summary="Accept a draft (admin): it becomes a policy or contract, with your edits")
def accept_draft(request: Request, draft_id: str, token: AdminDep,
                 body: Annotated[Acceptance | None, Body()] = None) -> AcceptedDraft:
    state = request.app.state
    edits = body.edits if body else {}
    try:
        return _draft_call(lambda: accept(state.store, draft_id, state.clock(), token.name, edits))
    except (ValueError, ConfigError) as exc:  # the edited spec does not validate, or the gate could not run it
        raise ApiError(422, "invalid_request", str(exc)) from None


@router.post("/v1/policy-drafts/{draft_id}/dismiss", tags=["control"], summary="Dismiss a draft (admin)")
def dismiss_draft(request: Request, draft_id: str, token: AdminDep) -> PolicyDraft:
    state = request.app.state
    return _draft_call(lambda: dismiss(state.store, draft_id, state.clock(), token.name))


READINESS_PAGE = 500  # the default page of GET /v1/readiness
READINESS_PAGE_MAX = 5000


@router.get("/v1/readiness", tags=["control"],
            summary="Readiness per dataset and producer: each criterion and the backlog that would raise it; "
            f"{READINESS_PAGE} subjects a page (at most {READINESS_PAGE_MAX}), `next_cursor` for the next",
            # Rendered from the dataclasses' as_json (a page holds up to 5,000 subjects): documented, not re-validated.
            response_model=None, responses=documented(ReadinessPage))
async def get_readiness(request: Request, _: ReaderDep,
                        dataset_urn: Annotated[str | None, Query(max_length=MAX_URN)] = None,
                        producer_urn: Annotated[str | None, Query(max_length=MAX_URN)] = None,
                        limit: Annotated[int, Query(ge=1, le=READINESS_PAGE_MAX)] = READINESS_PAGE,
                        cursor: Annotated[str | None, Query(max_length=4096)] = None) -> dict[str, Any]:
    state = request.app.state
    if dataset_urn or producer_urn:
        items = await run_in_threadpool(readiness, state.store, state.clock(), dataset_urn=dataset_urn,
                                        producer_urn=producer_urn)
        return {"items": [r.as_json() for r in items], "next_cursor": None}
    page, next_cursor = await run_in_threadpool(
        lambda: readiness_page(state.store, state.clock(), limit=limit, cursor=cursor))
    return {"items": [r.as_json() for r in page], "next_cursor": next_cursor}


class FalsePositive(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/v1/incidents/{incident_id}/false-positive", tags=["incidents"],
             summary="Mark an incident a false positive (admin); the same break is not reopened",
             response_model=None, responses={200: {"model": MarkedIncident, "description": "The incident, marked"}})
def false_positive(request: Request, incident_id: str, body: FalsePositive, token: AdminDep) -> dict[str, Any]:
    state = request.app.state
    try:
        return mark_false_positive(state.store, incident_id, body.reason, state.clock(), token.name)
    except UnknownIncident as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@router.get("/v1/quality", tags=["incidents"],
            summary="False-positive and inconclusive-RCA rates per dataset or per day of detection")
async def get_quality(request: Request, _: ReaderDep, by: Literal["dataset", "day"] = "dataset",
                      days: Annotated[int, Query(ge=1, le=365)] = 30) -> QualityReport:
    state = request.app.state
    items = await run_in_threadpool(quality, state.store, state.clock(), by, days)
    return QualityReport(by=by, days=days, items=items)
