"""Checks of plan data as read from JSON: each raises `PlanError` naming the JSON path of a wrong value.

A check is `check(value, where)`; `where` is the path so far
(`workflow 'W'.steps['steps.0'].args.duration`). The step classes name the check of
each argument (`wfdsl.plan.steps`); the codec runs them before it builds a plan, so a
hand-edited plan is refused with what was found, what was expected, and where.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wfdsl.limits import ACT_YEARS, MAX_CRITERIA_DEPTH, MAX_DURATION_SECONDS
from wfdsl.spans import Span

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DURATION_UNITS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}

#: Criteria data: a JSON tree such as `{"op": "and", "items": [...]}` (docs/plans.md).
Criteria = Mapping[str, Any]


class PlanError(Exception):
    """A plan that cannot be read: malformed JSON, a missing field, an unknown version."""


class Reader:
    """Typed access to a JSON object, with `PlanError`s that say where."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise PlanError(f"{where}: expected an object, found {kind_of(data)}")
        self.data = data
        self.where = where

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise PlanError(f"{self.where}: missing field `{key}`")
            return default
        return self.data[key]

    def text(self, key: str, default: Any = ...) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            raise PlanError(f"{self.where}.{key}: expected a string, found {kind_of(value)}")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.raw(key, None)
        if value is not None and not isinstance(value, str):
            raise PlanError(f"{self.where}.{key}: expected a string or null, found {kind_of(value)}")
        return value

    def flag(self, key: str, default: Any = ...) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise PlanError(f"{self.where}.{key}: expected true or false, found {kind_of(value)}")
        return value

    def seq(self, key: str, default: Any = ...) -> list[Any]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise PlanError(f"{self.where}.{key}: expected a list, found {kind_of(value)}")
        return value

    def obj(self, key: str) -> Reader:
        return Reader(self.raw(key), f"{self.where}.{key}")

    def criteria(self, key: str) -> Criteria | None:
        value = self.raw(key, None)
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("op"), str):
            raise PlanError(f"{self.where}.{key}: expected criteria (an object with `op`)")
        check_criteria(value, f"{self.where}.{key}")
        return value


_VALUE_KEYS = {
    "eq": ("value",),
    "ne": ("value",),
    "lt": ("value",),
    "le": ("value",),
    "gt": ("value",),
    "ge": ("value",),
    "known": (),
    "unknown": (),
    "in": ("values",),
    "not_in": ("values",),
    "between": ("low", "high"),
    "contains": ("value",),
    "not_contains": ("value",),
    "starts_with": ("value",),
    "ends_with": ("value",),
    "ever": ("value",),
    "never": ("value",),
    "before": ("value",),
    "after": ("value",),
    "within_last": ("duration",),
    "within_next": ("duration",),
    "more_than_ago": ("duration",),
    "updated_within": ("duration",),
    "not_updated_within": ("duration",),
}
CRITERIA_OPS: frozenset[str] = frozenset(
    {"and", "or", "not", "in_list", "enrolled_in", "reached_goal", "has_event", "received", *_VALUE_KEYS}
)


_TIME_RE = re.compile(r"\d\d:\d\d", re.ASCII)
_DATE_RE = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)
_DATETIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?", re.ASCII)

#: A check of one plan value: raises PlanError naming `where` unless the value fits.
Check = Callable[[Any, str], None]


def shown(value: Any) -> str:
    """A wrong value of the right type, for a message: `'25:99'`, `9`."""
    try:
        text = repr(value)
    except ValueError:  # an int with more digits than Python prints
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "…"


