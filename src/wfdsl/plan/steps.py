"""Plan steps: one frozen class per step kind, its arguments as typed fields.

This module is the one list of step kinds and their arguments. Each argument
field names, in its metadata, the check its JSON form must pass when a plan is
read (`wfdsl.plan.checks`) and, where it differs, its JSON name; an argument
without a default is required. The codec (`wfdsl.plan.codec`) is generated
from these fields; tools/json_schemas.py states the same arguments as JSON
Schema (`plan.json`).

>>> step = SendEmail(id="steps.0", span=Span.from_json(["w.wf", 3, 5, 3, 21]), next=None, email="Welcome")
>>> step.kind, step.email, step.targets()
('send_email', 'Welcome', [None])
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from wfdsl.plan import checks as c
from wfdsl.plan.criteria import Criterion
from wfdsl.plan.criteria import Duration as Duration  # re-exported: step arguments
from wfdsl.plan.criteria import EventSpec as EventSpec
from wfdsl.spans import Span

#: Metadata key of a step argument: its `Arg`.
ARG = "wfdsl.plan.arg"


@attrs.frozen
class Arg:
    """How a step argument is read: the check of its JSON form, and its JSON name."""

    check: c.Check
    json: str | None = None


def arg(check: c.Check, json: str | None = None) -> dict[str, Arg]:
    """The metadata of a step argument: `email: str = attrs.field(metadata=arg(checks.string))`."""
    return {ARG: Arg(check, json)}


# ---------------------------------------------------------------- argument values


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
class DateBase:
    """The date a `delay until` counts from: a fixed `date` (`YYYY-MM-DD`), a fixed
    `datetime` (`YYYY-MM-DDTHH:MM`, naive: in the workflow time zone), or a date `property`.
    Exactly one is set."""

    date: str | None = None
    datetime: str | None = None
    property: PropRef | None = None


@attrs.frozen(kw_only=True)
class RecordField:
    """A property of a record that `create record` creates: its name and typed value."""

    name: str
    value: Any


@attrs.frozen(kw_only=True)
class Branch:
    """An `if`/`else if` branch: when `criteria` holds, continue at `target` (None: complete)."""

    criteria: Criterion
    target: str | None = None  # a hand-edited plan may leave it out


@attrs.frozen(kw_only=True)
class Case:
    """A `branch on` case: `criteria` is the compiled `P = value` test."""

    value: Any
    criteria: Criterion
    target: str | None = None


@attrs.frozen(kw_only=True)
class Arm:
    """A random-split arm with its share in percent."""

    percent: float
    target: str | None = None


# ---------------------------------------------------------------- steps


@attrs.frozen(kw_only=True)
class Step:
    """One node of the step graph; a subclass per kind holds the kind's arguments.

    `next` is the following step (None: the enrollment completes). Branching
    kinds also carry their targets: `If` has `branches` and `else_target`,
    `BranchOn` has `cases` and `else_target`, `Split` has `arms`, `GoTo`
    has `target`.

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

    #: The kind as written in plans (and in `action` history entries).
    kind: ClassVar[str] = ""
    #: The arguments, as docs/plans.md lists them (V: a typed value, D: a duration,
    #: P: `{"object", "property"}`, E: an event as in `trigger.events`).
    doc: ClassVar[str] = ""

    id: str
    span: Span
    next: str | None
    key: str = ""

    def targets(self) -> list[str | None]:
        """Every step this one can continue at (None: completion), in order."""
        return [self.next]

    # The JSON form of the arguments, made on first use of `args`.
    _args: Mapping[str, Any] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @builtins.property
    def args(self) -> Mapping[str, Any]:
        """The arguments in their JSON form (what `args` holds in plan JSON)."""
        if self._args is None:
            from wfdsl.plan.codec import args_data

            object.__setattr__(self, "_args", args_data(self))
        assert self._args is not None
        return self._args


@attrs.frozen(kw_only=True)
class Delay(Step):
    kind: ClassVar[str] = "delay"
    doc: ClassVar[str] = "duration: D"

    duration: Duration = attrs.field(metadata=arg(c.check_duration))


@attrs.frozen(kw_only=True)
class DelayUntilDay(Step):
    kind: ClassVar[str] = "delay_until_day"
    doc: ClassVar[str] = (
        "day: weekday name | null (next occurrence of `at`), weekday: 0-6 | null, at: 'HH:MM' | null (start of the day)"
    )

    day: str | None = attrs.field(default=None, metadata=arg(c.optional(c.weekday_name)))
    weekday: int | None = attrs.field(default=None, metadata=arg(c.optional(c.weekday)))
    at: str | None = attrs.field(default=None, metadata=arg(c.optional(c.time_of_day)))


