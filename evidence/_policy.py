"""What operators configure: freshness policies, contracts, resolution rules and lineage edges.

Field names follow the scenario format (docs/SCENARIOS.md) so that a scenario's `policies:` block, the API and
the store all speak the same shapes.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class Watermark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dimension: str = "dt"
    must_reach: Literal["today", "yesterday"] = "today"
    format: str = "%Y-%m-%d"


class FreshnessPolicy(BaseModel):
    """A dataset must be updated by `expected_update_by` (local time in `timezone`) + grace."""

    model_config = ConfigDict(extra="forbid")

    dataset_urn: str = Field(min_length=1)
    producer_urn: str | None = None
    expected_update_by: str
    timezone: str = "UTC"
    grace_minutes: int = Field(default=0, ge=0)
    watermark: Watermark | None = None
    schedule: str | None = None  # cron, local time
    owner_team: str | None = None
    tier: int | None = None
    runbook_url: str | None = None
    # How far back to look for the producer's habits (evidence of absence, baselines).
    lookback_days: int = Field(default=7, ge=1)
    # A run this much slower than the median of recent successful runs is "slow".
    slow_factor: float = Field(default=1.5, gt=1)
    # A partition with fewer rows than this share of the baseline is a partial write.
    partial_write_ratio: float = Field(default=0.5, gt=0, lt=1)
    deploy_window_minutes: int = Field(default=60, ge=1)

    @field_validator("expected_update_by", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 02:00 as the sexagesimal integer 120 (minutes): take it back.
        if isinstance(value, int) and 0 <= value < 24 * 60:
            return f"{value // 60:02d}:{value % 60:02d}"
        if isinstance(value, str) and not _HHMM.match(value):
            raise ValueError("must be HH:MM in the policy's local time, for example 02:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (for example America/New_York)") from exc
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (for example '0 1 * * *')")
        return value

    @property
    def deadline_hour_minute(self) -> tuple[int, int]:
        hours, minutes = self.expected_update_by.split(":")
        return int(hours), int(minutes)


class Contract(BaseModel):
    """Contract-lite: a JSON Schema subset (type, required, properties, enum, nullability) per dataset."""

    dataset_urn: str = Field(min_length=1)
    enforcement: Literal["flag", "reject"] = "flag"
    schema_: dict[str, Any] = Field(alias="schema")
    owner_team: str | None = None
    tier: int | None = None
    runbook_url: str | None = None
    deploy_window_minutes: int = Field(default=60, ge=1)
    # Where `rca gate consume` copies records under enforcement "reject" ({topic} is the record's topic):
    # failing ones to the dead-letter topic (default "{topic}.rca-rejected"), passing ones to valid_topic when
    # set (e.g. "{topic}.rca-valid"). Quarantine copies: the producer's own records are not blocked.
    dead_letter_topic: str | None = Field(default=None, min_length=1, max_length=249)
    valid_topic: str | None = Field(default=None, min_length=1, max_length=249)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Mapping(BaseModel):
    """An approved resolution rule: (topic, schema id, headers) -> dataset and producer."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1)
    schema_id: int | str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    dataset_urn: str = Field(min_length=1)
    producer_urn: str | None = None
    confidence: float = Field(default=1.0, ge=0, le=1)


class LineageEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upstream: str = Field(min_length=1)
    downstream: str = Field(min_length=1)
