"""AST criteria and events: what `when`, `goal`, `if`, `only if` and `wait for` are made of.

Events and criteria refer to each other (`form.submitted(form = "Demo")`
holds criteria, `has form.submitted` holds an event). `nodes` re-exports them all.
"""

from __future__ import annotations

import attrs

from wfdsl.spans import Span
from wfdsl.syntax.values import Duration, ListLit, Node, NumberLit, PropertyRef, StringLit, Value

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