@attrs.frozen(kw_only=True)
class DelayUntilDate(Step):
    kind: ClassVar[str] = "delay_until_date"
    doc: ClassVar[str] = "base: {date} | {datetime} | {property: P}, sign: 1 | -1, offset: D | null, at: 'HH:MM' | null"

    base: DateBase = attrs.field(metadata=arg(c.check_base))
    sign: int = attrs.field(default=1, metadata=arg(c.one_of(1, -1)))
    offset: Duration | None = attrs.field(default=None, metadata=arg(c.optional(c.check_duration)))
    at: str | None = attrs.field(default=None, metadata=arg(c.optional(c.time_of_day)))


@attrs.frozen(kw_only=True)
class DelayUntilAnchor(Step):
    kind: ClassVar[str] = "delay_until_anchor"
    doc: ClassVar[str] = "side: 'before' | 'after' | null, offset: D | null, at: 'HH:MM' | null"

    side: str | None = attrs.field(default=None, metadata=arg(c.optional(c.one_of("before", "after"))))
    offset: Duration | None = attrs.field(default=None, metadata=arg(c.optional(c.check_duration)))
    at: str | None = attrs.field(default=None, metadata=arg(c.optional(c.time_of_day)))


@attrs.frozen(kw_only=True)
class WaitFor(Step):
    kind: ClassVar[str] = "wait_for"
    doc: ClassVar[str] = "event: E, timeout: D"

    event: EventSpec = attrs.field(metadata=arg(c.check_event))
    timeout: Duration = attrs.field(metadata=arg(c.check_duration))


@attrs.frozen(kw_only=True)
class If(Step):
    kind: ClassVar[str] = "if"
    doc: ClassVar[str] = "(none; see `branches`, `else_target`)"

    branches: tuple[Branch, ...] = ()
    else_target: str | None = None

    def targets(self) -> list[str | None]:
        return [b.target for b in self.branches] + [self.else_target]


@attrs.frozen(kw_only=True)
class BranchOn(Step):
    kind: ClassVar[str] = "branch_on"
    doc: ClassVar[str] = "object, property (see `cases`, `else_target`)"

    object: str = attrs.field(metadata=arg(c.string))
    property: str = attrs.field(metadata=arg(c.string))
    cases: tuple[Case, ...] = ()
    else_target: str | None = None

    def targets(self) -> list[str | None]:
        return [case.target for case in self.cases] + [self.else_target]


@attrs.frozen(kw_only=True)
class Split(Step):
    kind: ClassVar[str] = "split"
    doc: ClassVar[str] = "(none; see `arms`)"

    arms: tuple[Arm, ...] = ()

    def targets(self) -> list[str | None]:
        return [a.target for a in self.arms]


@attrs.frozen(kw_only=True)
class SendEmail(Step):
    kind: ClassVar[str] = "send_email"
    doc: ClassVar[str] = "email: str"

    email: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class Notify(Step):
    kind: ClassVar[str] = "notify"
    doc: ClassVar[str] = "recipient: str | null (the record's owner), subject: str | null, body: str | null"

    recipient: str | None = attrs.field(default=None, metadata=arg(c.optional(c.string)))
    subject: str | None = attrs.field(default=None, metadata=arg(c.optional(c.string)))
    body: str | None = attrs.field(default=None, metadata=arg(c.optional(c.string)))


@attrs.frozen(kw_only=True)
class SetProperty(Step):
    kind: ClassVar[str] = "set"
    doc: ClassVar[str] = "object, property, value: V"

    object: str = attrs.field(metadata=arg(c.string))
    property: str = attrs.field(metadata=arg(c.string))
    value: Any = attrs.field(metadata=arg(c.check_value))


@attrs.frozen(kw_only=True)
class ClearProperty(Step):
    kind: ClassVar[str] = "clear"
    doc: ClassVar[str] = "object, property"

    object: str = attrs.field(metadata=arg(c.string))
    property: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class Increment(Step):
    kind: ClassVar[str] = "increment"
    doc: ClassVar[str] = "object, property, amount: number"

    object: str = attrs.field(metadata=arg(c.string))
    property: str = attrs.field(metadata=arg(c.string))
    amount: int | float = attrs.field(metadata=arg(c.number))


@attrs.frozen(kw_only=True)
class CopyProperty(Step):
    kind: ClassVar[str] = "copy"
    doc: ClassVar[str] = "source: P, target: P"

    source: PropRef = attrs.field(metadata=arg(c.check_prop))
    # `target` in JSON; the attribute is not called so: a step's `target` is a step id.
    destination: PropRef = attrs.field(metadata=arg(c.check_prop, json="target"))


@attrs.frozen(kw_only=True)
class CreateTask(Step):
    kind: ClassVar[str] = "create_task"
    doc: ClassVar[str] = (
        "title: str, due: D | null, assign_owner: bool, assignee: str | null, notes: str | null, priority: str | null"
    )

    title: str = attrs.field(metadata=arg(c.string))
    due: Duration | None = attrs.field(default=None, metadata=arg(c.optional(c.check_duration)))
    assign_owner: bool = attrs.field(default=False, metadata=arg(c.flag))
    assignee: str | None = attrs.field(default=None, metadata=arg(c.optional(c.string)))
    notes: str | None = attrs.field(default=None, metadata=arg(c.optional(c.string)))
    priority: str | None = attrs.field(default=None, metadata=arg(c.optional(c.string)))


