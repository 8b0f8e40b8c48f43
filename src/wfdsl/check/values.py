"""Value checks: literals (durations, times, dates, time zones, shares) in, `invalid-value` out."""

from __future__ import annotations

import calendar
import functools
import os
from collections.abc import Iterator

from wfdsl.check.context import Context, did_you_mean
from wfdsl.diagnostics import Diagnostic
from wfdsl.limits import ACT_YEARS, MAX_DURATION_MINUTES
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n

_MONTHS = list(calendar.month_name)


@functools.cache
def _zones() -> frozenset[str]:
    import zoneinfo  # here: most files name no time zone, and the import is not free

    return frozenset(zoneinfo.available_timezones())


@functools.cache
def _is_zone(name: str) -> bool:
    """Whether `name` is in `zoneinfo.available_timezones()`, without listing them all when it is.

    Listing opens every file under the zone directories: tens of milliseconds, most
    of a cold `wfdsl lint` of a file with a `timezone` setting. A name that the listing
    would find (a TZif file reached through real directories of a zone directory,
    outside its `right/` and `posix/`) is a zone; any other is looked up in the list.
    """
    import zoneinfo

    parts = name.split("/")
    plain = name != "posixrules" and all(part not in ("", ".", "..") for part in parts)
    if plain and not (len(parts) > 1 and parts[0] in ("right", "posix")):
        if any(_listed_tzif(root, parts) for root in zoneinfo.TZPATH):
            return True
    return name in _zones()


def _listed_tzif(root: str, parts: list[str]) -> bool:
    """Whether `os.walk(root)` lists `root/part/…` as a file under exactly that name, and it is TZif."""
    here = root
    for i, part in enumerate(parts):
        try:
            if part not in os.listdir(here):  # the exact name, also on a case-insensitive disk
                return False
        except OSError:
            return False
        here = os.path.join(here, part)
        if i < len(parts) - 1:
            if not os.path.isdir(here) or os.path.islink(here):  # `os.walk` does not follow links
                return False
        elif os.path.isdir(here):
            return False
    try:
        with open(here, "rb") as f:
            return f.read(4) == b"TZif"
    except OSError:
        return False


def _bad(message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic.of("invalid-value", message, span, hint=hint)


def date_problem(text: str) -> str | None:
    """Why `YYYY-MM-DD` text is not a calendar date, or None.

    >>> date_problem("2026-02-30")
    'February 2026 has 28 days'
    """
    year, month, day = (int(p) for p in text.split("-"))
    if not 1 <= month <= 12:
        return "months run from 01 to 12"
    last = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if year < 1:
        return "years start at 0001"
    if not 1 <= day <= last:
        return f"{_MONTHS[month]} {year} has {last} days"
    return None


def time_problem(text: str) -> str | None:
    """Why `HH:MM` text is not a time of day (00:00–23:59), or None."""
    hours, minutes = (int(p) for p in text.split(":"))
    if hours > 23:
        return "hours run from 00 to 23"
    if minutes > 59:
        return "minutes run from 00 to 59"
    return None


def datetime_problem(text: str) -> str | None:
    day, _, clock = text.partition("T")
    problem = date_problem(day)
    if problem is not None:
        return problem
    parts = clock.split(":")
    problem = time_problem(":".join(parts[:2]))
    if problem is None and len(parts) == 3 and int(parts[2]) > 59:
        problem = "seconds run from 00 to 59"
    return problem


_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60, "week": 7 * 24 * 60}


def _count_ok(text: str) -> bool:
    """A count of `at least N times`: a whole number, 1 or more."""
    return text.isascii() and text.isdigit() and int(text) >= 1


def _minutes(duration: n.Duration) -> int:
    total = 0
    for part in duration.parts:
        if part.amount.isdigit():
            if len(part.amount) > 12:  # also keeps int() clear of its digit limit
                return MAX_DURATION_MINUTES + 1
            total += int(part.amount) * _UNIT_MINUTES.get(part.unit, 1)
    return total


def _times_to_act(node: n.Node) -> Iterator[n.DateLit | n.DateTimeLit]:
    """The fixed dates and date-times at which a node makes the workflow act or wait."""
    if isinstance(node, n.Once):
        yield node.at
    elif isinstance(node, n.DelayUntilDate) and not isinstance(node.base, n.PropertyRef):
        yield node.base
    elif isinstance(node, n.PauseSetting):
        yield from node.dates
    elif isinstance(node, n.AnchorClause) and isinstance(node.target, n.DateLit):
        yield node.target


_ACTING = (n.Once, n.DelayUntilDate, n.PauseSetting, n.AnchorClause)

#: The node classes `invalid_value` looks at.
_VALUED: tuple[type[n.Node], ...] = (
    *_ACTING,
    n.DurationPart,
    n.HasEvent,
    n.Duration,
    n.DateLit,
    n.TimeLit,
    n.DateTimeLit,
    n.SplitArm,
    n.TimezoneSetting,
    n.ExecuteSetting,
    n.Monthly,
    n.Webhook,
    n.Increment,
)


