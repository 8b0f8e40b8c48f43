"""AST: the frozen, keyword-only node classes the syntax layer produces.

Every node carries a required `span`. Children are named fields, never
positions. Values keep their source text where the text matters (numbers,
dates, times) so that the checker can report a bad `2026-13-45` and the
formatter can write back what the author wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Union

import attrs

from wfdsl.spans import Span

node = attrs.frozen(kw_only=True)


@node
class Node:
    span: Span

    def children(self) -> Iterator[Node]:
        """The direct child nodes, in field order."""
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, depth first, in source order."""
        stack: list[Node] = [self]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(list(current.children())))


# ---------------------------------------------------------------- values


@node
class Name(Node):
    """A bare identifier: an object type, a field of `create deal { … }`."""

    value: str


@node
class Variable(Node):
    """A `{{ contact.firstname }}` data token inside a string."""

    path: tuple[str, ...]


@node
class StringLit(Node):
    value: str
    variables: tuple[Variable, ...] = ()


@node
class NumberLit(Node):
    text: str

    @property
    def value(self) -> int | float:
        return float(self.text) if "." in self.text else int(self.text)


@node
class BoolLit(Node):
    value: bool


@node
class DateLit(Node):
    text: str


@node
class TimeLit(Node):
    text: str


@node
class DateTimeLit(Node):
    text: str


@node
class PercentLit(Node):
    text: str  # without the `%`

    @property
    def value(self) -> float:
        return float(self.text)


@node
class ListLit(Node):
    items: tuple[Value, ...]


Value = Union[StringLit, NumberLit, BoolLit, DateLit, TimeLit, DateTimeLit, PercentLit, ListLit]


@node
class DurationPart(Node):
    amount: str  # source text; the checker requires a positive whole number
    unit: str  # canonical singular: minute, hour, day, week


@node
class Duration(Node):
    parts: tuple[DurationPart, ...]


@node
class PropertyRef(Node):
    """`contact.email`, `deal.amount`; inside event criteria `form` or `url.path`."""

    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


# ---------------------------------------------------------------- events


@node
class EventRef(Node):
    """`form.submitted` or `form.submitted(form = "Demo")`."""

    name: str
    name_span: Span
    criteria: Criteria | None = None


@node
class PropertyChange(Node):
    """`contact.city changed [from v] [to v]` (the `property.changed` event)."""

    prop: PropertyRef
    from_value: Value | None = None
    to_value: Value | None = None


Event = Union[EventRef, PropertyChange]


# ---------------------------------------------------------------- criteria


@node
class Or(Node):
    items: tuple[Criteria, ...]


@node
class And(Node):
    items: tuple[Criteria, ...]


@node
class Not(Node):
    item: Criteria


@node
class Compare(Node):
    prop: PropertyRef
    op: str  # = != < <= > >=
    value: Value


@node
class IsKnown(Node):
    prop: PropertyRef
    known: bool


@node
class InValues(Node):
    prop: PropertyRef
    values: ListLit
    negated: bool


@node
class Between(Node):
    prop: PropertyRef
    low: Value
    high: Value


@node
class TextMatch(Node):
    prop: PropertyRef
    op: str  # contains, not_contains, starts_with, ends_with
    value: StringLit


@node
class HistoryMatch(Node):
    """`P has ever been v` (ever=True) / `P has never been v` (ever=False)."""

    prop: PropertyRef
    ever: bool
    value: Value


@node
class DateCompare(Node):
    prop: PropertyRef
    op: str  # before, after
    value: Value


@node
class RelativeDate(Node):
    prop: PropertyRef
    op: str  # within_last, within_next, more_than_ago
    duration: Duration


@node
class InList(Node):
    """`in list "Name"`; `not in list "Name"` is `Not(InList)`."""

    name: StringLit


@node
class EnrolledIn(Node):
    workflow: StringLit


@node
class ReachedGoal(Node):
    workflow: StringLit


@node
class HasEvent(Node):
    event: Event
    negated: bool
    within: Duration | None = None


@node
class Received(Node):
    """`received` — the outcome of the preceding `wait for`."""


