"""Hypothesis strategies: syntactically valid wfdsl programs as text.

Every construct of grammar/wfdsl.lark can come out: all clause kinds in any
order (a repeated clause now and then), every trigger kind, every predicate,
every step (nested `if`/`branch on`/`split` to a bounded depth), every
setting, every literal form (durations with the "wrong" singular/plural,
strings with escapes, `{{ data }}` tokens and non-ASCII text). The layout is
random too: spaces, tabs, newlines, redundant parentheses and `#` comments
between tokens (wherever the lexer allows them).

The programs parse without syntax errors; they are not meant to pass the
checker (names of lists, emails and properties are made up).

Use:

    from strategies import programs, criteria_texts

    @given(programs())
    def test_something(text: str) -> None: ...

`mutated_programs()` gives valid programs with a few random edits (most of
them do not parse) for robustness tests. Building blocks (`criteria_texts`,
`step_texts`, `workflow_texts`, `value_texts`, `duration_texts`) are
strategies of token lists or text, for tests that need one construct rather
than a whole file.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

Tokens = list[str]

OBJECTS = ("contact", "company", "deal", "ticket", "custom_pet")
# Names after a dot may be keywords (`deal.stage`, `ticket.goal`): the lexer is contextual.
PROPERTY_NAMES = (
    "email",
    "firstname",
    "lifecyclestage",
    "hubspotscore",
    "city",
    "country",
    "renewal_date",
    "amount",
    "dealstage",
    "stage",
    "goal",
    "status",
    "priority",
    "type",
    "owner",
    "list",
    "steps",
    "name",
    "createdate",
    "hs_lead_status",
)
EVENTS = (
    "form.submitted",
    "form.viewed",
    "page.visited",
    "email.clicked",
    "email.opened",
    "meeting.booked",
    "record.created",
    "list.added",
    "call.ended",
    "cta.clicked",
    "workflow.goal_met",
    "document.viewed",
)
EVENT_ATTRIBUTES = ("form", "url", "url.path", "url.domain", "email", "list", "outcome")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNITS = ("minute", "minutes", "hour", "hours", "day", "days", "week", "weeks")

_TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ 019#{}-_.,:;!?/'\"\\\tæøå€✓")), max_size=12)


def _escape(value: str, rnd: random.Random) -> str:
    """A string literal for `value`; tabs are written literally or as `\\t` at random."""
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t" if rnd.random() < 0.5 else "\t")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


@st.composite
def string_tokens(draw: st.DrawFn) -> str:
    """A string literal: text with escapes, sometimes a `{{ contact.firstname }}` token."""
    rnd = draw(st.randoms(use_true_random=False))
    value = draw(_TEXT)
    if draw(st.booleans()):
        value += draw(st.sampled_from(["{{ contact.firstname }}", "{{contact.email}}", "\n"]))
    return _escape(value, rnd)


@st.composite
def prop_refs(draw: st.DrawFn, bare: bool = False) -> str:
    """`contact.email`; with `bare`, an event attribute such as `form` or `url.path`."""
    if bare:
        return draw(st.sampled_from(EVENT_ATTRIBUTES))
    obj = draw(st.sampled_from(OBJECTS))
    parts = draw(st.lists(st.sampled_from(PROPERTY_NAMES), min_size=1, max_size=2))
    return ".".join([obj, *parts])


def _number() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-1000, 100000).map(str),
        st.tuples(st.integers(-99, 999), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]}"),
    )


def _date() -> st.SearchStrategy[str]:
    return st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}")


def _time() -> st.SearchStrategy[str]:
    return st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")


def _datetime() -> st.SearchStrategy[str]:
    return st.tuples(_date(), _time()).map(lambda t: f"{t[0]}T{t[1]}")


@st.composite
def value_texts(draw: st.DrawFn, depth: int = 0) -> Tokens:
    """A literal as tokens: string, number, boolean, date, time, date-time, percentage or list."""
    kind = draw(
        st.sampled_from(
            ["string", "number", "bool", "date", "time", "datetime", "percent"] + (["list"] if depth < 2 else [])
        )
    )
    if kind == "string":
        return [draw(string_tokens())]
    if kind == "number":
        return [draw(_number())]
    if kind == "bool":
        return [draw(st.sampled_from(["true", "false"]))]
    if kind == "date":
        return [draw(_date())]
    if kind == "time":
        return [draw(_time())]
    if kind == "datetime":
        return [draw(_datetime())]
    if kind == "percent":
        return [draw(st.integers(0, 100)).__str__() + "%"]
    return draw(list_texts(depth + 1))


@st.composite
def list_texts(draw: st.DrawFn, depth: int = 1) -> Tokens:
    items = draw(st.lists(value_texts(depth), max_size=3))
    out: Tokens = ["["]
    for i, item in enumerate(items):
        if i:
            out.append(",")
        out.extend(item)
    if items and draw(st.booleans()):
        out.append(",")
    return [*out, "]"]


@st.composite
def duration_texts(draw: st.DrawFn) -> Tokens:
    """`1 days 6 hour`: singular and plural mixed up on purpose (the formatter fixes them)."""
    parts = draw(st.lists(st.tuples(st.integers(1, 40), st.sampled_from(UNITS)), min_size=1, max_size=3))
    out: Tokens = []
    for amount, unit in parts:
        out += [str(amount), unit]
    return out


@st.composite
def event_texts(draw: st.DrawFn, depth: int = 0) -> Tokens:
    """`form.submitted`, `form.submitted(form = "x")`, `contact.city changed from "a" to "b"`."""
    if draw(st.integers(0, 3)) == 0:
        out = [draw(prop_refs()), "changed"]
        if draw(st.booleans()):
            out += ["from", *draw(value_texts(1))]
        if draw(st.booleans()):
            out += ["to", *draw(value_texts(1))]
        return out
    name = draw(st.sampled_from(EVENTS))
    args = draw(st.integers(0, 3))
    if args == 0 or depth >= 2:
        return [name]
    if args == 1:
        return [name, "(", ")"]
    return [name, "(", *draw(criteria_texts(depth + 1, bare=True)), ")"]


@st.composite
def predicate_texts(draw: st.DrawFn, depth: int = 0, bare: bool = False) -> Tokens:
    """One predicate (with `bare`, property names are event attributes)."""
    p = draw(prop_refs(bare=bare))
    kind = draw(st.integers(0, 24))
    v = value_texts(1)
    if kind == 0:
        return [p, draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="])), *draw(v)]
    if kind == 1:
        return [p, "is", draw(st.sampled_from(["known", "unknown"]))]
    if kind == 2:
        return [p, "in", *draw(list_texts())]
    if kind == 3:
        return [p, "not", "in", *draw(list_texts())]
    if kind == 4:
        return [p, "between", *draw(v), "and", *draw(v)]
    if kind == 5:
        return [p, "contains", draw(string_tokens())]
    if kind == 6:
        return [p, "not", "contains", draw(string_tokens())]
    if kind == 7:
        return [p, "starts", "with", draw(string_tokens())]
    if kind == 8:
        return [p, "ends", "with", draw(string_tokens())]
    if kind == 9:
        return [p, "has", draw(st.sampled_from(["ever", "never"])), "been", *draw(v)]
    if kind == 10:
        return [p, draw(st.sampled_from(["before", "after"])), *draw(v)]
    if kind == 11:
        return [p, "within", draw(st.sampled_from(["last", "next"])), *draw(duration_texts())]
    if kind == 12:
        return [p, "more", "than", *draw(duration_texts()), "ago"]
    if kind == 13:
        return ["in", "list", draw(string_tokens())]
    if kind == 14:
        return ["enrolled", "in", "workflow", draw(string_tokens())]
    if kind == 15:
        return ["reached", "goal", "of", "workflow", draw(string_tokens())]
    if kind in (16, 17) and depth < 2:
        out = ["has", *(["not"] if kind == 17 else []), *draw(event_texts(depth + 1))]
        if draw(st.booleans()):
            out += ["within", "last", *draw(duration_texts())]
        return out
    if kind == 18:
        return ["received"]
    if kind == 19 and depth < 2:
        count = draw(st.sampled_from(["1", "2", "3", "10"]))
        out = ["has", *draw(event_texts(depth + 1)), "at", "least", count, "time" if count == "1" else "times"]
        if draw(st.booleans()):
            out += ["within", "last", *draw(duration_texts())]
        return out
    if kind == 20:
        return [p, *(["not"] if draw(st.booleans()) else []), "updated", "within", "last", *draw(duration_texts())]
    return [p, "=", *draw(v)]


@st.composite
def criteria_texts(draw: st.DrawFn, depth: int = 0, bare: bool = False) -> Tokens:
    """Criteria: predicates combined with `or`, `and`, `not` and (often redundant) parentheses."""
    shape = draw(st.integers(0, 9 if depth < 3 else 0))
    if shape <= 3:
        return draw(predicate_texts(depth, bare))
    if shape <= 5:
        items = draw(st.lists(criteria_texts(depth + 1, bare), min_size=2, max_size=3))
        word = "or" if shape == 4 else "and"
        out: Tokens = []
        for i, item in enumerate(items):
            out += ([word] if i else []) + item
        return out
    if shape <= 7:
        return ["not", *draw(criteria_texts(depth + 1, bare))]
    return ["(", *draw(criteria_texts(depth + 1, bare)), ")"]


@st.composite
def block_texts(draw: st.DrawFn, depth: int = 0) -> Tokens:
    steps = draw(st.lists(step_texts(depth), max_size=4 if depth < 2 else 2))
    return ["{", *[tok for step in steps for tok in step], "}"]


@st.composite
def task_texts(draw: st.DrawFn) -> Tokens:
    out = ["create", "task", draw(string_tokens())]
    options: list[Tokens] = []
    if draw(st.booleans()):
        options.append(["due", "in", *draw(duration_texts())])
    assign = draw(st.integers(0, 2))
    if assign == 1:
        options.append(["assign to", "owner"])  # `assign to` is one token: spaces only between
    elif assign == 2:
        options.append(["assign to", draw(string_tokens())])
    if draw(st.booleans()):
        options.append(["notes", draw(string_tokens())])
    if draw(st.booleans()):
        options.append(["priority", draw(st.sampled_from(["low", "medium", "high"]))])
    for option in draw(st.permutations(options)):
        out += option
    return out


@st.composite
def step_texts(draw: st.DrawFn, depth: int = 0) -> Tokens:
    """One step (compound steps nest up to a bounded depth)."""
    kinds = list(range(26)) + ([26, 27, 28, 29] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    s = draw(string_tokens())
    p = draw(prop_refs())
    at = ["at", draw(_time())] if draw(st.booleans()) else []
    if kind == 0:
        return ["delay", *draw(duration_texts())]
    if kind == 1:
        return ["delay", "until", draw(st.sampled_from(WEEKDAYS)), *at]
    if kind == 2:
        return ["delay", "until", draw(_time())]
    if kind == 3:
        base = draw(st.one_of(_date(), _datetime(), prop_refs()))
        offset = [draw(st.sampled_from(["+", "-"])), *draw(duration_texts())] if draw(st.booleans()) else []
        return ["delay", "until", base, *offset, *at]
    if kind == 4:
        return ["delay", "until", "anchor", *at]
    if kind == 5:
        side = draw(st.sampled_from(["before", "after"]))
        return ["delay", "until", *draw(duration_texts()), side, "anchor", *at]
    if kind == 6:
        return ["wait", "for", *draw(event_texts()), "up", "to", *draw(duration_texts())]
    if kind == 7:
        return ["send", "email", s]
    if kind == 8:
        out = ["notify", draw(st.one_of(st.just("owner"), string_tokens()))]
        if draw(st.booleans()):
            out += ["subject", draw(string_tokens())]
        if draw(st.booleans()):
            out += ["body", draw(string_tokens())]
        return out
    if kind == 9:
        return ["set", p, "=", *draw(value_texts())]
    if kind == 10:
        return ["clear", p]
    if kind == 11:
        return ["increment", p, "by", draw(_number())]
    if kind == 12:
        return ["copy", p, "to", draw(prop_refs())]
    if kind == 13:
        return draw(task_texts())
    if kind == 14:
        fields = draw(st.lists(st.sampled_from(PROPERTY_NAMES), max_size=3, unique=True))
        out = ["create", draw(st.sampled_from(["deal", "ticket", "company", "custom_pet"])), "{"]
        for i, name in enumerate(fields):
            out += ([","] if i else []) + [name, "=", *draw(value_texts())]
        if fields and draw(st.booleans()):
            out.append(",")
        return [*out, "}"]
    if kind == 15:
        return ["assign", "owner", s]
    if kind == 16:
        return ["rotate", "owner", "among", *draw(list_texts())]
    if kind == 17:
        return ["add", "to", "list", s]
    if kind == 18:
        return ["remove", "from", "list", s]
    if kind == 19:
        return ["enroll", "in", "workflow", s]
    if kind == 20:
        return ["unenroll", "from", "workflow", s]
    if kind == 21:
        method = draw(st.sampled_from(["post", "get", "put", "patch", "delete"]))
        body = ["body", draw(string_tokens())] if draw(st.booleans()) else []
        return ["webhook", method, s, *body]
    if kind == 22:
        return ["placeholder", s]
    if kind == 23:
        return ["label", s]
    if kind == 24:
        return ["go", "to", s]
    if kind == 25:
        return ["end"]
    if kind == 26:
        out = ["if", *draw(criteria_texts()), *draw(block_texts(depth + 1))]
        for _ in range(draw(st.integers(0, 2))):
            out += ["else", "if", *draw(criteria_texts()), *draw(block_texts(depth + 1))]
        if draw(st.booleans()):
            out += ["else", *draw(block_texts(depth + 1))]
        return out
    if kind == 27:
        out = ["branch", "on", p, "{"]
        for _ in range(draw(st.integers(0, 3))):
            out += [*draw(value_texts(1)), *draw(block_texts(depth + 1))]
        if draw(st.booleans()):
            out += ["else", *draw(block_texts(depth + 1))]
        return [*out, "}"]
    if kind == 28:
        out = ["split", "{"]
        for _ in range(draw(st.integers(0, 3))):
            out += [f"{draw(st.integers(0, 100))}%", *draw(block_texts(depth + 1))]
        return [*out, "}"]
    return ["if", "received", *draw(block_texts(depth + 1))]


@st.composite
def trigger_texts(draw: st.DrawFn) -> Tokens:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return ["enroll", "manually"]
    if kind == 1:
        return ["enroll", "when", *draw(criteria_texts())]
    refinement = ["only", "if", *draw(criteria_texts())] if draw(st.booleans()) else []
    if kind == 2:
        rec = draw(st.integers(0, 3))
        if rec == 0:
            recurrence = ["daily", "at", draw(_time())]
        elif rec == 1:
            days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3))
            recurrence = ["weekly", "on", *_commas(days), "at", draw(_time())]
        elif rec == 2:
            recurrence = [
                "monthly",
                "on",
                "day",
                str(draw(st.integers(1, 31))),
                "at",
                draw(_time()),
            ]
        else:
            recurrence = ["once", "at", draw(_datetime())]
        return ["enroll", "on", "schedule", *recurrence, *refinement]
    events: Tokens = []
    for i in range(draw(st.integers(1, 3))):
        negated = ["not"] if draw(st.integers(0, 5)) == 0 else []
        events += (["or"] if i else []) + negated + draw(event_texts())
    return ["enroll", "on", *events, *refinement]


def _commas(items: list[str]) -> Tokens:
    out: Tokens = []
    for i, item in enumerate(items):
        out += ([","] if i else []) + [item]
    return out


@st.composite
def setting_texts(draw: st.DrawFn) -> Tokens:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return ["timezone", draw(st.sampled_from(['"Europe/Oslo"', '"UTC"', '"America/New_York"']))]
    if kind == 1:
        specs: list[Tokens] = []
        for _ in range(draw(st.integers(1, 2))):
            if draw(st.booleans()):
                specs.append([draw(st.sampled_from(WEEKDAYS)), "..", draw(st.sampled_from(WEEKDAYS))])
            else:
                specs.append([draw(st.sampled_from(WEEKDAYS))])
        days: Tokens = []
        for i, spec in enumerate(specs):
            days += ([","] if i else []) + spec
        return ["execute", "on", *days, "from", draw(_time()), "to", draw(_time())]
    if kind == 2:
        return ["pause", "on", *_commas(draw(st.lists(_date(), min_size=1, max_size=3)))]
    if kind == 3:
        return ["enroll", "existing", "records"]
    if kind == 4:
        return ["unenroll", "if", "criteria", "unmet"]
    return ["on", "failure", draw(st.sampled_from(["continue", "stop"]))]


@st.composite
def clause_texts(draw: st.DrawFn, kind: str) -> Tokens:
    if kind == "object":
        return ["object", draw(st.sampled_from(OBJECTS))]
    if kind == "description":
        return ["description", draw(string_tokens())]
    if kind == "anchor":
        target = ["date", draw(_date())] if draw(st.booleans()) else [draw(prop_refs())]
        return ["anchor", *target, *(["annually"] if draw(st.booleans()) else [])]
    if kind == "enroll":
        return draw(trigger_texts())
    if kind == "reenroll":
        if draw(st.booleans()):
            return ["reenroll", "every", "time"]
        props = draw(st.lists(prop_refs(), min_size=1, max_size=3))
        return ["reenroll", "on", "change", "of", *_commas(props)]
    if kind == "goal":
        return ["goal", *draw(criteria_texts())]
    if kind == "suppress":
        names = draw(st.lists(string_tokens(), min_size=1, max_size=3))
        out: Tokens = ["suppress"]
        for i, name in enumerate(names):
            out += ([","] if i else []) + ["list", name]
        return out
    if kind == "unenroll":
        return ["unenroll", "when", *draw(criteria_texts())]
    if kind == "settings":
        items = draw(st.lists(setting_texts(), max_size=4))
        return ["settings", "{", *[tok for item in items for tok in item], "}"]
    return ["steps", *draw(block_texts())]


OPTIONAL_CLAUSES = (
    "description",
    "anchor",
    "enroll",
    "reenroll",
    "goal",
    "suppress",
    "unenroll",
    "settings",
)


@st.composite
def workflow_texts(draw: st.DrawFn) -> Tokens:
    """One `workflow "…" { … }` with `object` and `steps` and any other clauses, in any order."""
    kinds = ["object", "steps", *draw(st.lists(st.sampled_from(OPTIONAL_CLAUSES), unique=True))]
    if draw(st.integers(0, 9)) == 0:  # a repeated clause (the checker's business, not the parser's)
        kinds.append(draw(st.sampled_from(kinds)))
    clauses = [draw(clause_texts(kind)) for kind in draw(st.permutations(kinds))]
    return ["workflow", draw(string_tokens()), "{", *[t for c in clauses for t in c], "}"]


_COMMENT = st.text(alphabet=st.sampled_from(list('abc xyz-#"{}✓')), max_size=10).map(lambda s: "#" + s)


@st.composite
def layouts(draw: st.DrawFn, tokens: Tokens, comments: bool = True, messy: bool = True) -> str:
    """Join tokens with random whitespace and, with `comments`, `#` comments between them."""
    rnd = draw(st.randoms(use_true_random=False))
    comment_texts = draw(st.lists(_COMMENT, max_size=8)) if comments else []
    out: list[str] = []
    if comment_texts and rnd.random() < 0.5:
        out.append(comment_texts.pop() + "\n")
    for i, token in enumerate(tokens):
        if i:
            roll = rnd.random()
            if comment_texts and roll < 0.08:
                out.append(rnd.choice([" ", "  ", "\t"]) + comment_texts.pop() + "\n")
                out.append(" " * rnd.randint(0, 6))
            elif messy and roll < 0.25:
                out.append(rnd.choice(["\n", "\n\n", "\n    ", "\t", "   ", "\r\n  ", "\n\n\n"]))
            else:
                out.append(" ")
        out.append(token)
    if comment_texts:
        out.append("\n" + comment_texts.pop())
    if rnd.random() < 0.7:
        out.append("\n")
    return "".join(out)


@st.composite
def programs(draw: st.DrawFn, max_workflows: int = 2, comments: bool = True, messy: bool = True) -> str:
    """The text of a whole `.wf` file: one to `max_workflows` workflows, randomly laid out."""
    workflows = draw(st.lists(workflow_texts(), min_size=1, max_size=max_workflows))
    return draw(layouts([t for w in workflows for t in w], comments=comments, messy=messy))


_NOISE = (
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "..",
    "%",
    "#",
    '"',
    "\\",
    "\n",
    "if",
    "else",
    "workflow",
    "steps",
    "enroll",
    "on",
    "or",
    "and",
    "not",
    "delay",
    "2",
    "days",
    "09:00",
    "2026-13-45",
    "contact.",
    "\u00e9",
    "\x00",
)


@st.composite
def mutated_programs(draw: st.DrawFn, max_edits: int = 4) -> str:
    """A valid program with a few random edits: most no longer parse (for robustness tests).

    Each edit deletes a slice, duplicates one, or inserts a token or a stray
    character at a random place.
    """
    text = draw(programs(max_workflows=1))
    for _ in range(draw(st.integers(1, max_edits))):
        size = len(text)
        at = draw(st.integers(0, size))
        kind = draw(st.sampled_from(["delete", "duplicate", "insert"]))
        if kind == "delete" and size:
            end = draw(st.integers(at, min(size, at + 12)))
            text = text[:at] + text[end:]
        elif kind == "duplicate" and size:
            end = draw(st.integers(at, min(size, at + 12)))
            text = text[:end] + text[at:end] + text[end:]
        else:
            text = text[:at] + draw(st.sampled_from(_NOISE)) + text[at:]
    return text


def tokens_text(tokens: Tokens) -> str:
    """Tokens joined with single spaces (a quick way to see what a strategy produced)."""
    return " ".join(tokens)


__all__: list[Any] = [
    "block_texts",
    "clause_texts",
    "criteria_texts",
    "duration_texts",
    "event_texts",
    "layouts",
    "mutated_programs",
    "predicate_texts",
    "programs",
    "step_texts",
    "string_tokens",
    "tokens_text",
    "trigger_texts",
    "value_texts",
    "workflow_texts",
]
