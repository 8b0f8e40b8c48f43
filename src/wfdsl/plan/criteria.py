"""Plan criteria: one frozen class per criterion kind, and the event pattern and duration they hold.

A criterion is what a trigger's filter, a goal, an unenroll or suppression
condition, an `if` branch, a `branch on` case, a trigger's refinement and an
event's attribute filter hold. Its JSON form (docs/plans.md) is an object whose
`op` names the kind; `Criterion.op` is that name. Leaves that read a property
name it by `object` and `property`, or, inside an event's criteria, by
`attribute`. Typed values (`value`, `values`, `low`, `high`, `from`, `to`)
stay JSON trees (`wfdsl.plan.model.decode_value` reads them).

>>> Compare(op="ge", object="contact", property="score", value=50).target
'contact.score'
"""

from __future__ import annotations

import builtins
from typing import Any, ClassVar

import attrs

__all__ = [
    "CRITERION_CLASSES",
    "AllOf",
    "AnyOf",
    "Between",
    "Compare",
    "Criterion",
    "Duration",
    "EnrolledIn",
    "EventSpec",
    "HasEvent",
    "History",
    "InList",
    "InValues",
    "Leaf",
    "Known",
    "Not",
    "ReachedGoal",
    "Received",
    "RelativeDate",
    "TextMatch",
    "Updated",
]


@attrs.frozen(kw_only=True)
class Duration:
    """`1 day 6 hours`: `parts` keep the calendar meaning (a day in a delay is a
    calendar day in the workflow time zone); `seconds` counts a day as 24 hours."""

    parts: tuple[tuple[int, str], ...]
    seconds: int


@attrs.frozen(kw_only=True)
class EventSpec:
    """One event pattern: a trigger group, a `wait for`, or the event of `has …`.

    `type` is the catalog name (`form.submitted`) or `property.changed`, which
    has `object`/`property` and optionally `from_value`/`to_value` (None: any).
    `criteria` is event-attribute criteria (bare attribute names), or None.
    """

    type: str
    negated: bool = False
    criteria: Criterion | None = None
    object: str | None = None
    property: str | None = None
    from_value: Any = None
    to_value: Any = None


class Criterion:
    """A criterion of any kind; `op` is the name of its kind in plan JSON."""

    __slots__ = ()
    #: The `op` values this class stands for (the first is its default).
    OPS: ClassVar[tuple[str, ...]] = ()
    op: str


@attrs.frozen(kw_only=True)
class AllOf(Criterion):
    """`a and b …` (`op: and`)."""

    OPS: ClassVar[tuple[str, ...]] = ("and",)
    items: tuple[Criterion, ...]
    op: str = "and"


@attrs.frozen(kw_only=True)
class AnyOf(Criterion):
    """`a or b …` (`op: or`)."""

    OPS: ClassVar[tuple[str, ...]] = ("or",)
    items: tuple[Criterion, ...]
    op: str = "or"


@attrs.frozen(kw_only=True)
class Not(Criterion):
    """`not a` (`op: not`)."""

    OPS: ClassVar[tuple[str, ...]] = ("not",)
    item: Criterion
    op: str = "not"


@attrs.frozen(kw_only=True)
class Leaf(Criterion):
    """A criterion on one property (`object`, `property`) or event attribute (`attribute`)."""

    op: str
    object: str | None = None
    property: str | None = None
    attribute: str | None = None

    @builtins.property  # the field `property` shadows the builtin in this class
    def target(self) -> str:
        """`contact.score`, or the attribute's name."""
        if self.attribute is not None:
            return self.attribute
        return f"{self.object}.{self.property}"


@attrs.frozen(kw_only=True)
class Compare(Leaf):
    """`P = v`, `P < v`, … and `P is before/after d` (`op`: eq ne lt le gt ge before after)."""

    OPS: ClassVar[tuple[str, ...]] = ("eq", "ne", "lt", "le", "gt", "ge", "before", "after")
    op: str
    value: Any


@attrs.frozen(kw_only=True)
class Known(Leaf):
    """`P is known` / `P is unknown` (`op`: known, unknown)."""

    OPS: ClassVar[tuple[str, ...]] = ("known", "unknown")
    op: str


@attrs.frozen(kw_only=True)
class InValues(Leaf):
    """`P in [...]` / `P not in [...]` (`op`: in, not_in)."""

    OPS: ClassVar[tuple[str, ...]] = ("in", "not_in")
    op: str
    values: Any


@attrs.frozen(kw_only=True)
class Between(Leaf):
    """`P between low and high` (`op: between`)."""

    OPS: ClassVar[tuple[str, ...]] = ("between",)
    low: Any
    high: Any
    op: str = "between"


@attrs.frozen(kw_only=True)
class TextMatch(Leaf):
    """`P contains "x"`, … (`op`: contains not_contains starts_with ends_with)."""

    OPS: ClassVar[tuple[str, ...]] = ("contains", "not_contains", "starts_with", "ends_with")
    op: str
    value: str


@attrs.frozen(kw_only=True)
class History(Leaf):
    """`P has ever been v` / `P has never been v` (`op`: ever, never)."""

    OPS: ClassVar[tuple[str, ...]] = ("ever", "never")
    op: str
    value: Any


@attrs.frozen(kw_only=True)
class RelativeDate(Leaf):
    """`P is within last/next D`, `P is more than D ago` (`op`: within_last within_next more_than_ago)."""

    OPS: ClassVar[tuple[str, ...]] = ("within_last", "within_next", "more_than_ago")
    op: str
    duration: Duration


@attrs.frozen(kw_only=True)
class Updated(Leaf):
    """`P updated within last D` and its negation (`op`: updated_within, not_updated_within)."""

    OPS: ClassVar[tuple[str, ...]] = ("updated_within", "not_updated_within")
    op: str
    duration: Duration


@attrs.frozen(kw_only=True)
class InList(Criterion):
    """`in list "L"` (`op: in_list`)."""

    OPS: ClassVar[tuple[str, ...]] = ("in_list",)
    list: str
    op: str = "in_list"


@attrs.frozen(kw_only=True)
class EnrolledIn(Criterion):
    """`enrolled in "W"` (`op: enrolled_in`)."""

    OPS: ClassVar[tuple[str, ...]] = ("enrolled_in",)
    workflow: str
    op: str = "enrolled_in"


@attrs.frozen(kw_only=True)
class ReachedGoal(Criterion):
    """`reached goal of "W"` (`op: reached_goal`)."""

    OPS: ClassVar[tuple[str, ...]] = ("reached_goal",)
    workflow: str
    op: str = "reached_goal"


@attrs.frozen(kw_only=True)
class HasEvent(Criterion):
    """`has E`, `has not E`, with `at least N times` and `within last D` (`op: has_event`)."""

    OPS: ClassVar[tuple[str, ...]] = ("has_event",)
    event: EventSpec
    negated: bool = False
    within: Duration | None = None
    at_least: int | None = None
    op: str = "has_event"


@attrs.frozen(kw_only=True)
class Received(Criterion):
    """`received`: the event that woke the step arrived (`op: received`)."""

    OPS: ClassVar[tuple[str, ...]] = ("received",)
    op: str = "received"


#: The criterion class of each `op`.
CRITERION_CLASSES: dict[str, type[Criterion]] = {
    op: cls
    for cls in (
        AllOf,
        AnyOf,
        Not,
        Compare,
        Known,
        InValues,
        Between,
        TextMatch,
        History,
        RelativeDate,
        Updated,
        InList,
        EnrolledIn,
        ReachedGoal,
        HasEvent,
        Received,
    )
    for op in cls.OPS
}
