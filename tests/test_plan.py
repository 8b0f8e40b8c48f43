"""Compiler and plans: canonical JSON, lossless round-trip, determinism, stable step ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli
from wfdsl.compile.compiler import CompileFailed, compile_project, compile_workflow, load_plans
from wfdsl.plan.codec import criteria_data
from wfdsl.plan.model import (
    ACTION_KINDS,
    STEP_ARGS,
    STEP_KINDS,
    PlanError,
    ProjectPlan,
    plan_to_json,
    plans_from_json,
)
from wfdsl.syntax.parser import parse
from wfdsl.syntax.project import Project, SourceError, load_project, project_from_text

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases" / "compile"
EXAMPLES = ROOT / "examples"


def _plan_of(path: Path) -> ProjectPlan:
    """Compile one file without the checker, with a path relative to the repository."""
    shown = path.relative_to(ROOT).as_posix()
    result = parse(path.read_text(encoding="utf-8"), shown)
    assert result.ok, result.diagnostics
    return ProjectPlan(workflows=tuple(compile_workflow(w, result.source) for w in result.module.workflows))


def _text_plan(text: str) -> ProjectPlan:
    plan, diagnostics = compile_project(project_from_text(text, "t.wf"))
    assert plan is not None, diagnostics
    return plan


def _steps(plan: ProjectPlan, name: str | None = None) -> dict[str, Any]:
    workflow = plan.workflows[0] if name is None else plan.workflow(name)
    return dict(workflow.steps)


CASE_FILES = sorted(CASES.glob("*.wf"))
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.wf"))


# ---------------------------------------------------------------- canonical JSON


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_plan_json_snapshot(path: Path, snapshot: Any) -> None:
    assert plan_to_json(_plan_of(path)) == snapshot


@pytest.mark.parametrize("path", CASE_FILES + EXAMPLE_FILES, ids=lambda p: p.name)
def test_round_trip_is_lossless(path: Path) -> None:
    plan = _plan_of(path)
    text = plan_to_json(plan)
    again = plans_from_json(text)
    assert again == plan
    assert plan_to_json(again) == text


def test_examples_compile_through_the_checker_and_round_trip() -> None:
    if not EXAMPLE_FILES:
        pytest.skip("no examples yet")
    from wfdsl.schema import load_schema

    project = load_project([EXAMPLES])
    plan, diagnostics = compile_project(project, load_schema(EXAMPLES))
    assert plan is not None, [d for d in diagnostics if d.severity.value == "error"]
    assert len(plan.workflows) == len(project.workflows)
    assert plans_from_json(plan_to_json(plan)) == plan


def test_compiling_twice_gives_identical_bytes() -> None:
    plans = [compile_project(load_project([CASES]))[0] for _ in range(2)]
    assert plans[0] is not None and plans[1] is not None
    assert len(plans[0].workflows) == 6
    assert plan_to_json(plans[0]) == plan_to_json(plans[1])


def test_source_hash_covers_only_the_workflows_own_text() -> None:
    one = 'workflow "A" { object contact steps { end } }\n'
    two = 'workflow "B" { object contact steps { end } }\n'
    alone = _text_plan(one).workflows[0].source_hash
    together = _text_plan(one + "\n# a comment\n" + two)
    assert together.workflows[0].source_hash == alone
    assert together.workflows[1].source_hash != alone
    changed = _text_plan(one.replace("end", 'send email "x"')).workflows[0].source_hash
    assert changed != alone


def test_json_is_valid_json_with_the_spec_shape() -> None:
    data = json.loads(plan_to_json(_plan_of(CASES / "welcome.wf")))
    assert data["format_version"] == "1"
    workflow = data["workflows"][0]
    for key in (
        "name",
        "object",
        "source_hash",
        "span",
        "trigger",
        "reenroll",
        "goal",
        "unenroll",
        "suppress_lists",
        "anchor",
        "settings",
        "entry",
        "steps",
        "index",
    ):
        assert key in workflow
    assert workflow["settings"]["windows"] == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]
    assert workflow["reenroll"] == {
        "mode": "on_change",
        "properties": [{"object": "contact", "property": "lifecyclestage"}],
    }
    assert workflow["steps"]["steps.1"]["args"]["duration"] == {
        "parts": [[2, "day"]],
        "seconds": 172800,
    }
    assert workflow["index"]["suppress"]["lists"] == ["Competitors", "Employees"]


# ---------------------------------------------------------------- step ids and graph


def test_structural_ids_and_graph() -> None:
    steps = _steps(_plan_of(CASES / "flow.wf"), "Demo follow-up")
    assert list(steps)[:14] == [
        "steps.0",
        "steps.1",
        "steps.1.then.0",
        "steps.1.elif.0.0",
        "steps.1.elif.1.0",
        "steps.2",
        "steps.2.case.0.0",
        "steps.2.else.0",
        "steps.3",
        "steps.3.arm.0.0",
        "steps.3.arm.1.0",
        "steps.3.arm.1.1",
        "label:retry",
        "label:retry.1",
    ]
    branch = steps["steps.1"]
    assert [b.target for b in branch.branches] == [
        "steps.1.then.0",
        "steps.1.elif.0.0",
        "steps.1.elif.1.0",
    ]
    assert branch.else_target == "steps.2"  # no else: continue after the if
    assert steps["steps.1.then.0"].next == "steps.2"
    assert steps["steps.1.elif.1.0"].kind == "end" and steps["steps.1.elif.1.0"].next is None
    cases = steps["steps.2"]
    assert [c.target for c in cases.cases] == ["steps.2.case.0.0", "steps.3"]  # empty case
    assert criteria_data(cases.cases[0].criteria) == {
        "op": "eq",
        "object": "contact",
        "property": "lifecyclestage",
        "value": "lead",
    }
    assert [a.percent for a in steps["steps.3"].arms] == [50, 50]
    assert steps["label:retry.3.then.0"].kind == "go_to"
    assert steps["label:retry.3.then.0"].target == "label:retry"
    assert steps["label:retry.12"].next is None


def test_ids_after_a_label_survive_inserting_steps_before_it() -> None:
    before = 'workflow "W" { object contact steps { send email "a" label "x" delay 1 day end } }'
    after = 'workflow "W" { object contact steps { send email "a" send email "b" label "x" delay 1 day end } }'
    ids_before = list(_steps(_text_plan(before)))
    ids_after = list(_steps(_text_plan(after)))
    assert ids_before == ["steps.0", "label:x", "label:x.1", "label:x.2"]
    assert ids_after == ["steps.0", "steps.1", "label:x", "label:x.1", "label:x.2"]


def test_empty_branches_and_empty_steps() -> None:
    plan = _text_plan('workflow "W" { object contact steps { } }')
    assert plan.workflows[0].entry is None and dict(plan.workflows[0].steps) == {}
    plan = _text_plan('workflow "W" { object contact steps { if in list "L" { } end } }')
    step = plan.workflows[0].steps["steps.0"]
    assert step.branches[0].target == "steps.1"


def test_every_step_kind_is_documented() -> None:
    assert set(STEP_ARGS) == set(STEP_KINDS)
    assert "send_email" in ACTION_KINDS and "delay" not in ACTION_KINDS


# ---------------------------------------------------------------- triggers and anchors


def test_no_enroll_clause_is_a_manual_trigger() -> None:
    plan = _text_plan('workflow "W" { object contact steps { end } }')
    assert plan.workflows[0].trigger.kind == "manual"


def test_property_anchor_adds_is_known_to_the_enrollment_criteria() -> None:
    workflow = _plan_of(CASES / "renewal.wf").workflow("Renewal reminders")
    assert criteria_data(workflow.trigger.criteria) == {
        "op": "and",
        "items": [
            {"op": "eq", "object": "contact", "property": "lifecyclestage", "value": "customer"},
            {"op": "known", "object": "contact", "property": "renewal_date"},
        ],
    }
    assert workflow.anchor is not None and workflow.anchor.annually
    event = _text_plan(
        'workflow "W" { object contact anchor contact.renewal_date '
        'enroll on form.submitted steps { delay until anchor send email "x" } }'
    ).workflows[0]
    assert criteria_data(event.trigger.refinement) == {
        "op": "known",
        "object": "contact",
        "property": "renewal_date",
    }


def test_event_trigger_and_index_keys() -> None:
    workflow = _plan_of(CASES / "flow.wf").workflow("Demo follow-up")
    form, change = workflow.trigger.events
    assert form.type == "form.submitted"
    assert criteria_data(form.criteria) == {
        "op": "and",
        "items": [
            {"op": "eq", "attribute": "form", "value": "Demo request"},
            {"op": "starts_with", "attribute": "url.path", "value": "/demo"},
        ],
    }
    assert (change.type, change.property, change.from_value, change.to_value) == (
        "property.changed",
        "city",
        "Oslo",
        "Dublin",
    )
    assert workflow.index.trigger.events == ("form.submitted", "property.changed")
    assert workflow.index.trigger.properties == ("contact.city",)
    digest = _plan_of(CASES / "flow.wf").workflow("Weekly digest")
    assert digest.index.unenroll.workflows == ("Demo follow-up", "Welcome series")
    assert digest.trigger.recurrence is not None and digest.trigger.recurrence.days == (0, 3)


# ---------------------------------------------------------------- reading plans


def _valid() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(plan_to_json(_plan_of(CASES / "welcome.wf")))
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format_version="2"), "format_version is '2'"),
        (lambda d: d.pop("format_version"), "format_version is missing"),
        (lambda d: d["workflows"][0].pop("name"), "missing field `name`"),
        (lambda d: d["workflows"][0]["steps"]["steps.0"].update(kind="teleport"), "unknown step kind `teleport`"),
        (
            lambda d: d["workflows"][0]["steps"]["steps.0"].update(next="steps.99"),
            "'steps.99' is referenced but not defined",
        ),
        (
            lambda d: d["workflows"][0]["trigger"].update(kind="sometimes"),
            "`sometimes` is not one of manual, filter, event, schedule",
        ),
        (lambda d: d["workflows"][0]["steps"]["steps.0"].update(span=[1, 2]), "span"),
        (lambda d: d["workflows"].append(d["workflows"][0]), "appears more than once"),
        (lambda d: d["workflows"][0].update(goal="yes"), "expected criteria"),
        (lambda d: d["workflows"][0].update(goal={"op": "resembles"}), "unknown criteria operator `resembles`"),
        (
            lambda d: d["workflows"][0].update(goal={"op": "or", "items": [{"op": "eq"}]}),
            "goal.items[0]: `eq` needs `object` and `property`",
        ),
        (
            lambda d: d["workflows"][0].update(
                goal={"op": "before", "object": "contact", "property": "d", "value": {"date": "2026-13-45"}}
            ),
            "goal.value",
        ),
        (
            lambda d: d["workflows"][0].update(
                goal={"op": "has_event", "event": {"type": "form.submitted"}, "within": {"parts": []}}
            ),
            "goal.within: expected a duration",
        ),
        (lambda d: d["workflows"][0]["steps"]["steps.0"].update(args={}), "a `send_email` step needs `email`"),
    ],
)
def test_malformed_plans_raise_plan_error(mutate: Any, message: str) -> None:
    data = _valid()
    mutate(data)
    with pytest.raises(PlanError, match=None) as raised:
        plans_from_json(json.dumps(data))
    assert message in str(raised.value)


@pytest.mark.parametrize("text", ["", "{", "[]", '"x"', "null", '{"format_version": "1"}'])
def test_garbage_raises_plan_error(text: str) -> None:
    with pytest.raises(PlanError):
        plans_from_json(text)


def test_load_plans_from_sources_or_a_compiled_file(tmp_path: Path) -> None:
    from_sources = load_plans([CASES / "welcome.wf"])
    target = tmp_path / "plan.json"
    target.write_text(plan_to_json(from_sources), encoding="utf-8")
    assert load_plans([target]) == from_sources
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(PlanError, match="broken.json: plan is not valid JSON"):
        load_plans([broken])
    with pytest.raises(SourceError):
        load_plans([tmp_path / "missing.json"])
    bad = tmp_path / "bad.wf"
    bad.write_text('workflow "x" { object contact steps { send email } }', encoding="utf-8")
    with pytest.raises(CompileFailed) as failed:
        load_plans([bad])
    assert failed.value.diagnostics[0].name == "syntax"
    assert str(bad) in failed.value.sources


def test_compile_project_refuses_to_plan_with_errors() -> None:
    project: Project = project_from_text('workflow "x" { object contact steps { end }', "x.wf")
    plan, diagnostics = compile_project(project)
    assert plan is None
    assert [d.name for d in diagnostics] == ["syntax"]


# ---------------------------------------------------------------- CLI


def test_cli_compile_writes_the_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(cli, ["compile", str(CASES / "welcome.wf"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert plans_from_json(out.read_text(encoding="utf-8")).names == ("Welcome series",)
    stdout = CliRunner().invoke(cli, ["compile", str(CASES / "welcome.wf"), "-o", "-"])
    assert stdout.exit_code == 0
    assert stdout.stdout == out.read_text(encoding="utf-8")


def test_cli_compile_exit_codes(tmp_path: Path, snapshot: Any) -> None:
    bad = tmp_path / "bad.wf"
    bad.write_text('workflow "x" { object contact steps { send email } }\n', encoding="utf-8")
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(cli, ["compile", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert not out.exists()
    assert result.stderr.replace(str(tmp_path), "<tmp>") == snapshot
    missing = CliRunner().invoke(cli, ["compile", str(tmp_path / "nope.wf"), "-o", str(out)])
    assert missing.exit_code == 2
    assert "no such file or directory" in missing.stderr
    unwritable = CliRunner().invoke(
        cli, ["compile", str(CASES / "welcome.wf"), "-o", str(tmp_path / "no" / "dir.json")]
    )
    assert unwritable.exit_code == 2
    assert "cannot write" in unwritable.stderr
    usage = CliRunner().invoke(cli, ["compile", str(CASES / "welcome.wf")])
    assert usage.exit_code == 2
