"""No PR spam: which repositories a campaign may open a pull request for now, and why the others wait.

Renovate's proven knobs are the floor (https://docs.renovatebot.com/configuration-options/: prHourlyLimit,
prConcurrentLimit, schedule with timezone); on top: a per-owner limit of open pull requests, waves of N
repositories, and a back-off for owners who close one (doubling with each closure; the closed one is never
reopened). Everything here is a pure function of the campaign's history and `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rollout._model import RolloutError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Schedule(BaseModel):
    """When pull requests may open, in each owner's own time zone: these days, from `start` to before `end`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: time = time(9, 0)
    end: time = time(17, 0)

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if d.lower() not in DAYS]
        if bad:
            raise ValueError(f"unknown day {bad[0]!r}; use {', '.join(DAYS)}")
        return tuple(d.lower() for d in value)

    def allows(self, moment: datetime, zone: str) -> bool:
        local = moment.astimezone(timezone(zone))
        return DAYS[local.weekday()] in self.days and self.start <= local.time() < self.end


class Limits(BaseModel):
    """A campaign's limits. Defaults are Renovate's where it has one (prHourlyLimit 2, prConcurrentLimit 10)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prs_per_hour: int = Field(2, ge=1, description="pull requests opened in any rolling hour")
    max_open_prs: int = Field(10, ge=1, description="the campaign's pull requests open at once")
    per_owner_open: int = Field(2, ge=1, description="open pull requests per owner at once")
    wave_size: int = Field(5, ge=1, description="repositories per wave")
    wave_interval_hours: float = Field(24.0, ge=0, description="the least time from one wave's start to the next's")
    backoff_days: float = Field(7.0, ge=0, description="no new pull request for an owner who closed one, for this "
                                "long (doubled for each further closure)")
    schedule: Schedule = Schedule()
    default_timezone: str = "UTC"
    owner_timezones: dict[str, str] = Field(default_factory=dict)

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        timezone(value)
        return value

    @field_validator("owner_timezones")
    @classmethod
    def _zones(cls, value: dict[str, str]) -> dict[str, str]:
        for zone in value.values():
            timezone(zone)
        return value

    def zone_of(self, owner: str, catalog_zone: str | None = None) -> str:
        """The owner's time zone: the campaign's word for it, else the catalog's, else the default."""
        return self.owner_timezones.get(owner) or catalog_zone or self.default_timezone


def timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RolloutError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from None


@dataclass(frozen=True)
class Opened:
    """A pull request the campaign opened, as the limits see it."""

    repo: str
    owner: str
    opened_at: datetime
    wave: int
    is_open: bool


@dataclass(frozen=True)
class Candidate:
    repo: str
    owner: str
    zone: str


@dataclass(frozen=True)
class Decision:
    """What may open now (in order, each with its wave) and why each other candidate waits."""

    open: tuple[tuple[Candidate, int], ...]
    held: dict[str, str]


def backoff_until(closures: Sequence[datetime], limits: Limits) -> datetime | None:
    """When an owner who closed pull requests at `closures` may get a new one: backoff_days after the last closure,
    doubled for each closure before it."""
    if not closures or limits.backoff_days <= 0:
        return None
    return max(closures) + timedelta(days=limits.backoff_days * 2 ** (len(closures) - 1))


def decide(candidates: Iterable[Candidate], opened: Sequence[Opened], closures: dict[str, list[datetime]],
           limits: Limits, now: datetime) -> Decision:
    """Which candidates may open at `now`, taken in order, counting each choice against every limit."""
    hour_ago = now - timedelta(hours=1)
    this_hour = sum(1 for o in opened if hour_ago < o.opened_at <= now)
    open_now = sum(1 for o in opened if o.is_open)
    per_owner: dict[str, int] = {}
    for o in opened:
        if o.is_open:
            per_owner[o.owner] = per_owner.get(o.owner, 0) + 1
    wave = max((o.wave for o in opened), default=0)
    in_wave = sum(1 for o in opened if o.wave == wave)
    wave_start = min((o.opened_at for o in opened if o.wave == wave), default=None)
    chosen: list[tuple[Candidate, int]] = []
    held: dict[str, str] = {}
    for candidate in candidates:
        until = backoff_until(closures.get(candidate.owner, []), limits)
        if until is not None and now < until:
            held[candidate.repo] = f"{candidate.owner} closed a pull request: backing off until {until:%Y-%m-%d %H:%M}Z"
            continue
        if not limits.schedule.allows(now, candidate.zone):
            held[candidate.repo] = f"outside {candidate.owner}'s schedule ({candidate.zone})"
            continue
        if this_hour >= limits.prs_per_hour:
            held[candidate.repo] = f"{limits.prs_per_hour} pull requests opened in the last hour (prs_per_hour)"
            continue
        if open_now >= limits.max_open_prs:
            held[candidate.repo] = f"{open_now} pull requests open (max_open_prs {limits.max_open_prs})"
            continue
        if per_owner.get(candidate.owner, 0) >= limits.per_owner_open:
            held[candidate.repo] = f"{candidate.owner} has {per_owner[candidate.owner]} open (per_owner_open)"
            continue
        if wave == 0 or in_wave >= limits.wave_size:
            if wave > 0 and wave_start is not None and now - wave_start < timedelta(hours=limits.wave_interval_hours):
                held[candidate.repo] = (f"wave {wave} is full ({limits.wave_size}); wave {wave + 1} starts "
                                        f"{limits.wave_interval_hours:g} h after wave {wave}")
                continue
            wave, in_wave, wave_start = wave + 1, 0, now
        chosen.append((candidate, wave))
        this_hour += 1
        open_now += 1
        in_wave += 1
        per_owner[candidate.owner] = per_owner.get(candidate.owner, 0) + 1
    return Decision(tuple(chosen), held)
