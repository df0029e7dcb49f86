"""The policy clock: wall times to instants across DST, and the scheduled run a cron names."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors._watermark import last_fire, localize

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("day", "at", "zone", "expected"), [
    (date(2026, 1, 19), time(2, 0), "America/New_York", "2026-01-19T07:00:00+00:00"),
    (date(2026, 3, 8), time(1, 59), "America/New_York", "2026-03-08T06:59:00+00:00"),
    (date(2026, 3, 8), time(2, 0), "America/New_York", "2026-03-08T07:00:00+00:00"),  # gap: the jump
    (date(2026, 3, 8), time(2, 30), "America/New_York", "2026-03-08T07:00:00+00:00"),  # gap: the jump
    (date(2026, 3, 8), time(3, 0), "America/New_York", "2026-03-08T07:00:00+00:00"),
    (date(2026, 11, 1), time(1, 30), "America/New_York", "2026-11-01T05:30:00+00:00"),  # twice: the first
    (date(2026, 11, 1), time(2, 0), "America/New_York", "2026-11-01T07:00:00+00:00"),
    (date(2026, 3, 29), time(2, 30), "Europe/Berlin", "2026-03-29T01:00:00+00:00"),  # gap: the jump
    (date(2026, 10, 25), time(2, 30), "Europe/Berlin", "2026-10-25T00:30:00+00:00"),  # twice: CEST
    (date(2026, 1, 19), time(6, 0), "Asia/Kolkata", "2026-01-19T00:30:00+00:00"),
    (date(2026, 10, 4), time(2, 15), "Australia/Lord_Howe", "2026-10-03T15:30:00+00:00"),  # 30-minute gap
])
def test_localize(day: date, at: time, zone: str, expected: str) -> None:
    assert localize(day, at, ZoneInfo(zone)).isoformat() == expected


@given(st.dates(date(2025, 1, 1), date(2027, 12, 31)), st.times(), st.times(),
       st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_localize_is_monotone_and_never_before_the_wall_time(day: date, a: time, b: time, zone: str) -> None:
    tz = ZoneInfo(zone)
    a, b = sorted((a.replace(microsecond=0), b.replace(microsecond=0)))
    first, second = localize(day, a, tz), localize(day, b, tz)
    assert first <= second
    assert first.astimezone(tz).replace(tzinfo=None) >= datetime.combine(day, a)
    # It is the first such instant: a second earlier the clock read less.
    assert (first - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None) < datetime.combine(day, a)


@pytest.mark.parametrize(("cron", "moment", "expected"), [
    ("0 1 * * *", "2026-01-19T07:10:00+00:00", "2026-01-19T06:00:00+00:00"),
    ("0 1 * * *", "2026-01-19T06:00:00+00:00", "2026-01-19T06:00:00+00:00"),  # at or before
    ("0 1 * * *", "2026-01-19T05:59:59+00:00", "2026-01-18T06:00:00+00:00"),
    ("0 23 * * *", "2026-01-19T07:10:00+00:00", "2026-01-19T04:00:00+00:00"),  # the evening before
    ("0 1 * * 1", "2026-01-22T07:10:00+00:00", "2026-01-19T06:00:00+00:00"),  # weekly: Monday
    ("30 2 * * *", "2026-03-08T07:15:00+00:00", "2026-03-08T07:00:00+00:00"),  # skipped hour: at the jump
    ("30 1 * * *", "2026-11-01T07:00:00+00:00", "2026-11-01T05:30:00+00:00"),  # repeated hour: once, first
    ("45 1 * * *", "2026-11-01T06:20:00+00:00", "2026-11-01T05:45:00+00:00"),  # later wall time, earlier instant
])
def test_last_fire(cron: str, moment: str, expected: str) -> None:
    assert last_fire(cron, datetime.fromisoformat(moment), NY) == datetime.fromisoformat(expected).astimezone(UTC)


def test_a_cron_that_never_fires_has_no_scheduled_run() -> None:
    assert last_fire("0 0 30 2 *", datetime(2026, 1, 19, 7, 10, tzinfo=UTC), NY) is None
