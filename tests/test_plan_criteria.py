"""Plan criteria: a class per kind, encoded and decoded by the plan converter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wfdsl.compile.compiler import compile_project
from wfdsl.plan import criteria as pc
from wfdsl.plan.codec import criteria_data, criteria_from_data, plan_to_json, plans_from_data, plans_from_json
from wfdsl.plan.model import PlanError
from wfdsl.syntax.project import project_from_text

DAY = {"parts": [[1, "day"]], "seconds": 86400}
LEAF = {"object": "contact", "property": "x"}
#: One criterion of every kind, in the form the compiler writes.
EVERY_KIND: list[dict[str, Any]] = [
    {"op": "and", "items": [{"op": "in_list", "list": "L"}, {"op": "received"}]},
    {"op": "or", "items": []},
    {"op": "not", "item": {"op": "enrolled_in", "workflow": "W"}},
    {"op": "reached_goal", "workflow": "W"},
    {"op": "enrolled_in", "workflow": "W"},
    {"op": "in_list", "list": "L"},
    {"op": "received"},
    *({"op": op, **LEAF, "value": 5} for op in ("eq", "ne", "lt", "le", "gt", "ge")),
    {"op": "before", **LEAF, "value": {"date": "2026-01-01"}},
    {"op": "after", **LEAF, "value": {"datetime": "2026-01-01T09:00"}},
    {"op": "known", **LEAF},
    {"op": "unknown", "attribute": "url.path"},
    {"op": "in", **LEAF, "values": ["a", {"percent": 5}]},
    {"op": "not_in", **LEAF, "values": []},
    {"op": "between", "high": 9, **LEAF, "low": 1},
    *({"op": op, **LEAF, "value": "a"} for op in ("contains", "not_contains", "starts_with", "ends_with")),
    {"op": "ever", **LEAF, "value": "lead"},
    {"op": "never", **LEAF, "value": True},
    *({"duration": DAY, "op": op, **LEAF} for op in ("within_last", "within_next", "more_than_ago")),
    {"op": "updated_within", **LEAF, "duration": DAY},
    {"op": "not_updated_within", **LEAF, "duration": DAY},
    {
        "op": "has_event",
        "at_least": 2,
        "event": {"criteria": {"op": "eq", "attribute": "form", "value": "Demo"}, "negated": False, "type": "form"},
        "negated": True,
        "within": DAY,
    },
    {
        "op": "has_event",
        "event": {
            "criteria": None,
            "from": "a",
            "negated": False,
            "object": "contact",
            "property": "x",
            "to": None,
            "type": "property.changed",
        },
        "negated": False,
        "within": None,
    },
]


def _sorted(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, sort_keys=True))  # type: ignore[no-any-return]


@pytest.mark.parametrize("data", EVERY_KIND, ids=lambda d: str(d["op"]))
def test_every_kind_round_trips_through_its_class(data: dict[str, Any]) -> None:
    criterion = criteria_from_data(data)
    assert type(criterion) is pc.CRITERION_CLASSES[data["op"]]
    assert criterion.op == data["op"]
    out = criteria_data(criterion)
    assert list(out)[0] == "op"  # `op` first, the other keys sorted
    assert list(out)[1:] == sorted(k for k in out if k != "op")
    # `to: null` is what "any value" is; it is written as an absent key.
    expected = _sorted(data)
    if data["op"] == "has_event" and expected["event"].get("to", 0) is None:
        del expected["event"]["to"]
    assert _sorted(out) == expected
    assert criteria_from_data(out) == criterion


def test_every_class_is_reachable_by_op() -> None:
    kinds = {type(criteria_from_data(d)) for d in EVERY_KIND}
    assert kinds == set(pc.CRITERION_CLASSES.values())


def test_compiled_plans_hold_typed_criteria() -> None:
    source = (
        'workflow "W" { object contact enroll when contact.score >= 50 and has form.submitted(form = "Demo") '
        'goal in list "Done" steps { if not contact.city is known { end } } }'
    )
    plans, _ = compile_project(project_from_text(source, "w.wf"))
    assert plans is not None
    plan = plans.workflow("W")
    trigger = plan.trigger.criteria
    assert isinstance(trigger, pc.AllOf)
    score, has = trigger.items
    assert isinstance(score, pc.Compare) and (score.op, score.target, score.value) == ("ge", "contact.score", 50)
    assert isinstance(has, pc.HasEvent) and has.event.type == "form.submitted"
    assert isinstance(has.event.criteria, pc.Compare) and has.event.criteria.attribute == "form"
    assert plan.goal == pc.InList(list="Done")
    branch = plan.steps["steps.0"]
    assert isinstance(branch.branches[0].criteria, pc.Not)  # type: ignore[attr-defined]


def test_hand_edited_has_event_takes_the_compiler_shape() -> None:
    plans = plans_from_json(json.dumps(_plan_with_goal({"op": "has_event", "event": {"type": "x"}, "extra": 1})))
    data = json.loads(plan_to_json(plans))
    goal = data["workflows"][0]["goal"]
    assert goal == {
        "op": "has_event",
        "event": {"criteria": None, "negated": False, "type": "x"},
        "negated": False,
        "within": None,
    }


def _plan_with_goal(goal: Any) -> dict[str, Any]:
    return {
        "format_version": "1",
        "workflows": [
            {
                "name": "W",
                "object": "contact",
                "source_hash": "0",
                "span": ["w.wf", 1, 1, 1, 2],
                "trigger": {"kind": "manual"},
                "goal": goal,
                "steps": {},
            }
        ],
    }


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        ({"op": "nope"}, "plan.workflows[0].goal: unknown criteria operator `nope`"),
        ({"op": "and", "items": [{"op": "eq", **LEAF}]}, "plan.workflows[0].goal.items[0]: `eq` needs `value`"),
        ({"op": "in", **LEAF, "values": 3}, "plan.workflows[0].goal.values: expected a list, found a number"),
        (
            {"op": "has_event", "event": {"type": "x"}, "at_least": 0},
            "plan.workflows[0].goal.at_least: expected a whole",
        ),
        ({"op": "in_list"}, "plan.workflows[0].goal: `in_list` needs `list` (a string)"),
    ],
)
def test_bad_criteria_are_refused_with_their_json_path(goal: Any, message: str) -> None:
    with pytest.raises(PlanError) as raised:
        plans_from_data(_plan_with_goal(goal))
    assert str(raised.value).startswith(message)


def test_a_branch_without_target_completes_as_the_schema_allows() -> None:
    plans, _ = compile_project(
        project_from_text('workflow "W" { object contact steps { if in list "L" { end } } }', "w.wf")
    )
    assert plans is not None
    data = json.loads(plan_to_json(plans))
    del data["workflows"][0]["steps"]["steps.0"]["branches"][0]["target"]
    branch = plans_from_data(data).workflow("W").steps["steps.0"]
    assert branch.branches[0].target is None  # type: ignore[attr-defined]
