"""The examples in docs/plans.md and docs/criteria.md run and show what they claim."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from wfdsl.runtime.criteria import explain_criteria
from wfdsl.syntax.parser import parse

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def _blocks(name: str, lang: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [body for kind, body in FENCE.findall(text) if kind == lang]


@pytest.mark.parametrize("name", ["plans.md", "criteria.md"])
def test_python_examples_run(name: str) -> None:
    blocks = _blocks(name, "python")
    assert blocks
    for block in blocks:
        exec(compile(block, f"{name}", "exec"), {})  # noqa: S102 - the docs' own examples


def test_json_examples_are_valid_plan_fragments() -> None:
    import json

    for block in _blocks("plans.md", "json"):
        for line in block.split("\n{"):
            text = line if line.startswith("{") else "{" + line
            if "…" in text:
                continue
            json.loads(text)


def test_compile_command_examples_parse_as_commands() -> None:
    (commands,) = [b for b in _blocks("plans.md", "") if b.startswith("wfdsl compile")]
    assert all(line.startswith("wfdsl compile ") for line in commands.strip().splitlines())


def test_explain_example_is_what_explain_prints() -> None:
    (shown,) = [b for b in _blocks("criteria.md", "") if b.startswith("✗ or")]
    source = (
        'workflow "W" { object contact goal (contact.lifecyclestage = "lead" '
        'and contact.score >= 50) or in list "VIP" '
        'or has form.submitted(form = "Demo request") within last 30 days steps { end } }'
    )
    from wfdsl.compile.compiler import compile_workflow

    result = parse(source, "w.wf")
    plan = compile_workflow(result.module.workflows[0], source)
    assert plan.goal is not None

    class Facts:
        now = dt.datetime(2026, 6, 15, tzinfo=dt.timezone.utc)
        tz = dt.timezone.utc
        received = None

        def value(self, object_type: str, prop: str) -> object | None:
            return {"lifecyclestage": "Lead", "score": "40"}.get(prop)

        def history(self, object_type: str, prop: str) -> list[object]:
            return []

        def in_list(self, name: str) -> bool:
            return False

        def events(self, event_type: str) -> list[object]:
            return []

        def enrolled_in(self, workflow: str) -> bool:
            return False

        def reached_goal(self, workflow: str) -> bool:
            return False

    assert explain_criteria(plan.goal, Facts()).render() + "\n" == shown  # type: ignore[arg-type]
