"""AST criteria and events: what `when`, `goal`, `if`, `only if` and `wait for` are made of.

Events and criteria refer to each other (`form.submitted(form = "Demo")`
holds criteria, `has form.submitted` holds an event). `nodes` re-exports them all.
"""

from __future__ import annotations

from wfdsl.spans import Span
from wfdsl.syntax.values import Duration, ListLit, Node, NumberLit, PropertyRef, StringLit, Value, node

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


Event = EventRef | PropertyChange


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
    """`has <event> [at least N times] [within last D]`, `has not <event> [within last D]`."""

    event: Event
    negated: bool
    within: Duration | None = None
    at_least: NumberLit | None = None


@node
class Updated(Node):
    """`P updated within last D`; `P not updated within last D` (negated)."""

    prop: PropertyRef
    within: Duration
    negated: bool


@node
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
