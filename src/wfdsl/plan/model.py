"""Plans: the compiled, plain-data form of workflows, and its JSON encoding.

A plan is what the compiler produces and what the runtime executes; it never
refers to the AST. Everything in it is frozen `attrs` classes whose leaves are
JSON-compatible data: criteria, step arguments and typed values are small JSON
trees (see docs/plans.md). `plan_to_json` writes deterministic bytes and
`plans_from_json` reads them back losslessly, or raises `PlanError`.

Typed values (literals) are encoded where JSON has no type:

    "text", 42, -3.5, true                as themselves
    {"date": "2026-12-24"}                a calendar date
    {"datetime": "2026-12-24T09:00"}      a date-time (naive: in the workflow time zone)
    {"time": "09:00"}                     a time of day
    {"percent": 50}                       a percentage
    [v, …]                                a list of values

Durations are `{"parts": [[1, "day"], [6, "hour"]], "seconds": 108000}`;
`seconds` counts days as 24 h, the parts keep the calendar meaning (a day in
a delay is a calendar day in the workflow time zone, DST-correct).

Weekdays are numbers, Monday = 0 … Sunday = 6 (as `datetime.weekday()`).
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.limits import ACT_YEARS, MAX_CRITERIA_DEPTH, MAX_DURATION_SECONDS
from wfdsl.spans import Span

FORMAT_VERSION = "1"

#: Every step kind, as written in plans (and in `action` history entries).
STEP_KINDS: tuple[str, ...] = (
    "delay",
    "delay_until_day",
    "delay_until_date",
    "delay_until_anchor",
    "wait_for",
    "if",
    "branch_on",
    "split",
    "send_email",
    "notify",
    "set",
    "clear",
    "increment",
    "copy",
    "create_task",
    "create_record",
    "assign_owner",
    "rotate_owner",
    "add_to_list",
    "remove_from_list",
    "enroll_in_workflow",
    "unenroll_from_workflow",
    "webhook",
    "placeholder",
    "label",
    "go_to",
    "end",
)

#: The `args` of each step kind (V: a typed value, D: a duration, P: `{"object", "property"}`,
#: E: an event as in `trigger.events`). Strings keep `{{ … }}` tokens verbatim: the
#: engine renders them when it performs the action.
STEP_ARGS: dict[str, str] = {
    "delay": "duration: D",
    "delay_until_day": "day: weekday name | null (next occurrence of `at`), "
    "weekday: 0-6 | null, at: 'HH:MM' | null (start of the day)",
    "delay_until_date": "base: {date} | {datetime} | {property: P}, sign: 1 | -1, offset: D | null, at: 'HH:MM' | null",
    "delay_until_anchor": "side: 'before' | 'after' | null, offset: D | null, at: 'HH:MM' | null",
    "wait_for": "event: E, timeout: D",
    "if": "(none; see `branches`, `else_target`)",
    "branch_on": "object, property (see `cases`, `else_target`)",
    "split": "(none; see `arms`)",
    "send_email": "email: str",
    "notify": "recipient: str | null (the record's owner), subject: str | null, body: str | null",
    "set": "object, property, value: V",
    "clear": "object, property",
    "increment": "object, property, amount: number",
    "copy": "source: P, target: P",
    "create_task": "title: str, due: D | null, assign_owner: bool, assignee: str | null, "
    "notes: str | null, priority: str | null",
    "create_record": "object: str, fields: [{name: str, value: V}, …] (source order)",
    "assign_owner": "owner: str",
    "rotate_owner": "owners: [str, …]",
    "add_to_list": "list: str",
    "remove_from_list": "list: str",
    "enroll_in_workflow": "workflow: str",
    "unenroll_from_workflow": "workflow: str",
    "webhook": "method: str (lower case), url: str, body: str | null",
    "placeholder": "text: str",
    "label": "name: str",
    "go_to": "label: str (see `target`)",
    "end": "(none)",
}

#: Step kinds that wait (the enrollment gets a timer or waits for an event).
WAIT_KINDS: frozenset[str] = frozenset(
    {"delay", "delay_until_day", "delay_until_date", "delay_until_anchor", "wait_for"}
)
#: Step kinds that only steer the flow.
CONTROL_KINDS: frozenset[str] = frozenset({"if", "branch_on", "split", "label", "go_to", "end"})
#: Step kinds that act on the CRM (checked against goal/unenroll first, windows apply).
ACTION_KINDS: frozenset[str] = frozenset(STEP_KINDS) - WAIT_KINDS - CONTROL_KINDS

TRIGGER_KINDS = ("manual", "filter", "event", "schedule")
REENROLL_MODES = ("none", "every_time", "on_change")
RECURRENCE_KINDS = ("daily", "weekly", "monthly", "once")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DURATION_UNITS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}

#: Criteria data: a JSON tree such as `{"op": "and", "items": [...]}`.
Criteria = Mapping[str, Any]


class PlanError(Exception):
    """A plan that cannot be read: malformed JSON, a missing field, an unknown version."""


# ---------------------------------------------------------------- classes


@attrs.frozen(kw_only=True)
class PropRef:
    """A qualified property: `contact.email` is `PropRef(object="contact", property="email")`."""

    object: str
    property: str

    @builtins.property  # the field `property` shadows the builtin in this class
    def dotted(self) -> str:
        """`contact.email`."""
        return f"{self.object}.{self.property}"


@attrs.frozen(kw_only=True)
class EventSpec:
    """One event pattern: a trigger group, a `wait for`, or the event of `has …`.

    `type` is the catalog name (`form.submitted`) or `property.changed`, which
    has `object`/`property` and optionally `from_value`/`to_value` (None: any).
    `criteria` is event-attribute criteria (bare attribute names), or None.
    """

    type: str
    negated: bool = False
    criteria: Criteria | None = None
    object: str | None = None
    property: str | None = None
    from_value: Any = None
    to_value: Any = None


@attrs.frozen(kw_only=True)
class Recurrence:
    """`daily at 09:00`, `weekly on …` (`days`), `monthly on day N` (`day`), `once at …`."""

    kind: str
    at: str  # "HH:MM" for daily/weekly/monthly; "YYYY-MM-DDTHH:MM" for once
    days: tuple[int, ...] = ()
    day: int | None = None


@attrs.frozen(kw_only=True)
class Trigger:
    """How records enroll. `criteria` for filter triggers; `events` (OR-ed groups)
    for event triggers; `recurrence` for schedules; `refinement` (`only if`)
    is evaluated on the record when the event or occurrence happens."""

    kind: str
    criteria: Criteria | None = None
    events: tuple[EventSpec, ...] = ()
    recurrence: Recurrence | None = None
    refinement: Criteria | None = None


@attrs.frozen(kw_only=True)
class Reenroll:
    mode: str = "none"
    properties: tuple[PropRef, ...] = ()


@attrs.frozen(kw_only=True)
class Anchor:
    """The anchor of a date-centred workflow: a date property or a fixed date."""

    property: PropRef | None = None
    date: str | None = None  # "YYYY-MM-DD"
    annually: bool = False


@attrs.frozen(kw_only=True)
class Window:
    """An execution window: actions run on `days` between `start` and `end` (local)."""

    days: tuple[int, ...]
    start: str
    end: str


@attrs.frozen(kw_only=True)
class Settings:
    timezone: str = "UTC"
    windows: tuple[Window, ...] = ()
    pause_dates: tuple[str, ...] = ()
    enroll_existing: bool = False
    unenroll_unmet: bool = False
    on_failure: str = "continue"


@attrs.frozen(kw_only=True)
class Branch:
    """An `if`/`else if` branch: when `criteria` holds, continue at `target` (None: complete)."""

    criteria: Criteria
    target: str | None


@attrs.frozen(kw_only=True)
class Case:
    """A `branch on` case: `criteria` is the compiled `P = value` test."""

    value: Any
    criteria: Criteria
    target: str | None


@attrs.frozen(kw_only=True)
class Arm:
    """A random-split arm with its share in percent."""

    percent: float
    target: str | None


@attrs.frozen(kw_only=True)
class Step:
    """One node of the step graph.

    `next` is the following step (None: the enrollment completes). Branching
    kinds also carry their targets: `if` has `branches` and `else_target`,
    `branch_on` has `cases` and `else_target`, `split` has `arms`, `go_to`
    has `target`. `args` holds the kind's arguments (`STEP_ARGS`, docs/plans.md).

    Ids are stable across edits that do not move a step: the structural path
    (`steps.0`, `steps.2.then.0`, `steps.2.elif.0.1`, `steps.2.else.0`,
    `steps.3.case.1.0`, `steps.3.else.0`, `steps.4.arm.0.0`), except that a
    `label "retry"` step has the id `label:retry` and the steps after it in the
    same block are numbered from it: `label:retry.1`, `label:retry.1.then.0`.

    `key` is the step's identity across versions of the workflow, computed
    from its content and position: inserting, removing, moving or editing
    *other* steps does not change it (`label:retry` for a label, `label:retry.1`
    for the step a label pins, else 16 hex digits). A new version moves a
    waiting enrollment to the step with its step's key (runtime.migration).
    "" (plans written before keys existed): the id stands in.
    """

    id: str
    kind: str
    span: Span
    next: str | None
    key: str = ""
    args: Mapping[str, Any] = attrs.field(factory=dict)
    branches: tuple[Branch, ...] = ()
    cases: tuple[Case, ...] = ()
    arms: tuple[Arm, ...] = ()
    else_target: str | None = None
    target: str | None = None

    def targets(self) -> list[str | None]:
        """Every step this one can continue at (None: completion), in order."""
        if self.kind == "if":
            return [b.target for b in self.branches] + [self.else_target]
        if self.kind == "branch_on":
            return [c.target for c in self.cases] + [self.else_target]
        if self.kind == "split":
            return [a.target for a in self.arms]
        if self.kind == "go_to":
            return [self.target]
        if self.kind == "end":
            return []
        return [self.next]


@attrs.frozen(kw_only=True)
class IndexKeys:
    """What a part of a workflow depends on, so an engine can index instead of scan.

    `properties` are dotted (`contact.email`, `company.industry`), `events`
    catalog event types (`form.submitted`, `property.changed`, `list.added`, …),
    `lists` list names, `workflows` workflow names.
    """

    events: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    workflows: tuple[str, ...] = ()

    def __or__(self, other: IndexKeys) -> IndexKeys:
        return IndexKeys(
            events=tuple(sorted(set(self.events) | set(other.events))),
            properties=tuple(sorted(set(self.properties) | set(other.properties))),
            lists=tuple(sorted(set(self.lists) | set(other.lists))),
            workflows=tuple(sorted(set(self.workflows) | set(other.workflows))),
        )

    @property
    def empty(self) -> bool:
        return not (self.events or self.properties or self.lists or self.workflows)


@attrs.frozen(kw_only=True)
class Index:
    """Index keys per part: the trigger (incl. `only if`), goal, unenroll criteria, suppression."""

    trigger: IndexKeys = IndexKeys()
    goal: IndexKeys = IndexKeys()
    unenroll: IndexKeys = IndexKeys()
    suppress: IndexKeys = IndexKeys()


@attrs.frozen(kw_only=True)
class WorkflowPlan:
    name: str
    object: str
    source_hash: str  # sha256 hex of the workflow's source text
    span: Span
    trigger: Trigger
    settings: Settings
    entry: str | None  # first step id; None when there are no steps
    steps: Mapping[str, Step]  # id -> step, in source order
    description: str | None = None
    reenroll: Reenroll = Reenroll()
    goal: Criteria | None = None
    unenroll: Criteria | None = None
    suppress_lists: tuple[str, ...] = ()
    anchor: Anchor | None = None
    index: Index = Index()

    def step(self, step_id: str) -> Step:
        return self.steps[step_id]

    @property
    def sends_email(self) -> bool:
        return any(s.kind == "send_email" for s in self.steps.values())


@attrs.frozen(kw_only=True)
class ProjectPlan:
    workflows: tuple[WorkflowPlan, ...]
    format_version: str = FORMAT_VERSION

    def workflow(self, name: str) -> WorkflowPlan:
        """The workflow with that name; KeyError if there is none."""
        for plan in self.workflows:
            if plan.name == name:
                return plan
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(w.name for w in self.workflows)


# ---------------------------------------------------------------- values


def decode_value(data: Any) -> Any:
    """A plan value as Python: dates become `date`/`datetime` (naive)/`time`.

    >>> decode_value({"date": "2026-12-24"})
    datetime.date(2026, 12, 24)
    >>> decode_value(["a", {"time": "09:00"}])
    ['a', datetime.time(9, 0)]
    """
    if isinstance(data, list):
        return [decode_value(item) for item in data]
    if isinstance(data, Mapping):
        if "date" in data:
            return dt.date.fromisoformat(str(data["date"]))
        if "datetime" in data:
            return dt.datetime.fromisoformat(str(data["datetime"]))
        if "time" in data:
            return dt.time.fromisoformat(str(data["time"]))
        if "percent" in data:
            return float(data["percent"])
        raise PlanError(f"unknown typed value {dict(data)!r}")
    return data


# ---------------------------------------------------------------- JSON out


def _sorted(data: Any) -> Any:
    """Free-form data (criteria, args) with dict keys in sorted order."""
    if isinstance(data, Mapping):
        # `op` first keeps criteria readable; every other key in sorted order.
        return {str(k): _sorted(data[k]) for k in sorted(data, key=lambda k: (k != "op", k))}
    if isinstance(data, (list, tuple)):
        return [_sorted(item) for item in data]
    return data


def _event_out(event: EventSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": event.type, "negated": event.negated}
    if event.object is not None:
        out["object"] = event.object
    if event.property is not None:
        out["property"] = event.property
    if event.from_value is not None:
        out["from"] = _sorted(event.from_value)
    if event.to_value is not None:
        out["to"] = _sorted(event.to_value)
    out["criteria"] = _sorted(event.criteria)
    return out


def _prop_out(prop: PropRef) -> dict[str, str]:
    return {"object": prop.object, "property": prop.property}


def _keys_out(keys: IndexKeys) -> dict[str, list[str]]:
    return {
        "events": sorted(keys.events),
        "properties": sorted(keys.properties),
        "lists": sorted(keys.lists),
        "workflows": sorted(keys.workflows),
    }


def _step_out(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": step.id,
        "key": step.key,
        "kind": step.kind,
        "args": _sorted(step.args),
        "next": step.next,
    }
    if step.kind == "if":
        out["branches"] = [{"criteria": _sorted(b.criteria), "target": b.target} for b in step.branches]
        out["else_target"] = step.else_target
    elif step.kind == "branch_on":
        out["cases"] = [
            {"value": _sorted(c.value), "criteria": _sorted(c.criteria), "target": c.target} for c in step.cases
        ]
        out["else_target"] = step.else_target
    elif step.kind == "split":
        out["arms"] = [{"percent": a.percent, "target": a.target} for a in step.arms]
    elif step.kind == "go_to":
        out["target"] = step.target
    out["span"] = step.span.to_json()
    return out


def workflow_to_data(plan: WorkflowPlan) -> dict[str, Any]:
    """The JSON-ready dict of one workflow plan (fixed key order)."""
    trigger = plan.trigger
    trig: dict[str, Any] = {"kind": trigger.kind}
    if trigger.kind == "filter":
        trig["criteria"] = _sorted(trigger.criteria)
    if trigger.kind == "event":
        trig["events"] = [_event_out(e) for e in trigger.events]
    if trigger.recurrence is not None:
        rec = trigger.recurrence
        trig["recurrence"] = {
            "kind": rec.kind,
            "at": rec.at,
            "days": list(rec.days),
            "day": rec.day,
        }
    trig["refinement"] = _sorted(trigger.refinement)
    anchor = None
    if plan.anchor is not None:
        anchor = {
            "property": None if plan.anchor.property is None else _prop_out(plan.anchor.property),
            "date": plan.anchor.date,
            "annually": plan.anchor.annually,
        }
    settings = plan.settings
    return {
        "name": plan.name,
        "object": plan.object,
        "source_hash": plan.source_hash,
        "span": plan.span.to_json(),
        "description": plan.description,
        "trigger": trig,
        "reenroll": {
            "mode": plan.reenroll.mode,
            "properties": [_prop_out(p) for p in plan.reenroll.properties],
        },
        "goal": _sorted(plan.goal),
        "unenroll": _sorted(plan.unenroll),
        "suppress_lists": list(plan.suppress_lists),
        "anchor": anchor,
        "settings": {
            "timezone": settings.timezone,
            "windows": [{"days": list(w.days), "start": w.start, "end": w.end} for w in settings.windows],
            "pause_dates": list(settings.pause_dates),
            "enroll_existing": settings.enroll_existing,
            "unenroll_unmet": settings.unenroll_unmet,
            "on_failure": settings.on_failure,
        },
        "index": {
            "trigger": _keys_out(plan.index.trigger),
            "goal": _keys_out(plan.index.goal),
            "unenroll": _keys_out(plan.index.unenroll),
            "suppress": _keys_out(plan.index.suppress),
        },
        "entry": plan.entry,
        "steps": {step_id: _step_out(step) for step_id, step in plan.steps.items()},
    }


def plan_to_data(plans: ProjectPlan) -> dict[str, Any]:
    return {
        "format_version": plans.format_version,
        "workflows": [workflow_to_data(w) for w in plans.workflows],
    }


def history_reads(plans: ProjectPlan) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """What the plans' criteria read from a CRM's histories: the event types of
    `has <event>` filters, and the (object type, property) pairs of `has ever been` /
    `has never been` / `updated within last`. A CRM that keeps only these histories answers every criterion
    of these plans the same (what `wfdsl simulate` does to bound its memory).

    >>> history_reads(ProjectPlan(workflows=()))
    (frozenset(), frozenset())
    """
    events: set[str] = set()
    properties: set[tuple[str, str]] = set()
    stack: list[Any] = [plan_to_data(plans)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            op = item.get("op")
            if op == "has_event" and isinstance(item.get("event"), dict):
                events.add(str(item["event"].get("type")))
            elif op in ("ever", "never", "updated_within", "not_updated_within") and "property" in item:
                properties.add((str(item.get("object")), str(item["property"])))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return frozenset(events), frozenset(properties)


def plan_to_json(plans: ProjectPlan) -> str:
    """Deterministic JSON text (two-space indent, trailing newline, no timestamps).

    >>> text = plan_to_json(ProjectPlan(workflows=()))
    >>> text
    '{\\n  "format_version": "1",\\n  "workflows": []\\n}\\n'
    >>> plan_to_json(plans_from_json(text)) == text
    True
    """
    return _dump(plan_to_data(plans), "") + "\n"


def _dump(data: Any, indent: str) -> str:
    """JSON with two-space indentation; lists of scalars (spans, days) on one line."""
    inner = indent + "  "
    if isinstance(data, dict):
        if not data:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, inner)}" for k, v in data.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(data, list):
        if all(not isinstance(v, (dict, list)) for v in data):
            return "[" + ", ".join(_dump(v, inner) for v in data) + "]"
        return "[\n" + ",\n".join(inner + _dump(v, inner) for v in data) + "\n" + indent + "]"
    return json.dumps(data, ensure_ascii=False, allow_nan=False)


# ---------------------------------------------------------------- JSON in


class _Reader:
    """Typed access to a JSON object, with `PlanError`s that say where."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise PlanError(f"{where}: expected an object, found {_kind(data)}")
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
            raise PlanError(f"{self.where}.{key}: expected a string, found {_kind(value)}")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.raw(key, None)
        if value is not None and not isinstance(value, str):
            raise PlanError(f"{self.where}.{key}: expected a string or null, found {_kind(value)}")
        return value

    def flag(self, key: str, default: Any = ...) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise PlanError(f"{self.where}.{key}: expected true or false, found {_kind(value)}")
        return value

    def seq(self, key: str, default: Any = ...) -> list[Any]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise PlanError(f"{self.where}.{key}: expected a list, found {_kind(value)}")
        return value

    def obj(self, key: str) -> _Reader:
        return _Reader(self.raw(key), f"{self.where}.{key}")

    def criteria(self, key: str) -> Criteria | None:
        value = self.raw(key, None)
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("op"), str):
            raise PlanError(f"{self.where}.{key}: expected criteria (an object with `op`)")
        check_criteria(value, f"{self.where}.{key}")
        return value