Criteria = Union[
    Or, And, Not, Compare, IsKnown, InValues, Between, TextMatch, HistoryMatch,
    DateCompare, RelativeDate, InList, EnrolledIn, ReachedGoal, HasEvent, Received,
]


# ---------------------------------------------------------------- triggers


@node
class ManualTrigger(Node):
    explicit: bool = True


@node
class FilterTrigger(Node):
    criteria: Criteria


@node
class TriggerEvent(Node):
    event: Event
    negated: bool = False


@node
class EventTrigger(Node):
    events: tuple[TriggerEvent, ...]
    refinement: Criteria | None = None


@node
class Daily(Node):
    at: TimeLit


@node
class Weekly(Node):
    days: tuple[Name, ...]
    at: TimeLit


@node
class Monthly(Node):
    day: NumberLit
    at: TimeLit


@node
class Once(Node):
    at: DateTimeLit


Recurrence = Union[Daily, Weekly, Monthly, Once]


@node
class ScheduleTrigger(Node):
    recurrence: Recurrence
    refinement: Criteria | None = None


Trigger = Union[ManualTrigger, FilterTrigger, EventTrigger, ScheduleTrigger]


# ---------------------------------------------------------------- settings


@node
class DayRange(Node):
    start: str
    end: str


@node
class Day(Node):
    name: str


@node
class TimezoneSetting(Node):
    name: StringLit


@node
class ExecuteSetting(Node):
    days: tuple[DayRange | Day, ...]
    start: TimeLit
    end: TimeLit


@node
class PauseSetting(Node):
    dates: tuple[DateLit, ...]


@node
class EnrollExistingSetting(Node):
    pass


@node
class UnenrollUnmetSetting(Node):
    pass


@node
class OnFailureSetting(Node):
    mode: str  # continue, stop


Setting = Union[
    TimezoneSetting, ExecuteSetting, PauseSetting, EnrollExistingSetting,
    UnenrollUnmetSetting, OnFailureSetting,
]


# ---------------------------------------------------------------- steps


@node
class Block(Node):
    steps: tuple[Step, ...]


@node
class Delay(Node):
    duration: Duration


@node
class DelayUntilDay(Node):
    """`delay until monday at 09:00`; `delay until 09:00` has `day=None`."""

    day: str | None
    at: TimeLit | None


@node
class DelayUntilDate(Node):
    """`delay until 2026-12-24 at 09:00`, `delay until contact.renewal_date - 7 days`."""

    base: DateLit | DateTimeLit | PropertyRef
    sign: str | None  # "+" or "-" when an offset is given
    offset: Duration | None
    at: TimeLit | None


@node
class DelayUntilAnchor(Node):
    """`delay until anchor`, `delay until 30 days before anchor at 09:00`."""

    offset: Duration | None
    side: str | None  # before, after
    at: TimeLit | None


@node
class WaitFor(Node):
    event: Event
    timeout: Duration


@node
class IfBranch(Node):
    condition: Criteria
    body: Block


@node
class If(Node):
    branches: tuple[IfBranch, ...]
    else_body: Block | None = None


@node
class BranchCase(Node):
    value: Value
    body: Block


@node
class BranchOn(Node):
    prop: PropertyRef
    cases: tuple[BranchCase, ...]
    else_body: Block | None = None


@node
class SplitArm(Node):
    percent: PercentLit
    body: Block


@node
class Split(Node):
    arms: tuple[SplitArm, ...]


@node
class SendEmail(Node):
    email: StringLit


@node
class Notify(Node):
    recipient: StringLit | None  # None: the record's owner
    subject: StringLit | None = None
    body: StringLit | None = None


@node
class SetProperty(Node):
    prop: PropertyRef
    value: Value


@node
class ClearProperty(Node):
    prop: PropertyRef


@node
class Increment(Node):
    prop: PropertyRef
    amount: NumberLit


@node
class CopyProperty(Node):
    source: PropertyRef
    target: PropertyRef


@node
class CreateTask(Node):
    title: StringLit
    due: Duration | None = None
    assign_owner: bool = False
    assignee: StringLit | None = None
    notes: StringLit | None = None
    priority: str | None = None


@node
class Field(Node):
    name: Name
    value: Value


