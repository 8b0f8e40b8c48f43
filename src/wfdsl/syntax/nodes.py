"""AST: the frozen, keyword-only node classes the syntax layer produces.

Every node carries a required `span`. Children are named fields, never
positions. Values keep their source text where the text matters (numbers,
dates, times) so that the checker can report a bad `2026-13-45` and the
formatter can write back what the author wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from wfdsl.spans import Span

#: Per node class, the names of the fields that may hold child nodes.
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


@attrs.frozen(kw_only=True, repr=False)
class Node:
    span: Span

    # One `__repr__` for every node: attrs would generate one per class, which
    # is most of the cost of importing this module (and so of `wfdsl lint`'s start).
    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in attrs.fields(type(self)))
        return f"{type(self).__name__}({fields})"

    def children(self) -> Iterator[Node]:
        """The direct child nodes, in field order."""
        names = _CHILD_FIELDS.get(type(self))
        if names is None:  # once per class: the fields other than the span
            names = tuple(f.name for f in attrs.fields(type(self)) if f.name != "span")
            _CHILD_FIELDS[type(self)] = names
        for name in names:
            value = getattr(self, name)
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


@attrs.frozen(kw_only=True, repr=False)
class Name(Node):
    """A bare identifier: an object type, a field of `create deal { … }`."""

    value: str


@attrs.frozen(kw_only=True, repr=False)
class Variable(Node):
    """A `{{ contact.firstname }}` data token inside a string."""

    path: tuple[str, ...]


@attrs.frozen(kw_only=True, repr=False)
class StringLit(Node):
    value: str
    variables: tuple[Variable, ...] = ()


@attrs.frozen(kw_only=True, repr=False)
class NumberLit(Node):
    text: str

    @property
    def value(self) -> int | float:
        return float(self.text) if "." in self.text else int(self.text)


@attrs.frozen(kw_only=True, repr=False)
class BoolLit(Node):
    value: bool


@attrs.frozen(kw_only=True, repr=False)
class DateLit(Node):
    text: str


@attrs.frozen(kw_only=True, repr=False)
class TimeLit(Node):
    text: str


@attrs.frozen(kw_only=True, repr=False)
class DateTimeLit(Node):
    text: str


@attrs.frozen(kw_only=True, repr=False)
class PercentLit(Node):
    text: str  # without the `%`

    @property
    def value(self) -> float:
        return float(self.text)


@attrs.frozen(kw_only=True, repr=False)
class ListLit(Node):
    items: tuple[Value, ...]


Value = StringLit | NumberLit | BoolLit | DateLit | TimeLit | DateTimeLit | PercentLit | ListLit


@attrs.frozen(kw_only=True, repr=False)
class DurationPart(Node):
    amount: str  # source text; the checker requires a positive whole number
    unit: str  # canonical singular: minute, hour, day, week


@attrs.frozen(kw_only=True, repr=False)
class Duration(Node):
    parts: tuple[DurationPart, ...]


@attrs.frozen(kw_only=True, repr=False)
class PropertyRef(Node):
    """`contact.email`, `deal.amount`; inside event criteria `form` or `url.path`."""

    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


# ---------------------------------------------------------------- events


@attrs.frozen(kw_only=True, repr=False)
class EventRef(Node):
    """`form.submitted` or `form.submitted(form = "Demo")`."""

    name: str
    name_span: Span
    criteria: Criteria | None = None


@attrs.frozen(kw_only=True, repr=False)
class PropertyChange(Node):
    """`contact.city changed [from v] [to v]` (the `property.changed` event)."""

    prop: PropertyRef
    from_value: Value | None = None
    to_value: Value | None = None


Event = EventRef | PropertyChange


# ---------------------------------------------------------------- criteria


@attrs.frozen(kw_only=True, repr=False)
class Or(Node):
    items: tuple[Criteria, ...]


@attrs.frozen(kw_only=True, repr=False)
class And(Node):
    items: tuple[Criteria, ...]


@attrs.frozen(kw_only=True, repr=False)
class Not(Node):
    item: Criteria


@attrs.frozen(kw_only=True, repr=False)
class Compare(Node):
    prop: PropertyRef
    op: str  # = != < <= > >=
    value: Value


@attrs.frozen(kw_only=True, repr=False)
class IsKnown(Node):
    prop: PropertyRef
    known: bool


@attrs.frozen(kw_only=True, repr=False)
class InValues(Node):
    prop: PropertyRef
    values: ListLit
    negated: bool


@attrs.frozen(kw_only=True, repr=False)
class Between(Node):
    prop: PropertyRef
    low: Value
    high: Value


@attrs.frozen(kw_only=True, repr=False)
class TextMatch(Node):
    prop: PropertyRef
    op: str  # contains, not_contains, starts_with, ends_with
    value: StringLit


@attrs.frozen(kw_only=True, repr=False)
class HistoryMatch(Node):
    """`P has ever been v` (ever=True) / `P has never been v` (ever=False)."""

    prop: PropertyRef
    ever: bool
    value: Value


@attrs.frozen(kw_only=True, repr=False)
class DateCompare(Node):
    prop: PropertyRef
    op: str  # before, after
    value: Value


@attrs.frozen(kw_only=True, repr=False)
class RelativeDate(Node):
    prop: PropertyRef
    op: str  # within_last, within_next, more_than_ago
    duration: Duration


@attrs.frozen(kw_only=True, repr=False)
class InList(Node):
    """`in list "Name"`; `not in list "Name"` is `Not(InList)`."""

    name: StringLit


@attrs.frozen(kw_only=True, repr=False)
class EnrolledIn(Node):
    workflow: StringLit


@attrs.frozen(kw_only=True, repr=False)
class ReachedGoal(Node):
    workflow: StringLit


@attrs.frozen(kw_only=True, repr=False)
class HasEvent(Node):
    """`has <event> [at least N times] [within last D]`, `has not <event> [within last D]`."""

    event: Event
    negated: bool
    within: Duration | None = None
    at_least: NumberLit | None = None


@attrs.frozen(kw_only=True, repr=False)
class Updated(Node):
    """`P updated within last D`; `P not updated within last D` (negated)."""

    prop: PropertyRef
    within: Duration
    negated: bool


@attrs.frozen(kw_only=True, repr=False)
class Received(Node):
    """`received` — the outcome of the preceding `wait for`."""


Criteria = (
    Or
    | And
    | Not
    | Compare
    | IsKnown
    | InValues
    | Between
    | TextMatch
    | HistoryMatch
    | DateCompare
    | RelativeDate
    | InList
    | EnrolledIn
    | ReachedGoal
    | HasEvent
    | Updated
    | Received
)


# ---------------------------------------------------------------- triggers


@attrs.frozen(kw_only=True, repr=False)
class ManualTrigger(Node):
    explicit: bool = True


@attrs.frozen(kw_only=True, repr=False)
class FilterTrigger(Node):
    criteria: Criteria


@attrs.frozen(kw_only=True, repr=False)
class TriggerEvent(Node):
    event: Event
    negated: bool = False


@attrs.frozen(kw_only=True, repr=False)
class EventTrigger(Node):
    events: tuple[TriggerEvent, ...]
    refinement: Criteria | None = None


@attrs.frozen(kw_only=True, repr=False)
class Daily(Node):
    at: TimeLit


@attrs.frozen(kw_only=True, repr=False)
class Weekly(Node):
    days: tuple[Name, ...]
    at: TimeLit


@attrs.frozen(kw_only=True, repr=False)
class Monthly(Node):
    day: NumberLit
    at: TimeLit


@attrs.frozen(kw_only=True, repr=False)
class Once(Node):
    at: DateTimeLit


Recurrence = Daily | Weekly | Monthly | Once


@attrs.frozen(kw_only=True, repr=False)
class ScheduleTrigger(Node):
    recurrence: Recurrence
    refinement: Criteria | None = None


Trigger = ManualTrigger | FilterTrigger | EventTrigger | ScheduleTrigger


# ---------------------------------------------------------------- settings


@attrs.frozen(kw_only=True, repr=False)
class DayRange(Node):
    start: str
    end: str


@attrs.frozen(kw_only=True, repr=False)
class Day(Node):
    name: str


@attrs.frozen(kw_only=True, repr=False)
class TimezoneSetting(Node):
    name: StringLit


@attrs.frozen(kw_only=True, repr=False)
class ExecuteSetting(Node):
    days: tuple[DayRange | Day, ...]
    start: TimeLit
    end: TimeLit


@attrs.frozen(kw_only=True, repr=False)
class PauseSetting(Node):
    dates: tuple[DateLit, ...]


@attrs.frozen(kw_only=True, repr=False)
class EnrollExistingSetting(Node):
    pass


@attrs.frozen(kw_only=True, repr=False)
class UnenrollUnmetSetting(Node):
    pass


@attrs.frozen(kw_only=True, repr=False)
class OnFailureSetting(Node):
    mode: str  # continue, stop


Setting = (
    TimezoneSetting | ExecuteSetting | PauseSetting | EnrollExistingSetting | UnenrollUnmetSetting | OnFailureSetting
)


# ---------------------------------------------------------------- steps


@attrs.frozen(kw_only=True, repr=False)
class Block(Node):
    steps: tuple[Step, ...]


@attrs.frozen(kw_only=True, repr=False)
class Delay(Node):
    duration: Duration


@attrs.frozen(kw_only=True, repr=False)
class DelayUntilDay(Node):
    """`delay until monday at 09:00`; `delay until 09:00` has `day=None`."""

    day: str | None
    at: TimeLit | None


@attrs.frozen(kw_only=True, repr=False)
class DelayUntilDate(Node):
    """`delay until 2026-12-24 at 09:00`, `delay until contact.renewal_date - 7 days`."""

    base: DateLit | DateTimeLit | PropertyRef
    sign: str | None  # "+" or "-" when an offset is given
    offset: Duration | None
    at: TimeLit | None


@attrs.frozen(kw_only=True, repr=False)
class DelayUntilAnchor(Node):
    """`delay until anchor`, `delay until 30 days before anchor at 09:00`."""

    offset: Duration | None
    side: str | None  # before, after
    at: TimeLit | None


@attrs.frozen(kw_only=True, repr=False)
class WaitFor(Node):
    event: Event
    timeout: Duration


@attrs.frozen(kw_only=True, repr=False)
class IfBranch(Node):
    condition: Criteria
    body: Block


@attrs.frozen(kw_only=True, repr=False)
class If(Node):
    branches: tuple[IfBranch, ...]
    else_body: Block | None = None


@attrs.frozen(kw_only=True, repr=False)
class BranchCase(Node):
    value: Value
    body: Block


@attrs.frozen(kw_only=True, repr=False)
class BranchOn(Node):
    prop: PropertyRef
    cases: tuple[BranchCase, ...]
    else_body: Block | None = None


@attrs.frozen(kw_only=True, repr=False)
class SplitArm(Node):
    percent: PercentLit
    body: Block


@attrs.frozen(kw_only=True, repr=False)
class Split(Node):
    arms: tuple[SplitArm, ...]


@attrs.frozen(kw_only=True, repr=False)
class SendEmail(Node):
    email: StringLit


@attrs.frozen(kw_only=True, repr=False)
class Notify(Node):
    recipient: StringLit | None  # None: the record's owner
    subject: StringLit | None = None
    body: StringLit | None = None


@attrs.frozen(kw_only=True, repr=False)
class SetProperty(Node):
    prop: PropertyRef
    value: Value


@attrs.frozen(kw_only=True, repr=False)
class ClearProperty(Node):
    prop: PropertyRef


@attrs.frozen(kw_only=True, repr=False)
class Increment(Node):
    prop: PropertyRef
    amount: NumberLit


@attrs.frozen(kw_only=True, repr=False)
class CopyProperty(Node):
    source: PropertyRef
    target: PropertyRef


@attrs.frozen(kw_only=True, repr=False)
class CreateTask(Node):
    title: StringLit
    due: Duration | None = None
    assign_owner: bool = False
    assignee: StringLit | None = None
    notes: StringLit | None = None
    priority: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class Field(Node):
    name: Name
    value: Value


@attrs.frozen(kw_only=True, repr=False)
class CreateRecord(Node):
    object_type: Name
    fields: tuple[Field, ...]


@attrs.frozen(kw_only=True, repr=False)
class AssignOwner(Node):
    owner: StringLit


@attrs.frozen(kw_only=True, repr=False)
class RotateOwner(Node):
    owners: ListLit


@attrs.frozen(kw_only=True, repr=False)
class AddToList(Node):
    name: StringLit


@attrs.frozen(kw_only=True, repr=False)
class RemoveFromList(Node):
    name: StringLit


@attrs.frozen(kw_only=True, repr=False)
class EnrollInWorkflow(Node):
    workflow: StringLit


@attrs.frozen(kw_only=True, repr=False)
class UnenrollFromWorkflow(Node):
    workflow: StringLit


@attrs.frozen(kw_only=True, repr=False)
class Webhook(Node):
    method: str
    url: StringLit
    body: StringLit | None = None


@attrs.frozen(kw_only=True, repr=False)
class Placeholder(Node):
    text: StringLit


@attrs.frozen(kw_only=True, repr=False)
class Label(Node):
    name: StringLit


@attrs.frozen(kw_only=True, repr=False)
class GoTo(Node):
    target: StringLit


@attrs.frozen(kw_only=True, repr=False)
class End(Node):
    pass


Step = (
    Delay
    | DelayUntilDay
    | DelayUntilDate
    | DelayUntilAnchor
    | WaitFor
    | If
    | BranchOn
    | Split
    | SendEmail
    | Notify
    | SetProperty
    | ClearProperty
    | Increment
    | CopyProperty
    | CreateTask
    | CreateRecord
    | AssignOwner
    | RotateOwner
    | AddToList
    | RemoveFromList
    | EnrollInWorkflow
    | UnenrollFromWorkflow
    | Webhook
    | Placeholder
    | Label
    | GoTo
    | End
)

DATE_CENTRED_DELAYS = (DelayUntilAnchor,)


# ---------------------------------------------------------------- clauses


@attrs.frozen(kw_only=True, repr=False)
class ObjectClause(Node):
    type: Name


@attrs.frozen(kw_only=True, repr=False)
class DescriptionClause(Node):
    text: StringLit


@attrs.frozen(kw_only=True, repr=False)
class EnrollClause(Node):
    trigger: Trigger


@attrs.frozen(kw_only=True, repr=False)
class ReenrollClause(Node):
    every_time: bool
    properties: tuple[PropertyRef, ...] = ()


@attrs.frozen(kw_only=True, repr=False)
class GoalClause(Node):
    criteria: Criteria


@attrs.frozen(kw_only=True, repr=False)
class SuppressClause(Node):
    lists: tuple[StringLit, ...]


@attrs.frozen(kw_only=True, repr=False)
class UnenrollClause(Node):
    criteria: Criteria


@attrs.frozen(kw_only=True, repr=False)
class SettingsClause(Node):
    settings: tuple[Setting, ...]


@attrs.frozen(kw_only=True, repr=False)
class AnchorClause(Node):
    target: PropertyRef | DateLit
    annually: bool


@attrs.frozen(kw_only=True, repr=False)
class StepsClause(Node):
    body: Block


Clause = (
    ObjectClause
    | DescriptionClause
    | EnrollClause
    | ReenrollClause
    | GoalClause
    | SuppressClause
    | UnenrollClause
    | SettingsClause
    | AnchorClause
    | StepsClause
)

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


@attrs.frozen(kw_only=True, repr=False)
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
        """The enrollment trigger; no `enroll` clause means manual.

        Several `enroll` clauses of one kind are one trigger when that loses
        nothing: `enroll when` clauses are OR-ed (HubSpot's filter groups),
        `enroll on` clauses without `only if` list their events together, and
        `enroll manually` twice is manual. Otherwise (kinds mixed, schedules, an
        `only if` among several event clauses: the `multiple-triggers` check)
        this is the first clause's trigger.
        """
        found = [c.trigger for c in self.clauses if isinstance(c, EnrollClause)]
        if not found:
            return ManualTrigger(span=self.name.span, explicit=False)
        return combine_triggers(found) or found[0]

    @property
    def steps(self) -> tuple[Step, ...]:
        clause = self.first(StepsClause)
        return clause.body.steps if isinstance(clause, StepsClause) else ()

    @property
    def settings(self) -> tuple[Setting, ...]:
        clause = self.first(SettingsClause)
        return clause.settings if isinstance(clause, SettingsClause) else ()


def combine_triggers(found: Sequence[Trigger]) -> Trigger | None:
    """The one trigger that several `enroll` clauses make, or None when they cannot
    be one without losing something (`Workflow.trigger`; the `multiple-triggers` check).

    `enroll when` clauses are OR-ed, `enroll on` clauses without `only if` list their
    events together, manual ones stay manual."""
    first = found[0]
    if len(found) == 1 or all(isinstance(t, ManualTrigger) for t in found):
        return first
    filters = [t for t in found if isinstance(t, FilterTrigger)]
    if len(filters) == len(found):
        items = tuple(
            item for t in filters for item in (t.criteria.items if isinstance(t.criteria, Or) else (t.criteria,))
        )
        return FilterTrigger(span=first.span, criteria=Or(span=first.span, items=items))
    events = [t for t in found if isinstance(t, EventTrigger) and t.refinement is None]
    if len(events) == len(found):
        return EventTrigger(span=first.span, events=tuple(e for t in events for e in t.events))
    return None


@attrs.frozen(kw_only=True, repr=False)
class Comment(Node):
    text: str  # including the leading `#`


@attrs.frozen(kw_only=True, repr=False)
class Module(Node):
    """One parsed `.wf` file."""

    path: str
    workflows: tuple[Workflow, ...]
    comments: tuple[Comment, ...] = ()
