"""AST leaves: the `Node` base class and the value nodes (literals, durations, property references).

Every node carries a required `span`. Children are named fields, never
positions. Values keep their source text where the text matters (numbers,
dates, times) so that the checker can report a bad `2026-13-45` and the
formatter can write back what the author wrote. `nodes` re-exports them all.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar, cast, dataclass_transform

from wfdsl.frozen import FrozenInstanceError
from wfdsl.spans import Span

_N = TypeVar("_N", bound="type[Node]")


# Node classes are frozen, slotted and keyword-only like attrs classes, but made by this
# small decorator: attrs generates and compiles several methods for every
# class when the module is imported, which was most of `wfdsl lint`'s start. Here
# the classes share one `__eq__`, `__hash__` and `__repr__`, and each class's
# `__init__` is generated when the class is first instantiated (a file uses a few
# dozen of the classes).
@dataclass_transform(kw_only_default=True, frozen_default=True, eq_default=True)
def node(cls: _N) -> _N:
    """Make `cls` a node class: its annotated names (after those of its base) are its fields.

    >>> @node
    ... class Pair(Node):
    ...     left: str
    ...     right: str = ""
    >>> pair = Pair(span=Span(file="f", line=1, col=1, end_line=1, end_col=2), left="a")
    >>> fields(Pair), pair.right, pair == Pair(span=pair.span, left="a")
    (('span', 'left', 'right'), '', True)
    """
    base = cls.__mro__[1]
    inherited: tuple[str, ...] = getattr(base, "_fields", ())
    annotations: dict[str, str] = cls.__dict__.get("__annotations__", {})
    own = tuple(
        name for name, kind in annotations.items() if not str(kind).startswith("ClassVar") and name not in inherited
    )
    defaults: dict[str, Any] = dict(getattr(base, "_defaults", {}))
    namespace = {key: value for key, value in cls.__dict__.items() if key not in ("__dict__", "__weakref__")}
    for name in own:
        if name in namespace:
            defaults[name] = namespace.pop(name)
    # Slots: the class is made again with them (they cannot be added to a class).
    namespace["__slots__"] = own if base is not object else (*own, "__weakref__")
    made = cast("type[Node]", type(cls.__name__, cls.__bases__, namespace))
    made._fields = *inherited, *own
    made._defaults = defaults
    # The fields that can hold nodes: not those declared as text, flags or spans.
    kept = tuple(name for name in own if annotations[name] not in _NO_NODES)
    made._child_fields = (*getattr(base, "_child_fields", ()), *kept)
    type.__setattr__(made, "__init__", _first_init)  # not `made.__init__ = …`: mypy forbids assigning methods
    return cast("_N", made)


#: Field types that never hold a node (`children` skips such fields).
_NO_NODES = frozenset({"Span", "str", "str | None", "bool", "tuple[str, ...]"})


def fields(cls: type[Node]) -> tuple[str, ...]:
    """A node class's field names, in order (`span` first).

    >>> fields(StringLit)
    ('span', 'value', 'variables')
    """
    return cls._fields


def _first_init(self: Node, **values: Any) -> None:
    """Generate the class's own `__init__` (keyword-only, defaults as declared), then run it."""
    cls = type(self)
    init = _make_init(cls)
    type.__setattr__(cls, "__init__", init)
    init(self, **values)


def _make_init(cls: type[Node]) -> Callable[..., None]:
    # Each field is stored through its slot's own setter: the classes refuse `setattr`.
    slots = {
        name: klass.__dict__[name] for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())
    }
    fields = cls._fields
    # The code of an `__init__` with as many fields, its parameters renamed to these:
    # compiling one per class was most of a first parse.
    code = _init_code(len(fields)).replace(co_varnames=("self", *fields), co_qualname=f"{cls.__qualname__}.__init__")
    setters = {f"_set{i}": slots[name].__set__ for i, name in enumerate(fields)}
    init = types.FunctionType(code, setters, "__init__")
    init.__kwdefaults__ = dict(cls._defaults) or None
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


@functools.cache
def _init_code(count: int) -> types.CodeType:
    """The code of `__init__(self, *, _0, …)` storing each argument through the setter `_set0`, …"""
    params = ", ".join(f"_{i}" for i in range(count))
    body = "".join(f"\n    _set{i}(self, _{i})" for i in range(count)) or "\n    pass"
    namespace: dict[str, Any] = {}
    exec(compile(f"def __init__(self, *, {params}):{body}", "<node>", "exec"), namespace)
    code: types.CodeType = namespace["__init__"].__code__
    return code


def _rebuild(cls: type[Node], values: dict[str, Any]) -> Node:
    return cls(**values)


@node
class Node:
    """The base of every AST node: a span, and named fields below it."""

    _fields: ClassVar[tuple[str, ...]]
    _defaults: ClassVar[dict[str, Any]]
    _child_fields: ClassVar[tuple[str, ...]]
    span: Span

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Node)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__.__name__, *self._values()))

    def __reduce__(self) -> tuple[Any, ...]:  # for copy and pickle, which would `setattr` the slots
        return _rebuild, (type(self), {name: getattr(self, name) for name in self._fields})

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"

    def children(self) -> Iterator[Node]:
        """The direct child nodes, in field order."""
        for name in self._child_fields:
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
            below = list(current.children())
            below.reverse()
            stack.extend(below)


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


Value = StringLit | NumberLit | BoolLit | DateLit | TimeLit | DateTimeLit | PercentLit | ListLit


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
