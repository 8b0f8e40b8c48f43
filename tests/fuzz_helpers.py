"""Mutators of valid programs for the fuzz tests, and the "never raises" pipeline.

A mutation takes a valid program (text from `strategies.programs`) and breaks
it the way real files break: tokens dropped, swapped or duplicated, the text
truncated, random characters (NUL, control characters, non-ASCII) or bytes
(invalid UTF-8, a BOM) inserted, a very long line, deep nesting, a huge file.

`run_pipeline(text)` drives one text through parse, check, fmt, compile and
the plan JSON round trip and returns what happened; any exception escapes, so
a test that calls it fails on the first crash.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import strategies as st

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.check import check_project
from wfdsl.compile.compiler import compile_project
from wfdsl.limits import MAX_NESTING
from wfdsl.plan.model import plan_to_json, plans_from_json
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import VirtualClock
from wfdsl.stores.memory import MemoryStore
from wfdsl.syntax.parser import ParseResult, parse
from wfdsl.syntax.project import Project
from wfdsl.tools.fmt import format_source, same_ast

#: Words the mutator splices in: keywords and punctuation of the language.
KEYWORDS = (
    "workflow",
    "object",
    "contact",
    "deal",
    "steps",
    "enroll",
    "when",
    "on",
    "manually",
    "schedule",
    "reenroll",
    "goal",
    "suppress",
    "unenroll",
    "settings",
    "anchor",
    "if",
    "else",
    "branch",
    "split",
    "delay",
    "until",
    "wait",
    "for",
    "up",
    "to",
    "send",
    "email",
    "set",
    "clear",
    "increment",
    "by",
    "copy",
    "create",
    "task",
    "due",
    "in",
    "assign",
    "owner",
    "rotate",
    "among",
    "add",
    "remove",
    "from",
    "list",
    "notify",
    "webhook",
    "post",
    "placeholder",
    "label",
    "go",
    "end",
    "and",
    "or",
    "not",
    "is",
    "known",
    "unknown",
    "between",
    "contains",
    "starts",
    "with",
    "ends",
    "has",
    "ever",
    "been",
    "never",
    "within",
    "last",
    "next",
    "days",
    "before",
    "after",
    "ago",
    "at",
    "09:00",
    "2026-12-24",
    "2026-12-24T09:00",
    "50%",
    "42",
    "-3.5",
    "true",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "!=",
    "<",
    ">=",
    ".",
    '"',
    '"x"',
    "{{",
    "}}",
    "#",
    "\\",
    "only",
    "changed",
    "received",
)

#: Characters that are never in generated programs but are in broken files.
ODD_CHARS = (
    "\x00",
    "\x01",
    "\x7f",
    "\t",
    "\r",
    "\u2028",
    "\ufeff",
    "\u00a0",
    "é",
    "€",
    "𝔘",
    "\ufffd",
    "\x1b[31m",
    "\\",
    '"',
    "{{",
)

#: Bytes that make a file invalid UTF-8 (or odd UTF-8).
ODD_BYTES = (b"\xff", b"\xfe", b"\xc3", b"\xe2\x82", b"\x80", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf", b"\xc0\xaf")

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\S+|\s+')


def tokens(text: str) -> list[str]:
    """The text split into tokens and the whitespace between them (joining gives it back)."""
    return _TOKEN.findall(text)


def _words(parts: list[str]) -> list[int]:
    return [i for i, p in enumerate(parts) if not p.isspace()]


def drop_token(text: str, rnd: random.Random) -> str:
    parts = tokens(text)
    words = _words(parts)
    if words:
        del parts[rnd.choice(words)]
    return "".join(parts)


def swap_tokens(text: str, rnd: random.Random) -> str:
    parts = tokens(text)
    words = _words(parts)
    if len(words) >= 2:
        i = rnd.randrange(len(words) - 1)
        j = words[i + 1] if rnd.random() < 0.7 else rnd.choice(words)
        a = words[i]
        parts[a], parts[j] = parts[j], parts[a]
    return "".join(parts)


def duplicate_token(text: str, rnd: random.Random) -> str:
    parts = tokens(text)
    words = _words(parts)
    if words:
        i = rnd.choice(words)
        parts.insert(i, parts[i] + " ")
    return "".join(parts)


def insert_keyword(text: str, rnd: random.Random) -> str:
    parts = tokens(text)
    parts.insert(rnd.randint(0, len(parts)), f" {rnd.choice(KEYWORDS)} ")
    return "".join(parts)


def truncate(text: str, rnd: random.Random) -> str:
    return text[: rnd.randint(0, len(text))]


def insert_chars(text: str, rnd: random.Random) -> str:
    at = rnd.randint(0, len(text))
    odd = "".join(rnd.choice(ODD_CHARS) for _ in range(rnd.randint(1, 4)))
    return text[:at] + odd + text[at:]


def long_line(text: str, rnd: random.Random) -> str:
    """A very long line: a long string, identifier, number or comment at a random place."""
    size = rnd.choice((1_000, 20_000, 200_000))
    filler = rnd.choice(
        (
            '"' + "x" * size + '"',
            "contact." + "p" * size,
            "9" * rnd.choice((50, 101, 5_000)),
            "# " + "c" * size,
            " ".join(["contact.email is known"] * (size // 100)),
        )
    )
    at = rnd.randint(0, len(text))
    return text[:at] + " " + filler + " " + text[at:]


def deep_nesting(text: str, rnd: random.Random) -> str:
    """Braces, parentheses or `not`s nested around (or inside) the program, up to far past
    the limit."""
    depth = rnd.choice((MAX_NESTING - 2, MAX_NESTING, MAX_NESTING + 1, 500, 5_000))
    opener, closer = rnd.choice(
        (("(", ")"), ("{", "}"), ("not ", ""), ("not (", ")"), ("if contact.x = 1 {", "}"), ("[", "]"))
    )
    inner = rnd.choice(("contact.email is known", "end", ""))
    nested = opener * depth + inner + closer * depth
    at = rnd.randint(0, len(text))
    return text[:at] + " " + nested + " " + text[at:]


def huge(text: str, rnd: random.Random) -> str:
    """The program repeated: many workflows (duplicate names included) in one file."""
    return "\n".join([text] * rnd.choice((20, 100)))


TEXT_MUTATIONS: tuple[Callable[[str, random.Random], str], ...] = (
    drop_token,
    drop_token,
    swap_tokens,
    duplicate_token,
    insert_keyword,
    truncate,
    insert_chars,
    long_line,
    deep_nesting,
)


def mutate(text: str, rnd: random.Random, rounds: int = 3, *, allow_huge: bool = False) -> str:
    """`rounds` random mutations of `text`; `huge` at most once (a file of 100 copies,
    not of 10,000)."""
    choices = TEXT_MUTATIONS + ((huge,) if allow_huge else ())
    for _ in range(rounds):
        mutation = rnd.choice(choices)
        if mutation is huge:
            choices = TEXT_MUTATIONS
        text = mutation(text, rnd)
    return text


def mutate_bytes(data: bytes, rnd: random.Random, rounds: int = 2) -> bytes:
    """Byte-level damage for files: odd bytes spliced in, a byte flipped, a cut mid-character."""
    for _ in range(rounds):
        roll = rnd.random()
        at = rnd.randint(0, len(data))
        if roll < 0.5:
            data = data[:at] + rnd.choice(ODD_BYTES) + data[at:]
        elif roll < 0.75 and data:
            i = min(at, len(data) - 1)
            data = data[:i] + bytes([data[i] ^ (1 << rnd.randrange(8))]) + data[i + 1 :]
        else:
            data = data[:at]
    return data


@st.composite
def mutated(draw: st.DrawFn, programs: st.SearchStrategy[str], *, max_rounds: int = 4, allow_huge: bool = False) -> str:
    """A program from `programs`, mutated 1..`max_rounds` times."""
    text = draw(programs)
    rnd = draw(st.randoms(use_true_random=False))
    return mutate(text, rnd, rnd.randint(1, max_rounds), allow_huge=allow_huge)


# ---------------------------------------------------------------- the pipeline


@attrs.frozen(kw_only=True)
class Outcome:
    """What one text did in the pipeline."""

    parsed: bool
    diagnostics: tuple[str, ...]  # rule names
    compiled: bool


def _engine_for(plans: Any) -> None:
    """A compiled plan must load into an engine (the runtime's own checks on plans)."""
    Engine(plans, MemoryCRM(), MemoryStore(), VirtualClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))


