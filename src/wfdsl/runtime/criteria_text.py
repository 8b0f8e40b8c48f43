"""Plan criteria in; text close to the source syntax out (`contact.country in ["NO"]`),
for `wfdsl explain` and the traces."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wfdsl.plan import criteria as pc
from wfdsl.runtime.operators import target_of


def literal_text(value: Any) -> str:
    """A plan value as the source writes it: `"text"`, `50`, `2026-12-24`, `[…]`."""
    if isinstance(value, list):
        return "[" + ", ".join(literal_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if "percent" in value:
            return f"{value['percent']}%"
        return str(next(iter(value.values()), ""))
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _duration_text(duration: pc.Duration) -> str:
    return " ".join(f"{a} {u}{'' if a == 1 else 's'}" for a, u in duration.parts)


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


def _event_text(event: pc.EventSpec) -> str:
    if event.type == "property.changed":
        text = f"{event.object}.{event.property} changed"
        if event.from_value is not None:
            text += f" from {literal_text(event.from_value)}"
        if event.to_value is not None:
            text += f" to {literal_text(event.to_value)}"
        return text
    criteria = event.criteria
    return event.type + ("" if criteria is None else f"({describe(criteria, True)})")


def describe(data: pc.Criterion, nested: bool = False) -> str:
    """Criteria as text close to the source syntax.

    With `nested=False` an `and`/`or`/`not` node is just its keyword (the
    explain tree shows its children below it); with `nested=True` the whole
    tree is written out.

    >>> describe(pc.InValues(op="in", object="contact", property="country", values=["NO"]))
    'contact.country in ["NO"]'
    """
    op = data.op
    if isinstance(data, (pc.AllOf, pc.AnyOf)):
        if not nested:
            return op
        return "(" + f" {op} ".join(describe(i, True) for i in data.items) + ")"
    if isinstance(data, pc.Not):
        return f"not {describe(data.item, True)}" if nested else "not"
    if isinstance(data, pc.Updated):
        word = "not updated" if op == "not_updated_within" else "updated"
        return f"{data.object}.{data.property} {word} within last {_duration_text(data.duration)}"
    if isinstance(data, pc.Leaf):
        target = target_of(data)
        name = target if isinstance(target, str) else ".".join(target)
        if isinstance(data, pc.Known):
            return f"{name} is {op}"
        if isinstance(data, pc.InValues):
            return f"{name} {_WORDS[op]} {literal_text(data.values)}"
        if isinstance(data, pc.Between):
            return f"{name} between {literal_text(data.low)} and {literal_text(data.high)}"
        if isinstance(data, pc.RelativeDate):
            suffix = " ago" if op == "more_than_ago" else ""
            return f"{name} {_WORDS[op]} {_duration_text(data.duration)}{suffix}"
        value = data.value if isinstance(data, (pc.Compare, pc.TextMatch, pc.History)) else None
        return f"{name} {_WORDS[op]} {literal_text(value)}"
    if isinstance(data, pc.InList):
        return f"in list {literal_text(data.list)}"
    if isinstance(data, (pc.EnrolledIn, pc.ReachedGoal)):
        verb = "enrolled in" if op == "enrolled_in" else "reached goal of"
        return f"{verb} workflow {literal_text(data.workflow)}"
    if isinstance(data, pc.HasEvent):
        text = ("has not " if data.negated else "has ") + _event_text(data.event)
        least = data.at_least
        if least is not None:
            text += f" at least {least} time{'' if least == 1 else 's'}"
        if data.within is not None:
            text += f" within last {_duration_text(data.within)}"
        return text
    return op


__all__ = ["describe", "literal_text"]
