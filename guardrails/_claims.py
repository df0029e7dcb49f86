"""What a composer proposes (claims of a known kind, each citing evidence ids, with typed params), and what the
verifier hands on: verified claims whose sentence the product rendered from checked values. The model chooses;
the system speaks."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evidence import ReasonCode


class ClaimKind(StrEnum):
    # Symptoms: what failed and since when. True symptoms never make a verdict "cause_identified" alone.
    CONTRACT_BREAK = "contract_break"  # records of the dataset fail (reason, field) since first bad
    LAST_GOOD = "last_good"  # the last good record / commit before the break
    RATE_SHIFT = "rate_shift"  # the share of bad records moved from before to after the boundary
    FRESHNESS_BREACH = "freshness_breach"  # the dataset missed its deadline; watermark behind
    IMPACT = "impact"  # downstream datasets are hit through lineage
    # Causes: what failed or changed behind the symptom.
    DEPLOY_CORRELATED = "deploy_correlated"  # a deploy of the dataset's own producer shortly before first bad
    CODE_CHANGED = "code_changed"  # the job's code_ref changed since the last good run
    JOB_NOT_TRIGGERED = "job_not_triggered"  # no run started after the schedule, though runs usually do
    JOB_FAILED = "job_failed"  # today's run failed
    JOB_RUNNING = "job_running"  # today's run started and has no terminal event
    JOB_SLOW = "job_slow"  # today's run has been running longer than its baseline
    WRONG_PARTITION = "wrong_partition"  # a commit landed but not in the expected partition
    PARTIAL_WRITE = "partial_write"  # the expected partition landed with far fewer rows than usual
    UPSTREAM_LATE = "upstream_late"  # an input dataset of the job is itself late
    SCHEMA_DRIFT = "schema_drift"  # records arrive with a schema no rule maps (or two claim): a symptom of drift
    NO_RECENT_DEPLOY = "no_recent_deploy"  # the producer's latest deploy predates the last good run
    OTHER_BREAK = "other_break"  # records of the dataset also fail with another (reason, field) in this incident


CAUSE_KINDS = frozenset({
    ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED, ClaimKind.JOB_NOT_TRIGGERED, ClaimKind.JOB_FAILED,
    ClaimKind.JOB_RUNNING, ClaimKind.JOB_SLOW, ClaimKind.WRONG_PARTITION, ClaimKind.PARTIAL_WRITE,
    ClaimKind.UPSTREAM_LATE,
})


# The verified cause claims that explain each freshness reason code, the one that explains it best first.
# (Keyed by ReasonCode members; a stored incident's plain reason string finds its entry all the same.)
CAUSE_FOR_REASON: dict[str, tuple[ClaimKind, ...]] = {
    ReasonCode.JOB_NOT_TRIGGERED: (ClaimKind.JOB_NOT_TRIGGERED,),
    ReasonCode.JOB_FAILED: (ClaimKind.JOB_FAILED,),
    ReasonCode.JOB_RUNNING_SLOW: (ClaimKind.JOB_SLOW, ClaimKind.JOB_RUNNING),
    ReasonCode.WRONG_PARTITION: (ClaimKind.WRONG_PARTITION,),
    ReasonCode.PARTIAL_WRITE: (ClaimKind.PARTIAL_WRITE,),
    ReasonCode.UPSTREAM_DATA_LATE: (ClaimKind.UPSTREAM_LATE,),
}

ParamValue = str | int | float | bool | list[str] | None


class Claim(BaseModel):
    """A proposed claim: its kind, the evidence that must support it, and the values it states (`params`: a field,
    a version, rates) so the verifier checks values, not prose. `text` is the proposer's own wording: it is read
    only for signs that the proposer is confused or manipulated, and never shown to anyone."""

    model_config = ConfigDict(extra="ignore")  # a model's own "confidence" and the like are dropped here

    text: str = Field(default="", max_length=2000)
    kind: ClaimKind
    evidence_ids: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


class Draft(BaseModel):
    """A composer's proposal for one incident (or one chat answer)."""

    model_config = ConfigDict(extra="ignore")

    claims: list[Claim] = Field(default_factory=list)


class VerifiedClaim(BaseModel):
    """A claim that held: its sentence is rendered by the product from `params`, the values the kind's check
    derived from the cited evidence (and compared with any the proposer stated)."""

    model_config = ConfigDict(frozen=True)

    text: str
    kind: ClaimKind
    evidence_ids: list[str]
    params: dict[str, ParamValue]


class RejectedClaim(BaseModel):
    """A proposal that did not hold (audit only). `text` is written by the verifier ("deploy_correlated claim 3,
    citing ev_..."), never the proposer's wording; `reason` is a short label, `why` a sentence."""

    text: str
    kind: str | None = None
    reason: str = "predicate"
    why: str
