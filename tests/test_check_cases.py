"""Data-driven checker tests: each case in tests/cases/check yields exactly its `# expect:` marks.

A top-level `.wf` file is a one-file project; a directory is one project of
all its `.wf` files, with the schema found from that directory. A first line
`# options: strict` runs the checker with `strict=True`. Files under
`valid/` must stay silent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfdsl.check import CHECKS, check_project
from wfdsl.diagnostics import RULES, Severity
from wfdsl.schema import load_schema
from wfdsl.syntax.project import load_project, project_from_text

CASES = Path(__file__).resolve().parent / "cases" / "check"
EXPECT = re.compile(r"#\s*expect:\s*([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*$")


def _cases() -> list[Path]:
    items = sorted(p for p in CASES.glob("*.wf"))
    items += sorted(p for p in CASES.iterdir() if p.is_dir() and p.name != "valid")
    return items


def _expected(files: list[Path]) -> set[tuple[str, int, str]]:
    found = set()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = EXPECT.search(line)
            if match:
                for name in match.group(1).split(","):
                    found.add((path.name, number, name.strip()))
    return found


def _run(case: Path) -> tuple[set[tuple[str, int, str]], set[tuple[str, int, str]]]:
    files = sorted(case.rglob("*.wf")) if case.is_dir() else [case]
    project = load_project([case])
    strict = files[0].read_text(encoding="utf-8").startswith("# options: strict")
    diagnostics = check_project(project, load_schema(case), strict=strict)
    actual = {(Path(d.span.file).name, d.span.line, d.name) for d in diagnostics}
    return _expected(files), actual


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_case_yields_exactly_its_expectations(case: Path) -> None:
    expected, actual = _run(case)
    assert expected, f"{case.name} marks no expectation"
    assert sorted(actual) == sorted(expected)


@pytest.mark.parametrize("case", sorted((CASES / "valid").glob("*.wf")), ids=lambda p: p.name)
def test_valid_code_stays_silent(case: Path) -> None:
    diagnostics = check_project(load_project([case]), load_schema(case))
    assert [(d.span.line, d.name, d.message) for d in diagnostics] == []


def test_every_rule_has_a_case_file() -> None:
    covered = {name for case in _cases() for (_, _, name) in _run(case)[0]}
    missing = set(RULES) - covered - {"nesting-too-deep"}
    assert missing == set()


def test_every_case_file_is_named_after_a_rule() -> None:
    for case in _cases():
        stem = case.name.removesuffix(".wf")
        assert any(stem == name or stem.startswith(name + "-") for name in RULES), case.name


def test_checks_are_listed_once() -> None:
    names = [check.__name__ for check in CHECKS]
    assert len(names) == len(set(names))


def _check(text: str, **kwargs: object) -> list[tuple[str, str]]:
    project = project_from_text(text, "w.wf")
    return [(d.name, d.severity.value) for d in check_project(project, **kwargs)]  # type: ignore[arg-type]


PLACEHOLDER = 'workflow "W" { object contact steps { placeholder "x" } }'


def test_placeholder_is_a_warning_and_an_error_when_strict() -> None:
    assert _check(PLACEHOLDER) == [("placeholder-action", "warning")]
    assert _check(PLACEHOLDER, strict=True) == [("placeholder-action", "error")]


def test_unknown_property_is_a_warning_with_the_builtin_schema(tmp_path: Path) -> None:
    text = 'workflow "W" { object contact steps { set contact.colour = "x" } }'
    assert _check(text) == [("unknown-property", "warning")]
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nrenewal = "date"\n')
    project = project_from_text(text, "w.wf")
    diagnostics = check_project(project, load_schema(tmp_path))
    assert [(d.name, d.severity) for d in diagnostics] == [("unknown-property", Severity.ERROR)]


def test_unknown_variable_is_an_error_even_with_the_builtin_schema() -> None:
    # a token that cannot be filled in is an error, while the same unknown
    # property outside a token is only a warning with the built-in schema.
    text = 'workflow "W" { object contact steps { create task "Call {{ contact.firstnme }}" } }'
    assert _check(text) == [("unknown-variable", "error")]


def test_messages_say_what_was_found_and_expected_with_did_you_mean() -> None:
    text = (
        'workflow "W" { object contact enroll when contact.lifecyclestage = "lead" '
        'and contact.lifecyclestage = "custmer" steps { send email "x" } }'
    )
    (diag,) = check_project(project_from_text(text, "w.wf"))
    assert diag.name == "invalid-option"
    assert diag.message.startswith('found "custmer" for `contact.lifecyclestage`; expected one of its options: ')
    assert diag.hint == 'did you mean "customer"?'
    assert (diag.span.line, diag.span.col, diag.span.end_col) == (
        1,
        text.index('"custmer"') + 1,
        text.index('"custmer"') + 10,
    )


def test_check_reports_every_problem_not_just_the_first() -> None:
    text = 'workflow "W" { object contact steps { delay 0 days delay 0 hours delay 0 weeks } }'
    assert _check(text) == [("invalid-value", "error")] * 3


def test_diagnostics_are_sorted_by_position() -> None:
    text = (
        'workflow "W" {\n object contact\n steps {\n  placeholder "b"\n  delay 0 days\n }\n}\n'
        'workflow "W" {\n object contact\n steps { end }\n}\n'
    )
    project = project_from_text(text, "w.wf")
    lines = [d.span.line for d in check_project(project)]
    assert lines == sorted(lines) and len(lines) == 3


def test_suppression_covers_the_whole_statement() -> None:
    text = (
        'workflow "W" {\n'
        "  object contact\n"
        "  steps {\n"
        '    if contact.x = "1" {  # wfdsl: ignore[unknown-property]\n'
        '      set contact.y = "2"\n'
        "    }\n"
        '    set contact.z = "3"\n'
        "  }\n"
        "}\n"
    )
    project = project_from_text(text, "w.wf")
    assert [(d.span.line, d.name) for d in check_project(project)] == [(7, "unknown-property")]


def test_syntax_problems_cannot_be_suppressed() -> None:
    text = '# wfdsl: ignore-file[syntax]\nworkflow "W" { object contact steps { send email x } }\n'
    names = [d.name for d in check_project(project_from_text(text, "w.wf"))]
    assert names == ["syntax"]


# ---------------------------------------------------------------- docs/checks.md

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks.md"
BLOCK = re.compile(r"^```wf (expect=(?P<name>[a-z-]+)|ok)\n(?P<body>.*?)^```", re.M | re.S)


def _doc_blocks() -> list[tuple[str, str, int]]:
    text = DOCS.read_text(encoding="utf-8")
    return [(m.group("name") or "ok", m.group("body"), text[: m.start()].count("\n") + 1) for m in BLOCK.finditer(text)]


@pytest.mark.parametrize(("expect", "body", "line"), _doc_blocks(), ids=lambda v: str(v)[:20])
def test_docs_examples_do_what_they_say(expect: str, body: str, line: int) -> None:
    names = {d.name for d in check_project(project_from_text(body, f"checks.md:{line}"))}
    assert names == (set() if expect == "ok" else {expect})


def test_docs_have_a_section_and_an_anchor_for_every_check() -> None:
    headings = set(re.findall(r"^## ([a-z-]+)$", DOCS.read_text(encoding="utf-8"), re.M))
    assert set(RULES) <= headings
    examples = {name for name, _, _ in _doc_blocks()}
    assert set(RULES) - examples == {"nesting-too-deep"}


# ---------------------------------------------------------------- robustness

_SOURCES = [p.read_text(encoding="utf-8") for p in sorted(CASES.rglob("*.wf"))]
_WORDS = sorted({w for text in _SOURCES for w in text.split()})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(_SOURCES),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from(["drop", "insert", "swap"]),
            st.sampled_from(_WORDS),
        ),
        min_size=1,
        max_size=4,
    ),
    strict=st.booleans(),
)
def test_checker_never_raises_on_mutated_programs(source: str, edits: list[tuple[int, str, str]], strict: bool) -> None:
    words = source.split(" ")
    for position, action, word in edits:
        at = position % len(words)
        if action == "drop":
            del words[at]
        elif action == "insert":
            words.insert(at, word)
        else:
            words[at] = word
        if not words:
            words = [""]
    diagnostics = check_project(project_from_text(" ".join(words), "m.wf"), strict=strict)
    assert all(d.span.line >= 1 and d.span.col >= 1 for d in diagnostics)


def test_unknown_workflow_hint_points_at_syntax_errors_first() -> None:
    text = (
        'workflow "A" { object contact steps { enroll in workflow "B" } }\n'
        'workflow "B" { object contact steps { send email x } }\n'
    )
    found = {d.name: d for d in check_project(project_from_text(text, "w.wf"))}
    assert set(found) == {"syntax", "unknown-workflow"}
    assert found["unknown-workflow"].hint == (
        "fix the syntax errors first: a workflow that does not parse is not in the project"
    )
