"""Syntax error recovery: a text that failed to parse in, its workflow blocks parsed one by one out.

Workflow blocks start with `workflow "` at the start of a line (or at brace
depth 0). After a syntax error each block is parsed on its own so that one
broken workflow does not hide problems, or valid workflows, in the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from wfdsl.diagnostics import Diagnostic
from wfdsl.syntax import nodes as n
from wfdsl.syntax.errors import BLOCK_SCAN, SyntaxProblem

#: Parses one text (a whole file or one padded block); raises `SyntaxProblem`.
ParseOne = Callable[[str, str], tuple[list[n.Workflow], list[n.Comment]]]

_BLOCK_START = r'[ \t]*workflow\s*"'


def block_starts(text: str) -> list[int]:
    """Where each workflow block of `text` starts."""
    starts: list[int] = []
    depth = 0
    block_start = re.compile(_BLOCK_START)
    for match in re.finditer(BLOCK_SCAN, text):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth = max(0, depth - 1)
        elif token == "workflow":
            line_start = text.rfind("\n", 0, match.start()) + 1
            at_line_start = (
                block_start.match(text, line_start) is not None and not text[line_start : match.start()].strip()
            )
            if depth == 0 or at_line_start:
                starts.append(match.start())
                depth = 0
    return starts


def parse_blockwise(
    text: str, path: str, parse_one: ParseOne
) -> tuple[list[n.Workflow], list[n.Comment], list[Diagnostic]]:
    """Parse each workflow block of `text` alone with `parse_one` (after the whole
    failed): the blocks that parse, their comments, and a diagnostic per broken block."""
    starts = block_starts(text)
    if (
        not starts
        or starts[0] != 0
        and text[: starts[0]].strip(" \t\r\n")
        and not all(line.strip().startswith("#") or not line.strip() for line in text[: starts[0]].splitlines())
    ):
        starts = [0, *starts]
    bounds = list(zip(starts, [*starts[1:], len(text)], strict=False))
    workflows: list[n.Workflow] = []
    comments: list[n.Comment] = []
    diagnostics: list[Diagnostic] = []
    lines_before = 0  # newlines before `begin`, counted once along the text
    counted = 0
    for begin, end in bounds:
        lines_before += text.count("\n", counted, begin)
        counted = begin
        # Pad so that lines and columns stay those of the whole file.
        padded = "\n" * lines_before + " " * (begin - (text.rfind("\n", 0, begin) + 1))
        try:
            found, found_comments = parse_one(padded + text[begin:end], path)
        except SyntaxProblem as problem:
            diagnostics.append(problem.diagnostic)
            continue
        workflows.extend(found)
        comments.extend(found_comments)
    if not diagnostics:  # the whole failed but every block alone parsed: report the whole
        try:
            parse_one(text, path)
        except SyntaxProblem as problem:
            diagnostics.append(problem.diagnostic)
    return workflows, comments, diagnostics
