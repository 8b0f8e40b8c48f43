"""Syntax layer: `.wf` text in, `nodes.Module` and syntax diagnostics out.

The only module that imports Lark. One cached LALR parser (contextual lexer,
`propagate_positions`) built from the canonical `grammar/wfdsl.lark` shipped
inside the package. Lark's exceptions never leave this module: they become
`syntax` diagnostics whose messages name what was found and what was
expected, in words.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, cast

import attrs
from lark import Lark, Token
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from wfdsl.collector import collector_paused
from wfdsl.diagnostics import Diagnostic
from wfdsl.limits import MAX_DIGITS, MAX_NESTING
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n

GRAMMAR_NAME = "wfdsl.lark"


def grammar_path() -> Path:
    """The grammar file: inside the installed package, else the source checkout."""
    packaged = resources.files("wfdsl").joinpath("grammar", GRAMMAR_NAME)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "grammar" / GRAMMAR_NAME


def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


_COMMENT_SINKS: list[list[Token]] = []


def _collect_comment(token: Token) -> None:
    if _COMMENT_SINKS:
        _COMMENT_SINKS[-1].append(token)


@functools.cache
def _parser() -> Lark:
    # `cache=True` stores the analysed grammar in the temp directory, keyed by
    # the grammar's hash, so a new process does not rebuild the LALR tables.
    parser = Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
        lexer_callbacks={"COMMENT": _collect_comment},
    )
    _install_reducers(parser)
    return parser


# ---------------------------------------------------------------- reduce-time AST building
#
# Lark would build a parse tree (and propagate positions into it) that a
# Transformer then walks again. Instead, each grammar rule's reduce callback
# builds the AST node at once: it filters the children exactly as Lark's
# child filter does (anonymous keywords out, `_rule`s inlined, `[x]`
# placeholders in), takes the span from the first and last child it was
# reduced from (keywords included: Lark's `propagate_positions` rule), and
# calls the `_ToAst` method named after the rule. Half the work, same result.

_BUILDERS: list[_ToAst] = []


class _Inline(list):  # type: ignore[type-arg]
    """The children of an inlined `_rule`."""


class _Dotted:
    __slots__ = ("text", "span")

    def __init__(self, text: str, span: Span) -> None:
        self.text = text
        self.span = span


def _bounds(children: list[Any], extents: dict[int, tuple[int, int, int, int]]) -> tuple[int, int, int, int] | None:
    """Start and end of what `children` were reduced from, keywords included.

    Every reduce result's extent is kept in `extents` (by id, for the length
    of one parse), so a rule that passes a child through (`event_args`
    returns its criteria) still reaches to its closing parenthesis.
    """
    start = end = None
    for child in children:
        if isinstance(child, Token):
            start = (child.line, child.column)
            break
        extent = extents.get(id(child))
        if extent is not None:
            start = extent[:2]
            break
    if start is None:
        return None
    for child in reversed(children):
        if isinstance(child, Token):
            end = (child.end_line, child.end_column)
            break
        extent = extents.get(id(child))
        if extent is not None:
            end = extent[2:]
            break
    if end is None:  # pragma: no cover - a start implies an end
        return None
    return (start[0] or 1, start[1] or 1, end[0] or 1, end[1] or 1)


def _make_reducer(rule: Any) -> Callable[[list[Any]], Any]:
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
    name = rule.alias or options.template_source or rule.origin.name
    inline = name.startswith("_")
    expand1 = bool(options.expand1 and not rule.alias)
    method = None if inline else getattr(_ToAst, str(name), None)
    if method is None and not inline and not expand1:
        raise RuntimeError(f"no AST builder for grammar rule {name!r}")

    def reduce(children: list[Any]) -> Any:
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
        builder = _BUILDERS[-1]
        extents = builder.extents
        bounds = _bounds(children, extents)
        if inline:
            result: Any = filtered if isinstance(filtered, _Inline) else _Inline(filtered)
        elif expand1 and len(filtered) == 1:
            result = filtered[0]
        else:
            line, col, end_line, end_col = bounds or (1, 1, 1, 1)
            span = Span(file=builder.path, line=line, col=col, end_line=end_line, end_col=end_col)
            result = method(builder, span, filtered)  # type: ignore[misc]
        if bounds is not None:
            extents[id(result)] = bounds
        return result

    return reduce


def _install_reducers(parser: Lark) -> None:
    callbacks = parser.parser.parser.parser.callbacks
    for rule in list(callbacks):
        callbacks[rule] = _make_reducer(rule)


# ---------------------------------------------------------------- results


@attrs.frozen(kw_only=True)
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
    if _CONTROL.search(text) is not None:
        # Reported where they are; the rest of the file is parsed with spaces in their place.
        control, text = _control_problems(text, path)
    depth_problem = _nesting_problem(text, path) or _long_number_problem(text, path)
    if depth_problem is not None:
        return ParseResult(
            module=n.Module(span=_file_span(text, path), path=path, workflows=()),
            diagnostics=(depth_problem,),
            source=original,
        )
    with collector_paused():
        try:
            workflows, comments = _parse_text(text, path)
            diagnostics: list[Diagnostic] = []
        except _SyntaxProblem:
            workflows, comments, diagnostics = _parse_blockwise(text, path)
    not_problem = _not_nesting_problem(workflows, text) if text.count("not") > MAX_NESTING else None
    if not_problem is not None:
        return ParseResult(
            module=n.Module(span=_file_span(text, path), path=path, workflows=()),
            diagnostics=(not_problem,),
            source=original,
        )
    module = n.Module(
        span=_file_span(text, path),
        path=path,
        workflows=tuple(workflows),
        comments=tuple(comments),
    )
    return ParseResult(module=module, diagnostics=(*control, *diagnostics), source=original)


#: Control characters: never in a `.wf` file, not even in strings and comments
#: (tab, line feed, carriage return and form feed are whitespace).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x0B: "VT", 0x1B: "ESC", 0x7F: "DEL"}
#: At most this many control characters are reported one by one.
_MAX_CONTROL_REPORTS = 20


def _control_problems(text: str, path: str) -> tuple[list[Diagnostic], str]:
    """A `syntax` diagnostic for each control character (the first few), and the text
    with a space in place of each."""
    problems: list[Diagnostic] = []
    for match in _CONTROL.finditer(text):
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
    return problems, _CONTROL.sub(" ", text)


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


class _SyntaxProblem(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _parse_text(text: str, path: str) -> tuple[list[n.Workflow], list[n.Comment]]:
    comments: list[Token] = []
    _COMMENT_SINKS.append(comments)
    _BUILDERS.append(_ToAst(path))
    try:
        workflows = _parser().parse(text)
    except UnexpectedInput as error:
        raise _SyntaxProblem(_describe_error(error, text, path)) from None
    finally:
        _BUILDERS.pop()
        _COMMENT_SINKS.pop()
    return list(cast("list[n.Workflow]", workflows) or ()), [
        n.Comment(span=_token_span(tok, path), text=str(tok)) for tok in comments
    ]


# Workflow blocks start with `workflow "` at the start of a line (or at brace
# depth 0). After a syntax error each block is parsed on its own so that one
# broken workflow does not hide problems, or valid workflows, in the others.
_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[{}]|\bworkflow\b')
_BLOCK_START = re.compile(r'[ \t]*workflow\s*"')


def _block_starts(text: str) -> list[int]:
    starts: list[int] = []
    depth = 0
    for match in _SCAN.finditer(text):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth = max(0, depth - 1)
        elif token == "workflow":
            line_start = text.rfind("\n", 0, match.start()) + 1
            at_line_start = (
                _BLOCK_START.match(text, line_start) is not None and not text[line_start : match.start()].strip()
            )
            if depth == 0 or at_line_start:
                starts.append(match.start())
                depth = 0
    return starts


def _parse_blockwise(text: str, path: str) -> tuple[list[n.Workflow], list[n.Comment], list[Diagnostic]]:
    starts = _block_starts(text)
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
            found, found_comments = _parse_text(padded + text[begin:end], path)
        except _SyntaxProblem as problem:
            diagnostics.append(problem.diagnostic)
            continue
        workflows.extend(found)
        comments.extend(found_comments)
    if not diagnostics:  # the whole failed but every block alone parsed: report the whole
        try:
            _parse_text(text, path)
        except _SyntaxProblem as problem:
            diagnostics.append(problem.diagnostic)
    return workflows, comments, diagnostics


# ---------------------------------------------------------------- completion


def expected_terminals(text: str) -> frozenset[str] | None:
    """The terminals the grammar accepts right after `text`, or None when `text`
    does not parse as far as its end (an editor's completion asks this at the cursor).

    Only the last workflow block of the text is read, so a broken workflow above
    the cursor does not stop completion in the one being written.

    >>> sorted(expected_terminals('workflow "W" { object contact enroll '))
    ['MANUALLY', 'ON', 'WHEN']
    """
    starts = _block_starts(text)
    begin = starts[-1] if starts else 0
    sink: list[Token] = []
    _COMMENT_SINKS.append(sink)
    _BUILDERS.append(_ToAst("<completion>"))
    try:
        with collector_paused():
            _parser().parse(text[begin:])
    except UnexpectedToken as error:
        if error.token.type != "$END":
            return None
        return frozenset(error.accepts or error.expected)
    except (UnexpectedInput, _SyntaxProblem):  # broken before the end (a bad escape…)
        return None
    finally:
        _BUILDERS.pop()
        _COMMENT_SINKS.pop()
    return frozenset({"WORKFLOW"})


_ALTERNATIVES = re.compile(r"^\(\?:([A-Za-z_|]+)\)(?:\(\?!.*\))?$")


def terminal_words(terminal: str) -> tuple[str, ...]:
    """The words a terminal stands for: `ON` -> ("on",), `UNIT` -> ("minute", …), `STRING` -> ().

    >>> sorted(terminal_words("PRIORITY"))
    ['high', 'low', 'medium']
    """
    if terminal == "ASSIGN_TO":
        return ("assign to",)
    if terminal in _PATTERN_WORDS:
        return _PATTERN_WORDS[terminal]
    parser = _parser()
    try:
        pattern = parser.get_terminal(terminal).pattern
    except KeyError:
        return ()
    if pattern.type == "str":
        return (str(pattern.value),)
    found = _ALTERNATIVES.match(str(pattern.value))
    return tuple(found.group(1).split("|")) if found else ()


def _file_span(text: str, path: str) -> Span:
    lines = text.split("\n")
    return Span(file=path, line=1, col=1, end_line=len(lines), end_col=len(lines[-1]) + 1)


_NESTING_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[{}()]')


def _nesting_problem(text: str, path: str) -> Diagnostic | None:
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


def _long_number_problem(text: str, path: str) -> Diagnostic | None:
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


def _not_nesting_problem(workflows: Iterable[n.Node], text: str) -> Diagnostic | None:
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


# ---------------------------------------------------------------- errors in words

_TERMINAL_WORDS: dict[str, str] = {
    "STRING": "a string",
    "NUMBER": "a number",
    "NAME": "a name",
    "DATE": "a date like 2026-12-24",
    "TIME": "a time of day like 09:00",
    "DATETIME": "a date-time like 2026-12-24T09:00",
    "PERCENT": "a percentage like 50%",
    "UNIT": "a unit (`minutes`, `hours`, `days` or `weeks`)",
    "WEEKDAY": "a day of the week like `monday`",
    "ASSIGN_TO": "`assign to`",
    "KNOWN": "`known` or `unknown`",
    "ANNUALLY": "`annually`",
    "TIMES": "`times`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "OWNER": "`owner`",
    "ANCHOR_SIDE": "`before` or `after`",
    "FAILURE_MODE": "`continue` or `stop`",
    "PRIORITY": "`low`, `medium` or `high`",
    "HTTP_METHOD": "an HTTP method like `post`",
    "OFFSET_SIGN": "`+` or `-`",
    "$END": "the end of the file",
    "UP": "`up to` and a duration (as in `up to 3 days`)",
}

_STEP_WORDS = {
    "DELAY",
    "WAIT",
    "IF",
    "BRANCH",
    "SPLIT",
    "SEND",
    "NOTIFY",
    "SET",
    "CLEAR",
    "INCREMENT",
    "COPY",
    "CREATE",
    "ASSIGN",
    "ROTATE",
    "ADD",
    "REMOVE",
    "ENROLL",
    "UNENROLL",
    "WEBHOOK",
    "PLACEHOLDER",
    "LABEL",
    "GO",
    "END",
}
_CLAUSE_WORDS = {
    "OBJECT",
    "DESCRIPTION",
    "ENROLL",
    "REENROLL",
    "GOAL",
    "SUPPRESS",
    "UNENROLL",
    "SETTINGS",
    "ANCHOR",
    "STEPS",
}
_CLAUSE_KEYWORDS = {w.lower() for w in _CLAUSE_WORDS}
_VALUE_WORDS = {"STRING", "NUMBER", "TRUE", "FALSE", "DATE", "TIME", "DATETIME", "PERCENT", "LSQB"}
_SETTING_WORDS = {"TIMEZONE", "EXECUTE", "PAUSE", "ENROLL", "UNENROLL", "ON"}

#: What a string or name means after these words, for messages like
#: "expected a string naming the email after `send email`".
_CONTEXT_WORDS: dict[tuple[str, ...], str] = {
    ("workflow",): "a string naming the workflow",
    ("object",): "an object type such as `contact`",
    ("description",): "a string describing the workflow",
    ("send", "email"): "a string naming the email",
    ("placeholder",): "a string describing the action to fill in",
    ("label",): "a string naming the label",
    ("go", "to"): "a string naming the label to go to",
    ("delay", "until"): (
        "a day, a time of day, a date, a date property or `anchor` (as in `delay until monday at 09:00`)"
    ),
    ("timezone",): 'a string naming a time zone like "Europe/Oslo"',
    ("list",): "a string naming the list",
    ("assign", "owner"): "a string naming the owner",
    ("create", "task"): "a string with the task's title",
    ("notify",): "a string with the recipient's address, or `owner`",
    ("subject",): "a string with the subject",
    ("body",): "a string",
    ("notes",): "a string with the notes",
    ("set",): "a property like `contact.lifecyclestage`",
    ("clear",): "a property like `contact.lifecyclestage`",
    ("increment",): "a property like `contact.hubspotscore`",
    ("copy",): "a property like `company.name`",
    ("when",): "criteria like `contact.email is known`",
    ("goal",): 'criteria like `contact.lifecyclestage = "customer"`',
    ("if",): "criteria like `contact.hubspotscore >= 50`",
    ("on",): "an event like `form.submitted`, or `schedule`",
}

_YEAR = re.compile(r"[0-9]{4}")
_WORD_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|#[^\n]*'
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?"  # dates, date-times
    r"|[0-9]{1,2}:[0-9]{2}"  # times of day
    r"|-?[0-9]+(?:\.[0-9]+)?%?"  # numbers, percentages
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"  # names, dotted names
    r"|!=|<=|>=|\.\.|\S"
)


def _keyword_of(parser: Lark, terminal: str) -> str | None:
    try:
        pattern = parser.get_terminal(terminal).pattern
    except KeyError:
        return None
    if pattern.type == "str":
        return str(pattern.value)
    return None


def _words_for(expected: Iterable[str]) -> list[str]:
    parser = _parser()
    names = set(expected)
    words: list[str] = []
    if len(names & _STEP_WORDS) >= 6:
        names -= _STEP_WORDS
        words.append("a step (such as `send email`, `delay`, `if` or `set`)")
    if len(names & _CLAUSE_WORDS) >= 6:
        names -= _CLAUSE_WORDS
        words.append("a clause (such as `object`, `enroll`, `goal` or `steps`)")
    if len(names & _VALUE_WORDS) >= 5:
        names -= _VALUE_WORDS
        words.append("a value (a string, number, `true`/`false`, date, time or list)")
    if len(names & _SETTING_WORDS) >= 5:
        names -= _SETTING_WORDS
        words.append("a setting (such as `timezone` or `execute on`)")
    for name in sorted(names):
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
            continue
        keyword = _keyword_of(parser, name)
        words.append(f"`{keyword}`" if keyword is not None else name.lower())
    return words


def _closest_keyword(word: str, expected: set[str]) -> str | None:
    parser = _parser()
    keywords = [k for k in (_keyword_of(parser, name) for name in expected) if k and k.isalpha()]
    matches = difflib.get_close_matches(word, keywords, n=1, cutoff=0.7)
    return matches[0] if matches else None


#: The words of terminals that are patterns rather than keywords, for "did you mean".
_PATTERN_WORDS: dict[str, tuple[str, ...]] = {
    "UNIT": ("minute", "minutes", "hour", "hours", "day", "days", "week", "weeks"),
    "WEEKDAY": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
}


def _closest_word(word: str, expected: set[str]) -> str | None:
    words = [w for name in expected for w in _PATTERN_WORDS.get(name, ())]
    matches = difflib.get_close_matches(word.lower(), words, n=3, cutoff=0.6)
    same_length = [m for m in matches if len(m) == len(word)]  # `dayz` -> `days`, not `day`
    found = same_length or matches
    return found[0] if found else None


def _join_words(words: list[str]) -> str:
    if not words:
        return "nothing more"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_found(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    text = str(token)
    if token.type == "STRING":
        return f"the string {text}"
    if token.type == "NUMBER":
        return f"the number {text}"
    if len(text) > 40:
        text = text[:37] + "..."
    return f"`{text}`"


def _previous_words(text: str, pos: int) -> list[str]:
    """The last few tokens before `pos` on the text (comments skipped)."""
    start = text.rfind("\n", 0, max(0, pos - 400)) + 1  # whole lines: strings stay whole
    words = [w for w in _WORD_TOKEN.findall(text, start, pos) if not w.startswith("#")]
    return words[-3:]


def _after(previous: list[str]) -> str:
    """` after `…`` naming the last two tokens, or nothing after a block's `}`."""
    if not previous or previous[-1] == "}":
        return ""
    return f" after `{' '.join(previous[-2:])}`"


def _context_phrase(previous: list[str], expected: set[str]) -> str | None:
    if not expected & {"STRING", "NAME"}:
        return None
    for size in (2, 1):
        key = tuple(previous[-size:])
        if len(key) == size and key in _CONTEXT_WORDS:
            return _CONTEXT_WORDS[key]
    return None


_LEADING_SPACE = re.compile(r"\s*")


def _open_block(text: str, pos: int) -> tuple[str, int] | None:
    """The innermost `{` still open at `pos`: the words before it and its line."""
    stack: list[int] = []
    # A block parsed alone is padded with the whitespace of the text before it; skipping
    # that keeps the scan to the block (else many broken blocks cost quadratic time).
    skip = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]
    for match in _SCAN.finditer(text, min(skip, pos), pos):
        token = match.group()
        if token == "{":
            stack.append(match.start())
        elif token == "}" and stack:
            stack.pop()
    if not stack:
        return None
    at = stack[-1]
    line_start = text.rfind("\n", 0, at) + 1
    head = " ".join(text[line_start:at].split())
    return head or "{", text.count("\n", 0, at) + 1


