"""Criteria evaluation: plan criteria data in, fast Python predicates (and explanations) out.

Each criteria tree is turned into the source of one small Python function,
compiled once: common leaves (`=`, `in`, comparisons with numbers, `contains`,
`is known`) are inlined, the rest call the leaf functions of
`runtime.operators`, which are also what `explain_criteria` uses, so both
paths agree. A tree too deep for Python's compiler falls back to closures
over the same leaf functions. The semantics of each operator are in
`runtime.operators` (docs/criteria.md has the table); the wording of
`explain` in `runtime.criteria_text`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.plan import criteria as pc
from wfdsl.plan.model import decode_value
from wfdsl.runtime.criteria_text import describe
from wfdsl.runtime.operators import (
    NEGATIVE,
    ORDER,
    PROPERTY_OPS,
    UPDATED_OPS,
    URL_PARTS,
    UTC,
    Facts,
    compare,
    event_attribute,
    folded_text,
    has_event_count,
    is_unknown,
    number_of,
    property_test,
    target_of,
    text_match,
    updated,
    updated_fact,
    url_parts,
    values_equal,
)

__all__ = [
    "PROPERTY_OPS",
    "UPDATED_OPS",
    "URL_PARTS",
    "ExplainNode",
    "Facts",
    "compile_criteria",
    "compile_event_criteria",
    "compile_event_matcher",
    "compile_record_predicate",
    "describe",
    "evaluate_criteria",
    "event_attribute",
    "explain_criteria",
    "is_unknown",
    "url_parts",
    "values_equal",
]


def evaluate_criteria(data: pc.Criterion, facts: Facts) -> bool:
    """Evaluate criteria without compiling (slow, simple; `explain_criteria` shares it)."""
    return explain_criteria(data, facts).result


@attrs.frozen(kw_only=True)
class ExplainNode:
    """One evaluated node: its operator, result, the value seen (leaves) and children."""

    op: str
    result: bool
    data: pc.Criterion
    value: object | None = None
    children: tuple[ExplainNode, ...] = ()

    def render(self, indent: str = "") -> str:
        """An indented text tree, `✓`/`✗` per node."""
        mark = "✓" if self.result else "✗"
        line = f"{indent}{mark} {describe(self.data)}"
        op = self.data.op
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


def explain_criteria(data: pc.Criterion, facts: Facts) -> ExplainNode:
    """The evaluated tree (every branch evaluated, no short-circuit), for `wfdsl explain`."""
    op = data.op
    if isinstance(data, (pc.AllOf, pc.AnyOf)):
        children = tuple(explain_criteria(item, facts) for item in data.items)
        results = [c.result for c in children]
        result = all(results) if op == "and" else any(results)
        return ExplainNode(op=op, result=result, data=data, children=children)
    if isinstance(data, pc.Not):
        child = explain_criteria(data.item, facts)
        return ExplainNode(op=op, result=not child.result, data=data, children=(child,))
    if isinstance(data, pc.Updated):
        last = facts.last_updated(str(data.object), str(data.property))
        result = updated(op, last, data.duration.seconds, facts.now)
        return ExplainNode(op=op, result=result, data=data, value=last)
    if isinstance(data, pc.Leaf):
        target = target_of(data)
        if isinstance(target, str):
            raise ValueError("event-attribute criteria need compile_event_criteria")
        obj, prop = target
        value = facts.value(obj, prop)
        result = property_test(data, value, lambda: facts.history(obj, prop), lambda: facts.now, facts.tz)
        return ExplainNode(op=op, result=result, data=data, value=value)
    if isinstance(data, pc.InList):
        return ExplainNode(op=op, result=bool(facts.in_list(data.list)), data=data)
    if isinstance(data, pc.EnrolledIn):
        return ExplainNode(op=op, result=bool(facts.enrolled_in(data.workflow)), data=data)
    if isinstance(data, pc.ReachedGoal):
        return ExplainNode(op=op, result=bool(facts.reached_goal(data.workflow)), data=data)
    if isinstance(data, pc.Received):
        return ExplainNode(op=op, result=facts.received is True, data=data, value=facts.received)
    if isinstance(data, pc.HasEvent):
        matcher = compile_event_matcher(data.event)
        count = has_event_count(facts, data.event, matcher, data.within)
        least = data.at_least or 1
        result = (count < least) if data.negated else (count >= least)
        return ExplainNode(op=op, result=result, data=data, value=count)
    raise ValueError(f"unknown criteria operator {op!r}")


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
    def get(self, node: pc.Leaf) -> str:
        target = target_of(node)
        if self.mode == "event" or isinstance(target, str):
            name = target if isinstance(target, str) else target[1]
            if "." in name:
                return f"_ATTR(a, {self.const(name)})"
            return f"a.get({self.const(name)})"
        obj, prop = target
        if self.mode == "record":
            return f"r.get({self.const(prop)})"
        return f"_F.value({self.const(obj)}, {self.const(prop)})"

    def history(self, node: pc.Leaf) -> str:
        target = target_of(node)
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
    def expr(self, node: pc.Criterion) -> str:
        op = node.op
        if isinstance(node, (pc.AllOf, pc.AnyOf)):
            items = node.items
            if not items:
                return "True" if op == "and" else "False"
            return "(" + f" {op} ".join(self.expr(i) for i in items) + ")"
        if isinstance(node, pc.Not):
            return f"(not {self.expr(node.item)})"
        if isinstance(node, pc.Leaf) and not isinstance(node, pc.Updated):
            return self.leaf(node)
        if self.mode != "facts":
            raise ValueError(f"`{op}` needs the record's facts, not only its properties")
        if isinstance(node, pc.InList):
            return f"_F.in_list({self.const(node.list)})"
        if isinstance(node, pc.EnrolledIn):
            return f"_F.enrolled_in({self.const(node.workflow)})"
        if isinstance(node, pc.ReachedGoal):
            return f"_F.reached_goal({self.const(node.workflow)})"
        if isinstance(node, pc.Received):
            return "(_F.received is True)"
        if isinstance(node, pc.HasEvent):
            event = node.event
            matcher = compile_event_matcher(event)
            call = f"_HAS(_F, {self.const(event)}, {self.const(matcher)}, {self.const(node.within)})"
            least = node.at_least or 1
            return f"({call} < {least})" if node.negated else f"({call} >= {least})"
        if isinstance(node, pc.Updated):
            return f"_UPD(_F, {self.const(node)})"
        raise ValueError(f"unknown criteria operator {op!r}")

    def leaf(self, node: pc.Leaf) -> str:
        op = node.op
        if op in ("ne", "not_in", "not_contains", "unknown"):
            return f"(not {self.leaf(attrs.evolve(node, op=NEGATIVE[op]))})"
        get = self.get(node)
        v = self.var()
        literal = decode_value(node.value) if isinstance(node, (pc.Compare, pc.TextMatch, pc.History)) else None
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
        if isinstance(node, pc.InValues) and op == "in":
            values = [decode_value(x) for x in node.values]
            if values and all(isinstance(x, str) and x for x in values):
                c = self.const(frozenset(x.casefold() for x in values))
                return (
                    f"({v}.casefold() in {c} if ({v} := {get}).__class__ is str "
                    f"else {v} is not None and _INT({v}, {c}))"
                )
        if isinstance(node, pc.TextMatch) and op in ("contains", "starts_with", "ends_with") and node.value:
            c = self.const(str(node.value).casefold())
            test = {
                "contains": f"{c} in {v}.casefold()",
                "starts_with": f"{v}.casefold().startswith({c})",
                "ends_with": f"{v}.casefold().endswith({c})",
            }[op]
            fallback = f"_TXT({self.const(op)}, {v}, {self.const(node.value)})"
            return f"({test} if ({v} := {get}).__class__ is str else {v} is not None and {fallback})"
        # Everything else: the shared leaf function.
        return f"_LEAF({self.const(node)}, {get}, {self.history(node)}, {self.now}, {self.tz})"


def _plain_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _eq_text(value: object, folded: str) -> bool:
    return folded_text(value) == folded


def _cmp_number(op: str, value: object, literal: float) -> bool:
    number = number_of(value)
    return number is not None and bool(ORDER[op](number, literal))


def _in_text(value: object, folded: frozenset[str]) -> bool:
    text = folded_text(value)
    return text is not None and text in folded


def _now_utc() -> dt.datetime:
    return dt.datetime.now(UTC)


_RUNTIME_GLOBALS: dict[str, Any] = {
    "_EQT": _eq_text,
    "_CMPN": _cmp_number,
    "_INT": _in_text,
    "_TXT": text_match,
    "_LEAF": property_test,
    "_HAS": has_event_count,
    "_UPD": updated_fact,
    "_ATTR": event_attribute,
}


#: Compiled functions by (mode, the tree's repr): engines compile the
#: same goal or branch criteria for many enrollments; Python's compile() is the
#: expensive part. Bounded so that a long-running service does not grow forever.
_CACHE: dict[tuple[str, str], Callable[..., bool]] = {}
_CACHE_SIZE = 4096


def _cached_build(data: pc.Criterion, mode: str, extra: dict[str, Any]) -> Callable[..., bool]:
    try:
        key = (mode, repr(data))
    except RecursionError:
        return _build(data, mode, extra)
    function = _CACHE.get(key)
    if function is None:
        function = _build(data, mode, extra)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = function
    return function


def _build(data: pc.Criterion, mode: str, extra: dict[str, Any]) -> Callable[..., bool]:
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


def compile_criteria(data: pc.Criterion) -> Callable[[Facts], bool]:
    """A predicate over `Facts` for whole criteria (trigger, goal, unenroll, branches).

    >>> f = compile_criteria(pc.Compare(op="ne", object="contact", property="city", value="Oslo"))
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
    data: pc.Criterion | None,
) -> Callable[..., bool]:
    """A predicate over an event's attributes (`form.submitted(form = "Demo")`).

    Bare names are attributes; `url.base`, `url.domain` and `url.path` are derived
    from `url` (`url_parts`). The callable takes `(attributes, facts=None)`; with
    facts, relative dates use `facts.now` and `facts.tz`, else the wall clock and UTC.

    >>> f = compile_event_criteria(pc.Compare(op="eq", attribute="url.domain", value="example.com"))
    >>> f({"url": "https://www.Example.com/demo"})
    True
    """
    if data is None:
        return lambda attrs_, facts=None: True
    try:
        return _cached_build(data, "event", {"_NOW": _now_utc, "_TZ": UTC})
    except (RecursionError, SyntaxError, MemoryError):
        return lambda attrs_, facts=None: _event_eval(data, attrs_, facts)


