"""Timing: plan durations, delays, recurrences, anchors and execution windows -> UTC instants.

Every function takes and returns aware UTC datetimes; local times of day are
read in the workflow's time zone and converted DST-correctly:

- a day (or week) in a duration is a calendar day in the workflow time zone:
  `delay 1 day` from 09:00 the day before a DST change ends at 09:00 local;
  minutes and hours are elapsed time;
- a local time that does not exist (the spring-forward gap) moves forward by
  the gap; a local time that occurs twice (fall-back) is the first one.

>>> import datetime as dt
>>> start = dt.datetime(2026, 3, 28, 8, 0, tzinfo=dt.timezone.utc)   # 09:00 in Oslo
>>> add_duration(start, [[1, "day"]], "Europe/Oslo").isoformat()     # 09:00 CEST
'2026-03-29T07:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wfdsl.plan.steps import Duration
from wfdsl.runtime.values import as_date

UTC = dt.timezone.utc

#: The window spread: actions rescheduled to a window start are spread over this many seconds.
SPREAD_SECONDS = 15 * 60
#: Retry schedule for transient adapter errors.
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 60


class TimingError(ValueError):
    """A time zone, time or date that cannot be used."""


@functools.lru_cache(maxsize=256)
def zone(name: str) -> dt.tzinfo:
    """The tzinfo of an IANA name (`UTC` included)."""
    if name in ("UTC", "Etc/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise TimingError(f"unknown time zone {name!r}") from error


def stable_hash(*parts: object) -> int:
    """A hash that is the same in every process (unlike `hash()`)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def parse_time(text: str) -> dt.time:
    """`09:00` -> time(9, 0)."""
    hour, _, minute = text.partition(":")
    try:
        return dt.time(int(hour), int(minute[:2]))
    except ValueError as error:
        raise TimingError(f"invalid time of day {text!r}") from error


