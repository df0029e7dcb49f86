"""What a detector pass came to, as POST /v1/detect answers it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detectors._detect import DetectionResult
from evidence import ConfigFinding, ReasonCode


class DriftNote(BaseModel):
    """An undecided (open or rejected) drift change request the pass saw."""

    model_config = ConfigDict(frozen=True)

    topic: str
    schema_id: int | str = Field(description="the unmapped schema id (a number when it is one)")
    reason_code: ReasonCode
    change_request_id: str
    status: str = Field(description="open or rejected")
    held: int = Field(description="records held until the change request is decided")


class DetectionSummary(BaseModel):
    """POST /v1/detect: the incidents a pass opened and resolved, and what it could not use."""

    model_config = ConfigDict(frozen=True)

    opened: list[str] = Field(description="ids of the incidents it opened (or reopened)")
    resolved: list[str] = Field(description="ids of the incidents it resolved")
    paused: list[str] = Field(description="(dataset, kind) not opened because evidence was stale (stale_action=pause)")
    open: int = Field(description="incidents open after the pass")
    drift: list[DriftNote]
    config_findings: list[ConfigFinding] = Field(description="stored configuration that no longer validates: "
                                                 "skipped by the pass")


def summarize(result: DetectionResult, open_now: int) -> DetectionSummary:
    return DetectionSummary.model_validate({
        "opened": result.opened, "resolved": result.resolved, "paused": result.paused, "open": open_now,
        "drift": result.drift, "config_findings": result.config_findings})


__all__ = ["DetectionSummary", "DriftNote", "summarize"]
