"""CRM reads: compiled plans in, what their workflows read from the CRM out (`CRMReads`).

An adapter that fetches records over a network (the HubSpot adapter) asks
only for these properties, histories, associations and list memberships.

>>> crm_reads([]).lists
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from wfdsl.plan.model import WorkflowPlan, workflow_to_data
from wfdsl.runtime.protocols import CRMReads

_TOKEN = re.compile(r"\{\{\s*([A-Za-z_][\w-]*)\.([\w.-]+)\s*\}\}")
_HISTORY_OPS = frozenset({"ever", "never", "updated_within", "not_updated_within"})
_LIST_OPS = frozenset({"in_list", "not_in_list"})


def crm_reads(workflows: Iterable[WorkflowPlan]) -> CRMReads:
    """What the workflows read: properties by object type (criteria, tokens, anchors,
    copies, changed properties), histories, associations and whether lists matter."""
    properties: dict[str, set[str]] = {}
    history: set[tuple[str, str]] = set()
    associations: dict[str, set[str]] = {}
    lists = False
    for plan in workflows:
        own = plan.object
        seen_types: set[str] = set()
        if plan.suppress_lists:
            lists = True
        stack: list[Any] = [workflow_to_data(plan)]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                obj, prop, op = item.get("object"), item.get("property"), item.get("op")
                if isinstance(obj, str) and isinstance(prop, str):
                    properties.setdefault(obj, set()).add(prop)
                    seen_types.add(obj)
                    if op in _HISTORY_OPS or (isinstance(op, str) and "updated" in op):
                        history.add((obj, prop))
                if op in _LIST_OPS or item.get("type") in ("list.added", "list.removed"):
                    lists = True
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str) and "{{" in item:
                for obj, prop in _TOKEN.findall(item):
                    properties.setdefault(obj, set()).add(prop)
                    seen_types.add(obj)
        for other in seen_types - {own}:
            # Both ways: the enrolled record reads the other one's properties, and a
            # change on the other record is traced back to the enrolled ones.
            associations.setdefault(own, set()).add(other)
            associations.setdefault(other, set()).add(own)
    return CRMReads(
        properties={k: frozenset(v) for k, v in properties.items()},
        history=frozenset(history),
        associations={k: frozenset(v) for k, v in associations.items()},
        lists=lists,
    )


__all__ = ["crm_reads"]
