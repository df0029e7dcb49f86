"""The incident and the RCA as API clients get them (DESIGN.md, "Incident and RCA"): frozen, typed, times as
datetimes. The API declares them as its response models, so the OpenAPI description shows every field; a field
the stored JSON adds beyond these is kept (`extra="allow"`), never dropped."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from evidence._record import utc
from evidence._vocab import ReasonCode

# A moment held in UTC, whatever offset it was given with (a policy's local deadline): JSON always says "Z".
Time = Annotated[datetime, AfterValidator(utc)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class EvidenceRef(_Frozen):
    """What an incident or an RCA cites, traceable to what was sent."""

    evidence_id: str
    source_ref: str
    type: str
    time: Time


class CorrelatedDeploy(_Frozen):
    """A change of the dataset's own producer before first bad: a deploy, or (for a job) a run on new code."""

    service: str | None = None
    version: str | None = None
    deploy_ref: str | None = None
    evidence_id: str | None = None  # always set on an incident; the RCA's names only identifiers
    time: Time | None = None
    producer_urn: str | None = None
    status: str | None = None
    seconds_before_first_bad: int | None = None
    code_ref: str | None = None
    code_ref_evidence_id: str | None = None


class CorrelatedRun(_Frozen):
    """The job run a freshness incident is about (not started, running, failed, or the one that committed): one
    type for every state; the JSON names the fields the detector knew (see `to_json`)."""

    run_id: str | None = None
    evidence_id: str | None = None
    state: str
    started_at: Time | None = None
    scheduled_time: Time | None = None
    code_ref: str | None = None
    ended_at: Time | None = None
    terminal_evidence_id: str | None = None
    commit_evidence_id: str | None = None
    committed_at: Time | None = None


class BadRate(_Frozen):
    before: float
    after: float


class Windows(_Frozen):
    """The windows the detector applied to one incident, set by the pass that found it: retrieval reads evidence and
    the verifier judges claims within them instead of deriving them again from configuration that may have changed
    since (the incident's RCA is computed at its last detection, with the windows of that detection)."""

    # A change of the producer correlates when it lies in [first_bad - deploy_window, first_bad): the dataset's
    # contract's deploy_window_minutes, else 60 minutes (drift: 60 minutes).
    deploy_window: timedelta
    # How far back the detector read the dataset's history: a freshness policy's lookback_days, a contract's gate
    # counters (DetectSettings.contract_lookback_days); None where it read none (drift).
    lookback: timedelta | None = None
    # Freshness: today's update begins at cycle_start (the scheduled run, else local midnight); habits and
    # baselines come from [lookback_start, cycle_start).
    cycle_start: Time | None = None
    lookback_start: Time | None = None


if TYPE_CHECKING:
    _WindowsField = Windows | None
else:  # validated by Incident._windows: typed as Any here so that no API description lists the Windows schema
    _WindowsField = SkipJsonSchema[Any]


class Incident(_Frozen):
    """One open (or resolved, or dismissed) incident per (dataset, kind), with its exact boundaries."""

    id: str
    dataset_urn: str
    kind: Literal["freshness", "contract", "drift"]
    status: Literal["open", "resolved", "false_positive"]
    reason_code: ReasonCode
    detected_at: Time
    updated_at: Time
    resolved_at: Time | None = None
    first_bad_time: Time
    last_good_time: Time | None = None
    current_watermark: str | None = None
    expected_watermark: str | None = None
    field: str | None = None
    bad_rate: BadRate | None = None
    correlated_deploys: list[CorrelatedDeploy] = []
    correlated_run: CorrelatedRun | None = None
    failure_class: str | None = None
    impacted_downstream: list[str] = []
    stale_evidence: bool = False
    producer_urn: str | None = None
    evidence_ids: list[str] = []
    evidence: list[EvidenceRef] = []
    owner_team: str | None = None
    tier: int | None = None
    runbook_url: str | None = None
    facts: dict[str, Any] = {}
    # Kept by the incident store with the incident, never in its JSON (API and its description, replay, a composer's
    # prompt): None on an incident stored before detectors recorded their windows.
    windows: _WindowsField = Field(default=None, exclude=True)

    @field_validator("windows", mode="before")
    @classmethod
    def _windows(cls, value: Any) -> Windows | None:
        return None if value is None else Windows.model_validate(value)


class FalsePositiveMark(_Frozen):
    reason: str
    by: str = Field(description="the name of the admin token that marked it")
    at: Time


class MarkedIncident(Incident):
    """An incident an admin marked a false positive (POST /v1/incidents/{id}/false-positive): not reopened."""

    false_positive: FalsePositiveMark


class IncidentPage(_Frozen):
    items: list[Incident]
    next_cursor: str | None = None


class Claim(_Frozen):
    """A verified claim: a sentence the product rendered from checked values, and the evidence it cites."""

    text: str
    kind: str
    evidence_ids: list[str]
    params: dict[str, Any] = {}


class RejectedClaim(_Frozen):
    """A proposed claim the verifier refused (audit only: never shown as a finding)."""

    text: str
    kind: str | None = None
    reason: str
    why: str


class Cause(_Frozen):
    statement: str
    evidence_ids: list[str]
    confidence: float


class Rca(_Frozen):
    """The structured RCA: only verified claims, the most likely cause (or an inconclusive verdict), checks."""

    incident_id: str
    verdict: Literal["cause_identified", "inconclusive"]
    reason_code: ReasonCode
    summary: str
    most_likely_cause: Cause | None = None
    correlated_deploy: CorrelatedDeploy | None = None
    claims: list[Claim] = []
    rejected_claims: list[RejectedClaim] = []
    next_checks: list[str] = []
    suggested_actions: list[str] = []
    evidence: list[EvidenceRef] = []
    composer: str
    computed_at: Time | None = None


def to_json(model: BaseModel) -> dict[str, Any]:
    """The JSON edge (store, API, replay output): times as RFC 3339 UTC, and only the fields that were given, so a
    run that never started has no `ended_at` and an incident reads as it always did."""
    return model.model_dump(mode="json", exclude_unset=True)


_WINDOWS = "windows"


def stored_json(incident: Incident) -> dict[str, Any]:
    """The body the incident store keeps: the incident's JSON, and the windows its detector applied (which the API never
    shows: `public_json` drops them)."""
    body = to_json(incident)
    if incident.windows is not None:
        body[_WINDOWS] = incident.windows.model_dump(mode="json")
    return body


def public_json(body: dict[str, Any]) -> dict[str, Any]:
    """A stored body as the API, the CLI, Slack and replays show it: the incident's JSON, without the windows."""
    body.pop(_WINDOWS, None)
    return body