def _far_times(node: n.Node) -> Iterator[Diagnostic]:
    low, high = ACT_YEARS
    for lit in _times_to_act(node):
        year = lit.text[:4]
        if year.isdigit() and not low <= int(year) <= high:
            yield _bad(
                f"found `{lit.text}`; expected a time to act in the years {low} to {high}",
                lit.span,
                hint="a date criterion (`contact.x before …`) may name any year; a schedule, "
                "delay, pause or anchor may not",
            )


def invalid_value(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:  # noqa: C901
    """`invalid-value`: durations, times, dates, date-times, time zones, percentages, days, URLs."""
    for node in ctx.of_type(wf, _VALUED):
        if isinstance(node, _ACTING):
            yield from _far_times(node)
        if isinstance(node, n.DurationPart):
            if not node.amount.isdigit() or int(node.amount) == 0:
                whole = node.amount.lstrip("-").split(".")[0]
                amount = max(1, int(whole) if whole.isdigit() else 1)
                fix = f"{amount} {node.unit}{'s' if amount > 1 else ''}"
                yield _bad(
                    f"found the duration amount `{node.amount}`; expected a positive whole number of {node.unit}s",
                    node.span,
                    hint=f"write e.g. `{fix}`, or a smaller unit for fractions (`90 minutes`)",
                )
        elif isinstance(node, n.HasEvent) and node.at_least is not None and not _count_ok(node.at_least.text):
            yield _bad(
                f"found `at least {node.at_least.text} times`; expected a whole number of at least 1",
                node.at_least.span,
                hint="write e.g. `at least 3 times`; `has <event>` alone means at least 1 time",
            )
        elif isinstance(node, n.Duration) and _minutes(node) > MAX_DURATION_MINUTES:
            yield _bad(
                "found a duration longer than 100 years; expected at most "
                f"{MAX_DURATION_MINUTES // (60 * 24 * 7)} weeks",
                node.span,
                hint="a workflow step cannot wait that long: use a date-centred delay or a shorter duration",
            )
        elif isinstance(node, n.DateLit):
            problem = date_problem(node.text)
            if problem is not None:
                yield _bad(
                    f"found the date `{node.text}`, which is not a calendar date: {problem}",
                    node.span,
                )
        elif isinstance(node, n.TimeLit):
            problem = time_problem(node.text)
            if problem is not None:
                yield _bad(
                    f"found the time `{node.text}`; expected HH:MM from 00:00 to 23:59 ({problem})",
                    node.span,
                )
        elif isinstance(node, n.DateTimeLit):
            problem = datetime_problem(node.text)
            if problem is not None:
                yield _bad(f"found the date-time `{node.text}`, which does not exist: {problem}", node.span)
        elif isinstance(node, n.SplitArm):
            value = node.percent.value
            if not 0 < value <= 100:
                yield _bad(
                    f"found the share `{node.percent.text}%`; expected a percentage above 0% and at most 100%",
                    node.percent.span,
                    hint="remove an arm that gets no records",
                )
        elif isinstance(node, n.TimezoneSetting):
            name = node.name.value
            if not _is_zone(name):
                yield _bad(
                    f'found the time zone "{name}"; expected an IANA time zone name such as "Europe/Oslo"',
                    node.name.span,
                    hint=did_you_mean(name, sorted(_zones()), quote='"') or "see the tz database names (Area/City)",
                )
        elif isinstance(node, n.ExecuteSetting):
            if time_problem(node.start.text) is None and time_problem(node.end.text) is None:
                start = tuple(int(p) for p in node.start.text.split(":"))
                end = tuple(int(p) for p in node.end.text.split(":"))
                if end <= start:
                    yield _bad(
                        f"found the window from {node.start.text} to {node.end.text}; expected "
                        "the end "
                        "after the start (windows do not cross midnight)",
                        node.span,
                        hint="write two `execute on` lines for a window that crosses midnight",
                    )
        elif isinstance(node, n.Monthly):
            day = node.day.value
            if not isinstance(day, int) or not 1 <= day <= 31:
                yield _bad(
                    f"found `day {node.day.text}`; expected a day of the month from 1 to 31",
                    node.day.span,
                )
        elif isinstance(node, n.Webhook):
            url = node.url.value
            if not (url.startswith("https://") or url.startswith("http://")) and not url.startswith("{{"):
                yield _bad(
                    f'found the webhook URL "{url}"; expected an absolute http:// or https:// URL',
                    node.url.span,
                )
        elif isinstance(node, n.DelayUntilDate):
            if isinstance(node.base, n.DateTimeLit) and node.at is not None:
                yield _bad(
                    f"found `delay until {node.base.text} at {node.at.text}`: the date-time "
                    "already names a time of day; expected one or the other",
                    node.at.span,
                    hint=f"write `delay until {node.base.text.split('T')[0]} at {node.at.text}`",
                )
        elif isinstance(node, n.Increment):
            if node.amount.value == 0:
                yield _bad("found `increment … by 0`; expected a non-zero amount", node.amount.span)
