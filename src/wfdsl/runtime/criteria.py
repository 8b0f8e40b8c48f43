"""Criteria evaluation: plan criteria data in, fast Python predicates (and explanations) out.

Each criteria tree is turned into the source of one small Python function,
compiled once: common leaves (`=`, `in`, comparisons with numbers, `contains`,
`is known`) are inlined, the rest call the leaf functions below, which are
also what `explain_criteria` uses, so both paths agree. A tree too deep for
Python's compiler falls back to closures over the same leaf functions.

Semantics (docs/criteria.md has the table): a property with no value (absent,
None or "") matches no operator except the negative ones (`!=`, `not in`,
`not contains`, `is unknown`, `has never been`), which it matches. Text
comparisons (`=`, `!=`, `in`, `contains`, `starts with`, `ends with`, `has ever
been`) ignore case. Numbers compare numerically even when the record holds
"50". Dates compare as calendar days in the workflow time zone; date-times
as instants (a naive date-time literal is in the workflow time zone, a naive
record value in UTC).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import attrs

from wfdsl.plan.model import decode_value
from wfdsl.runtime.values import as_bool, as_date, as_datetime, as_number, is_date_form, parse_temporal

UTC = dt.timezone.utc

__all__ = [
    "UPDATED_OPS",
    "ExplainNode",
    "Facts",
    "compile_criteria",
    "compile_event_criteria",
    "compile_event_matcher",
    "compile_record_predicate",
    "evaluate_criteria",
    "explain_criteria",
    "is_unknown",
    "url_parts",
    "values_equal",
]


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


def _text(value: object) -> str | None:
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


def _num(value: object) -> float | None:
    return as_number(value)


def _bool(value: object) -> bool | None:
    return as_bool(value)


def _parse_temporal(value: object) -> dt.date | dt.datetime | None:
    return parse_temporal(value)


def _aware(value: dt.datetime) -> dt.datetime:
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

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _compare(op: str, value: object, literal: object, tz: dt.tzinfo) -> bool:
    """`value <op> literal` for op in eq, lt, le, gt, ge; False when not comparable."""
    if is_unknown(value):
        return False
    test = _ORDER[op]
    left: Any
    right: Any
    if isinstance(literal, bool):
        if op != "eq":
            return False
        left, right = _bool(value), literal
    elif isinstance(literal, (int, float)):
        left, right = _num(value), literal
    elif isinstance(literal, str):
        left, right = _text(value), literal.casefold()
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
    return _compare("eq", value, literal, tz)


def _text_match(op: str, value: object, needle: str) -> bool:
    text = _text(value)
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


_NEGATIVE = {"ne": "eq", "not_in": "in", "not_contains": "contains", "never": "ever", "unknown": "known"}
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


def _property_test(
    node: Mapping[str, Any],
    value: object,
    history: Callable[[], Sequence[object]],
    now: Callable[[], dt.datetime],
    tz: dt.tzinfo,
) -> bool:
    """A property leaf against the value seen (and history for ever/never)."""
    op = node["op"]
    if op in _NEGATIVE:
        positive = dict(node, op=_NEGATIVE[op])
        return not _property_test(positive, value, history, now, tz)
    if op == "known":
        return not is_unknown(value)
    if op in _ORDER:
        return _compare(op, value, decode_value(node["value"]), tz)
    if op == "in":
        return any(_compare("eq", value, decode_value(v), tz) for v in node["values"])
    if op == "between":
        return _compare("ge", value, decode_value(node["low"]), tz) and _compare(
            "le", value, decode_value(node["high"]), tz
        )
    if op in ("contains", "starts_with", "ends_with"):
        return _text_match(op, value, str(node["value"]))
    if op == "ever":
        literal = decode_value(node["value"])
        return any(_compare("eq", old, literal, tz) for old in history())
    if op in ("before", "after"):
        return _compare("lt" if op == "before" else "gt", value, decode_value(node["value"]), tz)
    if op in ("within_last", "within_next", "more_than_ago"):
        return _relative(op, value, int(node["duration"]["seconds"]), now(), tz)
    raise ValueError(f"unknown criteria operator {op!r}")


def _target_of(node: Mapping[str, Any]) -> tuple[str, str] | str:
    if "attribute" in node:
        return str(node["attribute"])
    return str(node["object"]), str(node["property"])


# ---------------------------------------------------------------- closures (reference path)


def _has_event(
    facts: Facts,
    event: Mapping[str, Any],
    matcher: Callable[..., bool],
    within: Mapping[str, Any] | None,
) -> int:
    since = None if within is None else facts.now - dt.timedelta(seconds=int(within["seconds"]))
    count = 0
    for at, attrs_ in facts.events(str(event["type"])):
        if since is not None and _aware(at) < since:
            continue
        if matcher(attrs_, facts):
            count += 1
    return count


def evaluate_criteria(data: Mapping[str, Any], facts: Facts) -> bool:
    """Evaluate criteria without compiling (slow, simple; `explain_criteria` shares it)."""
    return explain_criteria(data, facts).result


@attrs.frozen(kw_only=True)
class ExplainNode:
    """One evaluated node: its operator, result, the value seen (leaves) and children."""

    op: str
    result: bool
    data: Mapping[str, Any]
    value: object | None = None
    children: tuple[ExplainNode, ...] = ()

    def render(self, indent: str = "") -> str:
        """An indented text tree, `✓`/`✗` per node."""
        mark = "✓" if self.result else "✗"
        line = f"{indent}{mark} {describe(self.data)}"
        op = self.data.get("op")
        if op in PROPERTY_OPS:
            shown = "unknown" if is_unknown(self.value) else _seen(self.value)
            line += f"  (value: {shown})"
        elif op == "has_event":
            line += f"  ({self.value} matching event{'' if self.value == 1 else 's'})"
        rows = [line]
        rows.extend(child.render(indent + "  ") for child in self.children)
        return "\n".join(rows)


def _seen(value: object) -> str:
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def explain_criteria(data: Mapping[str, Any], facts: Facts) -> ExplainNode:
    """The evaluated tree (every branch evaluated, no short-circuit), for `wfdsl explain`."""
    op = str(data["op"])
    if op in ("and", "or"):
        children = tuple(explain_criteria(item, facts) for item in data["items"])
        results = [c.result for c in children]
        result = all(results) if op == "and" else any(results)
        return ExplainNode(op=op, result=result, data=data, children=children)
    if op == "not":
        child = explain_criteria(data["item"], facts)
        return ExplainNode(op=op, result=not child.result, data=data, children=(child,))
    if op in PROPERTY_OPS:
        target = _target_of(data)
        if isinstance(target, str):
            raise ValueError("event-attribute criteria need compile_event_criteria")
        obj, prop = target
        value = facts.value(obj, prop)
        result = _property_test(data, value, lambda: facts.history(obj, prop), lambda: facts.now, facts.tz)
        return ExplainNode(op=op, result=result, data=data, value=value)
    if op == "in_list":
        return ExplainNode(op=op, result=bool(facts.in_list(str(data["list"]))), data=data)
    if op == "enrolled_in":
        return ExplainNode(op=op, result=bool(facts.enrolled_in(str(data["workflow"]))), data=data)
    if op == "reached_goal":
        return ExplainNode(op=op, result=bool(facts.reached_goal(str(data["workflow"]))), data=data)
    if op == "received":
        return ExplainNode(op=op, result=facts.received is True, data=data, value=facts.received)
    if op == "has_event":
        matcher = compile_event_matcher(data["event"])
        count = _has_event(facts, data["event"], matcher, data.get("within"))
        least = int(data.get("at_least") or 1)
        result = (count < least) if data.get("negated") else (count >= least)
        return ExplainNode(op=op, result=result, data=data, value=count)
    if op in UPDATED_OPS:
        last = facts.last_updated(str(data["object"]), str(data["property"]))
        result = _updated(op, last, int(data["duration"]["seconds"]), facts.now)
        return ExplainNode(op=op, result=result, data=data, value=last)
    raise ValueError(f"unknown criteria operator {op!r}")


#: `P updated within last D`, `P not updated within last D`: from the property's history.
UPDATED_OPS = frozenset({"updated_within", "not_updated_within"})


def _updated(op: str, last: dt.datetime | None, seconds: int, now: dt.datetime) -> bool:
    """Whether the last change is within the last `seconds` (a property never set counts
    as not updated)."""
    recent = last is not None and (now - _aware(last)).total_seconds() <= seconds
    return recent if op == "updated_within" else not recent


def _updated_fact(facts: Facts, node: Mapping[str, Any]) -> bool:
    last = facts.last_updated(str(node["object"]), str(node["property"]))
    return _updated(str(node["op"]), last, int(node["duration"]["seconds"]), facts.now)


def _literal(value: Any) -> str:
    """A plan value as the source writes it: `"text"`, `50`, `2026-12-24`, `[…]`."""
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if "percent" in value:
            return f"{value['percent']}%"
        return str(next(iter(value.values()), ""))
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _duration_text(duration: Mapping[str, Any]) -> str:
    return " ".join(f"{a} {u}{'' if a == 1 else 's'}" for a, u in duration["parts"])


_WORDS = {
    "eq": "=",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
    "not_contains": "not contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "ever": "has ever been",
    "never": "has never been",
    "before": "before",
    "after": "after",
    "within_last": "within last",
    "within_next": "within next",
    "more_than_ago": "more than",
}


def _event_text(event: Mapping[str, Any]) -> str:
    if event.get("type") == "property.changed":
        text = f"{event.get('object')}.{event.get('property')} changed"
        if event.get("from") is not None:
            text += f" from {_literal(event['from'])}"
        if event.get("to") is not None:
            text += f" to {_literal(event['to'])}"
        return text
    criteria = event.get("criteria")
    return str(event["type"]) + ("" if criteria is None else f"({describe(criteria, True)})")


def describe(data: Mapping[str, Any], nested: bool = False) -> str:
    """Criteria data as text close to the source syntax.

    With `nested=False` an `and`/`or`/`not` node is just its keyword (the
    explain tree shows its children below it); with `nested=True` the whole
    tree is written out.

    >>> describe({"op": "in", "object": "contact", "property": "country", "values": ["NO"]})
    'contact.country in ["NO"]'
    """
    op = str(data.get("op"))
    if op in ("and", "or"):
        if not nested:
            return op
        return "(" + f" {op} ".join(describe(i, True) for i in data["items"]) + ")"
    if op == "not":
        return f"not {describe(data['item'], True)}" if nested else "not"
    if op in PROPERTY_OPS:
        target = _target_of(data)
        name = target if isinstance(target, str) else ".".join(target)
        if op in ("known", "unknown"):
            return f"{name} is {op}"
        if op in ("in", "not_in"):
            return f"{name} {_WORDS[op]} {_literal(data['values'])}"
        if op == "between":
            return f"{name} between {_literal(data['low'])} and {_literal(data['high'])}"
        if "duration" in data:
            suffix = " ago" if op == "more_than_ago" else ""
            return f"{name} {_WORDS[op]} {_duration_text(data['duration'])}{suffix}"
        return f"{name} {_WORDS[op]} {_literal(data.get('value'))}"
    if op == "in_list":
        return f"in list {_literal(data['list'])}"
    if op in ("enrolled_in", "reached_goal"):
        verb = "enrolled in" if op == "enrolled_in" else "reached goal of"
        return f"{verb} workflow {_literal(data['workflow'])}"
    if op == "has_event":
        text = ("has not " if data.get("negated") else "has ") + _event_text(data["event"])
        least = data.get("at_least")
        if least is not None:
            text += f" at least {least} time{'' if least == 1 else 's'}"
        if data.get("within") is not None:
            text += f" within last {_duration_text(data['within'])}"
        return text
    if op in UPDATED_OPS:
        word = "not updated" if op == "not_updated_within" else "updated"
        return f"{data.get('object')}.{data.get('property')} {word} within last {_duration_text(data['duration'])}"
    return op


# ---------------------------------------------------------------- code generation


class _Gen:
    """Turns a criteria tree into one Python expression over a value accessor.

    mode "facts": `def _f(_F)` reading `_F.value(obj, prop)`;
    mode "record": `def _f(r)` reading `r.get(prop)` (own-record properties only);
    mode "event": `def _f(a, _F=None)` reading event attributes.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.consts: dict[str, Any] = {}
        self.counter = itertools.count()

    def const(self, value: Any) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def var(self) -> str:
        return f"_v{next(self.counter)}"

    # -- access
    def get(self, node: Mapping[str, Any]) -> str:
        target = _target_of(node)
        if self.mode == "event" or isinstance(target, str):
            name = target if isinstance(target, str) else target[1]
            if "." in name:
                return f"_ATTR(a, {self.const(name)})"
            return f"a.get({self.const(name)})"
        obj, prop = target
        if self.mode == "record":
            return f"r.get({self.const(prop)})"
        return f"_F.value({self.const(obj)}, {self.const(prop)})"

    def history(self, node: Mapping[str, Any]) -> str:
        target = _target_of(node)
        if self.mode == "facts" and not isinstance(target, str):
            return f"(lambda: _F.history({self.const(target[0])}, {self.const(target[1])}))"
        return f"(lambda: [{self.get(node)}])"

    @property
    def now(self) -> str:
        if self.mode == "facts":
            return "(lambda: _F.now)"
        if self.mode == "event":
            return "(lambda: _F.now if _F is not None else _NOW())"
        return "_NOW"

    @property
    def tz(self) -> str:
        if self.mode == "facts":
            return "_F.tz"
        if self.mode == "event":
            return "(_F.tz if _F is not None else _TZ)"
        return "_TZ"

    # -- nodes
    def expr(self, node: Mapping[str, Any]) -> str:
        op = node.get("op")
        if op in ("and", "or"):
            items = node["items"]
            if not items:
                return "True" if op == "and" else "False"
            return "(" + f" {op} ".join(self.expr(i) for i in items) + ")"
        if op == "not":
            return f"(not {self.expr(node['item'])})"
        if op in PROPERTY_OPS:
            return self.leaf(node)
        if self.mode != "facts":
            raise ValueError(f"`{op}` needs the record's facts, not only its properties")
        if op == "in_list":
            return f"_F.in_list({self.const(str(node['list']))})"
        if op == "enrolled_in":
            return f"_F.enrolled_in({self.const(str(node['workflow']))})"
        if op == "reached_goal":
            return f"_F.reached_goal({self.const(str(node['workflow']))})"
        if op == "received":
            return "(_F.received is True)"
        if op == "has_event":
            event = node["event"]
            matcher = compile_event_matcher(event)
            call = f"_HAS(_F, {self.const(event)}, {self.const(matcher)}, {self.const(node.get('within'))})"
            least = int(node.get("at_least") or 1)
            return f"({call} < {least})" if node.get("negated") else f"({call} >= {least})"
        if op in UPDATED_OPS:
            return f"_UPD(_F, {self.const(node)})"
        raise ValueError(f"unknown criteria operator {op!r}")

    def leaf(self, node: Mapping[str, Any]) -> str:
        op = node["op"]
        if op in ("ne", "not_in", "not_contains", "unknown"):
            return f"(not {self.leaf(dict(node, op=_NEGATIVE[op]))})"
        get = self.get(node)
        v = self.var()
        literal = decode_value(node["value"]) if "value" in node else None
        if op == "known":
            return f"(({v} := {get}) is not None and {v} != '' and {v} != [] and {v} != ())"
        if op == "eq" and isinstance(literal, str) and literal:
            c = self.const(literal.casefold())
            return f"({v}.casefold() == {c} if ({v} := {get}).__class__ is str else {v} is not None and _EQT({v}, {c}))"
        if op in ("eq", "lt", "le", "gt", "ge") and _plain_number(literal):
            c = self.const(literal)
            sym = {"eq": "==", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
            return (
                f"({v} {sym} {c} if ({v} := {get}).__class__ is int or {v}.__class__ is float"
                f" else {v} is not None and _CMPN({self.const(op)}, {v}, {c}))"
            )
        if op == "in":
            values = [decode_value(x) for x in node["values"]]
            if values and all(isinstance(x, str) and x for x in values):
                c = self.const(frozenset(x.casefold() for x in values))
                return (
                    f"({v}.casefold() in {c} if ({v} := {get}).__class__ is str "
                    f"else {v} is not None and _INT({v}, {c}))"
                )
        if op in ("contains", "starts_with", "ends_with") and node["value"]:
            c = self.const(str(node["value"]).casefold())
            test = {
                "contains": f"{c} in {v}.casefold()",
                "starts_with": f"{v}.casefold().startswith({c})",
                "ends_with": f"{v}.casefold().endswith({c})",
            }[op]
            fallback = f"_TXT({self.const(op)}, {v}, {self.const(node['value'])})"
            return f"({test} if ({v} := {get}).__class__ is str else {v} is not None and {fallback})"
        # Everything else: the shared leaf function.
        return f"_LEAF({self.const(node)}, {get}, {self.history(node)}, {self.now}, {self.tz})"


def _plain_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _eq_text(value: object, folded: str) -> bool:
    return _text(value) == folded


def _cmp_number(op: str, value: object, literal: float) -> bool:
    number = _num(value)
    return number is not None and bool(_ORDER[op](number, literal))


def _in_text(value: object, folded: frozenset[str]) -> bool:
    text = _text(value)
    return text is not None and text in folded


def _now_utc() -> dt.datetime:
    return dt.datetime.now(UTC)


_RUNTIME_GLOBALS: dict[str, Any] = {
    "_EQT": _eq_text,
    "_CMPN": _cmp_number,
    "_INT": _in_text,
    "_TXT": _text_match,
    "_LEAF": _property_test,
    "_HAS": _has_event,
    "_UPD": _updated_fact,
    "_ATTR": event_attribute,
}


#: Compiled functions by (mode, canonical JSON of the tree): engines compile the
#: same goal or branch criteria for many enrollments; Python's compile() is the
#: expensive part. Bounded so that a long-running service does not grow forever.
_CACHE: dict[tuple[str, str], Callable[..., bool]] = {}
_CACHE_SIZE = 4096


def _cached_build(data: Mapping[str, Any], mode: str, extra: dict[str, Any]) -> Callable[..., bool]:
    try:
        key = (mode, json.dumps(data, sort_keys=True, default=repr))
    except (TypeError, ValueError, RecursionError):
        return _build(data, mode, extra)
    function = _CACHE.get(key)
    if function is None:
        function = _build(data, mode, extra)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = function
    return function


def _build(data: Mapping[str, Any], mode: str, extra: dict[str, Any]) -> Callable[..., bool]:
    gen = _Gen(mode)
    body = gen.expr(data)
    params = {"facts": "_F", "record": "r", "event": "a, _F=None"}[mode]
    source = f"def _criteria({params}):\n    return {body}\n"
    namespace: dict[str, Any] = {**_RUNTIME_GLOBALS, **gen.consts, **extra}
    code = compile(source, "<criteria>", "exec")
    exec(code, namespace)  # noqa: S102 - source built above from plan data, names are constants
    function: Callable[..., bool] = namespace["_criteria"]
    function.__doc__ = source  # what ran, for debugging
    return function


def compile_criteria(data: Mapping[str, Any]) -> Callable[[Facts], bool]:
    """A predicate over `Facts` for whole criteria (trigger, goal, unenroll, branches).

    >>> f = compile_criteria({"op": "ne", "object": "contact", "property": "city", "value": "Oslo"})
    >>> class F:
    ...     def value(self, o, p): return None
    >>> f(F())
    True
    """
    try:
        return _cached_build(data, "facts", {})
    except (RecursionError, SyntaxError, MemoryError):
        return lambda facts: evaluate_criteria(data, facts)


def compile_event_criteria(
    data: Mapping[str, Any] | None,
) -> Callable[..., bool]:
    """A predicate over an event's attributes (`form.submitted(form = "Demo")`).

    Bare names are attributes; `url.base`, `url.domain` and `url.path` are derived
    from `url` (`url_parts`). The callable takes `(attributes, facts=None)`; with
    facts, relative dates use `facts.now` and `facts.tz`, else the wall clock and UTC.

    >>> f = compile_event_criteria({"op": "eq", "attribute": "url.domain", "value": "example.com"})
    >>> f({"url": "https://www.Example.com/demo"})
    True
    """
    if data is None:
        return lambda attrs_, facts=None: True
    try:
        return _cached_build(data, "event", {"_NOW": _now_utc, "_TZ": UTC})
    except (RecursionError, SyntaxError, MemoryError):
        return lambda attrs_, facts=None: _event_eval(data, attrs_, facts)


def _event_eval(data: Mapping[str, Any], attrs_: Mapping[str, object], facts: Any) -> bool:
    op = data["op"]
    if op in ("and", "or"):
        results = (_event_eval(i, attrs_, facts) for i in data["items"])
        return all(results) if op == "and" else any(results)
    if op == "not":
        return not _event_eval(data["item"], attrs_, facts)
    target = _target_of(data)
    name = target if isinstance(target, str) else target[1]
    value = event_attribute(attrs_, name)
    now = (lambda: facts.now) if facts is not None else _now_utc
    tz = facts.tz if facts is not None else UTC
    return _property_test(data, value, lambda: [value], now, tz)


def compile_event_matcher(event: Mapping[str, Any]) -> Callable[..., bool]:
    """A predicate over the attributes of an event of the pattern's type.

    `event` is an event pattern as in plans (`trigger.events[i]`, `wait_for`'s
    `event`, `has_event`'s `event`). The caller matches the type; this checks
    the rest: for `property.changed`, the property (`property` attribute: the
    name, optionally qualified) and `from`/`to` against `previous`/`value`; for
    other events, the pattern's attribute criteria. Ignores `negated`.
    """
    criteria = compile_event_criteria(event.get("criteria"))
    if event.get("type") != "property.changed":
        return criteria
    obj = event.get("object")
    prop = event.get("property")
    names = {str(prop), f"{obj}.{prop}"}
    has_from, has_to = event.get("from") is not None, event.get("to") is not None
    before = decode_value(event.get("from"))
    after = decode_value(event.get("to"))

    def matches(attrs_: Mapping[str, object], facts: Any = None) -> bool:
        if prop is not None and str(attrs_.get("property")) not in names:
            return False
        if obj is not None and attrs_.get("object") not in (None, obj):
            return False
        tz = facts.tz if facts is not None else UTC
        if has_from and not _compare("eq", attrs_.get("previous"), before, tz):
            return False
        if has_to and not _compare("eq", attrs_.get("value"), after, tz):
            return False
        return criteria(attrs_, facts)

    return matches


def compile_record_predicate(
    data: Mapping[str, Any],
    *,
    object_type: str | None = None,
    now: Callable[[], dt.datetime] | None = None,
    tz: dt.tzinfo = UTC,
) -> Callable[[Mapping[str, object]], bool]:
    """A fast predicate over a record's property dict, for property-only criteria.

    Used for `enroll existing records`, schedules and bulk queries. Raises
    ValueError when the criteria need more than the record's own properties
    (lists, events, workflows, another object type). `now` is the clock for
    relative dates (default: the wall clock).

    >>> f = compile_record_predicate({"op": "ge", "object": "contact", "property": "score",
    ...                               "value": 50})
    >>> f({"score": "75"}), f({"score": None}), f({})
    (True, False, False)
    """
    if object_type is not None:
        for node in _walk(data):
            if node.get("op") in PROPERTY_OPS and node.get("object") != object_type:
                raise ValueError(
                    f"criteria on {node.get('object')}.{node.get('property')} need the "
                    f"associated record, not only the {object_type}'s properties"
                )
    extra = {"_NOW": now or _now_utc, "_TZ": tz}
    try:
        return _build(data, "record", extra)
    except (RecursionError, SyntaxError, MemoryError):
        clock = now or _now_utc

        def fallback(record: Mapping[str, object]) -> bool:
            return evaluate_criteria(data, _RecordFacts(record, clock(), tz))

        return fallback


def _walk(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = []
    stack = [data]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.get("items", ()))
        if "item" in node:
            stack.append(node["item"])
    return out


class _RecordFacts:
    """Facts of a bare record dict (no lists, events or workflows)."""

    received: bool | None = None

    def __init__(self, record: Mapping[str, object], now: dt.datetime, tz: dt.tzinfo) -> None:
        self.record = record
        self.now = now
        self.tz = tz

    def value(self, object_type: str, prop: str) -> object | None:
        return self.record.get(prop)

    def history(self, object_type: str, prop: str) -> Sequence[object]:
        return [self.record.get(prop)]

    def in_list(self, name: str) -> bool:
        raise ValueError("list membership needs the record's facts")

    def events(self, event_type: str) -> Sequence[tuple[dt.datetime, Mapping[str, object]]]:
        raise ValueError("event history needs the record's facts")

    def enrolled_in(self, workflow: str) -> bool:
        raise ValueError("enrollment facts need the engine")

    def reached_goal(self, workflow: str) -> bool:
        raise ValueError("goal facts need the engine")

    def last_updated(self, object_type: str, prop: str) -> dt.datetime | None:
        raise ValueError("property history needs the record's facts")
