"""Syntax: the grammar's Lark parser in, the source of `tables` out (its LALR table and terminals as plain data).

Lark stays the grammar's compiler: it analyses `grammar/wfdsl.lark` and builds
the LALR(1) table and the terminals. This module writes what the lean runtime
(`lalr`) needs of them as literals, so that parsing needs neither Lark nor a
snapshot. States and rules are numbered in the order a walk from the start
state meets them, so the output depends on the grammar alone.
`tests/test_lalr.py` checks that the committed module is what this makes;
after changing the grammar run `python -m wfdsl.syntax.tablegen`.
"""

from __future__ import annotations

import re
from pathlib import Path
from re import _parser as sre
from typing import Any

from lark import Lark
from lark.lexer import PatternRE, PatternStr, _regexp_has_newline

from wfdsl.syntax.grammar import grammar_text
from wfdsl.syntax.reductions import RuleShape, reduction_shape

_WIDTH = 118
_ASCII = [chr(i) for i in range(128)]


def _first_chars(regexp: str) -> tuple[str, bool]:
    """The ASCII characters a match of `regexp` can start with, and whether it can
    start with any other (a superset: lookarounds are ignored)."""
    chars: set[str] = set()

    def category_chars(name: Any) -> set[str]:
        pattern = {sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_SPACE: r"\s", sre.CATEGORY_WORD: r"\w"}.get(name)
        if pattern is None:
            raise _Anything
        return {c for c in _ASCII if re.match(pattern, c)}

    def walk(items: Any) -> bool:
        """Add the first characters of `items` to `chars`; True when `items` can match nothing."""
        for op, av in items:
            if op is sre.LITERAL:
                chars.add(chr(av))
                return False
            if op is sre.IN:
                for kind, arg in av:
                    if kind is sre.LITERAL:
                        chars.add(chr(arg))
                    elif kind is sre.RANGE:
                        chars.update(chr(i) for i in range(arg[0], arg[1] + 1))
                    elif kind is sre.CATEGORY:
                        chars.update(category_chars(arg))
                    else:  # a negated set, say
                        raise _Anything
                return False
            if op is sre.BRANCH:
                empty = False
                for branch in av[1]:
                    empty = walk(branch) or empty
                if not empty:
                    return False
            elif op is sre.SUBPATTERN:
                if not walk(av[-1]):
                    return False
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                low, _high, sub = av
                if not walk(sub) and low > 0:
                    return False
            elif op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):
                continue
            else:
                raise _Anything
        return True

    try:
        if walk(sre.parse(regexp)):
            raise _Anything
    except _Anything:
        return "".join(_ASCII), True
    ascii_only = all(ord(c) < 128 for c in chars)
    return "".join(sorted(c for c in chars if ord(c) < 128)), not ascii_only or _may_match_beyond_ascii(regexp)


def _may_match_beyond_ascii(regexp: str) -> bool:
    # `\d`, `\s` and `\w` match more than ASCII in a str pattern: be safe for any category.
    return any(escape in regexp for escape in (r"\d", r"\s", r"\w", r"\D", r"\S", r"\W"))


def encode_shape(shape: RuleShape) -> str:
    """A rule's shape as `reductions.decode_shape` reads it: "origin size name kept trailing flags"."""
    origin, size, name, include, trailing, inline, expand1 = shape
    kept = ",".join(f"{f'{nones}+' if nones else ''}{i}{'*' if expand else ''}" for i, expand, nones in include)
    flags = ("i" if inline else "") + ("e" if expand1 else "")
    return f"{origin} {size} {name} {kept or '-'} {trailing} {flags or '-'}"


class _Anything(Exception):
    """The first characters of a pattern are not worked out: any may start it."""