@node
class CreateRecord(Node):
    object_type: Name
    fields: tuple[Field, ...]


@node
class AssignOwner(Node):
    owner: StringLit


@node
class RotateOwner(Node):
    owners: ListLit


@node
class AddToList(Node):
    name: StringLit


@node
class RemoveFromList(Node):
    name: StringLit


@node
class EnrollInWorkflow(Node):
    workflow: StringLit


@node
class UnenrollFromWorkflow(Node):
    workflow: StringLit


@node
class Webhook(Node):
    method: str
    url: StringLit
    body: StringLit | None = None


@node
class Placeholder(Node):
    text: StringLit


@node
class Label(Node):
    name: StringLit


@node
class GoTo(Node):
    target: StringLit


@node
class End(Node):
    pass


Step = Union[
    Delay, DelayUntilDay, DelayUntilDate, DelayUntilAnchor, WaitFor, If, BranchOn,
    Split, SendEmail, Notify, SetProperty, ClearProperty, Increment, CopyProperty,
    CreateTask, CreateRecord, AssignOwner, RotateOwner, AddToList, RemoveFromList,
    EnrollInWorkflow, UnenrollFromWorkflow, Webhook, Placeholder, Label, GoTo, End,
]

DATE_CENTRED_DELAYS = (DelayUntilAnchor,)


# ---------------------------------------------------------------- clauses


@node
class ObjectClause(Node):
    type: Name


@node
class DescriptionClause(Node):
    text: StringLit


@node
class EnrollClause(Node):
    trigger: Trigger


@node
class ReenrollClause(Node):
    every_time: bool
    properties: tuple[PropertyRef, ...] = ()


@node
class GoalClause(Node):
    criteria: Criteria


@node
class SuppressClause(Node):
    lists: tuple[StringLit, ...]


@node
class UnenrollClause(Node):
    criteria: Criteria


@node
class SettingsClause(Node):
    settings: tuple[Setting, ...]


@node
class AnchorClause(Node):
    target: PropertyRef | DateLit
    annually: bool


@node
class StepsClause(Node):
    body: Block


Clause = Union[
    ObjectClause, DescriptionClause, EnrollClause, ReenrollClause, GoalClause,
    SuppressClause, UnenrollClause, SettingsClause, AnchorClause, StepsClause,
]

#: Clause keyword for each clause class, in the order `wfdsl fmt` writes them.
CLAUSE_ORDER: tuple[tuple[type[Node], str], ...] = (
    (ObjectClause, "object"),
    (DescriptionClause, "description"),
    (AnchorClause, "anchor"),
    (EnrollClause, "enroll"),
    (ReenrollClause, "reenroll"),
    (GoalClause, "goal"),
    (SuppressClause, "suppress"),
    (UnenrollClause, "unenroll"),
    (SettingsClause, "settings"),
    (StepsClause, "steps"),
)


# ---------------------------------------------------------------- files


@node
class Workflow(Node):
    name: StringLit
    clauses: tuple[Clause, ...]

    def first(self, kind: type[Node]) -> Node | None:
        """The first clause of a kind, or None."""
        for clause in self.clauses:
            if isinstance(clause, kind):
                return clause
        return None

    @property
    def object_type(self) -> str | None:
        clause = self.first(ObjectClause)
        return clause.type.value if isinstance(clause, ObjectClause) else None

    @property
    def trigger(self) -> Trigger:
        """The (first) enrollment trigger; no `enroll` clause means manual."""
        clause = self.first(EnrollClause)
        if isinstance(clause, EnrollClause):
            return clause.trigger
        return ManualTrigger(span=self.name.span, explicit=False)

    @property
    def steps(self) -> tuple[Step, ...]:
        clause = self.first(StepsClause)
        return clause.body.steps if isinstance(clause, StepsClause) else ()

    @property
    def settings(self) -> tuple[Setting, ...]:
        clause = self.first(SettingsClause)
        return clause.settings if isinstance(clause, SettingsClause) else ()


@node
class Comment(Node):
    text: str  # including the leading `#`


@node
class Module(Node):
    """One parsed `.wf` file."""

    path: str
    workflows: tuple[Workflow, ...]
    comments: tuple[Comment, ...] = ()
