"""Frozen value classes: an annotated class in, an immutable, slotted, keyword-only class out.

The base modules' values (spans, diagnostics, the rule table, the event
catalog, schema properties) are made by this decorator rather than by attrs:
attrs generates and compiles several methods for every class when a module is
imported, and importing attrs itself was about a tenth of a cold `wfdsl lint`.
Here the classes share one `__eq__`, `__hash__`, `__repr__` (and, with
`order=True`, the comparisons), and only `__init__` is generated per class;
it stores each field through its slot's own setter, as the classes refuse
`setattr` (`FrozenInstanceError`, an AttributeError, as attrs raises).

>>> @frozen
... class Point:
...     x: int
...     y: int = 0
>>> p = Point(x=1)
>>> p, p == Point(x=1, y=0), fields(Point)
(Point(x=1, y=0), True, ('x', 'y'))
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

_C = TypeVar("_C", bound=type)


class FrozenInstanceError(AttributeError):
    """A field of a frozen instance was assigned or deleted."""

    def __init__(self) -> None:
        super().__init__("can't set attribute")


@overload
def frozen(cls: _C, /) -> _C: ...


@overload
def frozen(*, order: bool = False, eq: bool = True) -> Callable[[_C], _C]: ...


@dataclass_transform(kw_only_default=True, frozen_default=True, eq_default=True)
def frozen(cls: _C | None = None, /, *, order: bool = False, eq: bool = True) -> Any:
    """Make `cls` frozen: its annotated names (after those of its bases) are its fields.

    `eq=False` keeps identity equality and hashing (a value that holds mutable
    caches); `order=True` compares instances of one class as tuples of their fields.
    """

    def wrap(cls: _C) -> _C:
        return _make(cls, order=order, eq=eq)

    return wrap if cls is None else wrap(cls)


def fields(cls: type) -> tuple[str, ...]:
    """A frozen class's field names, in order."""
    found: tuple[str, ...] = cls.__dict__["_fields"]
    return found


def _make(cls: _C, *, order: bool, eq: bool) -> _C:
    inherited: tuple[str, ...] = getattr(cls, "_fields", ())
    annotations: dict[str, str] = cls.__dict__.get("__annotations__", {})
    own = tuple(n for n, kind in annotations.items() if not str(kind).startswith("ClassVar") and n not in inherited)
    defaults: dict[str, Any] = dict(getattr(cls, "_defaults", {}))
    namespace = {key: value for key, value in cls.__dict__.items() if key not in ("__dict__", "__weakref__")}
    for name in own:
        if name in namespace:
            defaults[name] = namespace.pop(name)
    namespace["__slots__"] = own
    namespace["_fields"] = (*inherited, *own)
    namespace["_defaults"] = defaults
    namespace["__setattr__"] = _refuse
    namespace["__delattr__"] = _refuse
    namespace["__reduce__"] = _reduce
    namespace["__repr__"] = _repr
    if eq:
        namespace["__eq__"] = _eq
        namespace["__hash__"] = _hash
    if order:
        namespace.update(__lt__=_lt, __le__=_le, __gt__=_gt, __ge__=_ge)
    made: _C = type(cls)(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    type.__setattr__(made, "__init__", _make_init(made))
    return made


def _make_init(cls: type) -> Callable[..., None]:
    names: tuple[str, ...] = cls.__dict__["_fields"]
    defaults: dict[str, Any] = cls.__dict__["_defaults"]
    slots = {name: klass.__dict__[name] for klass in cls.__mro__ for name in klass.__dict__.get("__slots__", ())}
    # The code of an `__init__` with as many fields, its parameters renamed to these
    # (compiling one per class cost more than the rest of making the class).
    qualname = f"{cls.__qualname__}.__init__"
    code = _init_code(len(names)).replace(co_varnames=("self", *names), co_qualname=qualname)
    setters = {f"_set{i}": slots[name].__set__ for i, name in enumerate(names)}
    init = types.FunctionType(code, setters, "__init__")
    init.__kwdefaults__ = dict(defaults) or None
    init.__qualname__ = qualname
    return init


@functools.cache
def _init_code(count: int) -> types.CodeType:
    """The code of `__init__(self, *, _0, …)` storing each argument through the setter `_set0`, …"""
    params = "".join(f", _{i}" for i in range(count))
    body = "".join(f"\n    _set{i}(self, _{i})" for i in range(count)) or "\n    pass"
    namespace: dict[str, Any] = {}
    source = f"def __init__(self, *{params}):{body}" if count else f"def __init__(self):{body}"
    exec(compile(source, "<frozen>", "exec"), namespace)
    code: types.CodeType = namespace["__init__"].__code__
    return code


def _values(self: Any) -> tuple[Any, ...]:
    return tuple([getattr(self, name) for name in self._fields])


def _refuse(self: Any, *args: Any) -> None:
    raise FrozenInstanceError


def _rebuild(cls: type, values: dict[str, Any]) -> Any:
    return cls(**values)


def _reduce(self: Any) -> tuple[Any, ...]:  # copy and pickle would `setattr` the slots
    return _rebuild, (type(self), {name: getattr(self, name) for name in self._fields})


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash((self.__class__.__qualname__, *_values(self)))


def _lt(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) < _values(other)


def _le(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) <= _values(other)


def _gt(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) > _values(other)


def _ge(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) >= _values(other)
