"""Syntax screening: the text before parsing, the AST after, checked against the limits.

Control characters, nesting deeper than `MAX_NESTING` and numbers longer
than `MAX_DIGITS` are found by cheap scans before Lark sees the text (so
later stages, which recurse, never meet them); `not` nested too deep is found
on the AST.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from wfdsl.diagnostics import Diagnostic
from wfdsl.limits import MAX_DIGITS, MAX_NESTING
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n

#: (tab, line feed, carriage return and form feed are whitespace).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x0B: "VT", 0x1B: "ESC", 0x7F: "DEL"}
#: At most this many control characters are reported one by one.
_MAX_CONTROL_REPORTS = 20


def control_problems(text: str, path: str) -> tuple[list[Diagnostic], str]:
    """A `syntax` diagnostic for each control character (the first few), and the text
    with a space in place of each."""
    problems: list[Diagnostic] = []
    for match in CONTROL.finditer(text):
        if len(problems) == _MAX_CONTROL_REPORTS:
            break
        at = match.start()
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        code = ord(match.group())
        name = _CONTROL_NAMES.get(code)
        shown = f"U+{code:04X}" + (f" ({name})" if name else "")
        problems.append(
            Diagnostic.of(
                "syntax",
                f"found the control character {shown}; expected printable text (in strings and comments too)",
                Span(file=path, line=line, col=col, end_line=line, end_col=col + 1),
                hint="remove it; in a string write a line break as `\\n` and a tab as `\\t`",
            )
        )
    return problems, CONTROL.sub(" ", text)


_NESTING_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[{}()]')


def nesting_problem(text: str, path: str) -> Diagnostic | None:
    """A diagnostic when braces or parentheses nest deeper than MAX_NESTING."""
    if text.count("{") + text.count("(") <= MAX_NESTING:
        return None
    depth = 0
    for match in _NESTING_SCAN.finditer(text):
        token = match.group()
        if token in "{(":
            depth += 1
            if depth > MAX_NESTING:
                at = match.start()
                line = text.count("\n", 0, at) + 1
                col = at - (text.rfind("\n", 0, at) + 1) + 1
                span = Span(file=path, line=line, col=col, end_line=line, end_col=col + 1)
                return Diagnostic.of(
                    "nesting-too-deep",
                    f"found blocks or parentheses nested {depth} deep; expected at most {MAX_NESTING}",
                    span,
                    hint="split the workflow, or use `go to` and labels instead of deeper nesting",
                )
        elif token in "})":
            depth = max(0, depth - 1)
    return None


_LONG_DIGITS = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
_DIGIT_SCAN = re.compile(rf'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|\d{{{MAX_DIGITS + 1},}}')


def long_number_problem(text: str, path: str) -> Diagnostic | None:
    """A diagnostic for a number with more than MAX_DIGITS digits (outside strings and comments)."""
    if _LONG_DIGITS.search(text) is None:
        return None
    for match in _DIGIT_SCAN.finditer(text):
        token = match.group()
        if token[0].isdigit():
            at = match.start()
            line = text.count("\n", 0, at) + 1
            col = at - (text.rfind("\n", 0, at) + 1) + 1
            span = Span(file=path, line=line, col=col, end_line=line, end_col=col + len(token))
            return Diagnostic.of(
                "invalid-value",
                f"found a number with {len(token)} digits; expected at most {MAX_DIGITS}",
                span,
            )
    return None


def not_nesting_problem(workflows: Iterable[n.Node], text: str) -> Diagnostic | None:
    """A diagnostic when `not` is applied more than MAX_NESTING times along one path.

    `not not … x` needs no parentheses, so the text scan cannot see it; later
    stages recurse over criteria, so the depth is bounded here (iteratively).
    """
    stack: list[tuple[n.Node, int]] = [(w, 0) for w in workflows]
    while stack:
        node, nots = stack.pop()
        if isinstance(node, n.Not):
            nots += 1
            if nots > MAX_NESTING:
                return Diagnostic.of(
                    "nesting-too-deep",
                    f"found `not` nested {nots} deep; expected at most {MAX_NESTING}",
                    node.span,
                    hint="`not not x` means `x`: remove doubled `not`s, or split the criteria",
                )
        stack.extend((child, nots) for child in node.children())
    return None