def tables_of(parser: Lark) -> dict[str, Any]:
    """The data of `tables` for `parser` (LALR, contextual lexer)."""
    table = parser.parser.parser.parser.parse_table
    start = table.start_states["start"]
    end = table.end_states["start"]
    terminals = sorted(
        parser.terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name)
    )
    ids = {t.name: i for i, t in enumerate(terminals)}
    terminal_rows = []
    for t in terminals:
        regexp = t.pattern.to_regexp()
        first, other = _first_chars(regexp)
        literal = isinstance(t.pattern, PatternStr) and not t.pattern.flags
        assert literal or isinstance(t.pattern, PatternRE), t
        terminal_rows.append(
            (t.name, t.pattern.value if literal else None, regexp, _regexp_has_newline(regexp), first, other)
        )
    unless = []
    for retok in terminals:
        if not isinstance(retok.pattern, PatternRE):
            continue
        for strtok in terminals:
            if not isinstance(strtok.pattern, PatternStr) or strtok.priority != retok.priority:
                continue
            s = strtok.pattern.value
            found = re.match(retok.pattern.to_regexp(), s)
            if found is not None and found.group(0) == s:
                embedded = set(strtok.pattern.flags) <= set(retok.pattern.flags)
                unless.append((ids[retok.name], ids[strtok.name], embedded))
    ignore = tuple(sorted(ids[name] for name in parser.lexer_conf.ignore))
    kept = {rule.expansion[i].name for rule in parser.rules for i, _inline, _nones in reduction_shape(rule)[3]}

    # States and rules numbered in the order a breadth-first walk meets them.
    numbers = {start: 0}
    order = [start]
    rule_numbers: dict[Any, int] = {}
    rules: list[Any] = []
    for state in order:
        for _symbol, (action, arg) in sorted(table.states[state].items()):
            if action.name == "Shift":
                if arg not in numbers:
                    numbers[arg] = len(order)
                    order.append(arg)
            elif arg not in rule_numbers:
                rule_numbers[arg] = len(rules)
                rules.append(arg)
    if end not in numbers:
        numbers[end] = len(order)
        order.append(end)
    symbols = sorted({str(symbol) for state in order for symbol in table.states[state]})
    symbol_ids = {symbol: i for i, symbol in enumerate(symbols)}
    states = []
    for state in order:
        row = []
        for symbol, (action, arg) in sorted(table.states[state].items()):
            code = numbers[arg] if action.name == "Shift" else -1 - rule_numbers[arg]
            row.append(f"{symbol_ids[str(symbol)]}:{code}")
        states.append(" ".join(row))
    return {
        "TERMINALS": tuple(terminal_rows),
        "UNLESS": tuple(unless),
        "IGNORE": ignore,
        "KEPT": tuple(sorted(kept & ids.keys())),
        "START": 0,
        "END": numbers[end],
        "SYMBOLS": tuple(symbols),
        "STATES": tuple(states),
        "RULES": tuple(encode_shape(reduction_shape(rule)) for rule in rules),
    }


_HEADER = '''"""Syntax: the grammar's LALR table and terminals as plain data, for `lalr`.

Generated from grammar/wfdsl.lark by `python -m wfdsl.syntax.tablegen`; do not edit.
TERMINALS: (name, literal or None, regexp, may hold a newline, ASCII first characters, may start
otherwise), in the order Lark's lexer tries them. UNLESS: (pattern terminal, keyword terminal, keyword
left out of the scanner) where the pattern matches the whole keyword. KEPT: the terminals some rule
keeps as a child (the others are only read for where they are). STATES: per state, "symbol:action"
with the symbol's number in SYMBOLS and the state to shift or go to (>= 0) or the rule to reduce by
(-1 - rule). RULES: each rule's shape, as `reductions.decode_shape` reads it.
"""

# fmt: off
'''


def _wrapped(value: Any, indent: str) -> list[str]:
    """`value`'s literal in lines of at most `_WIDTH` characters (containers split between items)."""
    text = repr(value)
    if len(indent) + len(text) + 1 <= _WIDTH or not isinstance(value, tuple | dict | list):
        return [indent + text + ","]
    opening, closing = ("{", "}") if isinstance(value, dict) else ("(", ")") if isinstance(value, tuple) else ("[", "]")
    items = [f"{k!r}: {v!r}," for k, v in value.items()] if isinstance(value, dict) else None
    lines = [indent + opening]
    inner = indent + " "
    if items is None:
        for item in value:
            lines.extend(_wrapped(item, inner))
    else:
        line = inner
        for item in items:
            if len(line) + len(item) + 1 > _WIDTH and line.strip():
                lines.append(line.rstrip())
                line = inner
            line += item + " "
        lines.append(line.rstrip())
    lines.append(indent + closing + ",")
    return lines


def _string_lines(value: str) -> list[str]:
    """A long string as adjacent literals, split after spaces."""
    lines: list[str] = []
    part = ""
    for word in value.split(" "):
        if part and len(repr(part + word)) + 2 > _WIDTH:
            lines.append(repr(part))
            part = ""
        part += word + " "
    lines.append(repr(part[:-1]) + ",")
    return lines


def _packed(values: tuple[Any, ...]) -> list[str]:
    """A tuple's items packed several to a line where they fit."""
    lines: list[str] = []
    line = ""
    for value in values:
        text = repr(value) + ","
        if len(text) + 1 > _WIDTH:
            if line:
                lines.append(line.rstrip())
                line = ""
            lines.extend(_string_lines(value) if isinstance(value, str) else _wrapped(value, ""))
            continue
        if len(line) + len(text) > _WIDTH:
            lines.append(line.rstrip())
            line = ""
        line += text + " "
    if line:
        lines.append(line.rstrip())
    return lines


def source(parser: Lark) -> str:
    """The text of `tables.py` for `parser`."""
    data = tables_of(parser)
    out = [_HEADER]
    for name, value in data.items():
        if isinstance(value, tuple) and value and isinstance(value[0], tuple | str):
            out.append(f"{name} = (")
            out.extend(_packed(value))
            out.append(")")
        else:
            out.append(f"{name} = {value!r}")
    out.append("# fmt: on")
    return "\n".join(out) + "\n"


def tables_path() -> Path:
    return Path(__file__).with_name("tables.py")


def grammar_parser() -> Lark:
    """Lark's parser of the grammar, with the options of `parser.lark_parser` that shape its table."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)


def main() -> None:
    tables_path().write_text(source(grammar_parser()), encoding="utf-8")


if __name__ == "__main__":
    main()
