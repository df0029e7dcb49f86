"""When a dataset is due and what it must hold by then: the policy's day, deadline, scheduled run and watermark."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from evidence import FreshnessPolicy, Watermark, utc

# Cron fires are searched this far on either side of the deadline's wall time: wider than any DST shift,
# so a fire whose wall time and instant disagree around a transition is still compared.
_DST_SLACK = timedelta(hours=3)
_MAX_FIRES = 5000


@functools.lru_cache(maxsize=65536)
def localize(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant a local wall-clock time names: the first instant the local clock reads `at` or later.

    That one rule settles both DST cases on purpose. Spring forward: 02:30 on 2026-03-08 in New York never
    shows, so it names the jump itself (03:00 EDT), where cron daemons run the skipped hour's jobs too.
    Fall back: 01:30 on 2026-11-01 shows twice and names its first occurrence (01:30 EDT), so a deadline
    is not silently extended by an hour and a cron fire in the repeated hour fires once. The mapping is
    monotone, so a schedule before the deadline on the wall clock is before it in time as well.
    """
    wall = datetime.combine(day, at.replace(fold=0))
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first occurrence when there are two
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap, fold=0 lands after the jump and fold=1 before it; find the jump to the second.
    before = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    after = int(instant.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


# Pure in its arguments, and a detector pass asks the same (schedule, clock, zone) for thousands of datasets.
@functools.lru_cache(maxsize=4096)
def last_fire(schedule: str, moment: datetime, zone: ZoneInfo) -> datetime | None:
    """The last fire of a local-time cron at or before `moment` (UTC), or None if it never fired."""
    wall = utc(moment).astimezone(zone).replace(tzinfo=None)
    # croniter walks naive wall clocks (plain calendar arithmetic, no DST surprises); each fire is then
    # localized like a deadline. `moment` may sit in the second pass of a fall-back's repeated hour, where
    # a fire with a later wall time is the earlier instant, so every fire within the slack is compared.
    fires = croniter(schedule, wall + _DST_SLACK)
    best: datetime | None = None
    for _ in range(_MAX_FIRES):
        try:
            fire = fires.get_prev(datetime)
        except CroniterBadDateError:  # a valid cron that never fires, such as "0 0 30 2 *"
            break
        instant = localize(fire.date(), fire.time(), zone)
        if instant <= moment and (best is None or instant > best):
            best = instant
        if best is not None and fire < wall - _DST_SLACK:
            break
    return best


@dataclass(frozen=True)
class PolicyDay:
    """A policy's calendar at one clock: its local date, today's deadline, scheduled run and windows (UTC)."""

    zone: ZoneInfo
    today: date
    deadline: datetime  # expected_update_by on `today` + grace
    scheduled_time: datetime | None  # today's scheduled run: the last cron fire at or before the deadline
    cycle_start: datetime  # runs and commits from here on belong to today's update
    lookback_start: datetime  # habits and baselines come from [lookback_start, cycle_start)


def policy_day(policy: FreshnessPolicy, now: datetime) -> PolicyDay:
    zone = ZoneInfo(policy.timezone)
    today = utc(now).astimezone(zone).date()
    hour, minute = policy.deadline_hour_minute
    # Grace is elapsed time after the named wall time, so it is added to the instant, not the wall clock.
    deadline = localize(today, time(hour, minute), zone) + timedelta(minutes=policy.grace_minutes)
    scheduled = last_fire(policy.schedule, deadline, zone) if policy.schedule else None
    # Without a schedule, today's update is whatever ran since local midnight: a nightly job that writes
    # "today" (or "yesterday") cannot have started on it before the day began.
    cycle_start = scheduled if scheduled is not None else localize(today, time(0, 0), zone)
    # Lookback days are calendar days in the zone: seven nights back is seven 01:00 runs, even when a
    # fall-back made the week an hour longer.
    local_start = cycle_start.astimezone(zone)
    lookback_start = localize(local_start.date() - timedelta(days=policy.lookback_days), local_start.time(), zone)
    return PolicyDay(
        zone=zone,
        today=today,
        deadline=deadline,
        scheduled_time=scheduled,
        cycle_start=cycle_start,
        lookback_start=lookback_start,
    )


def expected_date(watermark: Watermark, day: date) -> date:
    """The partition date the watermark must reach on a local day."""
    return day if watermark.must_reach == "today" else day - timedelta(days=1)


def render(watermark: Watermark, value: str) -> str:
    return f"{watermark.dimension}={value}"


def expected_watermark(watermark: Watermark, day: date) -> str:
    return render(watermark, expected_date(watermark, day).strftime(watermark.format))


def partition_dates(partitions: object, watermark: Watermark) -> list[tuple[date, str]]:
    """(date, raw value) of the watermark dimension in partition paths such as "region=eu/dt=2026-01-19".

    Values that do not parse with the watermark's format (__HIVE_DEFAULT_PARTITION__, typos) are skipped:
    they cannot advance a date watermark.
    """
    if not isinstance(partitions, list):
        return []
    found = []
    for partition in partitions:
        if not isinstance(partition, str):
            continue
        for segment in partition.split("/"):
            key, sep, value = segment.partition("=")
            if not sep or key.strip() != watermark.dimension:
                continue
            parsed = _parse_date(value.strip(), watermark.format)
            if parsed is not None:
                found.append((parsed, value.strip()))
    return found


@functools.lru_cache(maxsize=65536)
def _parse_date(value: str, fmt: str) -> date | None:
    # A detector pass reads the same few dozen partition values across thousands of datasets; strptime is slow.
    try:
        return datetime.strptime(value, fmt).date()
    except ValueError:
        return None
