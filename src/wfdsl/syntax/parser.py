"""Syntax layer: `.wf` text in, `nodes.Module` and syntax diagnostics out.

Text is parsed by `lalr`, an LALR driver over the table Lark built from the
canonical `grammar/wfdsl.lark` (`tables`), whose reductions build the AST at
once (`build`). Text it does not accept is parsed again by the one cached
Lark parser (LALR, contextual lexer) of the same grammar, imported only then:
Lark's exceptions never leave the syntax package; they become `syntax`
diagnostics in words (`errors`); after one, each workflow block is parsed
alone (`recovery`) so one broken block hides nothing else. The text is
screened against the limits first (`screen`).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from wfdsl.collector import collector_paused
from wfdsl.diagnostics import Diagnostic
from wfdsl.frozen import frozen
from wfdsl.limits import MAX_NESTING
from wfdsl.spans import Span
from wfdsl.syntax import lalr, tables
from wfdsl.syntax import nodes as n
from wfdsl.syntax.build import Builder
from wfdsl.syntax.errors import PATTERN_WORDS, SyntaxProblem, describe_error, file_span, token_span
from wfdsl.syntax.grammar import GRAMMAR_NAME as GRAMMAR_NAME
from wfdsl.syntax.grammar import grammar_path as grammar_path
from wfdsl.syntax.grammar import grammar_text as grammar_text
from wfdsl.syntax.grammar import load_parser
from wfdsl.syntax.recovery import block_starts, parse_blockwise
from wfdsl.syntax.reductions import building, decode_shape, install_reducers, make_reduce, passes_through
from wfdsl.syntax.screen import CONTROL, control_problems, long_number_problem, nesting_problem, not_nesting_problem
from wfdsl.syntax.tokens import Token

if TYPE_CHECKING:
    from lark import Lark

_COMMENT_SINKS: list[list[Any]] = []


def _collect_comment(token: Any) -> None:
    if _COMMENT_SINKS:
        _COMMENT_SINKS[-1].append(token)


class _Rules(dict[int, lalr.Rule]):
    """Each grammar rule by its number in `tables`, made when a parse first reduces by it."""

    def __missing__(self, number: int) -> lalr.Rule:
        shape = decode_shape(tables.RULES[number])
        rule = self[number] = (shape[0], shape[1], make_reduce(shape), passes_through(shape))
        return rule


_RULES = _Rules()


@functools.cache
def lark_parser() -> Lark:
    """The one LALR parser of the grammar, loaded once per process; its reductions build `nodes`."""
    parser = load_parser(
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _collect_comment},
    )
    install_reducers(parser)
    return parser


@functools.cache
def keywords() -> dict[str, str]:
    """Each keyword terminal's name and its text: `ON` -> "on" (for messages in words)."""
    return {
        terminal.name: str(terminal.pattern.value)
        for terminal in lark_parser().terminals
        if terminal.pattern.type == "str"
    }


@frozen
class ParseResult:
    """A parsed file: its module (the workflows that parsed) and its syntax diagnostics."""

    module: n.Module
    diagnostics: tuple[Diagnostic, ...]
    source: str

    @property
    def ok(self) -> bool:
        return not self.diagnostics


def parse(text: str, path: str = "<string>") -> ParseResult:
    """Parse one file's text.

    >>> r = parse('workflow "W" { object contact steps { send email "Hi" } }', "w.wf")
    >>> (r.ok, r.module.workflows[0].name.value)
    (True, 'W')
    """
    comments: list[n.Comment] = []
    control: list[Diagnostic] = []
    original = text
    if CONTROL.search(text) is not None:
        # Reported where they are; the rest of the file is parsed with spaces in their place.
        control, text = control_problems(text, path)
    depth_problem = nesting_problem(text, path) or long_number_problem(text, path)
    if depth_problem is not None:
        return ParseResult(
            module=n.Module(span=file_span(text, path), path=path, workflows=()),
            diagnostics=(depth_problem,),
            source=original,
        )
    with collector_paused():
        try:
            workflows, comments = _parse_text(text, path)
            diagnostics: list[Diagnostic] = []
        except SyntaxProblem:
            workflows, comments, diagnostics = parse_blockwise(text, path, _parse_text)
    not_problem = not_nesting_problem(workflows, text) if text.count("not") > MAX_NESTING else None
    if not_problem is not None:
        return ParseResult(
            module=n.Module(span=file_span(text, path), path=path, workflows=()),
            diagnostics=(not_problem,),
            source=original,
        )
    module = n.Module(
        span=file_span(text, path),
        path=path,
        workflows=tuple(workflows),
        comments=tuple(comments),
    )
    return ParseResult(module=module, diagnostics=(*control, *diagnostics), source=original)


#: Control characters: never in a `.wf` file, not even in strings and comments


def parse_file(path: str | Path) -> ParseResult:
    """Read and parse a file; unreadable or non-UTF-8 input becomes a diagnostic."""
    shown = str(path)
    data = Path(path).read_bytes()  # OSError is the caller's: exit 2, not a syntax problem
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        col = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        span = Span(file=shown, line=line, col=col, end_line=line, end_col=col + 1)
        diag = Diagnostic.of(
            "syntax",
            f"found a byte that is not UTF-8 (0x{data[error.start]:02x}); expected UTF-8 text",
            span,
            hint="save the file as UTF-8",
        )
        module = n.Module(span=span, path=shown, workflows=())
        return ParseResult(module=module, diagnostics=(diag,), source="")
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse(text, shown)


