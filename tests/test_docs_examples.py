"""Every ```wf code block in docs/*.md parses (or, marked `expect=syntax`, fails to parse).

Blocks are found in every page, so a new page's examples are checked
without touching this file. The info string after `wf` may carry `ok` or
`expect=<check name>` (docs/checks.md uses them for what its examples must
report); only `expect=syntax` means the text is not meant to parse. The
language reference is held to more: its blocks are also checked, against
the examples' schema, and must report exactly what they say.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wfdsl.check import check_project
from wfdsl.limits import MAX_NESTING
from wfdsl.schema import load_schema_file
from wfdsl.syntax.parser import parse
from wfdsl.syntax.project import project_from_text

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^(?P<indent>[ \t]*)```wf(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
EXPECT = re.compile(r"\bexpect=(?P<name>[a-z-]+)")


def _blocks() -> list[tuple[str, int, str | None, str]]:
    """(page, line of the fence, expected check or None, block text) for every ```wf block."""
    found = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            expect = EXPECT.search(match.group("info"))
            name = expect.group("name") if expect else None
            found.append((page.name, line, name, match.group("body")))
    return found


BLOCKS = _blocks()


def test_the_language_reference_has_examples() -> None:
    assert sum(1 for page, *_ in BLOCKS if page == "language.md") >= 20


@pytest.mark.parametrize(("page", "line", "expect", "body"), BLOCKS, ids=[f"{p}:{n}" for p, n, _, _ in BLOCKS])
def test_doc_block_parses(page: str, line: int, expect: str | None, body: str) -> None:
    result = parse(body, f"docs/{page}:{line}")
    if expect == "syntax":
        assert result.diagnostics, "marked expect=syntax but parses"
        assert {d.name for d in result.diagnostics} == {"syntax"}
    else:
        assert result.diagnostics == (), result.diagnostics
        assert result.module.workflows, "a ```wf block holds no workflow"


def test_the_language_reference_states_the_real_nesting_limit() -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert f"nest at most {MAX_NESTING} deep" in text


LANGUAGE = [b for b in BLOCKS if b[0] == "language.md"]


@pytest.mark.parametrize(("page", "line", "expect", "body"), LANGUAGE, ids=[f"{p}:{n}" for p, n, _, _ in LANGUAGE])
def test_language_reference_blocks_report_what_they_say(page: str, line: int, expect: str | None, body: str) -> None:
    schema = load_schema_file(ROOT / "examples" / "wfdsl.toml")
    found = check_project(project_from_text(body, f"docs/{page}:{line}"), schema)
    names = sorted({d.name for d in found})
    assert names == ([] if expect is None else [expect]), [d.message for d in found]
