"""Formatter: `.wf` text in, the same program in the one canonical layout out.

`format_source` parses the text, refuses to format it when it has syntax
problems (it returns the diagnostics instead), and otherwise prints the AST
back: two-space indentation, one clause per line in the order of
`nodes.CLAUSE_ORDER`, long criteria broken before `or`/`and`, canonical
string escapes and duration units, minimal parentheses. Comments are attached
to the statement they precede or trail on the same line and move with it.
The output parses to the same AST, spans aside (`same_ast`). The text of each
value, criterion, setting and step comes from `printers`; this module lays it
out in lines and places the comments.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import attrs

from wfdsl.diagnostics import Diagnostic
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import parse
from wfdsl.tools.printers import (
    anchor_text,
    criteria_text,
    duration_text,
    event_text,
    operand,
    quote,
    recurrence_text,
    reenroll_text,
    setting_text,
    step_text,
    trigger_event_text,
    value_text,
)

# The printers were first defined here; they stay importable from here.
__all__ = [
    "INDENT",
    "LINE_WIDTH",
    "ast_key",
    "comment_texts",
    "criteria_lines",
    "criteria_text",
    "duration_text",
    "event_text",
    "format_module",
    "format_source",
    "line_ending",
    "quote",
    "same_ast",
    "step_text",
    "value_text",
]

#: Lines longer than this have their criteria broken before `or` / `and`.
LINE_WIDTH = 80
INDENT = "  "

#: Blank-line groups of clauses: a blank line separates clauses of different groups.
_CLAUSE_GROUP: dict[type[n.Node], int] = {
    n.ObjectClause: 0,
    n.DescriptionClause: 0,
    n.AnchorClause: 0,
    n.EnrollClause: 1,
    n.ReenrollClause: 1,
    n.GoalClause: 2,
    n.SuppressClause: 3,
    n.UnenrollClause: 3,
    n.SettingsClause: 4,
    n.StepsClause: 5,
}
_CLAUSE_RANK: dict[type[n.Node], int] = {cls: i for i, (cls, _kw) in enumerate(n.CLAUSE_ORDER)}


# ---------------------------------------------------------------- public API


def format_source(text: str, path: str = "<string>") -> str | tuple[Diagnostic, ...]:
    """The canonical text of a file, or its syntax diagnostics when it does not parse.

    >>> print(format_source('workflow "W" { steps { delay 1 days } object contact }'), end="")
    workflow "W" {
      object contact
    <BLANKLINE>
      steps {
        delay 1 day
      }
    }
    >>> [d.name for d in format_source('workflow "W" {', "w.wf")]
    ['syntax']

    Line endings are the file's own: a text whose first line ends in `\\r\\n`
    comes back with `\\r\\n` throughout (as ruff's and Black's `auto`):

    >>> format_source('workflow "W" {\\r\\n object contact steps { end } }\\r\\n').count("\\r\\n")
    7
    """
    newline = line_ending(text)
    if newline != "\n":
        text = text.replace(newline, "\n")
    result = parse(text, path)
    if result.diagnostics:
        return result.diagnostics
    out = format_module(result.module, text)
    return out if newline == "\n" else out.replace("\n", newline)


def line_ending(text: str) -> str:
    """The line ending a file uses: that of its first line (`\\n` when it has none).

    >>> line_ending("a\\r\\nb\\n"), line_ending("a\\nb\\r\\n"), line_ending("a")
    ('\\r\\n', '\\n', '\\n')
    """
    end = text.find("\n")
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def format_module(module: n.Module, source: str) -> str:
    """Print a parsed module (and its comments, placed by `source`) canonically."""
    return _Printer(module, source).run()


def ast_key(value: object) -> object:
    """A comparable form of an AST: spans left out, each workflow's clauses in canonical order.

    Clauses may come in any order and the formatter sorts them
    (stably, so repeated clauses keep their order): that is not a change of
    meaning, so the key sorts them too.
    """
    if isinstance(value, n.Workflow):
        clauses = sorted(value.clauses, key=lambda c: _CLAUSE_RANK[type(c)])
        return ("Workflow", (("name", ast_key(value.name)), ("clauses", ast_key(tuple(clauses)))))
    if isinstance(value, n.Node):
        fields = tuple(
            (name, ast_key(getattr(value, name)))
            for name in n.fields(type(value))
            if not isinstance(getattr(value, name), Span)
        )
        return (type(value).__name__, fields)
    if isinstance(value, tuple):
        return tuple(ast_key(item) for item in value)
    return value


def same_ast(a: n.Node | Sequence[n.Node], b: n.Node | Sequence[n.Node]) -> bool:
    """Whether two ASTs are equal, spans and the order of clauses aside.

    >>> x = parse('workflow "W" { object contact steps { end } }').module.workflows
    >>> y = parse('workflow "W" {\\n  object   contact\\n  steps { end }\\n}').module.workflows
    >>> same_ast(x, y)
    True
    """
    return ast_key(tuple(a) if not isinstance(a, n.Node) else a) == ast_key(
        tuple(b) if not isinstance(b, n.Node) else b
    )


# ---------------------------------------------------------------- values and criteria


def criteria_lines(head: str, criteria: n.Node, indent: int, tail: str = "", *, hanging: int = 1) -> list[str]:
    """`head` + criteria + `tail` as lines, broken before `or`/`and` when too long.

    The first line starts at `indent` levels; continuation lines `hanging`
    levels deeper (two for `if` conditions, so they stand apart from the
    block's steps); an `and` chain inside a broken `or` breaks one level
    deeper still. Parenthesised groups are never broken.
    """
    pad = INDENT * indent
    flat = f"{pad}{head}{criteria_text(criteria)}{tail}"
    if len(flat) <= LINE_WIDTH or not isinstance(criteria, (n.Or, n.And)):
        return [flat]
    pieces = _chain_pieces(criteria, indent + hanging)
    lines = [f"{pad}{head}{pieces[0][1]}"]
    lines.extend(f"{INDENT * level}{text}" for level, text in pieces[1:])
    lines[-1] += tail
    return lines


def _chain_pieces(criteria: n.Or | n.And, level: int) -> list[tuple[int, str]]:
    """(indent level, text) pieces of a broken chain; the first piece has no indent of its own."""
    word, parent = ("or", 1) if isinstance(criteria, n.Or) else ("and", 2)
    pieces: list[tuple[int, str]] = []
    for i, item in enumerate(criteria.items):
        prefix = "" if i == 0 else f"{word} "
        item_level = level
        text = operand(item, parent)
        if isinstance(item, n.And) and parent == 1 and len(INDENT * item_level + prefix + text) > LINE_WIDTH:
            inner = _chain_pieces(item, level + 1)
            pieces.append((item_level, prefix + inner[0][1]))
            pieces.extend(inner[1:])
            continue
        pieces.append((item_level, prefix + text))
    return pieces


# ---------------------------------------------------------------- statements and comments


@attrs.define(eq=False)
class _Stmt:
    """One thing the printer writes: a clause, setting, step, block header or closing brace.

    `start`/`end` are its extent in the source (line, col); comments are
    attached to statements by those positions.
    """

    start: tuple[int, int]
    end: tuple[int, int]
    leading: list[n.Comment] = attrs.field(factory=list)
    trailing: list[n.Comment] = attrs.field(factory=list)


def _begin(span: Span) -> tuple[int, int]:
    return (span.line, span.col)


def _finish(span: Span) -> tuple[int, int]:
    return (span.end_line, span.end_col)


class _Printer:
    def __init__(self, module: n.Module, source: str) -> None:
        self.module = module
        self.source = source
        self.lines = source.split("\n")
        self.stmts: dict[tuple[str, int], _Stmt] = {}
        self.out: list[str] = []

    # -- source helpers
    def _blank_before(self, line: int, col: int = 1) -> bool:
        """Whether the thing at `line`, `col` starts its line and the source line above is blank."""
        if not 2 <= line <= len(self.lines) or self.lines[line - 1][: col - 1].strip():
            return False
        return not self.lines[line - 2].strip()

    def _scan(self, pos: tuple[int, int], char: str) -> tuple[int, int]:
        """The position of the next `char` at or after `pos`, skipping blanks and comments."""
        line, col = pos
        while line <= len(self.lines):
            text = self.lines[line - 1]
            i = col - 1
            while i < len(text):
                c = text[i]
                if c == "#":
                    break
                if text.startswith(char, i):
                    return (line, i + 1)
                i += 1
            line, col = line + 1, 1
        return pos  # pragma: no cover - the parser saw the character

    # -- statement registry
    def _stmt(self, key: str, node: object, start: tuple[int, int], end: tuple[int, int]) -> None:
        self.stmts[(key, id(node))] = _Stmt(start=start, end=end)

    def _get(self, key: str, node: object) -> _Stmt:
        return self.stmts[(key, id(node))]

    def _collect(self) -> None:
        """Register every statement with its source extent."""
        for wf in self.module.workflows:
            self._stmt("head", wf, _begin(wf.span), _after(self._scan(_finish(wf.name.span), "{")))
            self._stmt("close", wf, _closing(wf.span), _finish(wf.span))
            for clause in wf.clauses:
                if isinstance(clause, n.SettingsClause):
                    brace = self._scan(_begin(clause.span), "{")
                    self._stmt("head", clause, _begin(clause.span), _after(brace))
                    self._stmt("close", clause, _closing(clause.span), _finish(clause.span))
                    for setting in clause.settings:
                        self._stmt("stmt", setting, _begin(setting.span), _finish(setting.span))
                elif isinstance(clause, n.StepsClause):
                    self._stmt("head", clause, _begin(clause.span), _after(_begin(clause.body.span)))
                    self._collect_block(clause.body)
                else:
                    self._stmt("stmt", clause, _begin(clause.span), _finish(clause.span))

    def _collect_block(self, block: n.Block) -> None:
        self._stmt("close", block, _closing(block.span), _finish(block.span))
        for step in block.steps:
            self._collect_step(step)

    def _collect_step(self, step: n.Node) -> None:
        if isinstance(step, n.If):
            first = step.branches[0]
            self._stmt("head", first, _begin(step.span), _after(_begin(first.body.span)))
            self._collect_block(first.body)
            previous = first.body
            for branch in step.branches[1:]:
                self._stmt("head", branch, _closing(previous.span), _after(_begin(branch.body.span)))
                self._collect_block(branch.body)
                previous = branch.body
            if step.else_body is not None:
                self._stmt(
                    "head",
                    step.else_body,
                    _closing(previous.span),
                    _after(_begin(step.else_body.span)),
                )
                self._collect_block(step.else_body)
        elif isinstance(step, n.BranchOn):
            brace = self._scan(_finish(step.prop.span), "{")
            self._stmt("head", step, _begin(step.span), _after(brace))
            self._stmt("close", step, _closing(step.span), _finish(step.span))
            after = _after(brace)
            for case in step.cases:
                self._stmt("head", case, _begin(case.span), _after(_begin(case.body.span)))
                self._collect_block(case.body)
                after = _finish(case.body.span)
            if step.else_body is not None:
                word = self._scan(after, "else")
                self._stmt("head", step.else_body, word, _after(_begin(step.else_body.span)))
                self._collect_block(step.else_body)
        elif isinstance(step, n.Split):
            brace = self._scan(_begin(step.span), "{")
            self._stmt("head", step, _begin(step.span), _after(brace))
            self._stmt("close", step, _closing(step.span), _finish(step.span))
            for arm in step.arms:
                self._stmt("head", arm, _begin(arm.span), _after(_begin(arm.body.span)))
                self._collect_block(arm.body)
        else:
            self._stmt("stmt", step, _begin(step.span), _finish(step.span))

    def _attach_comments(self) -> list[n.Comment]:
        """Give each comment to a statement; return the ones left for the end of the file."""
        ordered = sorted(self.stmts.values(), key=lambda s: (s.start, s.end))
        starts = [s.start for s in ordered]
        by_end_line: dict[int, list[_Stmt]] = {}
        for stmt in ordered:
            by_end_line.setdefault(stmt.end[0], []).append(stmt)
        rest: list[n.Comment] = []
        for comment in self.module.comments:
            pos = _begin(comment.span)
            line_text = self.lines[pos[0] - 1] if pos[0] <= len(self.lines) else ""
            if line_text[: pos[1] - 1].strip():
                before = [s for s in by_end_line.get(pos[0], []) if s.end <= pos]
                if before:
                    max(before, key=lambda s: s.end).trailing.append(comment)
                    continue
            index = bisect.bisect_right(starts, pos)
            # Header extents do not nest: only the last statement starting before
            # the comment can hold it.
            if index and pos < ordered[index - 1].end:
                ordered[index - 1].leading.append(comment)
                continue
            if index < len(ordered):
                ordered[index].leading.append(comment)
            else:
                rest.append(comment)
        return rest

    # -- output
    def run(self) -> str:
        self._collect()
        rest = self._attach_comments()
        for i, wf in enumerate(self.module.workflows):
            head = self._get("head", wf)
            if i:
                self.out.append("")
            self._leading(head, 0, first=not self.out, blank_after_comments=True)
            self._emit(0, [f"workflow {value_text(wf.name)} {{"], head)
            self._workflow_body(wf)
            close = self._get("close", wf)
            self._leading(close, 1, first=False, blank_after_comments=False)
            self._emit(0, ["}"], close)
        for comment in rest:
            if self._blank_before(*_begin(comment.span)):
                self._blank()
            self.out.append(_comment_text(comment))
        return "\n".join(self.out) + "\n" if self.out else ""

    def _emit(self, level: int, lines: list[str], stmt: _Stmt) -> None:
        """Write a statement's lines (bare text gets `level`'s indent) and its trailing comments."""
        pad = INDENT * level
        out = [line if line.startswith(pad) else pad + line for line in lines]
        if stmt.trailing:
            out[-1] += "  " + "  ".join(_comment_text(c) for c in stmt.trailing)
        self.out.extend(out)

    def _leading(
        self,
        stmt: _Stmt,
        level: int,
        *,
        first: bool,
        blank_after_comments: bool = True,
    ) -> None:
        """The statement's leading comments, keeping the source's blank lines (at most one)."""
        pad = INDENT * level
        for k, comment in enumerate(stmt.leading):
            if self._blank_before(*_begin(comment.span)) and not (first and k == 0):
                self._blank()
            self.out.append(pad + _comment_text(comment))
        if stmt.leading and blank_after_comments and self._blank_before(*stmt.start):
            self._blank()

    def _blank(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    def _workflow_body(self, wf: n.Workflow) -> None:
        clauses = sorted(wf.clauses, key=lambda c: _CLAUSE_RANK[type(c)])
        group = None
        for clause in clauses:
            stmt = self._get("head" if isinstance(clause, (n.SettingsClause, n.StepsClause)) else "stmt", clause)
            this_group = _CLAUSE_GROUP[type(clause)]
            if group is not None and this_group != group:
                self._blank()
            self._leading(stmt, 1, first=True)
            group = this_group
            self._clause(clause, stmt)

    def _clause(self, clause: n.Node, stmt: _Stmt) -> None:
        level = 1
        if isinstance(clause, n.ObjectClause):
            self._emit(level, [f"object {clause.type.value}"], stmt)
        elif isinstance(clause, n.DescriptionClause):
            self._emit(level, [f"description {value_text(clause.text)}"], stmt)
        elif isinstance(clause, n.AnchorClause):
            self._emit(level, [anchor_text(clause)], stmt)
        elif isinstance(clause, n.EnrollClause):
            self._emit(level, _trigger_lines(clause.trigger, level), stmt)
        elif isinstance(clause, n.ReenrollClause):
            self._emit(level, [reenroll_text(clause)], stmt)
        elif isinstance(clause, n.GoalClause):
            self._emit(level, criteria_lines("goal ", clause.criteria, level), stmt)
        elif isinstance(clause, n.SuppressClause):
            text = "suppress " + ", ".join(f"list {value_text(s)}" for s in clause.lists)
            self._emit(level, [text], stmt)
        elif isinstance(clause, n.UnenrollClause):
            self._emit(level, criteria_lines("unenroll when ", clause.criteria, level), stmt)
        elif isinstance(clause, n.SettingsClause):
            self._emit(level, ["settings {"], stmt)
            for k, setting in enumerate(clause.settings):
                inner = self._get("stmt", setting)
                self._item_blank(inner, first=k == 0)
                self._leading(inner, level + 1, first=k == 0)
                self._emit(level + 1, [setting_text(setting)], inner)
            close = self._get("close", clause)
            self._leading(close, level + 1, first=not clause.settings, blank_after_comments=False)
            self._emit(level, ["}"], close)
        elif isinstance(clause, n.StepsClause):
            self._emit(level, ["steps {"], stmt)
            self._block(clause.body, level)
        else:  # pragma: no cover - every clause kind is above
            raise TypeError(type(clause).__name__)

    def _item_blank(self, stmt: _Stmt, *, first: bool) -> None:
        """A blank line before a block item that had one in the source (not the first)."""
        if first:
            return
        where = _begin(stmt.leading[0].span) if stmt.leading else stmt.start
        if self._blank_before(*where):
            self._blank()

    def _block(self, block: n.Block, level: int, *, close: bool = True) -> None:
        """The steps of a block at `level + 1`, then (if `close`) its `}` at `level`."""
        for k, step in enumerate(block.steps):
            self._step(step, level + 1, first=k == 0)
        if close:
            end = self._get("close", block)
            self._leading(end, level + 1, first=not block.steps, blank_after_comments=False)
            self._emit(level, ["}"], end)

    def _close_into(self, block: n.Block, level: int, next_head: _Stmt, text: list[str]) -> None:
        """`} else {`-like lines: the closing brace of `block` joined with the next header."""
        end = self._get("close", block)
        merged = _Stmt(
            start=next_head.start,
            end=next_head.end,
            # The brace's trailing comment goes above the joined line: comments keep their order.
            leading=end.leading + end.trailing + next_head.leading,
            trailing=next_head.trailing,
        )
        self._leading(merged, level + 1, first=not block.steps, blank_after_comments=False)
        self._emit(level, text, merged)

    def _step(self, step: n.Node, level: int, *, first: bool) -> None:
        key = "head" if isinstance(step, (n.BranchOn, n.Split)) else "stmt"
        if isinstance(step, n.If):
            stmt = self._get("head", step.branches[0])
        else:
            stmt = self._get(key, step)
        self._item_blank(stmt, first=first)
        self._leading(stmt, level, first=first)
        if isinstance(step, n.If):
            head = step.branches[0]
            self._emit(level, criteria_lines("if ", head.condition, level, " {", hanging=2), stmt)
            previous = head.body
            for branch in step.branches[1:]:
                self._block(previous, level, close=False)
                lines = criteria_lines("} else if ", branch.condition, level, " {", hanging=2)
                self._close_into(previous, level, self._get("head", branch), lines)
                previous = branch.body
            if step.else_body is not None:
                self._block(previous, level, close=False)
                self._close_into(previous, level, self._get("head", step.else_body), ["} else {"])
                previous = step.else_body
            self._block(previous, level)
        elif isinstance(step, n.BranchOn):
            self._emit(level, [f"branch on {step.prop.dotted} {{"], stmt)
            arms: list[tuple[str, n.Node, n.Block]] = [
                (f"{value_text(case.value)} {{", case, case.body) for case in step.cases
            ]
            if step.else_body is not None:
                arms.append(("else {", step.else_body, step.else_body))
            self._arms(arms, level)
            close = self._get("close", step)
            self._leading(close, level + 1, first=not arms, blank_after_comments=False)
            self._emit(level, ["}"], close)
        elif isinstance(step, n.Split):
            self._emit(level, ["split {"], stmt)
            self._arms([(f"{arm.percent.text}% {{", arm, arm.body) for arm in step.arms], level)
            close = self._get("close", step)
            self._leading(close, level + 1, first=not step.arms, blank_after_comments=False)
            self._emit(level, ["}"], close)
        else:
            self._emit(level, _simple_step_lines(step, level), stmt)

    def _arms(self, arms: list[tuple[str, n.Node, n.Block]], level: int) -> None:
        for k, (text, node, body) in enumerate(arms):
            head = self._get("head", node)
            self._item_blank(head, first=k == 0)
            self._leading(head, level + 1, first=k == 0)
            self._emit(level + 1, [text], head)
            self._block(body, level + 1)


def _after(pos: tuple[int, int]) -> tuple[int, int]:
    return (pos[0], pos[1] + 1)


def _closing(span: Span) -> tuple[int, int]:
    """Where the closing `}` of a braced node starts."""
    return (span.end_line, span.end_col - 1)


def _comment_text(comment: n.Comment) -> str:
    return comment.text.rstrip()


# ---------------------------------------------------------------- clauses and steps as text


def _trigger_lines(trigger: n.Node, level: int) -> list[str]:
    if isinstance(trigger, n.ManualTrigger):
        return ["enroll manually"]
    if isinstance(trigger, n.FilterTrigger):
        return criteria_lines("enroll when ", trigger.criteria, level)
    if isinstance(trigger, n.ScheduleTrigger):
        head = f"enroll on schedule {recurrence_text(trigger.recurrence)}"
        return _with_refinement(head, trigger.refinement, level)
    if isinstance(trigger, n.EventTrigger):
        events = [trigger_event_text(e) for e in trigger.events]
        head = "enroll on " + " or ".join(events)
        if len(INDENT * level + head) > LINE_WIDTH and len(events) > 1:
            first, *others = events
            lines = [f"{INDENT * level}enroll on {first}"]
            lines.extend(f"{INDENT * (level + 1)}or {event}" for event in others)
        else:
            lines = [INDENT * level + head]
        if trigger.refinement is not None:
            lines.extend(criteria_lines("only if ", trigger.refinement, level + 1))
        return lines
    raise TypeError(type(trigger).__name__)  # pragma: no cover


def _with_refinement(head: str, refinement: n.Node | None, level: int) -> list[str]:
    """The trigger line; an `only if` refinement always goes on a line of its own."""
    if refinement is None:
        return [INDENT * level + head]
    return [INDENT * level + head, *criteria_lines("only if ", refinement, level + 1)]


def _simple_step_lines(step: n.Node, level: int) -> list[str]:
    if isinstance(step, n.CreateRecord):
        fields = [f"{f.name.value} = {value_text(f.value)}" for f in step.fields]
        head = f"create {step.object_type.value} {{"
        if not fields:
            return [head + "}"]
        flat = f"{INDENT * level}{head} {', '.join(fields)} }}"
        if len(flat) <= LINE_WIDTH:
            return [flat]
        return [
            INDENT * level + head,
            *(f"{INDENT * (level + 1)}{field}," for field in fields),
            INDENT * level + "}",
        ]
    return [INDENT * level + step_text(step)]


def comment_texts(module: n.Module) -> list[str]:
    """The texts of a module's comments in source order (trailing blanks dropped)."""
    return [_comment_text(c) for c in module.comments]
