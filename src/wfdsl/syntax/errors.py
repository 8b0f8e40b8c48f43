"""Syntax errors in words: Lark's exceptions in, `syntax` diagnostics out.

The wording of every terminal of `grammar/wfdsl.lark` ("a string", "a date
like 2026-12-24"), of groups of them ("a step", "a clause"), and of what a
string means after some words ("a string naming the email"), beside the code
that turns an `UnexpectedInput` into a message: what was found, what was
expected, after which words, and a hint where one helps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from wfdsl.diagnostics import Diagnostic
from wfdsl.spans import Span

if TYPE_CHECKING:  # Lark is imported only to word an error (well-formed text is parsed without it)
    from lark import Token
    from lark.exceptions import UnexpectedInput


class SyntaxProblem(Exception):
    """A syntax diagnostic raised while one text is parsed (it ends that parse)."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _Placed(Protocol):
    """A token of either lexer: where it starts and ends."""

    @property
    def line(self) -> int | None: ...
    @property
    def column(self) -> int | None: ...
    @property
    def end_line(self) -> int | None: ...
    @property
    def end_column(self) -> int | None: ...
    def __len__(self) -> int: ...


def token_span(token: _Placed, path: str) -> Span:
    return Span(
        file=path,
        line=token.line or 1,
        col=token.column or 1,
        end_line=token.end_line or token.line or 1,
        end_col=token.end_column or (token.column or 1) + len(token),
    )


def file_span(text: str, path: str) -> Span:
    lines = text.split("\n")
    return Span(file=path, line=1, col=1, end_line=len(lines), end_col=len(lines[-1]) + 1)


#: Strings, comments, braces and the word `workflow`: enough to find blocks
#: without parsing (recovery's block starts, the innermost open block).
#: Patterns used only after a syntax error are compiled then (`re.compile` keeps them).
BLOCK_SCAN = r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[{}]|\bworkflow\b'


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

_YEAR = r"[0-9]{4}"
_WORD_TOKEN = (
    r'"(?:[^"\\\n]|\\.)*"|#[^\n]*'
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?"  # dates, date-times
    r"|[0-9]{1,2}:[0-9]{2}"  # times of day
    r"|-?[0-9]+(?:\.[0-9]+)?%?"  # numbers, percentages
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"  # names, dotted names
    r"|!=|<=|>=|\.\.|\S"
)


def _words_for(expected: Iterable[str], keywords: Mapping[str, str]) -> list[str]:
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
        keyword = keywords.get(name)
        words.append(f"`{keyword}`" if keyword is not None else name.lower())
    return words


def _closest_keyword(word: str, expected: set[str], keywords: Mapping[str, str]) -> str | None:
    import difflib  # only a misspelt word needs it

    candidates = [k for k in (keywords.get(name) for name in expected) if k and k.isalpha()]
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.7)
    return matches[0] if matches else None


#: The words of terminals that are patterns rather than keywords, for "did you mean".
PATTERN_WORDS: dict[str, tuple[str, ...]] = {
    "UNIT": ("minute", "minutes", "hour", "hours", "day", "days", "week", "weeks"),
    "WEEKDAY": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
}


def _closest_word(word: str, expected: set[str]) -> str | None:
    import difflib

    words = [w for name in expected for w in PATTERN_WORDS.get(name, ())]
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
    words = [w for w in re.compile(_WORD_TOKEN).findall(text, start, pos) if not w.startswith("#")]
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


_LEADING_SPACE = r"\s*"


def _open_block(text: str, pos: int) -> tuple[str, int] | None:
    """The innermost `{` still open at `pos`: the words before it and its line."""
    stack: list[int] = []
    # A block parsed alone is padded with the whitespace of the text before it; skipping
    # that keeps the scan to the block (else many broken blocks cost quadratic time).
    skip = re.compile(_LEADING_SPACE).match(text).end()  # type: ignore[union-attr]
    for match in re.compile(BLOCK_SCAN).finditer(text, min(skip, pos), pos):
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


def describe_error(error: UnexpectedInput, text: str, path: str, keywords: Mapping[str, str]) -> Diagnostic:
    """Lark's `error` while parsing `text` as a `syntax` diagnostic in words: what was
    found, what was expected (by the grammar's `keywords`: terminal name -> keyword),
    after which words, and a hint where one helps."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

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
        allowed = _words_for(error.allowed or (), keywords)
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
            span = token_span(token, path)
            pos = token.start_pos or 0
        previous = _previous_words(text, pos)
        phrase = _context_phrase(previous, expected)
        words = [phrase] if phrase else _words_for(expected, keywords)
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
        elif token.type == "NUMBER" and str(token).startswith("-") and previous and re.fullmatch(_YEAR, previous[-1]):
            hint = "write a date with a two-digit month and day: `2027-01-05`"
        elif token.type == "NAME" and (guess := _closest_word(str(token), expected)):
            hint = f"did you mean `{guess}`?"
        elif token.type == "NAME" and (guess := _closest_keyword(str(token), expected, keywords)):
            hint = f"did you mean `{guess}`?"
        elif token.type == "NAME" and "STRING" in expected and not phrase:
            hint = f'names of emails, lists, workflows and labels are strings: "{token}"'
        return Diagnostic.of("syntax", message, span, hint=hint)
    if isinstance(error, UnexpectedEOF):  # pragma: no cover - LALR reports $END as a token
        span = file_span(text, path)
        return Diagnostic.of("syntax", "found the end of the file, expected more", span)
    span = Span(file=path, line=1, col=1, end_line=1, end_col=1)  # pragma: no cover
    return Diagnostic.of("syntax", str(error), span)  # pragma: no cover


def bad_escape(problem: str, span: Span) -> SyntaxProblem:
    """A string literal's unknown escape (`problem` says which)."""
    return SyntaxProblem(Diagnostic.of("syntax", problem, span, hint="write a backslash as `\\\\`"))


def repeated_task_option(name: str, span: Span) -> SyntaxProblem:
    """A `create task` option given twice."""
    return SyntaxProblem(
        Diagnostic.of(
            "syntax",
            f"found the task option `{name.replace('_', ' ')}` a second time, expected each option at most once",
            span,
            hint="remove one of them",
        )
    )
