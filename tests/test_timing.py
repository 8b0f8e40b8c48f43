"""Timing: durations, next occurrences, anchors, windows and DST (runtime.timing)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfdsl.plan.model import Recurrence, Window
from wfdsl.runtime import timing

UTC = dt.timezone.utc


def u(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "parts", "tz", "expected"),
    [
        # Oslo springs forward on 2026-03-29: 09:00 CET -> 09:00 CEST is 23 h
        ("2026-03-28T08:00", [[1, "day"]], "Europe/Oslo", "2026-03-29T07:00"),
        # and falls back on 2026-10-25: 25 h
        ("2026-10-24T07:00", [[1, "day"]], "Europe/Oslo", "2026-10-25T08:00"),
        # New York springs forward on 2026-03-08
        ("2026-03-07T14:00", [[1, "day"]], "America/New_York", "2026-03-08T13:00"),
        ("2026-10-31T13:00", [[1, "week"]], "America/New_York", "2026-11-07T14:00"),
        # hours are elapsed time, not wall time
        ("2026-03-28T23:30", [[3, "hours"]], "Europe/Oslo", "2026-03-29T02:30"),
        ("2026-03-28T08:00", [[1, "day"], [6, "hours"]], "Europe/Oslo", "2026-03-29T13:00"),
        ("2026-01-01T00:00", [[90, "minutes"]], "UTC", "2026-01-01T01:30"),
    ],
)
def test_add_duration(start: str, parts: list[list[object]], tz: str, expected: str) -> None:
    assert timing.add_duration(u(start), parts, tz) == u(expected)


def test_nonexistent_local_time_moves_forward_by_the_gap() -> None:
    oslo = timing.zone("Europe/Oslo")
    # 02:30 does not exist on 2026-03-29 in Oslo: it becomes 03:30 CEST (01:30 UTC)
    assert timing.localize(dt.date(2026, 3, 29), dt.time(2, 30), oslo) == u("2026-03-29T01:30")
    # 02:30 happens twice on 2026-10-25: the first one (CEST, 00:30 UTC)
    assert timing.localize(dt.date(2026, 10, 25), dt.time(2, 30), oslo) == u("2026-10-25T00:30")


def test_next_time_of_day_and_weekday() -> None:
    monday = 0
    # Wednesday 2026-03-04 10:00 UTC -> next Monday 09:00 Oslo
    assert timing.next_time_of_day(u("2026-03-04T10:00"), dt.time(9), "Europe/Oslo", [monday]) == u("2026-03-09T08:00")
    # later today
    assert timing.next_time_of_day(u("2026-03-04T06:00"), dt.time(9), "UTC") == u("2026-03-04T09:00")
    # already past today: tomorrow
    assert timing.next_time_of_day(u("2026-03-04T10:00"), dt.time(9), "UTC") == u("2026-03-05T09:00")
    # exactly now: now, unless strict
    assert timing.next_time_of_day(u("2026-03-04T09:00"), dt.time(9), "UTC") == u("2026-03-04T09:00")
    assert timing.next_time_of_day(u("2026-03-04T09:00"), dt.time(9), "UTC", strict=True) == u("2026-03-05T09:00")


def test_recurrences() -> None:
    daily = Recurrence(kind="daily", at="09:00")
    weekly = Recurrence(kind="weekly", at="09:00", days=(0, 3))
    monthly = Recurrence(kind="monthly", at="09:00", day=31)
    once = Recurrence(kind="once", at="2026-12-24T09:00")
    after = u("2026-02-02T09:00")  # a Monday, at the time itself
    assert timing.next_recurrence(daily, after, "UTC") == u("2026-02-03T09:00")
    assert timing.next_recurrence(weekly, after, "UTC") == u("2026-02-05T09:00")
    # day 31 in February is its last day
    assert timing.next_recurrence(monthly, after, "UTC") == u("2026-02-28T09:00")
    assert timing.next_recurrence(once, after, "Europe/Oslo") == u("2026-12-24T08:00")
    assert timing.next_recurrence(once, u("2027-01-01T00:00"), "UTC") is None


def test_anchor_day_annual_and_leap_day() -> None:
    assert timing.anchor_day(dt.date(2020, 1, 20), True, 2021) == dt.date(2021, 1, 20)
    assert timing.anchor_day(dt.date(2020, 1, 20), False, 2021) == dt.date(2020, 1, 20)
    assert timing.anchor_day(dt.date(2020, 2, 29), True, 2021) == dt.date(2021, 2, 28)
    assert timing.anchor_day(dt.date(2020, 2, 29), True, 2024) == dt.date(2024, 2, 29)
    # HubSpot's example: 300 days after 2021-01-20
    target = timing.date_target(dt.date(2021, 1, 20), None, [[300, "days"]], 1, "UTC")
    assert target == u("2021-11-16T00:00")


def test_to_date_accepts_the_forms_crms_use() -> None:
    assert timing.to_date("2026-03-01") == dt.date(2026, 3, 1)
    assert timing.to_date("2026-03-01T23:30:00Z", "Europe/Oslo") == dt.date(2026, 3, 2)
    assert timing.to_date(1772323200000) == dt.date(2026, 3, 1)  # epoch milliseconds
    assert timing.to_date("soon") is None
    assert timing.to_date(None) is None
    assert timing.to_date(True) is None


WEEKDAYS_9_17 = (Window(days=(0, 1, 2, 3, 4), start="09:00", end="17:00"),)


def test_windows_and_pause_dates() -> None:
    tz = "America/New_York"
    friday_evening = u("2026-03-06T23:30")  # 18:30 EST
    assert not timing.in_window(friday_evening, WEEKDAYS_9_17, (), tz)
    # next start: Monday 09:00 EDT (DST began on Sunday 03-08)
    assert timing.next_window_start(friday_evening, WEEKDAYS_9_17, (), tz) == u("2026-03-09T13:00")
    # Monday paused: Tuesday
    assert timing.next_window_start(friday_evening, WEEKDAYS_9_17, ("2026-03-09",), tz) == u("2026-03-10T13:00")
    assert timing.in_window(u("2026-03-06T15:00"), WEEKDAYS_9_17, (), tz)
    assert not timing.in_window(u("2026-03-06T15:00"), WEEKDAYS_9_17, ("2026-03-06",), tz)
    # no windows, a pause date: the next day at 00:00
    assert timing.next_window_start(u("2026-12-24T10:00"), (), ("2026-12-24", "2026-12-25"), "UTC") == u(
        "2026-12-26T00:00"
    )


@given(st.text(min_size=1, max_size=20))
def test_spread_stays_within_the_first_15_minutes_and_is_stable(enrollment: str) -> None:
    offset = timing.spread(enrollment)
    assert dt.timedelta(0) <= offset < dt.timedelta(minutes=15)
    assert timing.spread(enrollment) == offset


def test_backoff_doubles_with_bounded_jitter() -> None:
    delays = [timing.backoff(n, "e1steps.0") for n in range(1, 5)]
    for n, delay in enumerate(delays, start=1):
        base = 60 * 2 ** (n - 1)
        assert base <= delay.total_seconds() < base * 1.1
    assert delays == [timing.backoff(n, "e1steps.0") for n in range(1, 5)]


def test_unknown_time_zone_is_a_timing_error() -> None:
    with pytest.raises(timing.TimingError, match="Mars/Olympus"):
        timing.zone("Mars/Olympus")
