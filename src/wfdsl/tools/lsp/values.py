"""The values of editor analysis, without protocol types: 0-based positions and ranges
(characters counted in code points), and the answers (diagnostics by file,
hovers, completions, locations, symbols, edits) that the server converts.

>>> offset_at("ab\\ncd", Pos(1, 1)), pos_at("ab\\ncd", 4)
(4, Pos(line=1, char=1))
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from wfdsl.diagnostics import Diagnostic
from wfdsl.spans import Span

# ---------------------------------------------------------------- positions


@attrs.frozen
class Pos:
    """A 0-based line and character (code points)."""

    line: int
    char: int


@attrs.frozen
class Range:
    start: Pos
    end: Pos


def span_range(span: Span) -> Range:
    """A span (1-based, end exclusive) as a 0-based range."""
    return Range(
        Pos(max(0, span.line - 1), max(0, span.col - 1)),
        Pos(max(0, span.end_line - 1), max(0, span.end_col - 1)),
    )


def contains(span: Span, line: int, col: int) -> bool:
    """Whether 1-based (line, col) is inside the span or just after its end."""
    return (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col)


def offset_at(text: str, pos: Pos) -> int:
    """The index in `text` of a position, clamped to the text."""
    lines = text.split("\n")
    line = min(max(pos.line, 0), len(lines) - 1)
    start = sum(len(item) + 1 for item in lines[:line])
    return start + min(max(pos.char, 0), len(lines[line]))


def pos_at(text: str, offset: int) -> Pos:
    offset = min(max(offset, 0), len(text))
    line = text.count("\n", 0, offset)
    return Pos(line, offset - (text.rfind("\n", 0, offset) + 1))


def text_in(text: str, rng: Range) -> str:
    return text[offset_at(text, rng.start) : offset_at(text, rng.end)]


# ---------------------------------------------------------------- results


@attrs.frozen(kw_only=True)
class LintResult:
    """A project's diagnostics: every file of the project (empty tuples included)."""

    root: str | None
    files: Mapping[str, tuple[Diagnostic, ...]]
    problem: str | None = None  # a configuration that could not be used


@attrs.frozen(kw_only=True)
class Hover:
    markdown: str
    range: Range


@attrs.frozen(kw_only=True)
class Completion:
    """One proposal; `kind` is keyword, property, event, attribute, workflow, list, object or value."""

    label: str
    kind: str
    detail: str | None = None
    documentation: str | None = None
    replace: Range | None = None  # the text the proposal replaces (else the word at the cursor)


@attrs.frozen(kw_only=True)
class Location:
    path: str
    range: Range


@attrs.frozen(kw_only=True)
class Symbol:
    """`kind`: workflow, trigger, clause or step."""

    name: str
    kind: str
    range: Range
    selection: Range
    detail: str | None = None
    children: tuple[Symbol, ...] = ()


@attrs.frozen(kw_only=True)
class Edit:
    range: Range
    text: str
