"""Syntax: a grammar rule's children in, the value its reduction makes out (a node of `build`, or a list).

A rule's reduction filters its children as Lark's parse-tree builder would and
hands them, with the span, to the `Builder` method named after the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from wfdsl.spans import Span
from wfdsl.syntax.build import Builder
from wfdsl.syntax.tokens import Token

# Lark would build a parse tree (and propagate positions into it) that a
# Transformer then walks again. Instead, each grammar rule's reduction
# builds the AST node at once: it filters the children exactly as Lark's
# child filter does (anonymous keywords out, `_rule`s inlined, `[x]`
# placeholders in), takes the span from the first and last child it was
# reduced from (keywords included: Lark's `propagate_positions` rule), and
# calls the `Builder` method named after the rule. Half the work, same result.
# The same reductions serve `lalr` (which passes the bounds it keeps beside
# its stack) and Lark's parser (whose callbacks find them in `extents`).

#: The builder of the Lark parse under way (a stack: a parse never nests today, but costs nothing to allow).
_BUILDERS: list[Builder] = []

#: Bounds of what a reduction was made from: start line and column, end line and column.
Bounds = tuple[int, int, int, int]

#: What a reduction does with a rule's children: (rule's own name, number of symbols,
#: builder method or inlined `_rule`'s name, kept children as (index, inline it,
#: placeholders before it), placeholders after them, inlined rule, `?rule` of one child).
RuleShape = tuple[str, int, str, tuple[tuple[int, bool, int], ...], int, bool, bool]

#: A grammar rule's reduction: its children, their bounds and the builder in, the value out.
Reduce = Callable[[list[Any], "Bounds | None", "Builder"], Any]


class _Inline(list):  # type: ignore[type-arg]
    """The children of an inlined `_rule`."""


def _bounds(children: list[Any], extents: dict[int, Bounds]) -> Bounds | None:
    """Start and end of what `children` were reduced from, keywords included (Lark's parser).

    Every reduce result's extent is kept in `extents` (by id, for the length
    of one parse), so a rule that passes a child through (`event_args`
    returns its criteria) still reaches to its closing parenthesis.
    """
    get = extents.get
    for child in children:
        if child.__class__ is Token:  # no subclasses: a cheaper test than isinstance, run per child
            start_line, start_col = child.line, child.column
            break
        extent = get(id(child))
        if extent is not None:
            start_line, start_col = extent[0], extent[1]
            break
    else:
        return None
    for child in reversed(children):
        if child.__class__ is Token:
            end_line, end_col = child.end_line, child.end_column
            break
        extent = get(id(child))
        if extent is not None:
            end_line, end_col = extent[2], extent[3]
            break
    else:  # pragma: no cover - a start implies an end
        return None
    return (start_line or 1, start_col or 1, end_line or 1, end_col or 1)


def reduction_shape(rule: Any) -> RuleShape:
    """A Lark rule's `RuleShape` (read from the rule's attributes; `tablegen` writes them out)."""
    options = rule.options
    expansion = rule.expansion
    empty = options.empty_indices
    if empty:
        bits = "".join(str(int(b)) for b in empty)
        nones = [len(ones) for ones in bits.split("0")]
    else:
        nones = [0] * (len(expansion) + 1)
    include: list[tuple[int, bool, int]] = []
    pending = 0
    for i, sym in enumerate(expansion):
        pending += nones[i]
        if options.keep_all_tokens or not (sym.is_term and sym.filter_out):
            include.append((i, not sym.is_term and sym.name.startswith("_"), pending))
            pending = 0
    trailing = pending + nones[len(expansion)]
    name = str(rule.alias or options.template_source or rule.origin.name)
    inline = name.startswith("_")
    expand1 = bool(options.expand1 and not rule.alias)
    return (str(rule.origin.name), len(expansion), name, tuple(include), trailing, inline, expand1)


def decode_shape(text: str) -> RuleShape:
    """A rule's shape from its line in `tables`: "origin size name kept trailing flags", where
    kept is a comma-separated list of child indices (`*` after one inlines it, `n+` before one
    puts n placeholders first) or `-`, and flags hold `i` (inlined rule) and `e` (`?rule`) or `-`.

    >>> decode_shape("event_args 3 event_args 1+1 0 -")
    ('event_args', 3, 'event_args', ((1, False, 1),), 0, False, False)
    """
    origin, size, name, kept, trailing, flags = text.split(" ")
    include: list[tuple[int, bool, int]] = []
    for item in kept.split(",") if kept != "-" else ():
        nones, _, index = item.rpartition("+")
        include.append((int(index.rstrip("*")), index.endswith("*"), int(nones or 0)))
    return (origin, int(size), name, tuple(include), int(trailing), "i" in flags, "e" in flags)


def make_reduce(shape: RuleShape) -> Reduce:
    """The reduction of a rule of `shape`."""
    _origin, size, name, include, trailing, inline, expand1 = shape
    method = None if inline else getattr(Builder, name, None)
    if method is None and not inline and not expand1:
        raise RuntimeError(f"no AST builder for grammar rule {name!r}")
    if not trailing and not any(expand or nones for _i, expand, nones in include):
        return _plain_reduce(tuple(i for i, _expand, _nones in include), size, inline, expand1, method)

    def reduce(children: list[Any], bounds: Bounds | None, builder: Builder) -> Any:
        filtered: list[Any] = []
        for i, expand, add_none in include:
            if add_none:
                filtered.extend([None] * add_none)
            if expand:
                if filtered:
                    filtered.extend(children[i])
                else:  # left recursion (`x*`): grow the child's list in place
                    filtered = children[i]
            else:
                filtered.append(children[i])
        if trailing:
            filtered.extend([None] * trailing)
        if inline:
            return filtered if isinstance(filtered, _Inline) else _Inline(filtered)
        if expand1 and len(filtered) == 1:
            return filtered[0]
        line, col, end_line, end_col = bounds or (1, 1, 1, 1)
        span = Span(file=builder.path, line=line, col=col, end_line=end_line, end_col=end_col)
        return method(builder, span, filtered)  # type: ignore[misc]

    return reduce


def passes_through(shape: RuleShape) -> bool:
    """Whether a rule of `shape` reduces to its one child as it is (`?criteria: and_expr`)."""
    _origin, size, _name, include, trailing, _inline, expand1 = shape
    return expand1 and size == 1 and include == ((0, False, 0),) and not trailing


def _plain_reduce(kept: tuple[int, ...], size: int, inline: bool, expand1: bool, method: Any) -> Reduce:
    """The reduction of a rule that keeps some children as they are (no placeholders, nothing
    inlined): most rules, made without the general filter's steps."""
    whole = kept == tuple(range(size))
    if expand1 and len(kept) == 1:
        (only,) = kept

        def passed(children: list[Any], bounds: Bounds | None, builder: Builder) -> Any:
            return children[only]

        return passed
    if inline:

        def inlined(children: list[Any], bounds: Bounds | None, builder: Builder) -> Any:
            return _Inline(children if whole else [children[i] for i in kept])

        return inlined

    def built(children: list[Any], bounds: Bounds | None, builder: Builder) -> Any:
        line, col, end_line, end_col = bounds or (1, 1, 1, 1)
        span = Span(file=builder.path, line=line, col=col, end_line=end_line, end_col=end_col)
        return method(builder, span, children if whole else [children[i] for i in kept])

    return built


def _lark_callback(reduce: Reduce) -> Callable[[list[Any]], Any]:
    def callback(children: list[Any]) -> Any:
        builder = _BUILDERS[-1]
        extents = builder.extents
        bounds = _bounds(children, extents)
        result = reduce(children, bounds, builder)
        if bounds is not None:
            extents[id(result)] = bounds
        return result

    return callback


def install_reducers(parser: Any) -> None:
    """Replace a Lark LALR parser's reduce callbacks by ones that build `nodes`, and
    make every token it shifts a `Token` of `lalr` (what the reductions expect)."""
    callbacks = parser.parser.parser.parser.callbacks
    for rule in list(callbacks):
        callbacks[rule] = _lark_callback(make_reduce(reduction_shape(rule)))
    for terminal in parser.terminals:
        callbacks[terminal.name] = Token.of_lark


@contextmanager
def building(path: str) -> Iterator[Builder]:
    """Nodes built by the reducers of Lark's parser while this is open get spans in `path`."""
    builder = Builder(path)
    _BUILDERS.append(builder)
    try:
        yield builder
    finally:
        _BUILDERS.pop()
