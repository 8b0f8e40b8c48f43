"""Writing flow JSON: the state of one export, its problems (with the span of the
construct), values as HubSpot stores them, and the small helpers the writers share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wfdsl.schema import Schema
from wfdsl.syntax import nodes as n
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.lockfile import LockFile
from wfdsl.tools.hubspot.problems import FlowError, Problem

BRANCHES = (n.If, n.BranchOn, n.Split)
Target = Any  # an action id, None (the flow ends there), or ("label", name)


def tests_received(step: n.If) -> bool:
    """Whether the `if` tests the outcome of a wait (`received` anywhere in its first condition)."""
    return any(isinstance(node, n.Received) for node in step.branches[0].condition.walk())


def blocks_of(step: n.Node) -> list[n.Block]:
    if isinstance(step, n.If):
        return [b.body for b in step.branches] + ([step.else_body] if step.else_body is not None else [])
    if isinstance(step, n.BranchOn):
        return [c.body for c in step.cases] + ([step.else_body] if step.else_body is not None else [])
    if isinstance(step, n.Split):
        return [a.body for a in step.arms]
    return []


def or_groups(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"filterBranchType": "OR", "filterBranchOperator": "OR", "filters": [], "filterBranches": groups}


def hs_name(prop: str) -> dict[str, Any]:
    return {
        "filterType": "PROPERTY",
        "property": "hs_name",
        "operation": {
            "operationType": "STRING",
            "operator": "IS_EQUAL_TO",
            "value": prop,
            "includeObjectsWithNoValueSet": False,
        },
    }


def indexed_point(reference: str, days: int) -> dict[str, Any]:
    point: dict[str, Any] = {
        "timeType": "INDEXED",
        "timezoneSource": "CUSTOM",
        "zoneId": "UTC",
        "indexReference": {"referenceType": reference},
    }
    if days:
        point["offset"] = {"days": days}
    return point


def clock_time(text: str) -> dict[str, int]:
    hour, minute = text.split(":")
    return {"hour": int(hour), "minute": int(minute)}


def weekday_names(days: Sequence[n.Node]) -> list[str]:
    out: list[str] = []
    for day in days:
        if isinstance(day, n.DayRange):
            start, end = ids.WEEKDAYS.index(day.start), ids.WEEKDAYS.index(day.end)
            out.extend(ids.WEEKDAYS[start : end + 1])
        elif isinstance(day, n.Day):
            out.append(day.name)
    return out


UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60, "week": 7 * 24 * 60}


def duration_minutes(duration: n.Duration) -> int:
    return sum(int(part.amount) * UNIT_MINUTES[part.unit] for part in duration.parts)


def single_unit(duration: n.Duration) -> tuple[int, str]:
    """A duration as one amount and unit: as written when it has one part, else in its smallest unit."""
    if len(duration.parts) == 1:
        part = duration.parts[0]
        return int(part.amount), ids.UNIT_NAMES[part.unit]
    smallest = min(duration.parts, key=lambda p: UNIT_MINUTES[p.unit]).unit
    return duration_minutes(duration) // UNIT_MINUTES[smallest], ids.UNIT_NAMES[smallest]


def number_value(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def text_value(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


class FlowWriter:
    """The state of one export and what every writer shares: problems, property types, values."""

    def __init__(self, *, workflow: n.Workflow, lock: LockFile, schema: Schema) -> None:
        self.wf = workflow
        self.lock = lock
        self.schema = schema
        self.object = workflow.object_type or "contact"
        self.problems: list[Problem] = []
        self.ids: dict[int, str] = {}
        self.actions: list[dict[str, Any]] = []
        self.labels: dict[str, Target] = {}
        self.patches: list[tuple[dict[str, Any], str, str]] = []  # (holder, key, label)
        self.label_order: list[str] = []
        self.standard_in: dict[str, int] = {}

    def fail(self, node: n.Node, message: str, hint: str | None = None) -> FlowError:
        return FlowError(Problem(path="", message=message, hint=hint, span=node.span))

    def warn(self, node: n.Node, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(path="", message=message, hint=hint, span=node.span, error=False))

    def prop_type(self, owner: str, name: str, value: n.Node | None) -> str:
        if name in ids.ID_PROPERTIES:
            return "enumeration"
        prop = self.schema.property(owner, name)
        if prop is not None:
            return prop.type
        if isinstance(value, n.NumberLit):
            return "number"
        if isinstance(value, n.BoolLit):
            return "bool"
        return "enumeration"

    def raw_value(self, owner: str, name: str, value: n.Node) -> Any:
        """A literal as flow JSON: ids of portal names, numbers as numbers."""
        if name in ids.ID_PROPERTIES and isinstance(value, n.StringLit):
            return self.lock.id_for(ids.ID_PROPERTIES[name], value.value, "", self.problems, span=value.span)
        if isinstance(value, n.StringLit):
            return ids.to_hubspot_tokens(value.value, self.object)
        if isinstance(value, n.NumberLit):
            return number_value(value.text)
        if isinstance(value, n.BoolLit):
            return value.value
        if isinstance(value, (n.DateLit, n.DateTimeLit, n.TimeLit)):
            return value.text
        raise self.fail(value, "this value has no flow JSON equivalent here")
