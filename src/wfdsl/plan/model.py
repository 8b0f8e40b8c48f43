"""Plans: the compiled, plain-data form of workflows.

A plan is what the compiler produces and what the runtime executes; it never
refers to the AST. Everything in it is frozen `attrs` classes: the workflow
parts here, a class per step kind in `wfdsl.plan.steps`, a class per criterion
kind in `wfdsl.plan.criteria`. Typed values are small JSON trees (see docs/plans.md). `plan_to_json` (in
`wfdsl.plan.codec`, re-exported here) writes deterministic bytes and
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

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from wfdsl.plan.checks import CRITERIA_OPS, DURATION_UNITS, WEEKDAYS, PlanError
from wfdsl.plan.criteria import Criterion
from wfdsl.plan.steps import (
    CONTROL_STEPS,
    STEP_CLASSES,
    WAIT_STEPS,
    Arm,
    Branch,
    Case,
    Duration,
    EventSpec,
    PropRef,
    SendEmail,
    Step,
    arg_fields,
)
from wfdsl.spans import Span

#: The criteria a plan holds (any kind of `Criterion`).
Criteria = Criterion

FORMAT_VERSION = "1"

#: Every step kind, as written in plans (and in `action` history entries).
STEP_KINDS: tuple[str, ...] = tuple(STEP_CLASSES)
#: The `args` of each step kind (V: a typed value, D: a duration, P: `{"object", "property"}`,
#: E: an event as in `trigger.events`). Strings keep `{{ … }}` tokens verbatim: the
#: engine renders them when it performs the action.
STEP_ARGS: dict[str, str] = {kind: cls.doc for kind, cls in STEP_CLASSES.items()}
#: Argument keys each step kind must have (the rest are optional or may be null).
REQUIRED_ARGS: dict[str, tuple[str, ...]] = {
    kind: required
    for kind, cls in STEP_CLASSES.items()
    if (required := tuple(f.json for f in arg_fields(cls) if f.required))
}
#: Step kinds that wait (the enrollment gets a timer or waits for an event).
WAIT_KINDS: frozenset[str] = frozenset(cls.kind for cls in WAIT_STEPS)
#: Step kinds that only steer the flow.
CONTROL_KINDS: frozenset[str] = frozenset(cls.kind for cls in CONTROL_STEPS)
#: Step kinds that act on the CRM (checked against goal/unenroll first, windows apply).
ACTION_KINDS: frozenset[str] = frozenset(STEP_KINDS) - WAIT_KINDS - CONTROL_KINDS

TRIGGER_KINDS = ("manual", "filter", "event", "schedule")
REENROLL_MODES = ("none", "every_time", "on_change")
RECURRENCE_KINDS = ("daily", "weekly", "monthly", "once")

__all__ = [
    "ACTION_KINDS",
    "CONTROL_KINDS",
    "CRITERIA_OPS",
    "DURATION_UNITS",
    "FORMAT_VERSION",
    "RECURRENCE_KINDS",
    "REENROLL_MODES",
    "REQUIRED_ARGS",
    "STEP_ARGS",
    "STEP_KINDS",
    "TRIGGER_KINDS",
    "WAIT_KINDS",
    "WEEKDAYS",
    "Anchor",
    "Arm",
    "Branch",
    "Case",
    "Criteria",
    "Duration",
    "EventSpec",
    "Index",
    "IndexKeys",
    "PlanError",
    "ProjectPlan",
    "PropRef",
    "Recurrence",
    "Reenroll",
    "Settings",
    "Step",
    "Trigger",
    "Window",
    "WorkflowPlan",
    "decode_value",
    "history_reads",
    "plan_to_data",
    "plan_to_json",
    "plans_from_data",
    "plans_from_json",
    "workflow_to_data",
]


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
    """One workflow's plan. The fields are in the order plan JSON writes them."""

    name: str
    object: str
    source_hash: str  # sha256 hex of the workflow's source text
    span: Span
    description: str | None = None
    trigger: Trigger
    reenroll: Reenroll = Reenroll()
    goal: Criteria | None = None
    unenroll: Criteria | None = None
    suppress_lists: tuple[str, ...] = ()
    anchor: Anchor | None = None
    settings: Settings
    index: Index = Index()
    entry: str | None  # first step id; None when there are no steps
    steps: Mapping[str, Step]  # id -> step, in source order

    def step(self, step_id: str) -> Step:
        return self.steps[step_id]

    @property
    def sends_email(self) -> bool:
        return any(isinstance(s, SendEmail) for s in self.steps.values())


@attrs.frozen(kw_only=True)
class ProjectPlan:
    format_version: str = FORMAT_VERSION
    workflows: tuple[WorkflowPlan, ...]

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


# The codec reads and writes these classes; its functions are re-exported here
# for programs that import everything from the model.
from wfdsl.plan.codec import (  # noqa: E402
    history_reads,
    plan_to_data,
    plan_to_json,
    plans_from_data,
    plans_from_json,
    workflow_to_data,
)