def _describe_error(error: UnexpectedInput, text: str, path: str) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        line, col = error.line, error.column
        pos = error.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        span = Span(file=path, line=line, col=col, end_line=line, end_col=col + 1)
        if char == '"':
            return Diagnostic.of(
                "syntax",
                'found a string that is not closed; expected `"` before the end of the line',
                span,
                hint="strings cannot span lines; write a line break as `\\n`",
            )
        allowed = _words_for(error.allowed or ())
        previous = _previous_words(text, pos)
        after = _after(previous)
        shown = repr(char)[1:-1] if char.isprintable() else f"U+{ord(char):04X}" if char else "?"
        return Diagnostic.of(
            "syntax",
            f"found `{shown}`, expected {_join_words(allowed)}{after}",
            span,
        )
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = set(error.accepts or error.expected)
        if token.type == "$END":
            end_line = text.count("\n") + 1
            end_col = len(text) - (text.rfind("\n") + 1) + 1
            span = Span(file=path, line=end_line, col=end_col, end_line=end_line, end_col=end_col)
            pos = len(text)
        else:
            span = _token_span(token, path)
            pos = token.start_pos or 0
        previous = _previous_words(text, pos)
        phrase = _context_phrase(previous, expected)
        words = [phrase] if phrase else _words_for(expected)
        after = _after(previous)
        message = f"found {_describe_found(token)}, expected {_join_words(words)}{after}"
        hint = None
        open_block = _open_block(text, pos)
        if token.type == "$END" and open_block is not None:
            head, line = open_block
            message = f"found the end of the file, expected `}}` to close the block `{head} {{` opened at line {line}"
            hint = "every `{` needs a matching `}`; a `}` may be missing further up"
        elif len(previous) >= 2 and previous[-2] == "object" and previous[-1] in _CLAUSE_KEYWORDS:
            hint = f"`object` needs an object type such as `contact` before `{previous[-1]}`"
        elif str(token) in {"else", "elif"}:
            hint = "`else` follows the `}` of an `if` block"
        elif str(token) == "}" and open_block is None:
            hint = "this `}` has no open block to close; remove it"
        elif str(token) == "=" and previous and previous[-1] == "=":
            hint = "compare with a single `=`"
        elif token.type == "NUMBER" and str(token).startswith("-") and previous and _YEAR.fullmatch(previous[-1]):
            hint = "write a date with a two-digit month and day: `2027-01-05`"
        elif token.type == "NAME" and (guess := _closest_word(str(token), expected)):
            hint = f"did you mean `{guess}`?"
        elif token.type == "NAME" and (guess := _closest_keyword(str(token), expected)):
            hint = f"did you mean `{guess}`?"
        elif token.type == "NAME" and "STRING" in expected and not phrase:
            hint = f'names of emails, lists, workflows and labels are strings: "{token}"'
        return Diagnostic.of("syntax", message, span, hint=hint)
    if isinstance(error, UnexpectedEOF):  # pragma: no cover - LALR reports $END as a token
        span = _file_span(text, path)
        return Diagnostic.of("syntax", "found the end of the file, expected more", span)
    span = Span(file=path, line=1, col=1, end_line=1, end_col=1)  # pragma: no cover
    return Diagnostic.of("syntax", str(error), span)  # pragma: no cover


