"""2. Parse + check a generated project: lines/s beside Lark's lexer alone, and linearity."""

from __future__ import annotations

import functools
from collections.abc import Callable

from lark import Lark
from lark.lexer import Lexer, LexerThread

from benchmarks.common import Row, Size, fmt, interleaved
from wfdsl.check import check_project
from wfdsl.compile.compiler import compile_project
from wfdsl.syntax.parser import grammar_text, lark_parser, parse
from wfdsl.syntax.project import Project

#: Lines per generated file (a project is many files, as in real use).
FILE_LINES = 500

_TEMPLATES = [
    """# Nurture {i}: generated for the parse benchmark.
workflow "Nurture {i}" {{
  object contact
  description "Nurture leads of segment {i}"

  enroll when contact.lifecyclestage = "lead" and contact.email is known
    and contact.hubspotscore between {lo} and 100
  reenroll on change of contact.lifecyclestage
  goal contact.lifecyclestage = "customer" or has form.submitted(form = "Demo {i}")
  suppress list "Competitors", list "Employees"
  unenroll when contact.email_opt_out = true

  settings {{
    timezone "Europe/Oslo"
    execute on monday..friday from 09:00 to 17:00
    pause on 2026-12-24, 2026-12-25
  }}

  steps {{
    send email "Welcome {i}"
    delay 2 days
    if contact.hubspotscore >= 50 {{
      create task "Call {{{{ contact.firstname }}}}" due in 1 day assign to owner
    }} else {{
      send email "Follow-up {i}"
      delay 1 day 6 hours
    }}
    set contact.hs_lead_status = "IN_PROGRESS"
  }}
}}
""",
    """workflow "Form follow-up {i}" {{
  object contact
  enroll on form.submitted(form = "Contact us {i}" and url.path = "/contact")
    only if contact.country in ["IE", "NO", "SE"]
  reenroll every time

  steps {{
    wait for email.opened(email = "Thanks {i}") up to 3 days
    if contact.city = "Dublin" or contact.email ends with "@example.com" {{
      send email "Local {i}"
    }} else {{
      add to list "Remote {i}"
    }}
    enroll in workflow "Nurture {i}"
  }}
}}
""",
]


