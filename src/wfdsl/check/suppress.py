"""Suppression comments: a project's comments and diagnostics in, the diagnostics that remain out.

`# wfdsl: ignore[name, …]` at the end of a line silences those names for the
innermost statement (workflow, clause or step) on that line; alone on a line
it silences them for the statement that starts next. `# wfdsl:
ignore-file[name, …]` silences them for the whole file. Names or codes
(`WF018`) are accepted. A suppression that silences nothing is reported as
`unused-suppression`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from wfdsl.check.context import all_steps, did_you_mean
from wfdsl.diagnostics import RULES, Diagnostic
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import ParseResult
from wfdsl.syntax.project import Project

_PATTERN = re.compile(r"#\s*wfdsl:\s*(ignore-file|ignore)\[([^\]]*)\]")
_CODES = {rule.code: name for name, rule in RULES.items()}
#: Problems in the text itself cannot be silenced: the rest of the file may not have been read.
UNSUPPRESSIBLE = frozenset({"syntax", "nesting-too-deep"})


class Suppression:
    """One `# wfdsl: ignore[…]` comment: where it is, the names it silences, the lines it
    covers, and (filled in while applying it) the names it did silence."""

    __slots__ = ("file", "first_line", "last_line", "names", "raw", "span", "used", "whole_file")

    def __init__(
        self, *, file: str, span: Span, names: tuple[str, ...], raw: tuple[str, ...], whole_file: bool
    ) -> None:
        self.file = file
        self.span = span
        self.names = names  # normalised rule names
        self.raw = raw  # as written
        self.whole_file = whole_file
        self.first_line = 0
        self.last_line = -1
        self.used: set[str] = set()

    def covers(self, diagnostic: Diagnostic) -> bool:
        if diagnostic.span.file != self.file or diagnostic.name not in self.names:
            return False
        return self.whole_file or self.first_line <= diagnostic.span.line <= self.last_line


def normalise(name: str) -> str | None:
    """A rule name for a name or a code, or None."""
    name = name.strip()
    if name in RULES:
        return name
    return _CODES.get(name.upper())


def _statements(result: ParseResult) -> list[Span]:
    spans: list[Span] = []
    for wf in result.module.workflows:
        spans.append(wf.span)
        for clause in wf.clauses:
            spans.append(clause.span)
            if isinstance(clause, n.StepsClause):
                spans.extend(step.span for step in all_steps(clause.body))
            elif isinstance(clause, n.SettingsClause):
                spans.extend(setting.span for setting in clause.settings)
    return spans


def collect(result: ParseResult) -> tuple[list[Suppression], list[Diagnostic]]:
    """The suppressions of one file, and `unused-suppression` problems with unknown names."""
    lines = result.source.split("\n")
    statements = _statements(result)
    found: list[Suppression] = []
    problems: list[Diagnostic] = []
    for comment in result.module.comments:
        for match in _PATTERN.finditer(comment.text):
            col = comment.span.col + match.start()
            span = Span(
                file=comment.span.file,
                line=comment.span.line,
                col=col,
                end_line=comment.span.line,
                end_col=col + len(match.group()),
            )
            raw = tuple(part.strip() for part in match.group(2).split(",") if part.strip())
            names: list[str] = []
            for item in raw:
                name = normalise(item)
                if name is None:
                    problems.append(
                        Diagnostic.of(
                            "unused-suppression",
                            f"found `{item}` in a suppression comment, which is not a check name; "
                            "expected a name such as `unknown-property` or a code such as `WF018`",
                            span,
                            hint=did_you_mean(item, RULES) or "see docs/checks.md for the names",
                        )
                    )
                else:
                    names.append(name)
            supp = Suppression(
                file=comment.span.file,
                span=span,
                names=tuple(dict.fromkeys(names)),
                raw=raw,
                whole_file=match.group(1) == "ignore-file",
            )
            if not supp.whole_file:
                line = comment.span.line
                text = lines[line - 1] if 0 < line <= len(lines) else ""
                trailing = bool(text[: comment.span.col - 1].strip())
                target = _target(statements, line, trailing)
                if target is not None:
                    supp.first_line, supp.last_line = target
            found.append(supp)
    return found, problems


def _target(statements: list[Span], line: int, trailing: bool) -> tuple[int, int] | None:
    if trailing:
        around = [s for s in statements if s.line <= line <= s.end_line]
        if not around:
            return None
        inner = min(around, key=lambda s: (s.end_line - s.line, -s.line))
        return inner.line, inner.end_line
    after = [s for s in statements if s.line > line]
    if not after:
        return None
    start = min(s.line for s in after)
    outer = max((s for s in after if s.line == start), key=lambda s: s.end_line)
    return outer.line, outer.end_line


def apply(project: Project, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Drop suppressed diagnostics; report suppressions that silenced nothing."""
    suppressions: list[Suppression] = []
    kept: list[Diagnostic] = []
    for result in project.files:
        found, problems = collect(result)
        suppressions.extend(found)
        diagnostics = [*diagnostics, *problems]
    for diagnostic in diagnostics:
        if diagnostic.name in UNSUPPRESSIBLE or not _silenced(diagnostic, suppressions):
            kept.append(diagnostic)
    unused = list(_unused(suppressions))
    for diagnostic in unused:
        if not _silenced(diagnostic, suppressions):
            kept.append(diagnostic)
    return kept


def _silenced(diagnostic: Diagnostic, suppressions: list[Suppression]) -> bool:
    hit = False
    for supp in suppressions:
        if supp.covers(diagnostic):
            supp.used.add(diagnostic.name)
            hit = True
    return hit


def _unused(suppressions: list[Suppression]) -> Iterator[Diagnostic]:
    for supp in suppressions:
        kind = "ignore-file" if supp.whole_file else "ignore"
        for name in supp.names:
            if name in supp.used or name == "unused-suppression":
                continue
            where = "in this file" if supp.whole_file else "on the statement it covers"
            yield Diagnostic.of(
                "unused-suppression",
                f"found `# wfdsl: {kind}[{name}]`, but no `{name}` diagnostic is reported {where}; "
                "expected a suppression to silence something",
                supp.span,
                hint="remove the suppression (or the name) from the comment",
            )
