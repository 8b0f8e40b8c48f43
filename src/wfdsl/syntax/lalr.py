"""Syntax: `.wf` text and the grammar's `tables` in, the reductions' result out, or `Rejected`.

The runtime that parses well-formed text without Lark: an LALR(1) driver over
the parse table Lark built from the grammar (`tables`, written by `tablegen`),
fed by a lexer that reproduces Lark's contextual lexer token for token. In a
parser state, the lexer tries only the terminals the state accepts (and the
ignored ones), in Lark's order (priority, then longest possible match, then
longest pattern, then name), the first that matches winning; a keyword that a
pattern such as NAME also matches is the keyword where the state accepts it.
Lark compiles one regular expression per state, in every process; here each
terminal's pattern is compiled once, when first needed, and each state's
candidates are found by the character at hand.

Anything this runtime does not accept (any syntax error, or a problem a
reduction raises) is `Rejected`: the caller parses again with Lark's parser,
which words the error, so diagnostics do not depend on this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from wfdsl.syntax import tables
from wfdsl.syntax.tokens import Token


class Rejected(Exception):
    """The text is not one this runtime parses: parse it with Lark's parser for the diagnostic."""


#: A reduction: the children, their bounds (start line, column, end line, column) and a context in, a value out.
Reduction = Callable[[list[Any], Any, Any], Any]

#: A rule by its number: the symbol it makes, how many it is made of, its reduction, and
#: whether that reduction is the rule's one child as it is (`?criteria: and_expr`).
Rule = tuple[str, int, Reduction, bool]

_IGNORED = frozenset(tables.IGNORE)
_COMMENT = next(i for i, row in enumerate(tables.TERMINALS) if row[0] == "COMMENT")
_TERMINAL_IDS = {row[0]: i for i, row in enumerate(tables.TERMINALS)}
_KEPT = frozenset(tables.KEPT)


def _blanks() -> dict[str, Callable[[str, int], re.Match[str] | None]]:
    """The ASCII characters only an ignored terminal (WS) can start a match at, and its
    pattern's `match`: whatever the state, Lark's lexer tries that terminal alone there."""
    starting: dict[str, list[int]] = {}
    for terminal, row in enumerate(tables.TERMINALS):
        for char in row[4]:
            starting.setdefault(char, []).append(terminal)
    found: dict[str, Callable[[str, int], re.Match[str] | None]] = {}
    for char, terminals in starting.items():
        if len(terminals) == 1 and terminals[0] in _IGNORED and terminals[0] != _COMMENT:
            _name, literal, regexp, newline, _first, _other = tables.TERMINALS[terminals[0]]
            if literal is None and newline:
                found[char] = re.compile(regexp).match
    return found


_BLANKS = _blanks()


#: One terminal as a state's lexer tries it: its literal, or "" and its pattern's `match`; its
#: name; whether its text may hold a newline; the keywords it stands for in this state
#: (text -> keyword terminal), if any; and what becomes of it (`_TOKEN`, `_SKIP`, `_KEEP_COMMENT`).
_Match = Callable[[str, int], "re.Match[str] | None"]
_Candidate = tuple[str, _Match | None, str, bool, dict[str, str] | None, int]
_TOKEN, _SKIP, _KEEP_COMMENT = 0, 1, 2

#: For each pattern terminal, the keyword terminals whose whole text it matches: keyword ->
#: whether Lark's scanner leaves the keyword out where both are accepted.
_KEYWORDS_OF: dict[int, dict[int, bool]] = {}
for _pattern, _keyword, _left_out in tables.UNLESS:
    _KEYWORDS_OF.setdefault(_pattern, {})[_keyword] = _left_out


class _StateLexer:
    """The terminals one parser state accepts, in the order Lark's scanner tries them."""

    __slots__ = ("order", "keywords", "by_char")

    def __init__(self, accepts: frozenset[int]) -> None:
        terminals = tables.TERMINALS
        embedded: set[int] = set()
        self.keywords: dict[int, dict[str, str]] = {}
        for pattern in accepts & _KEYWORDS_OF.keys():
            known = _KEYWORDS_OF[pattern]
            words = {kw for kw in accepts if kw in known}
            embedded.update(kw for kw in words if known[kw])
            if words:
                self.keywords[pattern] = {str(terminals[kw][1]): terminals[kw][0] for kw in sorted(words)}
        self.order = tuple(t for t in sorted(accepts) if t not in embedded)
        self.by_char: dict[str, tuple[_Candidate, ...]] = {}

    def candidates(self, char: str) -> tuple[_Candidate, ...]:
        """The terminals that may match at `char`, in order (found once per character)."""
        terminals = tables.TERMINALS
        ascii_char = ord(char) < 128
        found = tuple(
            _candidate(t, self.keywords.get(t))
            for t in self.order
            if (char in terminals[t][4] if ascii_char else terminals[t][5])
        )
        self.by_char[char] = found
        return found


_CANDIDATES: dict[tuple[int, int], _Candidate] = {}


