"""What each criteria operator means for one value: property values, event attributes
and the record's facts in; True or False out.

Shared by the compiled predicates and by `explain_criteria` (`runtime.criteria`),
so both paths agree. A property with no value (absent, None or "") matches no
operator except the negative ones; text compares without case; numbers
numerically even when the record holds "50"; dates as calendar days in the
workflow time zone, date-times as instants (docs/criteria.md has the table).

>>> compare("ge", "75", 50, UTC), is_unknown(""), url_parts("example.com/a")["url.path"]
(True, True, '/a')
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import attrs

from wfdsl.plan import criteria as pc
from wfdsl.plan.model import decode_value
from wfdsl.runtime.values import as_bool, as_date, as_datetime, as_number, is_date_form, parse_temporal

UTC = dt.timezone.utc


class Facts(Protocol):
    """What criteria may ask about the enrolled record (implemented by the engine)."""

    now: dt.datetime  # aware, UTC
    tz: dt.tzinfo  # the workflow's time zone
    received: bool | None  # outcome of the last `wait for`, else None

    def value(self, object_type: str, prop: str) -> object | None:
        """The property of the record, or of its primary associated record of that type."""

    def history(self, object_type: str, prop: str) -> Sequence[object]:
        """Every value the property has held, the current one included."""

    def in_list(self, name: str) -> bool: ...

    def events(self, event_type: str) -> Sequence[tuple[dt.datetime, Mapping[str, object]]]:
        """The record's past events of that type, with their attributes."""

    def enrolled_in(self, workflow: str) -> bool: ...

    def reached_goal(self, workflow: str) -> bool: ...

    def last_updated(self, object_type: str, prop: str) -> dt.datetime | None:
        """When the property last changed (None: never set, or no time known)."""
        ...


# ---------------------------------------------------------------- URL parts

URL_PARTS = ("url.base", "url.domain", "url.path")


def url_parts(url: str) -> dict[str, str]:
    """The parts of a URL that event criteria can test.

    >>> url_parts("https://www.example.com/search?q=1")
    {'url': 'https://www.example.com/search?q=1', 'url.base': 'www.example.com/search', \
'url.domain': 'example.com', 'url.path': '/search'}
    """
    text = str(url).strip()
    parsed = urlsplit(text if "://" in text else "http://" + text)
    host = (parsed.hostname or "").lower()
    netloc = parsed.netloc.rpartition("@")[2]
    domain = host[4:] if host.startswith("www.") else host
    return {
        "url": text,
        "url.base": netloc + parsed.path,
        "url.domain": domain,
        "url.path": parsed.path or "/",
    }


def event_attribute(attrs: Mapping[str, object], name: str) -> object | None:
    """An event attribute; URL parts are derived from `url` when not given."""
    if name in attrs:
        return attrs[name]
    if name in URL_PARTS:
        url = attrs.get("url")
        if isinstance(url, str) and url:
            return url_parts(url)[name]
    return None


# ---------------------------------------------------------------- coercions


def is_unknown(value: object) -> bool:
    """No value: absent (None) or the empty string, as HubSpot treats blanks."""
    return value is None or value == "" or (isinstance(value, (list, tuple)) and not value)


def folded_text(value: object) -> str | None:
    """Case-folded text of a known value, for text comparisons."""
    if is_unknown(value):
        return None
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).casefold()


def number_of(value: object) -> float | None:
    return as_number(value)


def _bool(value: object) -> bool | None:
    return as_bool(value)


def _parse_temporal(value: object) -> dt.date | dt.datetime | None:
    return parse_temporal(value)


def aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _date(value: object, tz: dt.tzinfo) -> dt.date | None:
    return as_date(value, tz)


def _datetime(value: object, tz: dt.tzinfo) -> dt.datetime | None:
    return as_datetime(value, tz)


def _time(value: object) -> dt.time | None:
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


# ---------------------------------------------------------------- leaf tests

ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def compare(op: str, value: object, literal: object, tz: dt.tzinfo) -> bool:
    """`value <op> literal` for op in eq, lt, le, gt, ge; False when not comparable."""
    if is_unknown(value):
        return False
    test = ORDER[op]
    left: Any
    right: Any
    if isinstance(literal, bool):
        if op != "eq":
            return False
        left, right = _bool(value), literal
    elif isinstance(literal, (int, float)):
        left, right = number_of(value), literal
    elif isinstance(literal, str):
        left, right = folded_text(value), literal.casefold()
    elif isinstance(literal, dt.datetime):
        left, right = _datetime(value, tz), literal.replace(tzinfo=tz)
    elif isinstance(literal, dt.date):
        left, right = _date(value, tz), literal
    elif isinstance(literal, dt.time):
        left, right = _time(value), literal
    else:
        return False
    if left is None:
        return False
    try:
        return bool(test(left, right))
    except TypeError:
        return False


