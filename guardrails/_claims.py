"""What a composer proposes: claims of a known kind, each citing evidence ids. The verifier decides."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


CAUSE_KINDS = frozenset({
    ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED, ClaimKind.JOB_NOT_TRIGGERED, ClaimKind.JOB_FAILED,
    ClaimKind.JOB_RUNNING, ClaimKind.JOB_SLOW, ClaimKind.WRONG_PARTITION, ClaimKind.PARTIAL_WRITE,
    ClaimKind.UPSTREAM_LATE,
})


class Claim(BaseModel):
    """One sentence and the evidence that must support it. `params` carries the structured values the
    sentence states (a field, a version, rates) so the verifier checks values, not prose."""

    model_config = ConfigDict(extra="ignore")  # a model's own "confidence" and the like are dropped here

    text: str = Field(min_length=1, max_length=1000)
    kind: ClaimKind
    evidence_ids: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


class Draft(BaseModel):
    """A composer's proposal for one incident (or one chat answer)."""

    model_config = ConfigDict(extra="ignore")

    claims: list[Claim] = Field(default_factory=list)


class RejectedClaim(BaseModel):
    text: str
    kind: str | None = None
    why: str
