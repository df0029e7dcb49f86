"""What operators configure: freshness policies, contracts, resolution rules and lineage edges.

Field names follow the scenario format (docs/SCENARIOS.md) so that a scenario's `policies:` block, the API and
the store all speak the same shapes.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

from evidence._bounds import (
    INT64_MAX,
    KAFKA_TOPIC,
    MAX_NAME,
    Identifier,
    Tier,
    Url,
    Urn,
    has_control,
    identifier_error,
    json_problem,
)

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_WEEK_MINUTES = 7 * 24 * 60


def _printable(value: str) -> str:
    if has_control(value):
        raise ValueError("must not contain control characters")
    return value


def _topic(value: str) -> str:
    if not KAFKA_TOPIC.match(value):
        raise ValueError("must be a Kafka topic name: 1-249 of a-z A-Z 0-9 . _ -")
    return value


def _topic_template(value: str) -> str:
    if not KAFKA_TOPIC.match(value.replace("{topic}", "t")):
        raise ValueError("must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -) where {topic} stands for the "
                         "record's topic, such as {topic}.rca-rejected")
    return value


# A topic name with {topic} standing for the record's own topic (where the gate copies records).
TopicTemplate = Annotated[str, Field(min_length=1, max_length=249), AfterValidator(_topic_template)]
# Operator-written names shown beside incidents (a team is often two words): bounded, printable, one line.
Team = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_printable)]
# Every config model: no unknown keys, no Infinity or NaN (a JSON body may carry them; JSON cannot store them), and
# immutable (a validated config is shared between the callers that load the same stored text).
def _hh_mm_schema(schema: dict[str, Any]) -> None:
    """What expected_update_by takes, exactly: HH:MM, or the minutes after midnight an unquoted YAML 02:00 becomes."""
    schema.pop("type", None)
    schema["anyOf"] = [{"type": "string", "pattern": _HHMM.pattern},
                       {"type": "integer", "minimum": 0, "maximum": 24 * 60 - 1}]
    schema["examples"] = ["02:00"]


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


@functools.lru_cache(maxsize=4096)
def _valid_cron(expression: str) -> bool:
    # croniter takes about a millisecond per check, and every stored policy is validated again on each load.
    return bool(croniter.is_valid(expression))


class Watermark(BaseModel):
    model_config = _STRICT
    dimension: Identifier = "dt"
    must_reach: Literal["today", "yesterday"] = "today"
    format: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)] = "%Y-%m-%d"


class FreshnessPolicy(BaseModel):
    """A dataset must be updated by `expected_update_by` (local time in `timezone`) + grace."""

    model_config = _STRICT

    dataset_urn: Urn
    producer_urn: Urn | None = None
    expected_update_by: Annotated[str, Field(json_schema_extra=_hh_mm_schema, description="HH:MM, local time in "
                                             "`timezone` (or minutes after midnight: YAML 1.1 reads 02:00 as 120)")]
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    grace_minutes: StrictInt = Field(default=0, ge=0, le=_WEEK_MINUTES)
    watermark: Watermark | None = None
    schedule: Annotated[str, Field(max_length=256)] | None = None  # cron, local time
    owner_team: Team | None = None
    tier: Tier | None = None
    runbook_url: Url | None = None
    # How far back to look for the producer's habits (evidence of absence, baselines).
    lookback_days: StrictInt = Field(default=7, ge=1, le=366)
    # A run this much slower than the median of recent successful runs is "slow".
    slow_factor: StrictFloat = Field(default=1.5, gt=1, le=1000)
    # A partition with fewer rows than this share of the baseline is a partial write.
    partial_write_ratio: StrictFloat = Field(default=0.5, gt=0, lt=1)
    deploy_window_minutes: StrictInt = Field(default=60, ge=1, le=_WEEK_MINUTES)

    @field_validator("expected_update_by", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 02:00 as the sexagesimal integer 120 (minutes): take it back.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
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
        if value is not None and not _valid_cron(value):
            raise ValueError(f"{value!r} is not a cron expression (for example '0 1 * * *')")
        return value

    @property
    def deadline_hour_minute(self) -> tuple[int, int]:
        hours, minutes = self.expected_update_by.split(":")
        return int(hours), int(minutes)


class Contract(BaseModel):
    """Contract-lite: a JSON Schema subset (type, required, properties, enum, nullability) per dataset."""

    dataset_urn: Urn
    enforcement: Literal["flag", "reject"] = "flag"
    schema_: dict[str, Any] = Field(alias="schema")
    owner_team: Team | None = None
    tier: Tier | None = None
    runbook_url: Url | None = None
    deploy_window_minutes: StrictInt = Field(default=60, ge=1, le=_WEEK_MINUTES)
    # Where `rca gate consume` copies records under enforcement "reject" ({topic} is the record's topic):
    # failing ones to the dead-letter topic (default "{topic}.rca-rejected"), passing ones to valid_topic when
    # set (e.g. "{topic}.rca-valid"). Quarantine copies: the producer's own records are not blocked.
    dead_letter_topic: TopicTemplate | None = None
    valid_topic: TopicTemplate | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False, frozen=True)

    @field_validator("schema_")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        # What the gate supports is checked where it compiles (detectors/_contract.py); here only what any
        # stored JSON must be, and that every field the gate may name is a field name, never a phrase.
        problem = json_problem(value, limit=32)
        if problem is not None:
            raise ValueError(f"{problem[0] or 'the schema'} {problem[1]}")
        stack = [value]
        while stack:
            node = stack.pop()
            properties = node.get("properties") if isinstance(node, dict) else None
            if isinstance(properties, dict):
                for name, child in properties.items():
                    if (error := identifier_error(name)) is not None:
                        raise ValueError(f"property name {name[:60]!r} {error}")
                    stack.append(child)
        return value


class Mapping(BaseModel):
    """An approved resolution rule: (topic, schema id, headers) -> dataset and producer."""

    model_config = _STRICT

    topic: Annotated[str, AfterValidator(_topic), Field(json_schema_extra={"pattern": KAFKA_TOPIC.pattern})]
    schema_id: Annotated[StrictInt, Field(ge=0, le=INT64_MAX)] | Identifier | None = None
    headers: Annotated[dict[Annotated[str, Field(max_length=256)], Annotated[str, Field(max_length=512)]],
                       Field(max_length=32)] = Field(default_factory=dict)
    dataset_urn: Urn
    producer_urn: Urn | None = None
    confidence: StrictFloat = Field(default=1.0, ge=0, le=1)


class LineageEdge(BaseModel):
    model_config = _STRICT

    upstream: Urn
    downstream: Urn
