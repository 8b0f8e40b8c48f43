"""Syntax errors: every case in tests/cases/syntax_errors/ is reported at the right place, in words.

The full rendered text of each case (`render.render_text` of every
diagnostic) is pinned by a snapshot; the positions, the parsed workflows and
key phrases are asserted here as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wfdsl.syntax.parser import ParseResult, parse
from wfdsl.tools.render import render_text

CASES = Path(__file__).resolve().parent / "cases" / "syntax_errors"
FILES = sorted(CASES.glob("*.wf"))

#: case -> (the (line, col) of each diagnostic, the workflows that still parse)
EXPECTED: dict[str, tuple[list[tuple[int, int]], list[str]]] = {
    "bad_escape": ([(4, 25)], []),
    "criteria_missing_value": ([(4, 3)], []),
    "duplicate_task_option": ([(4, 37)], []),
    "else_without_if": ([(5, 5)], []),
    "email_name_not_a_string": ([(4, 16)], []),
    "empty_file": ([], []),
    "extra_closing_brace": ([(5, 1)], []),
    "missing_email_name": ([(5, 5)], []),
    "missing_object_type": ([(3, 9)], []),
    "missing_steps_brace": ([(4, 5)], []),
    "misspelt_duration_unit": ([(4, 13)], []),
    "misspelt_keyword": ([(2, 3)], []),
    "misspelt_step": ([(4, 5)], []),
    "nesting_too_deep": ([(66, 158)], []),
    "only_comments": ([], []),
    "schedule_missing_time": ([(4, 3)], []),
    "split_without_percent": ([(5, 7)], []),
    "stray_character": ([(4, 29)], []),
    "text_before_workflow": ([(1, 1)], ["Welcome"]),
    "two_broken_workflows": ([(5, 3), (11, 3)], []),
    "unclosed_steps_block": ([(9, 1)], []),
    "unclosed_workflow": ([(6, 1)], []),
    "unknown_operator": ([(3, 39)], []),
    "unterminated_string": ([(4, 16)], []),
    "valid_after_broken": ([(5, 3)], ["Fine"]),
    "go_to_bare_name": ([(5, 11)], []),
    "misspelt_setting": ([(4, 5)], []),
    "misspelt_weekday": ([(3, 32)], []),
    "unclosed_event_parenthesis": ([(4, 3)], []),
    "wait_without_timeout": ([(5, 5)], []),
    "workflow_name_not_a_string": ([(1, 10)], []),
    "misspelt_unit_after_number": ([(4, 14)], []),
    "date_without_leading_zeros": ([(4, 21)], []),
    "control_characters": ([(1, 18), (2, 46), (4, 19)], ["Welcome "]),
}


def _parse(name: str) -> ParseResult:
    path = CASES / f"{name}.wf"
    return parse(path.read_text(encoding="utf-8"), path.name)


def _rendered(result: ParseResult) -> str:
    return "\n\n".join(render_text(d, result.source) for d in result.diagnostics)


def test_every_case_has_expectations() -> None:
    assert sorted(p.stem for p in FILES) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reported_where_expected(name: str, snapshot: object) -> None:
    result = _parse(name)
    positions, workflows = EXPECTED[name]
    assert [(d.span.line, d.span.col) for d in result.diagnostics] == positions
    assert [w.name.value for w in result.module.workflows] == workflows
    assert all(d.severity.value == "error" for d in result.diagnostics)
    assert _rendered(result) == snapshot


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("missing_email_name", "expected a string naming the email after `send email`"),
        ("unclosed_steps_block", 'to close the block `workflow "Welcome" {` opened at line 1'),
        ("unclosed_workflow", 'to close the block `workflow "Welcome" {` opened at line 1'),
        ("unterminated_string", "a string that is not closed"),
        ("bad_escape", "found the escape `\\q`"),
        ("misspelt_keyword", "hint: did you mean `object`?"),
        ("misspelt_step", "hint: did you mean `send`?"),
        ("misspelt_duration_unit", "hint: did you mean `days`?"),
        ("stray_character", "found `;`"),
        ("missing_steps_brace", "expected `{`"),
        ("else_without_if", "hint: `else` follows the `}` of an `if` block"),
        ("unknown_operator", "hint: compare with a single `=`"),
        ("extra_closing_brace", "hint: this `}` has no open block to close"),
        ("missing_object_type", "hint: `object` needs an object type"),
        ("misspelt_setting", "hint: did you mean `timezone`?"),
        ("misspelt_weekday", "hint: did you mean `monday`?"),
        ("wait_without_timeout", "expected `up to` and a duration"),
        ("go_to_bare_name", "expected a string naming the label to go to after `go to`"),
        ("misspelt_unit_after_number", "after `delay 12`"),
        ("date_without_leading_zeros", "after `until 2027`"),
        ("date_without_leading_zeros", "hint: write a date with a two-digit month and day: `2027-01-05`"),
        ("control_characters", "found the control character U+0007 (BEL)"),
        ("control_characters", "found the control character U+001B (ESC)"),
        ("control_characters", "found the control character U+0000 (NUL)"),
    ],
)
def test_message_says_what_is_wrong_in_words(name: str, phrase: str) -> None:
    assert phrase in _rendered(_parse(name))


def test_syntax_errors_are_named_syntax() -> None:
    for name in EXPECTED:
        if name == "nesting_too_deep":
            continue
        assert {d.name for d in _parse(name).diagnostics} <= {"syntax"}


def test_empty_and_comment_only_files_hold_zero_workflows() -> None:
    for name in ("empty_file", "only_comments"):
        result = _parse(name)
        assert result.ok and result.module.workflows == ()
    assert len(_parse("only_comments").module.comments) == 2