def check_formatting(result: ParseResult, text: str, path: str) -> None:
    """fmt on a file that parsed: the output parses to the same AST and is a fixed point."""
    formatted = format_source(text, path)
    assert isinstance(formatted, str), formatted
    again = parse(formatted, path)
    assert not again.diagnostics, (formatted, again.diagnostics)
    assert same_ast(result.module.workflows, again.module.workflows)
    assert format_source(formatted, path) == formatted


def run_pipeline(result: ParseResult, *, engine: bool = True) -> Outcome:
    """check, fmt, compile and the plan JSON round trip on a parse result; never raises for
    any input (that is what the fuzz tests assert)."""
    text, path = result.source, result.module.path
    project = Project(files=(result,))
    diagnostics = check_project(project)
    assert all(d.span.file == path for d in diagnostics)
    assert all(d.span.line >= 1 and d.span.col >= 1 for d in diagnostics)
    if result.diagnostics:
        # fmt reports the problems and formats nothing (a file that is not UTF-8
        # has no text: fmt's CLI reads it the way parse_file does).
        if text:
            formatted = format_source(text, path)
            assert isinstance(formatted, tuple) and formatted
    else:
        check_formatting(result, text, path)
    plans, compile_diagnostics = compile_project(project)
    if plans is not None:
        json_text = plan_to_json(plans)
        assert plan_to_json(plans_from_json(json_text)) == json_text
        assert plans_from_json(json_text) == plans
        if engine:
            _engine_for(plans)
    else:
        assert any(d.severity.value == "error" for d in compile_diagnostics)
    return Outcome(
        parsed=not result.diagnostics, diagnostics=tuple(d.name for d in diagnostics), compiled=plans is not None
    )


def run_text(text: str, path: str = "fuzz.wf", *, engine: bool = True) -> Outcome:
    return run_pipeline(parse(text, path), engine=engine)