def whole(value: Any, where: str, low: int | None = None, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PlanError(f"{where}: expected a whole number, found {kind_of(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"at most {high}" if low is None else f"from {low} to {high}"
        raise PlanError(f"{where}: expected a whole number {bounds}, found {shown(value)}")
    return value


def number(value: Any, where: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise PlanError(f"{where}: expected a number, found {kind_of(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond the range of floats
        finite = False
    if not finite:
        raise PlanError(f"{where}: expected a finite number (at most about 1e308), found {shown(value)}")


def string(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise PlanError(f"{where}: expected a string, found {kind_of(value)}")


def flag(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise PlanError(f"{where}: expected true or false, found {kind_of(value)}")


def optional(check: Check) -> Check:
    """`check`, or null."""

    def check_optional(value: Any, where: str) -> None:
        if value is not None:
            check(value, where)

    return check_optional


def one_of(*allowed: Any) -> Check:
    def check_one_of(value: Any, where: str) -> None:
        if not any(value == a and type(value) is type(a) for a in allowed):
            listed = ", ".join(json.dumps(a) for a in allowed)
            found = shown(value) if isinstance(value, (str, int)) else kind_of(value)
            raise PlanError(f"{where}: expected one of {listed}, found {found}")

    return check_one_of


def time_of_day(value: Any, where: str) -> None:
    """`HH:MM`, 00:00 to 23:59."""
    string(value, where)
    if not (_TIME_RE.fullmatch(value) and int(value[:2]) <= 23 and int(value[3:]) <= 59):
        raise PlanError(f"{where}: expected a time of day HH:MM from 00:00 to 23:59, found {shown(value)}")


def _calendar_text(pattern: re.Pattern[str], parse: Callable[[str], object], shape: str) -> Check:
    """A check of text in `pattern` that `parse` accepts (a date that exists)."""

    def calendar_text(value: Any, where: str) -> None:
        string(value, where)
        try:
            valid = bool(pattern.fullmatch(value)) and bool(parse(value))
        except ValueError:
            valid = False
        if not valid:
            raise PlanError(f"{where}: expected {shape}, found {shown(value)}")

    return calendar_text


#: `YYYY-MM-DD`, a calendar date.
date_text = _calendar_text(_DATE_RE, dt.date.fromisoformat, "a date YYYY-MM-DD")
#: `YYYY-MM-DDTHH:MM` (seconds optional), a date-time that exists.
datetime_text = _calendar_text(_DATETIME_RE, dt.datetime.fromisoformat, "a date-time YYYY-MM-DDTHH:MM")


def time_to_act(check: Check) -> Check:
    """`check` (a date or date-time text), in the years of `ACT_YEARS` (the years in
    which a workflow may act: near the calendar's ends time zones overflow)."""

    def check_time_to_act(value: Any, where: str) -> None:
        check(value, where)
        low, high = ACT_YEARS
        if not low <= int(value[:4]) <= high:
            raise PlanError(f"{where}: expected a time to act in the years {low} to {high}, found {shown(value)}")

    return check_time_to_act


def weekday(value: Any, where: str) -> None:
    whole(value, where, 0, 6)


def weekdays(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise PlanError(f"{where}: expected a list of weekdays (0-6), found {kind_of(value)}")
    for i, day in enumerate(value):
        weekday(day, f"{where}[{i}]")
    return tuple(value)


def weekday_name(value: Any, where: str) -> None:
    string(value, where)
    if value not in WEEKDAYS:
        raise PlanError(f"{where}: expected a weekday name (monday … sunday), found {shown(value)}")


def timezone(value: Any, where: str) -> None:
    string(value, where)
    if value in ("UTC", "Etc/UTC"):
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise PlanError(
            f'{where}: expected an IANA time zone name such as "Europe/Oslo", found {shown(value)}'
        ) from None


def check_prop(value: Any, where: str) -> None:
    """P: `{"object": str, "property": str}`."""
    if not isinstance(value, dict):
        raise PlanError(f'{where}: expected a property ({{"object", "property"}}), found {kind_of(value)}')
    for key in ("object", "property"):
        if key not in value:
            raise PlanError(f"{where}: missing field `{key}`")
        string(value[key], f"{where}.{key}")


def check_value(value: Any, where: str) -> None:
    """V: a typed value (a string, number, boolean, `{"date"}`, `{"datetime"}`,
    `{"time"}`, `{"percent"}`, or a list of them)."""
    stack = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, (str, bool)):
            continue
        if isinstance(item, (int, float)):
            number(item, at)
        elif isinstance(item, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, dict) and len(item) == 1 and "date" in item:
            date_text(item["date"], f"{at}.date")
        elif isinstance(item, dict) and len(item) == 1 and "datetime" in item:
            datetime_text(item["datetime"], f"{at}.datetime")
        elif isinstance(item, dict) and len(item) == 1 and "time" in item:
            time_of_day(item["time"], f"{at}.time")
        elif isinstance(item, dict) and len(item) == 1 and "percent" in item:
            number(item["percent"], f"{at}.percent")
        else:
            raise PlanError(
                f"{at}: expected a value (a string, number, boolean, list, "
                f'{{"date"}}, {{"datetime"}}, {{"time"}} or {{"percent"}}), '
                f"found {kind_of(item)}"
            )


_unit = one_of(*DURATION_UNITS)


def check_duration(value: Any, where: str) -> None:
    """D: `{"parts": [[amount, unit], …], "seconds": N}`, at most MAX_DURATION_SECONDS."""
    missing = [key for key in ("parts", "seconds") if not isinstance(value, dict) or key not in value]
    if missing:
        found = f"an object without `{missing[0]}`" if isinstance(value, dict) else kind_of(value)
        raise PlanError(f'{where}: expected a duration ({{"parts": …, "seconds": N}}), found {found}')
    parts = value["parts"]
    if not isinstance(parts, list) or not parts:
        found = "an empty list" if parts == [] else kind_of(parts)
        raise PlanError(f"{where}.parts: expected a list of [amount, unit] pairs, found {found}")
    total = 0
    for i, part in enumerate(parts):
        at = f"{where}.parts[{i}]"
        if not isinstance(part, list) or len(part) != 2:
            found = f"a list of {len(part)}" if isinstance(part, list) else kind_of(part)
            raise PlanError(f"{at}: expected [amount, unit], found {found}")
        amount = whole(part[0], f"{at}[0]", 1)
        _unit(part[1], f"{at}[1]")
        total += amount * DURATION_UNITS[part[1]]
        if total > MAX_DURATION_SECONDS:
            weeks = MAX_DURATION_SECONDS // DURATION_UNITS["week"]
            raise PlanError(f"{where}: expected at most {weeks} weeks, found a longer duration")
    seconds = whole(value["seconds"], f"{where}.seconds")
    if seconds != total:
        raise PlanError(f"{where}.seconds: expected {total} (the parts in seconds, a day as 24 hours), found {seconds}")


def check_event(value: Any, where: str, depth: int = 0) -> None:
    """E: an event pattern (`trigger.events`, `wait_for`, `has_event`); `depth`: how
    deep in criteria it is."""
    if not isinstance(value, dict) or "type" not in value:
        raise PlanError(f"{where}: expected an event (an object with `type`), found {kind_of(value)}")
    string(value["type"], f"{where}.type")
    if "negated" in value:
        flag(value["negated"], f"{where}.negated")
    for key in ("object", "property"):
        if value.get(key) is not None:
            string(value[key], f"{where}.{key}")
    for key in ("from", "to"):
        if value.get(key) is not None:
            check_value(value[key], f"{where}.{key}")
    if value.get("criteria") is not None:
        check_criteria(value["criteria"], f"{where}.criteria", depth + 1)


#: What each criteria operand holds.
_OPERANDS: dict[str, Check] = {
    "value": check_value,
    "low": check_value,
    "high": check_value,
    "duration": check_duration,
}
#: Operators whose `value` is text to look for.
_TEXT_OPS = frozenset({"contains", "not_contains", "starts_with", "ends_with"})


def check_criteria(data: Any, where: str = "criteria", depth: int = 0) -> None:
    """Raise PlanError unless `data` is a well-formed criteria tree (`depth`: how deep
    it is in other criteria, for the criteria of `has_event`)."""
    stack = [(data, where, depth)]
    while stack:
        node, at, depth = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("op"), str):
            raise PlanError(f"{at}: expected criteria (an object with `op`)")
        if depth > MAX_CRITERIA_DEPTH:
            raise PlanError(f"{at}: criteria nested more than {MAX_CRITERIA_DEPTH} deep")
        op = node["op"]
        if op not in CRITERIA_OPS:
            raise PlanError(f"{at}: unknown criteria operator `{op}`")
        if op in ("and", "or"):
            items = node.get("items")
            if not isinstance(items, list):
                raise PlanError(f"{at}.items: expected a list of criteria")
            stack.extend((item, f"{at}.items[{i}]", depth + 1) for i, item in enumerate(items))
        elif op == "not":
            stack.append((node.get("item"), f"{at}.item", depth + 1))
        elif op in _VALUE_KEYS:
            if "attribute" in node:
                string(node["attribute"], f"{at}.attribute")
            elif isinstance(node.get("object"), str) and isinstance(node.get("property"), str):
                pass
            else:
                raise PlanError(f"{at}: `{op}` needs `object` and `property` (or `attribute`)")
            for key in _VALUE_KEYS[op]:
                if key not in node:
                    raise PlanError(f"{at}: `{op}` needs `{key}`")
                if key == "values":
                    if not isinstance(node[key], list):
                        raise PlanError(f"{at}.values: expected a list, found {kind_of(node[key])}")
                    check_value(node[key], f"{at}.values")
                elif op in _TEXT_OPS:
                    string(node[key], f"{at}.{key}")
                else:
                    _OPERANDS[key](node[key], f"{at}.{key}")
        elif op in ("in_list", "enrolled_in", "reached_goal"):
            key = "list" if op == "in_list" else "workflow"
            if not isinstance(node.get(key), str):
                raise PlanError(f"{at}: `{op}` needs `{key}` (a string)")
        elif op == "has_event":
            check_event(node.get("event"), f"{at}.event", depth + 1)
            if "negated" in node:
                flag(node["negated"], f"{at}.negated")
            if node.get("within") is not None:
                check_duration(node["within"], f"{at}.within")
            least = node.get("at_least")
            if least is not None and (type(least) is not int or least < 1):
                raise PlanError(f"{at}.at_least: expected a whole number of at least 1, found {kind_of(least)}")


def check_base(value: Any, where: str) -> None:
    """The `base` of `delay_until_date`: `{"date"}`, `{"datetime"}` or `{"property": P}`."""
    if isinstance(value, dict) and len(value) == 1:
        if "date" in value:
            return time_to_act(date_text)(value["date"], f"{where}.date")
        if "datetime" in value:
            return time_to_act(datetime_text)(value["datetime"], f"{where}.datetime")
        if "property" in value:
            return check_prop(value["property"], f"{where}.property")
    raise PlanError(f'{where}: expected {{"date"}}, {{"datetime"}} or {{"property"}}, found {kind_of(value)}')


def check_fields(value: Any, where: str) -> None:
    """The `fields` of `create_record`: `[{"name": str, "value": V}, …]`."""
    if not isinstance(value, list):
        raise PlanError(f"{where}: expected a list of fields, found {kind_of(value)}")
    for i, field in enumerate(value):
        r = Reader(field, f"{where}[{i}]")
        r.text("name")
        check_value(r.raw("value"), f"{where}[{i}].value")


def check_owners(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise PlanError(f"{where}: expected a list of owners, found {kind_of(value)}")
    check_value(value, where)


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def span_in(value: Any, where: str) -> Span:
    if not (
        isinstance(value, list)
        and len(value) == 5
        and isinstance(value[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
    ):
        raise PlanError(f"{where}.span: expected [file, line, col, end_line, end_col]")
    return Span.from_json(value)


def strings(values: Iterable[Any], where: str) -> tuple[str, ...]:
    out = []
    for value in values:
        if not isinstance(value, str):
            raise PlanError(f"{where}: expected strings, found {kind_of(value)}")
        out.append(value)
    return tuple(out)