def localize(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """The UTC instant of local wall time `day at` in `tz` (gap: forward; fold: first)."""
    naive = dt.datetime.combine(day, at)
    if tz is UTC:
        return naive.replace(tzinfo=UTC)
    # fold=0 picks the first of two repeated times; for a nonexistent time it
    # uses the offset before the gap, which lands as far past the gap as the
    # wall time was past its start (02:30 in a 02:00->03:00 gap becomes 03:30).
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def local(when: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """`when` as local wall time in `tz` (aware)."""
    return when.astimezone(tz)


def add_duration(start: dt.datetime, parts: Iterable[Sequence[Any]], tz_name: str, sign: int = 1) -> dt.datetime:
    """`start` plus a plan duration (`[[1, "day"], [6, "hour"]]`): calendar days and
    weeks in the workflow zone, then elapsed hours and minutes."""
    tz = zone(tz_name)
    days = 0
    seconds = 0
    for amount, unit in parts:
        unit = str(unit).rstrip("s")
        if unit == "week":
            days += int(amount) * 7
        elif unit == "day":
            days += int(amount)
        elif unit == "hour":
            seconds += int(amount) * 3600
        elif unit == "minute":
            seconds += int(amount) * 60
        else:
            raise TimingError(f"unknown duration unit {unit!r}")
    try:
        result = start
        if days:
            wall = local(start, tz)
            day = wall.date() + dt.timedelta(days=sign * days)
            result = localize(day, wall.time().replace(tzinfo=None), tz)
        return result + dt.timedelta(seconds=sign * seconds)
    except OverflowError:
        raise TimingError(
            f"{start.isoformat()} {'+' if sign > 0 else '-'} {days} days {seconds} seconds is beyond the year 9999"
        ) from None


def duration_parts(data: Any) -> list[list[Any]]:
    """The `parts` of a plan duration (a `Duration`, its dict form or a bare parts list)."""
    if isinstance(data, Duration):
        return [list(p) for p in data.parts]
    if isinstance(data, dict):
        if "parts" in data:
            return [list(p) for p in data["parts"]]
        if "seconds" in data:
            return [[int(data["seconds"]) // 60, "minute"]]
    if isinstance(data, list):
        return [list(p) for p in data]
    raise TimingError(f"not a duration: {data!r}")


def next_time_of_day(
    now: dt.datetime, at: dt.time, tz_name: str, weekdays: Iterable[int] | None = None, *, strict: bool = False
) -> dt.datetime:
    """The next instant at local time `at` on one of `weekdays` (any day if None),
    at or after `now` (strictly after with `strict`)."""
    tz = zone(tz_name)
    days = set(weekdays) if weekdays is not None else set(range(7))
    if not days:
        raise TimingError("no weekdays")
    today = local(now, tz).date()
    for offset in range(0, 15):
        day = today + dt.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        candidate = localize(day, at, tz)
        if candidate > now or (candidate == now and not strict):
            return candidate
    raise TimingError("no next occurrence")  # pragma: no cover - 15 days always contain one


def next_monthly(now: dt.datetime, day_of_month: int, at: dt.time, tz_name: str) -> dt.datetime:
    """The next `day N at HH:MM` strictly after `now`; short months use their last day."""
    tz = zone(tz_name)
    wall = local(now, tz)
    year, month = wall.year, wall.month
    for _ in range(0, 25):
        last = _last_day(year, month)
        day = dt.date(year, month, min(day_of_month, last))
        candidate = localize(day, at, tz)
        if candidate > now:
            return candidate
        month += 1
        if month == 13:
            year, month = year + 1, 1
    raise TimingError("no next occurrence")  # pragma: no cover


def _last_day(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def next_recurrence(rec: Any, after: dt.datetime, tz_name: str) -> dt.datetime | None:
    """The next occurrence of a plan `Recurrence` strictly after `after` (None: no more)."""
    kind = rec.kind
    if kind == "once":
        when = dt.datetime.fromisoformat(rec.at)
        instant = localize(when.date(), when.time(), zone(tz_name))
        return instant if instant > after else None
    at = parse_time(rec.at)
    if kind == "daily":
        return next_time_of_day(after, at, tz_name, strict=True)
    if kind == "weekly":
        return next_time_of_day(after, at, tz_name, rec.days or None, strict=True)
    if kind == "monthly":
        return next_monthly(after, int(rec.day or 1), at, tz_name)
    raise TimingError(f"unknown recurrence {kind!r}")


def next_new_year(after: dt.datetime, tz_name: str) -> dt.datetime:
    """00:00 on the next 1 January (workflow zone) strictly after `after`."""
    tz = zone(tz_name)
    year = local(after, tz).year + 1
    return localize(dt.date(year, 1, 1), dt.time(0, 0), tz)


def to_date(value: Any, tz_name: str = "UTC") -> dt.date | None:
    """A property value as a calendar date in any form HubSpot's API uses (ISO date,
    ISO date-time, epoch milliseconds as a number or a string of digits; see
    `values.as_date`). None when it is not a date, or not one of the calendar (NaN,
    infinity, beyond the year 9999 in the zone).

    >>> to_date(float("nan")), to_date(253402300800000), to_date("9999-12-31T23:00-05:00")
    (None, None, None)
    """
    try:
        tz = zone(tz_name)
    except TimingError:
        return None
    try:
        return as_date(value, tz)
    except (ValueError, OverflowError, OSError):
        return None


def anchor_day(value: dt.date, annually: bool, year: int) -> dt.date:
    """The anchor of an enrollment: the value itself, or with `annually` that day and
    month in `year` (29 February -> 28 February in other years).

    >>> anchor_day(dt.date(2020, 1, 20), True, 2021)
    datetime.date(2021, 1, 20)
    >>> anchor_day(dt.date(2020, 2, 29), True, 2021)
    datetime.date(2021, 2, 28)
    """
    if not annually:
        return value
    if value.month == 2 and value.day == 29 and _last_day(year, 2) == 28:
        return dt.date(year, 2, 28)
    return value.replace(year=year)


def date_target(
    day: dt.date, at: dt.time | None, offset: Sequence[Sequence[Any]] | None, sign: int, tz_name: str
) -> dt.datetime:
    """`day ± offset` at a local time (00:00 when no time is given).

    Day/week offsets move the calendar date; hour/minute offsets move the instant.
    """
    tz = zone(tz_name)
    start = localize(day, at or dt.time(0, 0), tz)
    if offset:
        return add_duration(start, offset, tz_name, sign=sign)
    return start


def is_paused(when: dt.datetime, pause_dates: Iterable[str], tz_name: str) -> bool:
    return local(when, zone(tz_name)).date().isoformat() in set(pause_dates)


def in_window(when: dt.datetime, windows: Sequence[Any], pause_dates: Sequence[str], tz_name: str) -> bool:
    """Whether an action may run at `when`."""
    tz = zone(tz_name)
    wall = local(when, tz)
    if wall.date().isoformat() in set(pause_dates):
        return False
    if not windows:
        return True
    now_t = wall.time().replace(tzinfo=None)
    for window in windows:
        if wall.weekday() in window.days and parse_time(window.start) <= now_t < parse_time(window.end):
            return True
    return False


def next_window_start(
    when: dt.datetime, windows: Sequence[Any], pause_dates: Sequence[str], tz_name: str
) -> dt.datetime:
    """The start of the next window (not on a pause date) after `when`.

    With no windows, the next day that is not paused, at 00:00.
    """
    tz = zone(tz_name)
    paused = set(pause_dates)
    today = local(when, tz).date()
    for offset in range(0, 800):
        day = today + dt.timedelta(days=offset)
        if day.isoformat() in paused:
            continue
        if not windows:
            if offset == 0:
                continue
            return localize(day, dt.time(0, 0), tz)
        starts = sorted(localize(day, parse_time(w.start), tz) for w in windows if day.weekday() in w.days)
        for start in starts:
            if start > when:
                return start
    raise TimingError("no execution window in the next 800 days")


def spread(enrollment_id: str) -> dt.timedelta:
    """The deterministic offset into a window's first 15 minutes for an enrollment."""
    return dt.timedelta(seconds=stable_hash("window", enrollment_id) % SPREAD_SECONDS)


def backoff(attempt: int, key: str) -> dt.timedelta:
    """Delay before retry number `attempt` (1-based): 1, 2, 4, 8 … minutes plus a
    deterministic jitter of up to 10 %."""
    base = BACKOFF_BASE_SECONDS * (2 ** max(0, attempt - 1))
    jitter = stable_hash("jitter", key, attempt) % max(1, base // 10)
    return dt.timedelta(seconds=base + jitter)