def _parse_text(text: str, path: str) -> tuple[list[n.Workflow], list[n.Comment]]:
    comments: list[Token] = []
    try:
        workflows = lalr.parse(text, _RULES, Builder(path), comments)
    except (lalr.Rejected, SyntaxProblem):
        # Lark's parser words the error (and finds the same `SyntaxProblem` a reduction raised).
        return _parse_text_with_lark(text, path)
    return list(cast("list[n.Workflow]", workflows) or ()), [
        n.Comment(span=token_span(tok, path), text=tok.value) for tok in comments
    ]


def _parse_text_with_lark(text: str, path: str) -> tuple[list[n.Workflow], list[n.Comment]]:
    from lark.exceptions import UnexpectedInput

    comments: list[Any] = []
    _COMMENT_SINKS.append(comments)
    try:
        with building(path):
            workflows = lark_parser().parse(text)
    except UnexpectedInput as error:
        raise SyntaxProblem(describe_error(error, text, path, keywords())) from None
    finally:
        _COMMENT_SINKS.pop()
    return list(cast("list[n.Workflow]", workflows) or ()), [
        n.Comment(span=token_span(tok, path), text=str(tok)) for tok in comments
    ]


# ---------------------------------------------------------------- completion


def expected_terminals(text: str) -> frozenset[str] | None:
    """The terminals the grammar accepts right after `text`, or None when `text`
    does not parse as far as its end (an editor's completion asks this at the cursor).

    Only the last workflow block of the text is read, so a broken workflow above
    the cursor does not stop completion in the one being written.

    >>> sorted(expected_terminals('workflow "W" { object contact enroll '))
    ['MANUALLY', 'ON', 'WHEN']
    """
    from lark.exceptions import UnexpectedInput, UnexpectedToken

    starts = block_starts(text)
    begin = starts[-1] if starts else 0
    sink: list[Any] = []
    _COMMENT_SINKS.append(sink)
    try:
        with collector_paused(), building("<completion>"):
            lark_parser().parse(text[begin:])
    except UnexpectedToken as error:
        if error.token.type != "$END":
            return None
        return frozenset(error.accepts or error.expected)
    except (UnexpectedInput, SyntaxProblem):  # broken before the end (a bad escape…)
        return None
    finally:
        _COMMENT_SINKS.pop()
    return frozenset({"WORKFLOW"})


_ALTERNATIVES = r"^\(\?:([A-Za-z_|]+)\)(?:\(\?!.*\))?$"


def terminal_words(terminal: str) -> tuple[str, ...]:
    """The words a terminal stands for: `ON` -> ("on",), `UNIT` -> ("minute", …), `STRING` -> ().

    >>> sorted(terminal_words("PRIORITY"))
    ['high', 'low', 'medium']
    """
    if terminal == "ASSIGN_TO":
        return ("assign to",)
    if terminal in PATTERN_WORDS:
        return PATTERN_WORDS[terminal]
    parser = lark_parser()
    try:
        pattern = parser.get_terminal(terminal).pattern
    except KeyError:
        return ()
    if pattern.type == "str":
        return (str(pattern.value),)
    found = re.match(_ALTERNATIVES, str(pattern.value))
    return tuple(found.group(1).split("|")) if found else ()


# ---------------------------------------------------------------- AST dump


def dump(node: object, indent: int = 0) -> str:
    """A readable, stable text form of an AST (for snapshots and `wfdsl parse --dump`).

    >>> r = parse('workflow "W" { object contact steps { end } }', "w.wf")
    >>> print(dump(r.module.workflows[0].steps[0]))
    End @1:39-1:42
    """
    lines: list[str] = []
    _dump_into(node, indent, lines, None)
    return "\n".join(lines)


def _short_span(span: Span) -> str:
    return f"@{span.line}:{span.col}-{span.end_line}:{span.end_col}"


def _dump_into(value: object, indent: int, lines: list[str], label: str | None) -> None:
    pad = "  " * indent
    head = f"{pad}{label}: " if label else pad
    if isinstance(value, n.Node):
        scalars: list[str] = []
        nested: list[tuple[str, object]] = []
        for name in n.fields(type(value)):
            if name == "span":
                continue
            item = getattr(value, name)
            if isinstance(item, n.Node) or (isinstance(item, tuple) and item and not isinstance(item[0], str)):
                nested.append((name, item))
            elif isinstance(item, Span):
                continue
            elif item is None or item == () or item is False:
                continue
            else:
                scalars.append(f"{name}={item!r}")
        text = type(value).__name__ + (" " + " ".join(scalars) if scalars else "")
        lines.append(f"{head}{text} {_short_span(value.span)}")
        for name, item in nested:
            _dump_into(item, indent + 1, lines, name)
    elif isinstance(value, tuple):
        lines.append(f"{head}[")
        for item in value:
            _dump_into(item, indent + 1, lines, None)
        lines.append(f"{pad}]")
    else:
        lines.append(f"{head}{value!r}")