#: Argument keys each step kind must have (the rest are optional or may be null).
REQUIRED_ARGS: dict[str, tuple[str, ...]] = {
    "delay": ("duration",),
    "delay_until_date": ("base",),
    "wait_for": ("event", "timeout"),
    "branch_on": ("object", "property"),
    "send_email": ("email",),
    "set": ("object", "property", "value"),
    "clear": ("object", "property"),
    "increment": ("object", "property", "amount"),
    "copy": ("source", "target"),
    "create_task": ("title",),
    "create_record": ("object", "fields"),
    "assign_owner": ("owner",),
    "rotate_owner": ("owners",),
    "add_to_list": ("list",),
    "remove_from_list": ("list",),
    "enroll_in_workflow": ("workflow",),
    "unenroll_from_workflow": ("workflow",),
    "webhook": ("method", "url"),
    "placeholder": ("text",),
    "label": ("name",),
    "go_to": ("label",),
}

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
_Check = Callable[[Any, str], None]


def _shown(value: Any) -> str:
    """A wrong value of the right type, for a message: `'25:99'`, `9`."""
    try:
        text = repr(value)
    except ValueError:  # an int with more digits than Python prints
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "…"


def _whole(value: Any, where: str, low: int | None = None, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PlanError(f"{where}: expected a whole number, found {_kind(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"at most {high}" if low is None else f"from {low} to {high}"
        raise PlanError(f"{where}: expected a whole number {bounds}, found {_shown(value)}")
    return value


def _number(value: Any, where: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise PlanError(f"{where}: expected a number, found {_kind(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond the range of floats
        finite = False
    if not finite:
        raise PlanError(f"{where}: expected a finite number (at most about 1e308), found {_shown(value)}")


def _string(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise PlanError(f"{where}: expected a string, found {_kind(value)}")


def _flag(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise PlanError(f"{where}: expected true or false, found {_kind(value)}")


def _optional(check: _Check) -> _Check:
    """`check`, or null."""

    def optional(value: Any, where: str) -> None:
        if value is not None:
            check(value, where)

    return optional


def _one_of(*allowed: Any) -> _Check:
    def one_of(value: Any, where: str) -> None:
        if not any(value == a and type(value) is type(a) for a in allowed):
            shown = ", ".join(json.dumps(a) for a in allowed)
            found = _shown(value) if isinstance(value, (str, int)) else _kind(value)
            raise PlanError(f"{where}: expected one of {shown}, found {found}")

    return one_of


def _time_of_day(value: Any, where: str) -> None:
    """`HH:MM`, 00:00 to 23:59."""
    _string(value, where)
    if not (_TIME_RE.fullmatch(value) and int(value[:2]) <= 23 and int(value[3:]) <= 59):
        raise PlanError(f"{where}: expected a time of day HH:MM from 00:00 to 23:59, found {_shown(value)}")


def _calendar_text(pattern: re.Pattern[str], parse: Callable[[str], object], shape: str) -> _Check:
    """A check of text in `pattern` that `parse` accepts (a date that exists)."""

    def calendar_text(value: Any, where: str) -> None:
        _string(value, where)
        try:
            valid = bool(pattern.fullmatch(value)) and bool(parse(value))
        except ValueError:
            valid = False
        if not valid:
            raise PlanError(f"{where}: expected {shape}, found {_shown(value)}")

    return calendar_text


#: `YYYY-MM-DD`, a calendar date.
_date_text = _calendar_text(_DATE_RE, dt.date.fromisoformat, "a date YYYY-MM-DD")
#: `YYYY-MM-DDTHH:MM` (seconds optional), a date-time that exists.
_datetime_text = _calendar_text(_DATETIME_RE, dt.datetime.fromisoformat, "a date-time YYYY-MM-DDTHH:MM")


#: Years in which a workflow may act (schedules, fixed delays, pauses, anchors): the
#: checker's `invalid-value` bounds; near the calendar's ends time zones overflow.


def _time_to_act(check: _Check) -> _Check:
    """`check` (a date or date-time text), in the years of `ACT_YEARS`."""

    def time_to_act(value: Any, where: str) -> None:
        check(value, where)
        low, high = ACT_YEARS
        if not low <= int(value[:4]) <= high:
            raise PlanError(f"{where}: expected a time to act in the years {low} to {high}, found {_shown(value)}")

    return time_to_act


def _weekday(value: Any, where: str) -> None:
    _whole(value, where, 0, 6)


def _weekdays(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise PlanError(f"{where}: expected a list of weekdays (0-6), found {_kind(value)}")
    for i, day in enumerate(value):
        _weekday(day, f"{where}[{i}]")
    return tuple(value)


def _weekday_name(value: Any, where: str) -> None:
    _string(value, where)
    if value not in WEEKDAYS:
        raise PlanError(f"{where}: expected a weekday name (monday … sunday), found {_shown(value)}")


def _timezone(value: Any, where: str) -> None:
    _string(value, where)
    if value in ("UTC", "Etc/UTC"):
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise PlanError(
            f'{where}: expected an IANA time zone name such as "Europe/Oslo", found {_shown(value)}'
        ) from None


def _check_prop(value: Any, where: str) -> None:
    """P: `{"object": str, "property": str}`."""
    if not isinstance(value, dict):
        raise PlanError(f'{where}: expected a property ({{"object", "property"}}), found {_kind(value)}')
    for key in ("object", "property"):
        if key not in value:
            raise PlanError(f"{where}: missing field `{key}`")
        _string(value[key], f"{where}.{key}")


def _check_value(value: Any, where: str) -> None:
    """V: a typed value (a string, number, boolean, `{"date"}`, `{"datetime"}`,
    `{"time"}`, `{"percent"}`, or a list of them)."""
    stack = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, (str, bool)):
            continue
        if isinstance(item, (int, float)):
            _number(item, at)
        elif isinstance(item, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, dict) and len(item) == 1 and "date" in item:
            _date_text(item["date"], f"{at}.date")
        elif isinstance(item, dict) and len(item) == 1 and "datetime" in item:
            _datetime_text(item["datetime"], f"{at}.datetime")
        elif isinstance(item, dict) and len(item) == 1 and "time" in item:
            _time_of_day(item["time"], f"{at}.time")
        elif isinstance(item, dict) and len(item) == 1 and "percent" in item:
            _number(item["percent"], f"{at}.percent")
        else:
            raise PlanError(
                f"{at}: expected a value (a string, number, boolean, list, "
                f'{{"date"}}, {{"datetime"}}, {{"time"}} or {{"percent"}}), '
                f"found {_kind(item)}"
            )


_unit = _one_of(*DURATION_UNITS)


def _check_duration(value: Any, where: str) -> None:
    """D: `{"parts": [[amount, unit], …], "seconds": N}`, at most MAX_DURATION_SECONDS."""
    missing = [key for key in ("parts", "seconds") if not isinstance(value, dict) or key not in value]
    if missing:
        found = f"an object without `{missing[0]}`" if isinstance(value, dict) else _kind(value)
        raise PlanError(f'{where}: expected a duration ({{"parts": …, "seconds": N}}), found {found}')
    parts = value["parts"]
    if not isinstance(parts, list) or not parts:
        found = "an empty list" if parts == [] else _kind(parts)
        raise PlanError(f"{where}.parts: expected a list of [amount, unit] pairs, found {found}")
    total = 0
    for i, part in enumerate(parts):
        at = f"{where}.parts[{i}]"
        if not isinstance(part, list) or len(part) != 2:
            found = f"a list of {len(part)}" if isinstance(part, list) else _kind(part)
            raise PlanError(f"{at}: expected [amount, unit], found {found}")
        amount = _whole(part[0], f"{at}[0]", 1)
        _unit(part[1], f"{at}[1]")
        total += amount * DURATION_UNITS[part[1]]
        if total > MAX_DURATION_SECONDS:
            weeks = MAX_DURATION_SECONDS // DURATION_UNITS["week"]
            raise PlanError(f"{where}: expected at most {weeks} weeks, found a longer duration")
    seconds = _whole(value["seconds"], f"{where}.seconds")
    if seconds != total:
        raise PlanError(f"{where}.seconds: expected {total} (the parts in seconds, a day as 24 hours), found {seconds}")


def _check_event(value: Any, where: str, depth: int = 0) -> None:
    """E: an event pattern (`trigger.events`, `wait_for`, `has_event`); `depth`: how
    deep in criteria it is."""
    if not isinstance(value, dict) or "type" not in value:
        raise PlanError(f"{where}: expected an event (an object with `type`), found {_kind(value)}")
    _string(value["type"], f"{where}.type")
    if "negated" in value:
        _flag(value["negated"], f"{where}.negated")
    for key in ("object", "property"):
        if value.get(key) is not None:
            _string(value[key], f"{where}.{key}")
    for key in ("from", "to"):
        if value.get(key) is not None:
            _check_value(value[key], f"{where}.{key}")
    if value.get("criteria") is not None:
        check_criteria(value["criteria"], f"{where}.criteria", depth + 1)


#: What each criteria operand holds.
_OPERANDS: dict[str, _Check] = {
    "value": _check_value,
    "low": _check_value,
    "high": _check_value,
    "duration": _check_duration,
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
                _string(node["attribute"], f"{at}.attribute")
            elif isinstance(node.get("object"), str) and isinstance(node.get("property"), str):
                pass
            else:
                raise PlanError(f"{at}: `{op}` needs `object` and `property` (or `attribute`)")
            for key in _VALUE_KEYS[op]:
                if key not in node:
                    raise PlanError(f"{at}: `{op}` needs `{key}`")
                if key == "values":
                    if not isinstance(node[key], list):
                        raise PlanError(f"{at}.values: expected a list, found {_kind(node[key])}")
                    _check_value(node[key], f"{at}.values")
                elif op in _TEXT_OPS:
                    _string(node[key], f"{at}.{key}")
                else:
                    _OPERANDS[key](node[key], f"{at}.{key}")
        elif op in ("in_list", "enrolled_in", "reached_goal"):
            key = "list" if op == "in_list" else "workflow"
            if not isinstance(node.get(key), str):
                raise PlanError(f"{at}: `{op}` needs `{key}` (a string)")
        elif op == "has_event":
            _check_event(node.get("event"), f"{at}.event", depth + 1)
            if "negated" in node:
                _flag(node["negated"], f"{at}.negated")
            if node.get("within") is not None:
                _check_duration(node["within"], f"{at}.within")
            least = node.get("at_least")
            if least is not None and (type(least) is not int or least < 1):
                raise PlanError(f"{at}.at_least: expected a whole number of at least 1, found {_kind(least)}")


def _check_base(value: Any, where: str) -> None:
    """The `base` of `delay_until_date`: `{"date"}`, `{"datetime"}` or `{"property": P}`."""
    if isinstance(value, dict) and len(value) == 1:
        if "date" in value:
            return _time_to_act(_date_text)(value["date"], f"{where}.date")
        if "datetime" in value:
            return _time_to_act(_datetime_text)(value["datetime"], f"{where}.datetime")
        if "property" in value:
            return _check_prop(value["property"], f"{where}.property")
    raise PlanError(f'{where}: expected {{"date"}}, {{"datetime"}} or {{"property"}}, found {_kind(value)}')


def _check_fields(value: Any, where: str) -> None:
    """The `fields` of `create_record`: `[{"name": str, "value": V}, …]`."""
    if not isinstance(value, list):
        raise PlanError(f"{where}: expected a list of fields, found {_kind(value)}")
    for i, field in enumerate(value):
        r = _Reader(field, f"{where}[{i}]")
        r.text("name")
        _check_value(r.raw("value"), f"{where}[{i}].value")


def _check_owners(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise PlanError(f"{where}: expected a list of owners, found {_kind(value)}")
    _check_value(value, where)


_TEXT = _string
_OPT_TEXT = _optional(_string)
_OPT_DURATION = _optional(_check_duration)
_OPT_TIME = _optional(_time_of_day)

#: How each argument of each step kind is checked when a plan is read (`STEP_ARGS`).
#: Arguments a kind does not list are kept as they are and not used.
ARG_CHECKS: dict[str, dict[str, _Check]] = {
    "delay": {"duration": _check_duration},
    "delay_until_day": {"day": _optional(_weekday_name), "weekday": _optional(_weekday), "at": _OPT_TIME},
    "delay_until_date": {"base": _check_base, "sign": _one_of(1, -1), "offset": _OPT_DURATION, "at": _OPT_TIME},
    "delay_until_anchor": {"side": _optional(_one_of("before", "after")), "offset": _OPT_DURATION, "at": _OPT_TIME},
    "wait_for": {"event": _check_event, "timeout": _check_duration},
    "branch_on": {"object": _TEXT, "property": _TEXT},
    "send_email": {"email": _TEXT},
    "notify": {"recipient": _OPT_TEXT, "subject": _OPT_TEXT, "body": _OPT_TEXT},
    "set": {"object": _TEXT, "property": _TEXT, "value": _check_value},
    "clear": {"object": _TEXT, "property": _TEXT},
    "increment": {"object": _TEXT, "property": _TEXT, "amount": _number},
    "copy": {"source": _check_prop, "target": _check_prop},
    "create_task": {
        "title": _TEXT,
        "due": _OPT_DURATION,
        "assign_owner": _flag,
        "assignee": _OPT_TEXT,
        "notes": _OPT_TEXT,
        "priority": _OPT_TEXT,
    },
    "create_record": {"object": _TEXT, "fields": _check_fields},
    "assign_owner": {"owner": _TEXT},
    "rotate_owner": {"owners": _check_owners},
    "add_to_list": {"list": _TEXT},
    "remove_from_list": {"list": _TEXT},
    "enroll_in_workflow": {"workflow": _TEXT},
    "unenroll_from_workflow": {"workflow": _TEXT},
    "webhook": {"method": _TEXT, "url": _TEXT, "body": _OPT_TEXT},
    "placeholder": {"text": _TEXT},
    "label": {"name": _TEXT},
    "go_to": {"label": _TEXT},
}


def _kind(value: Any) -> str:
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


def _span_in(value: Any, where: str) -> Span:
    if not (
        isinstance(value, list)
        and len(value) == 5
        and isinstance(value[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
    ):
        raise PlanError(f"{where}.span: expected [file, line, col, end_line, end_col]")
    return Span.from_json(value)


def _strs(values: Iterable[Any], where: str) -> tuple[str, ...]:
    out = []
    for value in values:
        if not isinstance(value, str):
            raise PlanError(f"{where}: expected strings, found {_kind(value)}")
        out.append(value)
    return tuple(out)


def _prop_in(data: Any, where: str) -> PropRef:
    r = _Reader(data, where)
    return PropRef(object=r.text("object"), property=r.text("property"))


def _event_in(data: Any, where: str) -> EventSpec:
    _check_event(data, where)
    r = _Reader(data, where)
    return EventSpec(
        type=r.text("type"),
        negated=r.flag("negated", False),
        criteria=r.criteria("criteria"),
        object=r.opt_str("object"),
        property=r.opt_str("property"),
        from_value=r.raw("from", None),
        to_value=r.raw("to", None),
    )


def _keys_in(data: Any, where: str) -> IndexKeys:
    r = _Reader(data, where)
    return IndexKeys(
        events=_strs(r.seq("events", []), f"{where}.events"),
        properties=_strs(r.seq("properties", []), f"{where}.properties"),
        lists=_strs(r.seq("lists", []), f"{where}.lists"),
        workflows=_strs(r.seq("workflows", []), f"{where}.workflows"),
    )


def _target(r: _Reader, key: str) -> str | None:
    return r.opt_str(key)


def _step_in(data: Any, where: str) -> Step:
    r = _Reader(data, where)
    kind = r.text("kind")
    if kind not in STEP_KINDS:
        raise PlanError(f"{where}.kind: unknown step kind `{kind}`")
    args = r.raw("args", {})
    if not isinstance(args, dict):
        raise PlanError(f"{where}.args: expected an object, found {_kind(args)}")
    missing = [key for key in REQUIRED_ARGS.get(kind, ()) if key not in args]
    if missing:
        raise PlanError(f"{where}.args: a `{kind}` step needs `{missing[0]}`")
    for key, check in ARG_CHECKS.get(kind, {}).items():
        if key in args:
            check(args[key], f"{where}.args.{key}")
    branches = []
    for i, item in enumerate(r.seq("branches", [])):
        b = _Reader(item, f"{where}.branches[{i}]")
        criteria = b.criteria("criteria")
        if criteria is None:
            raise PlanError(f"{where}.branches[{i}]: missing field `criteria`")
        branches.append(Branch(criteria=criteria, target=_target(b, "target")))
    cases = []
    for i, item in enumerate(r.seq("cases", [])):
        c = _Reader(item, f"{where}.cases[{i}]")
        criteria = c.criteria("criteria")
        if criteria is None:
            raise PlanError(f"{where}.cases[{i}]: missing field `criteria`")
        _check_value(c.raw("value"), f"{where}.cases[{i}].value")
        cases.append(Case(value=c.raw("value"), criteria=criteria, target=_target(c, "target")))
    arms = []
    for i, item in enumerate(r.seq("arms", [])):
        a = _Reader(item, f"{where}.arms[{i}]")
        percent = a.raw("percent")
        _number(percent, f"{where}.arms[{i}].percent")
        if not 0 < percent <= 100:
            raise PlanError(
                f"{where}.arms[{i}].percent: expected a share above 0 and at most 100, found {_shown(percent)}"
            )
        arms.append(Arm(percent=percent, target=_target(a, "target")))
    return Step(
        id=r.text("id"),
        key=r.text("key", ""),
        kind=kind,
        span=_span_in(r.raw("span"), where),
        next=_target(r, "next"),
        args=args,
        branches=tuple(branches),
        cases=tuple(cases),
        arms=tuple(arms),
        else_target=_target(r, "else_target"),
        target=_target(r, "target"),
    )


def _choice(value: str, allowed: Sequence[str], where: str) -> str:
    if value not in allowed:
        raise PlanError(f"{where}: `{value}` is not one of {', '.join(allowed)}")
    return value


def _workflow_in(data: Any, where: str) -> WorkflowPlan:
    r = _Reader(data, where)
    name = r.text("name")
    where = f"workflow {name!r}"
    t = r.obj("trigger")
    recurrence = None
    if t.raw("recurrence", None) is not None:
        rr = t.obj("recurrence")
        day = rr.raw("day", None)
        if day is not None:
            _whole(day, f"{where}.trigger.recurrence.day", 1, 31)
        kind = _choice(rr.text("kind"), RECURRENCE_KINDS, f"{where}.trigger.recurrence.kind")
        at = rr.text("at")
        (_time_to_act(_datetime_text) if kind == "once" else _time_of_day)(at, f"{where}.trigger.recurrence.at")
        recurrence = Recurrence(
            kind=kind,
            at=at,
            days=_weekdays(rr.raw("days", []), f"{where}.trigger.recurrence.days"),
            day=day,
        )
    trigger_kind = _choice(t.text("kind"), TRIGGER_KINDS, f"{where}.trigger.kind")
    needs = {"filter": "criteria", "schedule": "recurrence"}.get(trigger_kind)
    if needs is not None and t.raw(needs, None) is None:
        raise PlanError(f"{where}.trigger: a `{trigger_kind}` trigger needs `{needs}`")
    trigger = Trigger(
        kind=trigger_kind,
        criteria=t.criteria("criteria"),
        events=tuple(_event_in(e, f"{where}.trigger.events[{i}]") for i, e in enumerate(t.seq("events", []))),
        recurrence=recurrence,
        refinement=t.criteria("refinement"),
    )
    re = r.obj("reenroll") if r.has("reenroll") else _Reader({}, f"{where}.reenroll")
    reenroll = Reenroll(
        mode=_choice(re.text("mode", "none"), REENROLL_MODES, f"{where}.reenroll.mode"),
        properties=tuple(
            _prop_in(p, f"{where}.reenroll.properties[{i}]") for i, p in enumerate(re.seq("properties", []))
        ),
    )
    anchor = None
    if r.raw("anchor", None) is not None:
        a = r.obj("anchor")
        if a.raw("date", None) is not None:
            _time_to_act(_date_text)(a.raw("date"), f"{where}.anchor.date")
        anchor = Anchor(
            property=None
            if a.raw("property", None) is None
            else _prop_in(a.raw("property"), f"{where}.anchor.property"),
            date=a.opt_str("date"),
            annually=a.flag("annually", False),
        )
    s = r.obj("settings") if r.has("settings") else _Reader({}, f"{where}.settings")
    windows = []
    for i, item in enumerate(s.seq("windows", [])):
        at = f"{where}.settings.windows[{i}]"
        w = _Reader(item, at)
        start, end = w.text("start"), w.text("end")
        _time_of_day(start, f"{at}.start")
        _time_of_day(end, f"{at}.end")
        if end <= start:
            raise PlanError(f"{at}.end: expected a time after `start` ({start}), found {end!r}")
        windows.append(Window(days=_weekdays(w.raw("days"), f"{at}.days"), start=start, end=end))
    timezone = s.text("timezone", "UTC")
    _timezone(timezone, f"{where}.settings.timezone")
    pause_dates = _strs(s.seq("pause_dates", []), f"{where}.settings.pause_dates")
    for i, day in enumerate(pause_dates):
        _time_to_act(_date_text)(day, f"{where}.settings.pause_dates[{i}]")
    settings = Settings(
        timezone=timezone,
        windows=tuple(windows),
        pause_dates=pause_dates,
        enroll_existing=s.flag("enroll_existing", False),
        unenroll_unmet=s.flag("unenroll_unmet", False),
        on_failure=_choice(s.text("on_failure", "continue"), ("continue", "stop"), f"{where}.settings.on_failure"),
    )
    ix = r.obj("index") if r.has("index") else _Reader({}, f"{where}.index")
    index = Index(
        trigger=_keys_in(ix.raw("trigger", {}), f"{where}.index.trigger"),
        goal=_keys_in(ix.raw("goal", {}), f"{where}.index.goal"),
        unenroll=_keys_in(ix.raw("unenroll", {}), f"{where}.index.unenroll"),
        suppress=_keys_in(ix.raw("suppress", {}), f"{where}.index.suppress"),
    )
    raw_steps = r.raw("steps")
    if not isinstance(raw_steps, dict):
        raise PlanError(f"{where}.steps: expected an object of steps by id")
    steps: dict[str, Step] = {}
    for step_id, raw in raw_steps.items():
        step = _step_in(raw, f"{where}.steps[{step_id!r}]")
        if step.id != step_id:
            raise PlanError(f"{where}.steps[{step_id!r}]: its `id` is {step.id!r}")
        steps[step_id] = step
    entry = r.opt_str("entry")
    for ref in [entry, *(t for s_ in steps.values() for t in (*s_.targets(), s_.next))]:
        if ref is not None and ref not in steps:
            raise PlanError(f"{where}: step id {ref!r} is referenced but not defined")
    description = r.opt_str("description")
    return WorkflowPlan(
        name=name,
        object=r.text("object"),
        source_hash=r.text("source_hash"),
        span=_span_in(r.raw("span"), where),
        description=description,
        trigger=trigger,
        reenroll=reenroll,
        goal=r.criteria("goal"),
        unenroll=r.criteria("unenroll"),
        suppress_lists=_strs(r.seq("suppress_lists", []), f"{where}.suppress_lists"),
        anchor=anchor,
        settings=settings,
        entry=entry,
        steps=steps,
        index=index,
    )


def plans_from_data(data: Any) -> ProjectPlan:
    """A `ProjectPlan` from decoded JSON data; raises PlanError."""
    r = _Reader(data, "plan")
    version = r.raw("format_version", None)
    if version != FORMAT_VERSION:
        shown = "missing" if version is None else repr(version)
        raise PlanError(
            f"plan format_version is {shown}; this version of wfdsl reads "
            f"format_version {FORMAT_VERSION!r} (recompile the workflows with `wfdsl compile`)"
        )
    workflows = tuple(_workflow_in(w, f"plan.workflows[{i}]") for i, w in enumerate(r.seq("workflows")))
    names = [w.name for w in workflows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PlanError(f"plan: workflow {duplicates[0]!r} appears more than once")
    return ProjectPlan(workflows=workflows, format_version=FORMAT_VERSION)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def plans_from_json(text: str | bytes) -> ProjectPlan:
    """Read a plan written by `plan_to_json`; raises PlanError for anything malformed.

    >>> try:
    ...     plans_from_json('{"format_version": "9", "workflows": []}')
    ... except PlanError as error:
    ...     print(str(error)[:30])
    plan format_version is '9'; th
    """
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise PlanError(f"plan is not valid JSON: {error}") from None
    except UnicodeDecodeError as error:  # pragma: no cover - ValueError subclass
        raise PlanError(f"plan is not UTF-8: {error}") from None
    return plans_from_data(data)