def generate(lines: int) -> list[tuple[str, str]]:
    """(path, text) files of about `lines` lines in all."""
    files: list[tuple[str, str]] = []
    chunk: list[str] = []
    count = total = i = 0
    while total < lines:
        text = _TEMPLATES[i % len(_TEMPLATES)].format(i=i // 2, lo=i % 50)
        n = text.count("\n") + 1
        chunk.append(text)
        count += n
        total += n
        i += 1
        if count >= FILE_LINES or total >= lines:
            files.append((f"gen/w{len(files):04}.wf", "\n".join(chunk)))
            chunk, count = [], 0
    return files


def line_count(files: list[tuple[str, str]]) -> int:
    return sum(text.count("\n") + 1 for _, text in files)


def parse_and_check(files: list[tuple[str, str]]) -> int:
    project = Project(files=tuple(parse(text, path) for path, text in files))
    return len(check_project(project))


def parse_only(files: list[tuple[str, str]]) -> int:
    return sum(len(parse(text, path).module.workflows) for path, text in files)


@functools.cache
def _basic_lexer() -> Lexer:
    """One basic lexer for the grammar, built once and reused for every file.

    `Lark.lex` builds a new lexer on each call when the parser's own lexer is
    contextual; counting that construction per file would flatter the ratio.
    """
    return lark_parser()._build_lexer()


def lex_only(files: list[tuple[str, str]]) -> int:
    lexer = _basic_lexer()
    return sum(sum(1 for _ in LexerThread.from_text(lexer, text).lex(None)) for _, text in files)


@functools.cache
def lark_tree_parser() -> Lark:
    """Lark's own LALR parser for the same grammar, building its standard parse tree: what
    a Lark-based parser costs before any AST (the practical limit of this design)."""
    return Lark(
        grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True, cache=True
    )


def lark_tree_only(files: list[tuple[str, str]]) -> int:
    lark = lark_tree_parser()
    return sum(len(lark.parse(text).children) for _, text in files)


def run(size: Size) -> list[Row]:
    small, big = generate(size.lines_small), generate(size.lines)
    n_small, n_big = line_count(small), line_count(big)
    # Every file parses cleanly and checks without errors (a fair workload).
    for path, text in big[:2]:
        assert not parse(text, path).diagnostics, path
    parse_and_check(small)  # warm up the cached parsers
    lark_tree_only(small)
    variants: list[tuple[str, Callable[[], object]]] = [
        ("lex", lambda: lex_only(big)),
        ("lark tree", lambda: lark_tree_only(big)),
        ("parse", lambda: parse_only(big)),
        ("parse+check", lambda: parse_and_check(big)),
        ("parse+check small", lambda: parse_and_check(small)),
    ]
    t = interleaved(variants, size.reps)
    lex_rate = n_big / t["lex"]
    full_rate = n_big / t["parse+check"]
    per_line_small = t["parse+check small"] / n_small
    per_line_big = t["parse+check"] / n_big
    m = f"2. parse+check, {n_big:,} lines"
    share = full_rate / lex_rate
    linear = per_line_big / per_line_small
    return [
        Row(
            measurement=m,
            contender="Lark lexer alone (one basic lexer reused across files)",
            value=fmt(lex_rate) + " lines/s",
            ratio="1.00",
        ),
        Row(
            measurement=m,
            contender="Lark's own LALR parse tree (no AST; contextual lexer)",
            value=fmt(n_big / t["lark tree"]) + " lines/s",
            ratio=f"{n_big / t['lark tree'] / lex_rate:.2f}",
        ),
        Row(
            measurement=m,
            contender="wfdsl parse (AST)",
            value=fmt(n_big / t["parse"]) + " lines/s",
            ratio=f"{n_big / t['parse'] / lex_rate:.2f}",
        ),
        Row(
            measurement=m,
            contender="wfdsl parse + check",
            value=fmt(full_rate) + " lines/s",
            ratio=f"{share:.2f}",
            target=">= 0.50 of the lexer",
            met=share >= 0.5,
        ),
        Row(
            measurement=m,
            contender=f"linearity: per line at {n_big:,} vs {n_small:,}",
            value=f"{per_line_big * 1e6:.1f} vs {per_line_small * 1e6:.1f} µs/line",
            ratio=f"{linear:.2f}x",
            target="<= 1.3x",
            met=linear <= 1.3,
        ),
    ]


def _compile_file(text: str) -> int:
    project = Project(files=(parse(text, "gen/one.wf"),))
    plan, diagnostics = compile_project(project)
    assert plan is not None, diagnostics[:3]
    return len(plan.workflows)


def _one_file(workflows: int) -> str:
    return "\n".join(_TEMPLATES[0].format(i=i, lo=i % 50) for i in range(workflows))


def run_compile(size: Size) -> list[Row]:
    """8. Compile many workflows in one file: per-workflow time at 5x the count."""
    few, many = size.compile_workflows, size.compile_workflows * 5
    small, big = _one_file(few), _one_file(many)
    _compile_file(small)  # warm up the cached parsers
    t = interleaved([("few", lambda: _compile_file(small)), ("many", lambda: _compile_file(big))], size.reps)
    per_few, per_many = t["few"] / few, t["many"] / many
    growth = per_many / per_few
    m = "8. compile, workflows in one file"
    return [
        Row(measurement=m, contender=f"{few:,} workflows", value=f"{per_few * 1e3:.2f} ms/workflow", ratio="1.00x"),
        Row(
            measurement=m,
            contender=f"{many:,} workflows",
            value=f"{per_many * 1e3:.2f} ms/workflow",
            ratio=f"{growth:.2f}x",
            target="<= 1.3x per workflow",
            met=growth <= 1.3,
        ),
    ]