# ---------------------------------------------------------------- tree -> AST


def _token_span(token: Token, path: str) -> Span:
    return Span(
        file=path,
        line=token.line or 1,
        col=token.column or 1,
        end_line=token.end_line or token.line or 1,
        end_col=token.end_column or (token.column or 1) + len(token),
    )


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_UNITS = {
    "minute": "minute",
    "minutes": "minute",
    "hour": "hour",
    "hours": "hour",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
}


def _bad_escape_column(raw: str) -> int | None:
    """The offset in a string literal (quotes included) of its first unknown escape."""
    i = 1
    while i < len(raw) - 1:
        if raw[i] == "\\":
            if raw[i + 1] not in _ESCAPES:
                return i
            i += 2
            continue
        i += 1
    return None


def decode_string(raw: str) -> tuple[str, str | None]:
    """The value of a string literal (quotes included) and an error, if any."""
    body = raw[1:-1]
    if "\\" not in body:
        return body, None
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            escaped = body[i + 1]
            if escaped not in _ESCAPES:
                return body, f'found the escape `\\{escaped}`, expected one of `\\"`, `\\\\`, `\\n`, `\\t`'
            out.append(_ESCAPES[escaped])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out), None


_Handler = Callable[..., Any]


class _ToAst:
    """Builds `nodes` for each grammar rule. Each method gets the rule's span
    and its children by position from the grammar, and names them at once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.extents: dict[int, tuple[int, int, int, int]] = {}

    # -- helpers
    @staticmethod
    def _span(span: Span) -> Span:
        return span

    def _tspan(self, token: Token) -> Span:
        return _token_span(token, self.path)

    def _string(self, token: Token) -> n.StringLit:
        span = self._tspan(token)
        value, problem = decode_string(str(token))
        if problem is not None:
            at = _bad_escape_column(str(token))
            if at is not None and span.line == span.end_line:
                col = span.col + at
                span = Span(file=self.path, line=span.line, col=col, end_line=span.line, end_col=col + 2)
            raise _SyntaxProblem(Diagnostic.of("syntax", problem, span, hint="write a backslash as `\\\\`"))
        variables = []
        raw = str(token)
        for match in _VARIABLE.finditer(raw):
            path = tuple(part.strip() for part in match.group(1).split("."))
            start = span.col + match.start()
            variables.append(
                n.Variable(
                    span=Span(
                        file=self.path,
                        line=span.line,
                        col=start,
                        end_line=span.line,
                        end_col=start + len(match.group()),
                    ),
                    path=path,
                )
            )
        return n.StringLit(span=span, value=value, variables=tuple(variables))

    # -- file and workflow
    def start(self, meta: Any, children: list[n.Workflow]) -> list[n.Workflow]:
        return children

    def workflow(self, meta: Any, children: list[Any]) -> n.Workflow:
        name, *clauses = children
        return n.Workflow(span=self._span(meta), name=self._string(name), clauses=tuple(clauses))

    def object_clause(self, meta: Any, children: list[Token]) -> n.ObjectClause:
        (name,) = children
        return n.ObjectClause(span=self._span(meta), type=n.Name(span=self._tspan(name), value=str(name)))

    def description_clause(self, meta: Any, children: list[Token]) -> n.DescriptionClause:
        return n.DescriptionClause(span=self._span(meta), text=self._string(children[0]))

    # -- triggers
    def enroll_manual(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        span = self._span(meta)
        return n.EnrollClause(span=span, trigger=n.ManualTrigger(span=span))

    def enroll_filter(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        span = self._span(meta)
        return n.EnrollClause(span=span, trigger=n.FilterTrigger(span=span, criteria=children[0]))

    def enroll_schedule(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        recurrence, refinement = children
        span = self._span(meta)
        trigger = n.ScheduleTrigger(span=span, recurrence=recurrence, refinement=refinement)
        return n.EnrollClause(span=span, trigger=trigger)

    def enroll_event(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        *events, refinement = children
        span = self._span(meta)
        trigger = n.EventTrigger(span=span, events=tuple(events), refinement=refinement)
        return n.EnrollClause(span=span, trigger=trigger)

    def refinement(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def trigger_event(self, meta: Any, children: list[Any]) -> n.TriggerEvent:
        return n.TriggerEvent(span=self._span(meta), event=children[0], negated=False)

    def negated_event(self, meta: Any, children: list[Any]) -> n.TriggerEvent:
        return n.TriggerEvent(span=self._span(meta), event=children[0], negated=True)

    def event_ref(self, meta: Any, children: list[Any]) -> n.EventRef:
        dotted, args = children
        return n.EventRef(span=self._span(meta), name=dotted.text, name_span=dotted.span, criteria=args)

    def event_args(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def property_change(self, meta: Any, children: list[Any]) -> n.PropertyChange:
        dotted, from_value, to_value = children
        prop = n.PropertyRef(span=dotted.span, parts=tuple(dotted.text.split(".")))
        return n.PropertyChange(span=self._span(meta), prop=prop, from_value=from_value, to_value=to_value)

    def change_from(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    change_to = change_from

    def rec_daily(self, meta: Any, children: list[Token]) -> n.Daily:
        return n.Daily(span=self._span(meta), at=self._time(children[0]))

    def rec_weekly(self, meta: Any, children: list[Token]) -> n.Weekly:
        *days, at = children
        return n.Weekly(
            span=self._span(meta),
            days=tuple(n.Name(span=self._tspan(d), value=str(d)) for d in days),
            at=self._time(at),
        )

    def rec_monthly(self, meta: Any, children: list[Token]) -> n.Monthly:
        day, at = children
        return n.Monthly(
            span=self._span(meta),
            day=n.NumberLit(span=self._tspan(day), text=str(day)),
            at=self._time(at),
        )

    def rec_once(self, meta: Any, children: list[Token]) -> n.Once:
        (at,) = children
        return n.Once(span=self._span(meta), at=n.DateTimeLit(span=self._tspan(at), text=str(at)))

    def reenroll_every_time(self, meta: Any, children: list[Any]) -> n.ReenrollClause:
        return n.ReenrollClause(span=self._span(meta), every_time=True)

    def reenroll_on_change(self, meta: Any, children: list[Any]) -> n.ReenrollClause:
        return n.ReenrollClause(span=self._span(meta), every_time=False, properties=tuple(children))

    # -- goal, unenroll, suppression, anchor
    def goal_clause(self, meta: Any, children: list[Any]) -> n.GoalClause:
        return n.GoalClause(span=self._span(meta), criteria=children[0])

    def unenroll_clause(self, meta: Any, children: list[Any]) -> n.UnenrollClause:
        return n.UnenrollClause(span=self._span(meta), criteria=children[0])

    def suppress_clause(self, meta: Any, children: list[Token]) -> n.SuppressClause:
        return n.SuppressClause(span=self._span(meta), lists=tuple(self._string(t) for t in children))

    def anchor_property(self, meta: Any, children: list[Any]) -> n.AnchorClause:
        prop, annually = children
        return n.AnchorClause(span=self._span(meta), target=prop, annually=annually is not None)

    def anchor_date(self, meta: Any, children: list[Any]) -> n.AnchorClause:
        date, annually = children
        return n.AnchorClause(
            span=self._span(meta),
            target=n.DateLit(span=self._tspan(date), text=str(date)),
            annually=annually is not None,
        )

    # -- settings
    def settings_clause(self, meta: Any, children: list[Any]) -> n.SettingsClause:
        return n.SettingsClause(span=self._span(meta), settings=tuple(children))

    def set_timezone(self, meta: Any, children: list[Token]) -> n.TimezoneSetting:
        return n.TimezoneSetting(span=self._span(meta), name=self._string(children[0]))

    def set_execute(self, meta: Any, children: list[Any]) -> n.ExecuteSetting:
        *days, start, end = children
        return n.ExecuteSetting(span=self._span(meta), days=tuple(days), start=self._time(start), end=self._time(end))

    def day_range(self, meta: Any, children: list[Token]) -> n.DayRange:
        start, _dots, end = children
        return n.DayRange(span=self._span(meta), start=str(start), end=str(end))

    def day_single(self, meta: Any, children: list[Token]) -> n.Day:
        return n.Day(span=self._span(meta), name=str(children[0]))

    def set_pause(self, meta: Any, children: list[Token]) -> n.PauseSetting:
        return n.PauseSetting(
            span=self._span(meta),
            dates=tuple(n.DateLit(span=self._tspan(d), text=str(d)) for d in children),
        )

    def set_enroll_existing(self, meta: Any, children: list[Any]) -> n.EnrollExistingSetting:
        return n.EnrollExistingSetting(span=self._span(meta))

    def set_unenroll_unmet(self, meta: Any, children: list[Any]) -> n.UnenrollUnmetSetting:
        return n.UnenrollUnmetSetting(span=self._span(meta))

    def set_on_failure(self, meta: Any, children: list[Token]) -> n.OnFailureSetting:
        return n.OnFailureSetting(span=self._span(meta), mode=str(children[0]))

    # -- criteria
    def or_expr(self, meta: Any, children: list[Any]) -> n.Or:
        return n.Or(span=self._span(meta), items=tuple(children))

    def and_expr(self, meta: Any, children: list[Any]) -> n.And:
        return n.And(span=self._span(meta), items=tuple(children))

    def not_expr(self, meta: Any, children: list[Any]) -> n.Not:
        return n.Not(span=self._span(meta), item=children[0])

    def compare(self, meta: Any, children: list[Any]) -> n.Compare:
        prop, op, value = children
        return n.Compare(span=self._span(meta), prop=prop, op=op, value=value)

    def cmp_op(self, meta: Any, children: list[Token]) -> str:
        return str(children[0])

    def is_known(self, meta: Any, children: list[Any]) -> n.IsKnown:
        prop, word = children
        return n.IsKnown(span=self._span(meta), prop=prop, known=str(word) == "known")

    def in_values(self, meta: Any, children: list[Any]) -> n.InValues:
        prop, values = children
        return n.InValues(span=self._span(meta), prop=prop, values=values, negated=False)

    def not_in_values(self, meta: Any, children: list[Any]) -> n.InValues:
        prop, values = children
        return n.InValues(span=self._span(meta), prop=prop, values=values, negated=True)

    def between(self, meta: Any, children: list[Any]) -> n.Between:
        prop, low, high = children
        return n.Between(span=self._span(meta), prop=prop, low=low, high=high)

    def _text_match(self, op: str, meta: Any, children: list[Any]) -> n.TextMatch:
        prop, value = children
        return n.TextMatch(span=self._span(meta), prop=prop, op=op, value=self._string(value))

    def contains(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("contains", meta, children)

    def not_contains(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("not_contains", meta, children)

    def starts_with(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("starts_with", meta, children)

    def ends_with(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("ends_with", meta, children)

    def has_ever_been(self, meta: Any, children: list[Any]) -> n.HistoryMatch:
        prop, value = children
        return n.HistoryMatch(span=self._span(meta), prop=prop, ever=True, value=value)

    def has_never_been(self, meta: Any, children: list[Any]) -> n.HistoryMatch:
        prop, value = children
        return n.HistoryMatch(span=self._span(meta), prop=prop, ever=False, value=value)

    def before(self, meta: Any, children: list[Any]) -> n.DateCompare:
        prop, value = children
        return n.DateCompare(span=self._span(meta), prop=prop, op="before", value=value)

    def after(self, meta: Any, children: list[Any]) -> n.DateCompare:
        prop, value = children
        return n.DateCompare(span=self._span(meta), prop=prop, op="after", value=value)

    def _relative(self, op: str, meta: Any, children: list[Any]) -> n.RelativeDate:
        prop, duration = children
        return n.RelativeDate(span=self._span(meta), prop=prop, op=op, duration=duration)

    def within_last(self, meta: Any, children: list[Any]) -> n.RelativeDate:
        return self._relative("within_last", meta, children)

    def within_next(self, meta: Any, children: list[Any]) -> n.RelativeDate:
        return self._relative("within_next", meta, children)

    def more_than_ago(self, meta: Any, children: list[Any]) -> n.RelativeDate:
        return self._relative("more_than_ago", meta, children)

    def in_list(self, meta: Any, children: list[Token]) -> n.InList:
        return n.InList(span=self._span(meta), name=self._string(children[0]))

    def enrolled_in(self, meta: Any, children: list[Token]) -> n.EnrolledIn:
        return n.EnrolledIn(span=self._span(meta), workflow=self._string(children[0]))

    def reached_goal(self, meta: Any, children: list[Token]) -> n.ReachedGoal:
        return n.ReachedGoal(span=self._span(meta), workflow=self._string(children[0]))

    def has_event(self, meta: Any, children: list[Any]) -> n.HasEvent:
        event, within = children
        return n.HasEvent(span=self._span(meta), event=event, negated=False, within=within)

    def has_event_count(self, meta: Any, children: list[Any]) -> n.HasEvent:
        event, count, _times, within = children
        return n.HasEvent(
            span=self._span(meta),
            event=event,
            negated=False,
            within=within,
            at_least=n.NumberLit(span=self._tspan(count), text=str(count)),
        )

    def updated_within(self, meta: Any, children: list[Any]) -> n.Updated:
        prop, duration = children
        return n.Updated(span=self._span(meta), prop=prop, within=duration, negated=False)

    def not_updated_within(self, meta: Any, children: list[Any]) -> n.Updated:
        prop, duration = children
        return n.Updated(span=self._span(meta), prop=prop, within=duration, negated=True)

    def has_not_event(self, meta: Any, children: list[Any]) -> n.HasEvent:
        event, within = children
        return n.HasEvent(span=self._span(meta), event=event, negated=True, within=within)

    def within(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def received(self, meta: Any, children: list[Any]) -> n.Received:
        return n.Received(span=self._span(meta))

    def prop_ref(self, meta: Any, children: list[Any]) -> n.PropertyRef:
        dotted = children[0]
        return n.PropertyRef(span=dotted.span, parts=tuple(dotted.text.split(".")))

    def dotted_name(self, meta: Any, children: list[Token]) -> _Dotted:
        return _Dotted(".".join(str(t) for t in children), self._span(meta))

    # -- values
    def string(self, meta: Any, children: list[Token]) -> n.StringLit:
        return self._string(children[0])

    def number(self, meta: Any, children: list[Token]) -> n.NumberLit:
        return n.NumberLit(span=self._span(meta), text=str(children[0]))

    def boolean(self, meta: Any, children: list[Token]) -> n.BoolLit:
        return n.BoolLit(span=self._span(meta), value=str(children[0]) == "true")

    def date(self, meta: Any, children: list[Token]) -> n.DateLit:
        return n.DateLit(span=self._span(meta), text=str(children[0]))

    def time(self, meta: Any, children: list[Token]) -> n.TimeLit:
        return n.TimeLit(span=self._span(meta), text=str(children[0]))

    def datetime(self, meta: Any, children: list[Token]) -> n.DateTimeLit:
        return n.DateTimeLit(span=self._span(meta), text=str(children[0]))

    def percent(self, meta: Any, children: list[Token]) -> n.PercentLit:
        return n.PercentLit(span=self._span(meta), text=str(children[0])[:-1])

    def list_lit(self, meta: Any, children: list[Any]) -> n.ListLit:
        return n.ListLit(span=self._span(meta), items=tuple(children))

    def duration(self, meta: Any, children: list[n.DurationPart]) -> n.Duration:
        return n.Duration(span=self._span(meta), parts=tuple(children))

    def duration_part(self, meta: Any, children: list[Token]) -> n.DurationPart:
        amount, unit = children
        return n.DurationPart(span=self._span(meta), amount=str(amount), unit=_UNITS[str(unit)])

    def _time(self, token: Token | None) -> n.TimeLit:
        assert token is not None
        return n.TimeLit(span=self._tspan(token), text=str(token))

    def _maybe_time(self, token: Token | None) -> n.TimeLit | None:
        return None if token is None else self._time(token)

    def _maybe_string(self, token: Token | None) -> n.StringLit | None:
        return None if token is None else self._string(token)

    # -- steps
    def steps_clause(self, meta: Any, children: list[n.Block]) -> n.StepsClause:
        return n.StepsClause(span=self._span(meta), body=children[0])

    def block(self, meta: Any, children: list[Any]) -> n.Block:
        return n.Block(span=self._span(meta), steps=tuple(children))

    def delay(self, meta: Any, children: list[Any]) -> n.Delay:
        return n.Delay(span=self._span(meta), duration=children[0])

    def delay_until_day(self, meta: Any, children: list[Any]) -> n.DelayUntilDay:
        day, at = children
        return n.DelayUntilDay(span=self._span(meta), day=str(day), at=self._maybe_time(at))

    def delay_until_time(self, meta: Any, children: list[Any]) -> n.DelayUntilDay:
        return n.DelayUntilDay(span=self._span(meta), day=None, at=self._time(children[0]))

    def delay_until_date(self, meta: Any, children: list[Any]) -> n.DelayUntilDate:
        base, sign, offset, at = children
        return n.DelayUntilDate(
            span=self._span(meta),
            base=base,
            sign=None if sign is None else str(sign),
            offset=offset,
            at=self._maybe_time(at),
        )

    def date_base(self, meta: Any, children: list[Any]) -> Any:
        (item,) = children
        if isinstance(item, Token):
            cls = n.DateTimeLit if item.type == "DATETIME" else n.DateLit
            return cls(span=self._tspan(item), text=str(item))
        return item

    def delay_until_anchor(self, meta: Any, children: list[Any]) -> n.DelayUntilAnchor:
        return n.DelayUntilAnchor(span=self._span(meta), offset=None, side=None, at=self._maybe_time(children[0]))

    def delay_until_anchor_offset(self, meta: Any, children: list[Any]) -> n.DelayUntilAnchor:
        offset, side, at = children
        return n.DelayUntilAnchor(span=self._span(meta), offset=offset, side=str(side), at=self._maybe_time(at))

    def wait_for(self, meta: Any, children: list[Any]) -> n.WaitFor:
        event, timeout = children
        return n.WaitFor(span=self._span(meta), event=event, timeout=timeout)

    def if_step(self, meta: Any, children: list[Any]) -> n.If:
        condition, body, rest = children
        first = n.IfBranch(
            span=Span(
                file=self.path, line=meta.line, col=meta.col, end_line=body.span.end_line, end_col=body.span.end_col
            ),
            condition=condition,
            body=body,
        )
        branches = [first]
        else_body = None
        while rest is not None:
            if isinstance(rest, n.Block):
                else_body = rest
                break
            branch, rest = rest
            branches.append(branch)
        return n.If(span=self._span(meta), branches=tuple(branches), else_body=else_body)

    def else_block(self, meta: Any, children: list[Any]) -> n.Block:
        block: n.Block = children[0]
        return block

    def else_if(self, meta: Any, children: list[Any]) -> tuple[n.IfBranch, Any]:
        condition, body, rest = children
        branch = n.IfBranch(
            span=Span(
                file=self.path, line=meta.line, col=meta.col, end_line=body.span.end_line, end_col=body.span.end_col
            ),
            condition=condition,
            body=body,
        )
        return branch, rest

    def branch_on(self, meta: Any, children: list[Any]) -> n.BranchOn:
        prop, *cases, else_body = children
        return n.BranchOn(span=self._span(meta), prop=prop, cases=tuple(cases), else_body=else_body)

    def branch_case(self, meta: Any, children: list[Any]) -> n.BranchCase:
        value, body = children
        return n.BranchCase(span=self._span(meta), value=value, body=body)

    def split(self, meta: Any, children: list[Any]) -> n.Split:
        return n.Split(span=self._span(meta), arms=tuple(children))

    def split_arm(self, meta: Any, children: list[Any]) -> n.SplitArm:
        percent, body = children
        return n.SplitArm(
            span=self._span(meta),
            percent=n.PercentLit(span=self._tspan(percent), text=str(percent)[:-1]),
            body=body,
        )

    def send_email(self, meta: Any, children: list[Token]) -> n.SendEmail:
        return n.SendEmail(span=self._span(meta), email=self._string(children[0]))

    def notify(self, meta: Any, children: list[Any]) -> n.Notify:
        recipient, subject, body = children
        return n.Notify(
            span=self._span(meta),
            recipient=recipient,
            subject=self._maybe_string(subject),
            body=self._maybe_string(body),
        )

    def recipient(self, meta: Any, children: list[Token]) -> n.StringLit | None:
        (token,) = children
        return None if token.type == "OWNER" else self._string(token)

    def set_property(self, meta: Any, children: list[Any]) -> n.SetProperty:
        prop, value = children
        return n.SetProperty(span=self._span(meta), prop=prop, value=value)

    def clear_property(self, meta: Any, children: list[Any]) -> n.ClearProperty:
        return n.ClearProperty(span=self._span(meta), prop=children[0])

    def increment(self, meta: Any, children: list[Any]) -> n.Increment:
        prop, amount = children
        return n.Increment(
            span=self._span(meta),
            prop=prop,
            amount=n.NumberLit(span=self._tspan(amount), text=str(amount)),
        )

    def copy_property(self, meta: Any, children: list[Any]) -> n.CopyProperty:
        source, target = children
        return n.CopyProperty(span=self._span(meta), source=source, target=target)

    def create_task(self, meta: Any, children: list[Any]) -> n.CreateTask:
        title, *options = children
        values: dict[str, Any] = {}
        for name, value, span in options:
            if name in values:
                raise _SyntaxProblem(
                    Diagnostic.of(
                        "syntax",
                        f"found the task option `{name.replace('_', ' ')}` a second time, "
                        "expected each option at most once",
                        span,
                        hint="remove one of them",
                    )
                )
            values[name] = value
        assignee = values.pop("assign", None)
        return n.CreateTask(
            span=self._span(meta),
            title=self._string(title),
            assign_owner=assignee == "owner",
            assignee=assignee if isinstance(assignee, n.StringLit) else None,
            **values,
        )

    def task_due(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        return "due", children[0], self._span(meta)

    def task_assign(self, meta: Any, children: list[Token]) -> tuple[str, Any, Span]:
        _assign_to, target = children
        value = "owner" if target.type == "OWNER" else self._string(target)
        return "assign", value, self._span(meta)

    def task_notes(self, meta: Any, children: list[Token]) -> tuple[str, Any, Span]:
        return "notes", self._string(children[0]), self._span(meta)

    def task_priority(self, meta: Any, children: list[Token]) -> tuple[str, Any, Span]:
        return "priority", str(children[0]), self._span(meta)

    def create_record(self, meta: Any, children: list[Any]) -> n.CreateRecord:
        object_type, *fields = children
        return n.CreateRecord(
            span=self._span(meta),
            object_type=n.Name(span=self._tspan(object_type), value=str(object_type)),
            fields=tuple(fields),
        )

    def field(self, meta: Any, children: list[Any]) -> n.Field:
        name, value = children
        return n.Field(span=self._span(meta), name=n.Name(span=self._tspan(name), value=str(name)), value=value)

    def assign_owner(self, meta: Any, children: list[Token]) -> n.AssignOwner:
        return n.AssignOwner(span=self._span(meta), owner=self._string(children[0]))

    def rotate_owner(self, meta: Any, children: list[Any]) -> n.RotateOwner:
        return n.RotateOwner(span=self._span(meta), owners=children[0])

    def add_to_list(self, meta: Any, children: list[Token]) -> n.AddToList:
        return n.AddToList(span=self._span(meta), name=self._string(children[0]))

    def remove_from_list(self, meta: Any, children: list[Token]) -> n.RemoveFromList:
        return n.RemoveFromList(span=self._span(meta), name=self._string(children[0]))

    def enroll_in_workflow(self, meta: Any, children: list[Token]) -> n.EnrollInWorkflow:
        return n.EnrollInWorkflow(span=self._span(meta), workflow=self._string(children[0]))

    def unenroll_from_workflow(self, meta: Any, children: list[Token]) -> n.UnenrollFromWorkflow:
        return n.UnenrollFromWorkflow(span=self._span(meta), workflow=self._string(children[0]))

    def webhook(self, meta: Any, children: list[Any]) -> n.Webhook:
        method, url, body = children
        return n.Webhook(
            span=self._span(meta),
            method=str(method),
            url=self._string(url),
            body=self._maybe_string(body),
        )

    def placeholder(self, meta: Any, children: list[Token]) -> n.Placeholder:
        return n.Placeholder(span=self._span(meta), text=self._string(children[0]))

    def label(self, meta: Any, children: list[Token]) -> n.Label:
        return n.Label(span=self._span(meta), name=self._string(children[0]))

    def go_to(self, meta: Any, children: list[Token]) -> n.GoTo:
        return n.GoTo(span=self._span(meta), target=self._string(children[0]))

    def end(self, meta: Any, children: list[Any]) -> n.End:
        return n.End(span=self._span(meta))


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
        for field in attrs.fields(type(value)):
            if field.name == "span":
                continue
            item = getattr(value, field.name)
            if isinstance(item, n.Node) or (isinstance(item, tuple) and item and not isinstance(item[0], str)):
                nested.append((field.name, item))
            elif isinstance(item, Span):
                continue
            elif item is None or item == () or item is False:
                continue
            else:
                scalars.append(f"{field.name}={item!r}")
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
