"""The LALR runtime (`syntax/lalr.py`) against Lark's parser of the same grammar.

Well-formed text is parsed by `lalr` over the generated `tables`; anything it
rejects is parsed again by Lark, which words the diagnostic. These tests hold
the two to the same answers: every `.wf` file of the repository, the
benchmark's generated project and a seeded corpus of mutations of them give
the same AST (spans included), comments and diagnostics either way, and
`tables.py` is what `tablegen` makes from the grammar today.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfdsl.syntax import lalr, parser, tablegen
from wfdsl.syntax.errors import SyntaxProblem
from wfdsl.syntax.parser import dump, parse

ROOT = Path(__file__).resolve().parents[1]


def _files() -> list[tuple[str, str]]:
    found = []
    for folder in ("examples", "src/wfdsl/templates", "tests"):
        for path in sorted((ROOT / folder).rglob("*.wf")):
            found.append((path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    return found


def _generated() -> list[tuple[str, str]]:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.parsing import generate
    finally:
        sys.path.remove(str(ROOT))
    return generate(3000)


_WORDS = (
    "workflow",
    "object",
    "contact",
    "enroll",
    "when",
    "on",
    "if",
    "else",
    "not",
    "and",
    "or",
    "in",
    "is",
    "known",
    "time",
    "times",
    "day",
    "days",
    "monday",
    "assign to",
    "assign",
    "owner",
    "to",
    "before",
    "after",
    "steps",
    "delay",
    "send email",
    '"x"',
    '"a\\qb"',
    '"open',
    "2026-12-24",
    "2026-12-24T09:00",
    "09:00",
    "9:00",
    "50%",
    "-3",
    "1.5",
    "12",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "..",
    "=",
    "!=",
    "<=",
    ">=",
    "<",
    ">",
    "+",
    "-",
    "# note",
    "\n",
    " ",
    "\t",
    "é",
    "٣",
    "due in 1 day",
    "priority high",
    "notes",
)


def _mutants(texts: list[str], count: int, seed: int) -> Iterator[str]:
    """Small random edits of `texts`: a span cut, a word put in, a line doubled, words swapped."""
    rng = random.Random(seed)
    for _ in range(count):
        text = rng.choice(texts)
        for _edit in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            kind = rng.randrange(4)
            if kind == 0:
                text = text[:at] + text[at + rng.randint(1, 12) :]
            elif kind == 1:
                word = rng.choice(_WORDS)
                text = text[:at] + rng.choice(("", " ")) + word + rng.choice(("", " ")) + text[at:]
            elif kind == 2:
                lines = text.split("\n")
                i = rng.randrange(len(lines))
                lines.insert(i, lines[i])
                text = "\n".join(lines)
            else:
                words = text.split(" ")
                i, j = rng.randrange(len(words)), rng.randrange(len(words))
                words[i], words[j] = words[j], words[i]
                text = " ".join(words)
        yield text


def _both(text: str, path: str) -> tuple[object, object]:
    """What `lalr` and Lark's parser make of `text`: (workflows, comments) or the rejection."""
    comments: list[lalr.Token] = []
    try:
        fast: object = (lalr.parse(text, parser._RULES, parser.Builder(path), comments), comments)
        fast = (list(fast[0] or ()), [(parser.token_span(t, path), t.value) for t in comments])  # type: ignore[index]
    except (lalr.Rejected, SyntaxProblem):
        fast = "rejected"
    try:
        workflows, found = parser._parse_text_with_lark(text, path)
        slow: object = (workflows, [(c.span, c.text) for c in found])
    except SyntaxProblem:
        slow = "rejected"
    return fast, slow


def _same(text: str, path: str) -> None:
    fast, slow = _both(text, path)
    assert fast == slow, (path, text)
    if fast != "rejected":
        assert [dump(w) for w in fast[0]] == [dump(w) for w in slow[0]]  # type: ignore[index]


def test_every_repository_file_parses_the_same() -> None:
    files = _files()
    assert len(files) > 100
    for path, text in files:
        _same(text, path)


def test_the_benchmark_project_parses_the_same() -> None:
    for path, text in _generated():
        fast, _slow = _both(text, path)
        assert fast != "rejected", path
        _same(text, path)


@pytest.mark.parametrize("seed", range(4))
def test_mutations_parse_the_same(seed: int) -> None:
    texts = [text for _path, text in _files() if len(text) < 6000]
    for i, text in enumerate(_mutants(texts, 150, seed)):
        _same(text, f"m{seed}-{i}.wf")


@pytest.mark.parametrize("seed", range(2))
def test_mutations_give_the_same_results_and_diagnostics(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [text for _path, text in _files() if len(text) < 6000]
    mutants = list(_mutants(texts, 100, 100 + seed))
    fast = [parse(text, f"m{i}.wf") for i, text in enumerate(mutants)]

    def rejected(*_args: object) -> object:
        raise lalr.Rejected

    monkeypatch.setattr(lalr, "parse", rejected)
    slow = [parse(text, f"m{i}.wf") for i, text in enumerate(mutants)]
    for before, after in zip(fast, slow, strict=True):
        assert before == after
        assert [d.render() if hasattr(d, "render") else d for d in before.diagnostics] == [
            d.render() if hasattr(d, "render") else d for d in after.diagnostics
        ]


def test_tables_are_generated_from_the_grammar() -> None:
    assert tablegen.tables_path().read_text(encoding="utf-8") == tablegen.source(tablegen.grammar_parser()), (
        "grammar/wfdsl.lark changed: run `python -m wfdsl.syntax.tablegen`"
    )


def test_well_formed_text_is_parsed_without_lark() -> None:
    code = (
        "import sys; from wfdsl.syntax.parser import parse; "
        "r = parse(open(sys.argv[1]).read(), 'w.wf'); assert r.ok; "
        "print(sorted(m for m in sys.modules if m == 'lark' or m.startswith('lark.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "examples" / "welcome-series.wf")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
