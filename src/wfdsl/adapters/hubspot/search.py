"""Criteria pushed down to HubSpot's search API: plan criteria in; the filter groups
that every record meeting them matches out (the engine checks each record again).

Only what HubSpot's filters compare the same way as wfdsl is pushed: equality
and order on numbers, known/unknown, `in`, `between`; dates and text order are
left to the engine. The search API takes at most 5 groups of 5 filters.
"""

from __future__ import annotations

import math
from typing import Any

from wfdsl.adapters.hubspot_api import to_hubspot
from wfdsl.plan import criteria as pc

_SIMPLE_OPS = {"eq": "EQ", "lt": "LT", "le": "LTE", "gt": "GT", "ge": "GTE"}


def _literal(value: Any) -> str | None:
    """A criteria literal HubSpot's filters compare the same way; None when they would not."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and math.isfinite(value):
        return to_hubspot(value)
    if isinstance(value, str):
        return value
    return None  # dates, times, percentages: compared in the workflow's time zone, not pushed


def _leaf(node: pc.Criterion, object_type: str) -> list[list[dict[str, Any]]] | None:
    """Filter groups (OR of ANDs) that every record meeting `node` matches; None: no filter."""
    if not isinstance(node, pc.Leaf) or node.property is None or node.object != object_type:
        return None
    prop = node.property
    op = node.op
    if op == "known":
        return [[{"propertyName": prop, "operator": "HAS_PROPERTY"}]]
    if op == "unknown":
        return [[{"propertyName": prop, "operator": "NOT_HAS_PROPERTY"}]]
    if isinstance(node, pc.Compare) and op in _SIMPLE_OPS:
        value = _literal(node.value)
        if value is None or (op != "eq" and isinstance(node.value, str)):
            return None  # text order differs between HubSpot and wfdsl
        return [[{"propertyName": prop, "operator": _SIMPLE_OPS[op], "value": value}]]
    if isinstance(node, pc.Compare) and op == "ne":
        value = _literal(node.value)
        if value is None:
            return None
        # A blank value matches a negative filter in wfdsl; HubSpot's NEQ leaves blanks out.
        return [
            [{"propertyName": prop, "operator": "NEQ", "value": value}],
            [{"propertyName": prop, "operator": "NOT_HAS_PROPERTY"}],
        ]
    if isinstance(node, pc.InValues) and op == "in":
        values = [_literal(v) for v in node.values]
        if not values or any(v is None for v in values):
            return None
        return [[{"propertyName": prop, "operator": "IN", "values": values}]]
    if isinstance(node, pc.Between):
        low, high = node.low, node.high
        if isinstance(low, bool) or isinstance(high, bool):
            return None
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
            return None
        return [[{"propertyName": prop, "operator": "BETWEEN", "value": _literal(low), "highValue": _literal(high)}]]
    return None


def _groups(node: pc.Criterion, object_type: str) -> list[list[dict[str, Any]]] | None:
    if isinstance(node, pc.AllOf):
        parts = [g for g in (_groups(c, object_type) for c in node.items) if g]
        if not parts:
            return None
        out: list[list[dict[str, Any]]] = [[]]
        for part in parts:
            out = [a + b for a in out for b in part]
            if len(out) > 5:
                return None
        return out
    if isinstance(node, pc.AnyOf):
        alternatives = [_groups(c, object_type) for c in node.items]
        if not alternatives or any(a is None for a in alternatives):
            return None  # one branch can match anything
        merged = [group for alternative in alternatives if alternative for group in alternative]
        return merged if len(merged) <= 5 else None
    return _leaf(node, object_type)


def search_filters(criteria: pc.Criterion | None, object_type: str) -> list[list[dict[str, Any]]]:
    """HubSpot search filter groups for plan criteria: records meeting the criteria
    all match them (the engine checks each record again); [] when nothing translates.

    >>> search_filters(pc.Compare(op="eq", object="contact", property="lifecyclestage", value="lead"), "contact")
    [[{'propertyName': 'lifecyclestage', 'operator': 'EQ', 'value': 'lead'}]]
    """
    groups = _groups(criteria, object_type) if criteria else None
    if not groups:
        return []
    if len(groups) > 5 or sum(len(g) for g in groups) > 18 or any(len(g) > 5 for g in groups):
        return []
    return groups


__all__ = ["search_filters"]