def values_equal(value: object, literal: object, tz: dt.tzinfo = UTC) -> bool:
    """The criteria meaning of `=`: case-insensitive text, numbers from strings, dates by day.

    >>> values_equal("LEAD", "lead"), values_equal("50", 50), values_equal(None, "x")
    (True, True, False)
    """
    return compare("eq", value, literal, tz)


def text_match(op: str, value: object, needle: str) -> bool:
    text = folded_text(value)
    if text is None:
        return False
    folded = needle.casefold()
    if op == "contains":
        return folded in text
    if op == "starts_with":
        return text.startswith(folded)
    return text.endswith(folded)


def _date_only(value: object) -> bool:
    return is_date_form(value)


def _relative(op: str, value: object, seconds: int, now: dt.datetime, tz: dt.tzinfo) -> bool:
    if is_unknown(value):
        return False
    if _date_only(value) and seconds % 86400 == 0:
        day = _date(value, tz)
        if day is None:
            return False
        today = now.astimezone(tz).date()
        span = dt.timedelta(days=seconds // 86400)
        if op == "within_last":
            return today - span <= day <= today
        if op == "within_next":
            return today <= day <= today + span
        return day < today - span
    moment = _datetime(value, tz)
    if moment is None:
        return False
    delta = dt.timedelta(seconds=seconds)
    if op == "within_last":
        return now - delta <= moment <= now
    if op == "within_next":
        return now <= moment <= now + delta
    return moment < now - delta


NEGATIVE = {"ne": "eq", "not_in": "in", "not_contains": "contains", "never": "ever", "unknown": "known"}
PROPERTY_OPS = frozenset(
    {
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "known",
        "unknown",
        "in",
        "not_in",
        "between",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "ever",
        "never",
        "before",
        "after",
        "within_last",
        "within_next",
        "more_than_ago",
    }
)


def property_test(
    node: pc.Leaf,
    value: object,
    history: Callable[[], Sequence[object]],
    now: Callable[[], dt.datetime],
    tz: dt.tzinfo,
) -> bool:
    """A property leaf against the value seen (and history for ever/never)."""
    op = node.op
    if op in NEGATIVE:
        positive = attrs.evolve(node, op=NEGATIVE[op])
        return not property_test(positive, value, history, now, tz)
    if isinstance(node, pc.Known):
        return not is_unknown(value)
    if isinstance(node, pc.Compare):
        if op in ("before", "after"):
            return compare("lt" if op == "before" else "gt", value, decode_value(node.value), tz)
        return compare(op, value, decode_value(node.value), tz)
    if isinstance(node, pc.InValues):
        return any(compare("eq", value, decode_value(v), tz) for v in node.values)
    if isinstance(node, pc.Between):
        return compare("ge", value, decode_value(node.low), tz) and compare("le", value, decode_value(node.high), tz)
    if isinstance(node, pc.TextMatch):
        return text_match(op, value, str(node.value))
    if isinstance(node, pc.History):
        literal = decode_value(node.value)
        return any(compare("eq", old, literal, tz) for old in history())
    if isinstance(node, pc.RelativeDate):
        return _relative(op, value, node.duration.seconds, now(), tz)
    raise ValueError(f"unknown criteria operator {op!r}")


def target_of(node: pc.Leaf) -> tuple[str, str] | str:
    if node.attribute is not None:
        return node.attribute
    return str(node.object), str(node.property)


def has_event_count(
    facts: Facts,
    event: pc.EventSpec,
    matcher: Callable[..., bool],
    within: pc.Duration | None,
) -> int:
    since = None if within is None else facts.now - dt.timedelta(seconds=within.seconds)
    count = 0
    for at, attrs_ in facts.events(event.type):
        if since is not None and aware(at) < since:
            continue
        if matcher(attrs_, facts):
            count += 1
    return count


#: `P updated within last D`, `P not updated within last D`: from the property's history.
UPDATED_OPS = frozenset({"updated_within", "not_updated_within"})


def updated(op: str, last: dt.datetime | None, seconds: int, now: dt.datetime) -> bool:
    """Whether the last change is within the last `seconds` (a property never set counts
    as not updated)."""
    recent = last is not None and (now - aware(last)).total_seconds() <= seconds
    return recent if op == "updated_within" else not recent


def updated_fact(facts: Facts, node: pc.Updated) -> bool:
    last = facts.last_updated(str(node.object), str(node.property))
    return updated(node.op, last, node.duration.seconds, facts.now)


__all__ = [
    "NEGATIVE",
    "ORDER",
    "PROPERTY_OPS",
    "UPDATED_OPS",
    "URL_PARTS",
    "UTC",
    "Facts",
    "aware",
    "compare",
    "event_attribute",
    "folded_text",
    "has_event_count",
    "is_unknown",
    "number_of",
    "property_test",
    "target_of",
    "text_match",
    "updated",
    "updated_fact",
    "url_parts",
    "values_equal",
]