def _event_eval(data: pc.Criterion, attrs_: Mapping[str, object], facts: Any) -> bool:
    if isinstance(data, (pc.AllOf, pc.AnyOf)):
        results = (_event_eval(i, attrs_, facts) for i in data.items)
        return all(results) if data.op == "and" else any(results)
    if isinstance(data, pc.Not):
        return not _event_eval(data.item, attrs_, facts)
    if not isinstance(data, pc.Leaf):
        raise ValueError(f"`{data.op}` needs the record's facts, not only its properties")
    target = target_of(data)
    name = target if isinstance(target, str) else target[1]
    value = event_attribute(attrs_, name)
    now = (lambda: facts.now) if facts is not None else _now_utc
    tz = facts.tz if facts is not None else UTC
    return property_test(data, value, lambda: [value], now, tz)


def compile_event_matcher(event: pc.EventSpec) -> Callable[..., bool]:
    """A predicate over the attributes of an event of the pattern's type.

    `event` is an event pattern as in plans (`trigger.events[i]`, `wait_for`'s
    `event`, `has_event`'s `event`). The caller matches the type; this checks
    the rest: for `property.changed`, the property (`property` attribute: the
    name, optionally qualified) and `from`/`to` against `previous`/`value`; for
    other events, the pattern's attribute criteria. Ignores `negated`.
    """
    criteria = compile_event_criteria(event.criteria)
    if event.type != "property.changed":
        return criteria
    obj = event.object
    prop = event.property
    names = {str(prop), f"{obj}.{prop}"}
    has_from, has_to = event.from_value is not None, event.to_value is not None
    before = decode_value(event.from_value)
    after = decode_value(event.to_value)

    def matches(attrs_: Mapping[str, object], facts: Any = None) -> bool:
        if prop is not None and str(attrs_.get("property")) not in names:
            return False
        if obj is not None and attrs_.get("object") not in (None, obj):
            return False
        tz = facts.tz if facts is not None else UTC
        if has_from and not compare("eq", attrs_.get("previous"), before, tz):
            return False
        if has_to and not compare("eq", attrs_.get("value"), after, tz):
            return False
        return criteria(attrs_, facts)

    return matches


def compile_record_predicate(
    data: pc.Criterion,
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

    >>> f = compile_record_predicate(pc.Compare(op="ge", object="contact", property="score", value=50))
    >>> f({"score": "75"}), f({"score": None}), f({})
    (True, False, False)
    """
    if object_type is not None:
        for node in _walk(data):
            if isinstance(node, pc.Leaf) and node.op in PROPERTY_OPS and node.object != object_type:
                raise ValueError(
                    f"criteria on {node.object}.{node.property} need the "
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


def _walk(data: pc.Criterion) -> list[pc.Criterion]:
    out = []
    stack = [data]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, (pc.AllOf, pc.AnyOf)):
            stack.extend(node.items)
        elif isinstance(node, pc.Not):
            stack.append(node.item)
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
