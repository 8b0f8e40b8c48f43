"""One small case file per language construct: each parses cleanly, its AST dump is pinned.

The case files live in tests/cases/syntax/; a new file there is picked up
(and gets a snapshot) automatically. A few semantic points are asserted
directly as well, so that a wrong snapshot cannot be accepted unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import ParseResult, dump, parse

CASES = Path(__file__).resolve().parent / "cases" / "syntax"
FILES = sorted(CASES.glob("*.wf"))


def _parse(name: str) -> ParseResult:
    path = CASES / f"{name}.wf"
    # Bytes, not read_text: the CRLF case must reach the parser unchanged.
    return parse(path.read_bytes().decode("utf-8"), path.name)


def _steps(name: str) -> tuple[n.Node, ...]:
    result = _parse(name)
    assert result.ok, result.diagnostics
    return result.module.workflows[0].steps


def _trigger(name: str) -> n.Node:
    result = _parse(name)
    assert result.ok, result.diagnostics
    (clause,) = [c for c in result.module.workflows[0].clauses if isinstance(c, n.EnrollClause)]
    return clause.trigger


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_case_parses_and_dump_is_pinned(path: Path, snapshot: object) -> None:
    result = _parse(path.stem)
    assert result.diagnostics == ()
    assert dump(result.module) == snapshot


def test_there_is_a_case_for_every_node_type() -> None:
    seen: set[type] = set()
    for path in FILES:
        seen.update(type(node) for node in _parse(path.stem).module.walk())
    every = {cls for cls in vars(n).values() if isinstance(cls, type) and issubclass(cls, n.Node) and cls is not n.Node}
    missing = sorted(cls.__name__ for cls in every - seen)
    assert missing == []


def test_and_binds_tighter_than_or_and_not_tightest() -> None:
    trigger = _trigger("criteria_precedence")
    assert isinstance(trigger, n.FilterTrigger)
    top = trigger.criteria
    assert isinstance(top, n.Or)
    assert [type(item) for item in top.items] == [n.Compare, n.And, n.Not]


def test_parentheses_group() -> None:
    trigger = _trigger("criteria_parentheses")
    assert isinstance(trigger, n.FilterTrigger)
    top = trigger.criteria
    assert isinstance(top, n.And)
    first, second = top.items
    assert isinstance(first, n.Or)
    assert isinstance(second, n.Not) and isinstance(second.item, n.And)


def test_string_escapes_are_decoded() -> None:
    send = _steps("literal_strings")[1]
    assert isinstance(send, n.SendEmail)
    assert send.email.value == 'quote " backslash \\ newline \n tab \t'


def test_chained_durations_keep_every_part() -> None:
    delay = _steps("literal_durations")[-1]
    assert isinstance(delay, n.Delay)
    parts = [(p.amount, p.unit) for p in delay.duration.parts]
    assert parts == [("1", "week"), ("2", "day"), ("3", "hour"), ("4", "minute")]


def test_keywords_after_a_dot_are_property_names() -> None:
    props = [
        s.prop.dotted for s in _steps("keywords_as_property_names") if isinstance(s, (n.SetProperty, n.ClearProperty))
    ]
    assert props[:4] == ["deal.stage", "ticket.goal", "ticket.list", "contact.email"]
    assert "contact.known" in props and "contact.monday" in props


def test_task_option_assign_to_does_not_swallow_the_next_assign_owner_step() -> None:
    task, owner = _steps("step_task_then_assign_owner")
    assert isinstance(task, n.CreateTask) and task.assign_owner
    assert isinstance(owner, n.AssignOwner) and owner.owner.value == "bob@example.com"


def test_else_if_chain_is_flat() -> None:
    (step,) = _steps("step_if_else_if")
    assert isinstance(step, n.If)
    assert len(step.branches) == 3 and step.else_body is not None


def test_comments_are_kept_with_their_spans() -> None:
    result = _parse("comments")
    texts = [c.text for c in result.module.comments]
    assert texts[0] == "# a file comment"
    assert "# not a comment" not in texts
    assert texts[-1] == "# at the end without a newline"


def test_crlf_and_tabs_give_the_same_columns_as_spaces() -> None:
    result = _parse("whitespace_tabs_crlf")
    assert result.ok
    obj = result.module.workflows[0].clauses[0]
    assert (obj.span.line, obj.span.col, obj.span.end_col) == (2, 2, 16)
