"""AST: the frozen, keyword-only node classes the syntax layer produces.

Every node carries a required `span`; children are named fields, never
positions. The value nodes (`values`) and the criteria and event nodes
(`criteria`) live in their own modules and are re-exported here, so
`from wfdsl.syntax import nodes as n` reaches every node class.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfdsl.syntax.criteria import (
    And as And,
)
from wfdsl.syntax.criteria import (
    Between as Between,
)
from wfdsl.syntax.criteria import (
    Compare as Compare,
)
from wfdsl.syntax.criteria import (
    Criteria as Criteria,
)
from wfdsl.syntax.criteria import (
    DateCompare as DateCompare,
)
from wfdsl.syntax.criteria import (
    EnrolledIn as EnrolledIn,
)
from wfdsl.syntax.criteria import (
    Event as Event,
)
from wfdsl.syntax.criteria import (
    EventRef as EventRef,
)
from wfdsl.syntax.criteria import (
    HasEvent as HasEvent,
)
from wfdsl.syntax.criteria import (
    HistoryMatch as HistoryMatch,
)
from wfdsl.syntax.criteria import (
    InList as InList,
)
from wfdsl.syntax.criteria import (
    InValues as InValues,
)
from wfdsl.syntax.criteria import (
    IsKnown as IsKnown,
)
from wfdsl.syntax.criteria import (
    Not as Not,
)
from wfdsl.syntax.criteria import (
    Or as Or,
)
from wfdsl.syntax.criteria import (
    PropertyChange as PropertyChange,
)
from wfdsl.syntax.criteria import (
    ReachedGoal as ReachedGoal,
)
from wfdsl.syntax.criteria import (
    Received as Received,
)
from wfdsl.syntax.criteria import (
    RelativeDate as RelativeDate,
)
from wfdsl.syntax.criteria import (
    TextMatch as TextMatch,
)
from wfdsl.syntax.criteria import (
    Updated as Updated,
)
from wfdsl.syntax.values import (
    BoolLit as BoolLit,
)
from wfdsl.syntax.values import (
    DateLit as DateLit,
)
from wfdsl.syntax.values import (
    DateTimeLit as DateTimeLit,
)
from wfdsl.syntax.values import (
    Duration as Duration,
)
from wfdsl.syntax.values import (
    DurationPart as DurationPart,
)
from wfdsl.syntax.values import (
    ListLit as ListLit,
)
from wfdsl.syntax.values import (
    Name as Name,
)
from wfdsl.syntax.values import (
    Node as Node,
)
from wfdsl.syntax.values import (
    NumberLit as NumberLit,
)
from wfdsl.syntax.values import (
    PercentLit as PercentLit,
)
from wfdsl.syntax.values import (
    PropertyRef as PropertyRef,
)
from wfdsl.syntax.values import (
    StringLit as StringLit,
)
from wfdsl.syntax.values import (
    TimeLit as TimeLit,
)
from wfdsl.syntax.values import (
    Value as Value,
)
from wfdsl.syntax.values import (
    Variable as Variable,
)
from wfdsl.syntax.values import (
    fields as fields,
)
from wfdsl.syntax.values import (
    node as node,
)

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


Recurrence = Daily | Weekly | Monthly | Once


@node
class ScheduleTrigger(Node):
    recurrence: Recurrence
    refinement: Criteria | None = None


Trigger = ManualTrigger | FilterTrigger | EventTrigger | ScheduleTrigger


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


Setting = (
    TimezoneSetting | ExecuteSetting | PauseSetting | EnrollExistingSetting | UnenrollUnmetSetting | OnFailureSetting
)


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


@node
class Comment(Node):
    text: str  # including the leading `#`


@node
class Module(Node):
    """One parsed `.wf` file."""

    path: str
    workflows: tuple[Workflow, ...]
    comments: tuple[Comment, ...] = ()