def _candidate(terminal: int, keywords: dict[str, str] | None) -> _Candidate:
    key = (terminal, id(keywords) if keywords else 0)
    found = _CANDIDATES.get(key)
    if found is None:
        name, literal, regexp, newline, _first, _other = tables.TERMINALS[terminal]
        match = None if literal is not None else re.compile(regexp).match
        kind = _KEEP_COMMENT if terminal == _COMMENT else _SKIP if terminal in _IGNORED else _TOKEN
        found = _CANDIDATES[key] = (literal or "", match, name, newline, keywords, kind)
    return found


class _Actions(list[dict[str, int] | None]):
    """Each state's actions (symbol -> state to shift or go to, or -1 - rule to reduce by),
    read from `tables` when the state is first reached: a parse meets few of them."""

    def row(self, state: int) -> dict[str, int]:
        symbols = tables.SYMBOLS
        found: dict[str, int] = {}
        for item in tables.STATES[state].split():
            symbol, _, action = item.partition(":")
            found[symbols[int(symbol)]] = int(action)
        self[state] = found
        return found


_ACTIONS = _Actions([None] * len(tables.STATES))

_LEXERS_BY_ACCEPTS: dict[frozenset[int], _StateLexer] = {}
_LEXERS: list[_StateLexer | None] = [None] * len(tables.STATES)


def _lexer(state: int) -> _StateLexer:
    found = _LEXERS[state]
    if found is None:
        row = _ACTIONS[state] or _ACTIONS.row(state)
        accepts = frozenset(_TERMINAL_IDS[s] for s in row if s in _TERMINAL_IDS) | _IGNORED
        found = _LEXERS_BY_ACCEPTS.get(accepts)
        if found is None:
            found = _LEXERS_BY_ACCEPTS[accepts] = _StateLexer(accepts)
        _LEXERS[state] = found
    return found


def parse(text: str, rules: Mapping[int, Rule], context: Any, comments: list[Token]) -> Any:
    """Parse `text`: each rule's reduction (`rules`, by number) is called with the children,
    their bounds and `context`; ignored comments go to `comments`. Raises `Rejected`."""
    actions = _ACTIONS
    lexers = _LEXERS
    state = tables.START
    states = [state]
    values: list[Any] = []
    bounds: list[Any] = []
    blanks = _BLANKS
    kept = _KEPT
    pos = 0
    line = 1
    line_start = 0
    end = len(text)
    ended = False
    while True:
        # The next token, lexed in the current state (as Lark's contextual lexer does).
        if pos < end:
            char = text[pos]
            blank = blanks.get(char)
            if blank is not None:
                matched = blank(text, pos)
                if matched is None:
                    raise Rejected
                value = matched.group()
                pos += len(value)
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos - len(value) + value.rindex("\n") + 1
                continue
            lexer = lexers[state] or _lexer(state)
            found = lexer.by_char.get(char) or lexer.candidates(char)
            for literal, match, kind, newline, keywords, fate in found:  # noqa: B007 - the one that matched is used below
                if match is None:
                    if text.startswith(literal, pos):
                        value = literal
                        break
                else:
                    matched = match(text, pos)
                    if matched is not None:
                        value = matched.group()
                        break
            else:
                raise Rejected
            column = pos - line_start + 1
            start_line = line
            pos += len(value)
            if newline:
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos - len(value) + value.rindex("\n") + 1
            if fate:
                if fate == _KEEP_COMMENT:
                    comments.append(Token(kind, value, start_line, column, line, pos - line_start + 1))
                continue
            if keywords is not None:
                kind = keywords.get(value, kind)
            end_column = pos - line_start + 1
            # A keyword no rule keeps is only read for where it is (`place`).
            token = Token(kind, value, start_line, column, line, end_column) if kind in kept else None
            place = (start_line, column, line, end_column)
        else:
            kind = "$END"
            ended = True
        # Feed it: reduce as long as the table says so, then shift (or accept at the end).
        while True:
            action = (actions[state] or actions.row(state)).get(kind)
            if action is None:
                raise Rejected
            if action >= 0:
                if ended:  # pragma: no cover - the end is never shifted
                    raise Rejected
                states.append(action)
                values.append(token)
                bounds.append(place)
                state = action
                break
            origin, size, reduce, passes = rules[-1 - action]
            if size == 1:  # in place: the child's bounds are the rule's
                if not passes:
                    values[-1] = reduce([values[-1]], bounds[-1], context)
                state = states[-1] = actions[states[-2]][origin]  # type: ignore[index]
                if ended and state == tables.END:
                    return values[-1]
                continue
            extent: tuple[int, int, int, int] | None
            if size:
                children = values[-size:]
                spans = bounds[-size:]
                del values[-size:], bounds[-size:], states[-size:]
                first = spans[0]
                last = spans[-1]
                if first is None or last is None:
                    present = [b for b in spans if b is not None]
                    first, last = (present[0], present[-1]) if present else (None, None)
                extent = None if first is None else (first[0], first[1], last[2], last[3])
            else:
                children = []
                extent = None
            value = reduce(children, extent, context)
            state = actions[states[-1]][origin]  # type: ignore[index]
            states.append(state)
            values.append(value)
            bounds.append(extent)
            if ended and state == tables.END:
                return value