@attrs.frozen(kw_only=True)
class CreateRecord(Step):
    kind: ClassVar[str] = "create_record"
    doc: ClassVar[str] = "object: str, fields: [{name: str, value: V}, …] (source order)"

    object: str = attrs.field(metadata=arg(c.string))
    fields: tuple[RecordField, ...] = attrs.field(metadata=arg(c.check_fields))


@attrs.frozen(kw_only=True)
class AssignOwner(Step):
    kind: ClassVar[str] = "assign_owner"
    doc: ClassVar[str] = "owner: str"

    owner: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class RotateOwner(Step):
    kind: ClassVar[str] = "rotate_owner"
    doc: ClassVar[str] = "owners: [str, …]"

    owners: tuple[Any, ...] = attrs.field(metadata=arg(c.check_owners))


@attrs.frozen(kw_only=True)
class AddToList(Step):
    kind: ClassVar[str] = "add_to_list"
    doc: ClassVar[str] = "list: str"

    list: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class RemoveFromList(Step):
    kind: ClassVar[str] = "remove_from_list"
    doc: ClassVar[str] = "list: str"

    list: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class EnrollInWorkflow(Step):
    kind: ClassVar[str] = "enroll_in_workflow"
    doc: ClassVar[str] = "workflow: str"

    workflow: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class UnenrollFromWorkflow(Step):
    kind: ClassVar[str] = "unenroll_from_workflow"
    doc: ClassVar[str] = "workflow: str"

    workflow: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class Webhook(Step):
    kind: ClassVar[str] = "webhook"
    doc: ClassVar[str] = "method: str (lower case), url: str, body: str | null"

    method: str = attrs.field(metadata=arg(c.string))
    url: str = attrs.field(metadata=arg(c.string))
    body: str | None = attrs.field(default=None, metadata=arg(c.optional(c.string)))


@attrs.frozen(kw_only=True)
class Placeholder(Step):
    kind: ClassVar[str] = "placeholder"
    doc: ClassVar[str] = "text: str"

    text: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class Label(Step):
    kind: ClassVar[str] = "label"
    doc: ClassVar[str] = "name: str"

    name: str = attrs.field(metadata=arg(c.string))


@attrs.frozen(kw_only=True)
class GoTo(Step):
    kind: ClassVar[str] = "go_to"
    doc: ClassVar[str] = "label: str (see `target`)"

    label: str = attrs.field(metadata=arg(c.string))
    target: str | None = None

    def targets(self) -> list[str | None]:
        return [self.target]


@attrs.frozen(kw_only=True)
class End(Step):
    kind: ClassVar[str] = "end"
    doc: ClassVar[str] = "(none)"

    def targets(self) -> list[str | None]:
        return []


#: Every step class by its kind, in the order docs/plans.md lists them.
STEP_CLASSES: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (
        Delay,
        DelayUntilDay,
        DelayUntilDate,
        DelayUntilAnchor,
        WaitFor,
        If,
        BranchOn,
        Split,
        SendEmail,
        Notify,
        SetProperty,
        ClearProperty,
        Increment,
        CopyProperty,
        CreateTask,
        CreateRecord,
        AssignOwner,
        RotateOwner,
        AddToList,
        RemoveFromList,
        EnrollInWorkflow,
        UnenrollFromWorkflow,
        Webhook,
        Placeholder,
        Label,
        GoTo,
        End,
    )
}

#: Step classes that wait (the enrollment gets a timer or waits for an event).
WAIT_STEPS: tuple[type[Step], ...] = (Delay, DelayUntilDay, DelayUntilDate, DelayUntilAnchor, WaitFor)
#: Step classes that only steer the flow.
CONTROL_STEPS: tuple[type[Step], ...] = (If, BranchOn, Split, Label, GoTo, End)


@attrs.frozen
class ArgField:
    """One argument of a step class: its attribute `name`, `json` name, check, and
    whether a plan must give it (`required`: the field has no default)."""

    name: str
    json: str
    check: c.Check
    required: bool
    default: Any


def arg_fields(cls: type[Step]) -> tuple[ArgField, ...]:
    """The arguments of a step class, in order (cached on first use).

    >>> [f.json for f in arg_fields(CopyProperty)]
    ['source', 'target']
    """
    found = _ARG_FIELDS.get(cls)
    if found is None:
        found = tuple(
            ArgField(
                name=f.name,
                json=f.metadata[ARG].json or f.name,
                check=f.metadata[ARG].check,
                required=f.default is attrs.NOTHING,
                default=None if f.default is attrs.NOTHING else f.default,
            )
            for f in attrs.fields(cls)
            if ARG in f.metadata
        )
        _ARG_FIELDS[cls] = found
    return found


_ARG_FIELDS: dict[type[Step], tuple[ArgField, ...]] = {}
