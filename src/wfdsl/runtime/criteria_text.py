"""Criteria data in; text close to the source syntax out (`contact.country in ["NO"]`),
for `wfdsl explain` and the traces."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wfdsl.runtime.operators import PROPERTY_OPS, UPDATED_OPS, target_of


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
            text += f" from {literal_text(event['from'])}"
        if event.get("to") is not None:
            text += f" to {literal_text(event['to'])}"
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
        target = target_of(data)
        name = target if isinstance(target, str) else ".".join(target)
        if op in ("known", "unknown"):
            return f"{name} is {op}"
        if op in ("in", "not_in"):
            return f"{name} {_WORDS[op]} {literal_text(data['values'])}"
        if op == "between":
            return f"{name} between {literal_text(data['low'])} and {literal_text(data['high'])}"
        if "duration" in data:
            suffix = " ago" if op == "more_than_ago" else ""
            return f"{name} {_WORDS[op]} {_duration_text(data['duration'])}{suffix}"
        return f"{name} {_WORDS[op]} {literal_text(data.get('value'))}"
    if op == "in_list":
        return f"in list {literal_text(data['list'])}"
    if op in ("enrolled_in", "reached_goal"):
        verb = "enrolled in" if op == "enrolled_in" else "reached goal of"
        return f"{verb} workflow {literal_text(data['workflow'])}"
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


__all__ = ["describe", "literal_text"]
