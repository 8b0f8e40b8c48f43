"""AST leaves: the `Node` base class and the value nodes (literals, durations, property references).

Every node carries a required `span`. Children are named fields, never
positions. Values keep their source text where the text matters (numbers,
dates, times) so that the checker can report a bad `2026-13-45` and the
formatter can write back what the author wrote. `nodes` re-exports them all.
"""

from __future__ import annotations

from collections.abc import Iterator

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
