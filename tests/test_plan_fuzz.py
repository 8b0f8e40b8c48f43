"""Fuzzing compiled plans: a hand-edited plan is run or refused, never a traceback.

The compiled plan of examples/ is mutated (a leaf or subtree replaced by a
value of the wrong type, an out-of-range number, an unknown name, a time
such as "25:99", a subtree from elsewhere in the plan; a key deleted; an
object turned into a list) and given to `simulate`, `explain` and `run`.
Every outcome is an exit status of 0 to 3 without a traceback, and a plan
that is refused (exit 2) is named in the message, with the JSON path of the
wrong value (docs/plans.md). The default tier runs in CI; the
`slow` tier runs thousands (`pytest -m slow tests/test_plan_fuzz.py`,
WFDSL_FUZZ_PLAN_EXAMPLES changes its size).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfdsl.cli import cli
from wfdsl.compile.compiler import load_plans
from wfdsl.plan.model import PlanError, plan_to_data, plans_from_json

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RECORDS = str(EXAMPLES / "records.json")
EVENTS = str(EXAMPLES / "events.jsonl")

_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
SHORT = settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=_CHECKS)
LONG_EXAMPLES = int(os.environ.get("WFDSL_FUZZ_PLAN_EXAMPLES", os.environ.get("WFDSL_FUZZ_EXAMPLES", "3000")))
LONG = settings(max_examples=LONG_EXAMPLES, deadline=None, suppress_health_check=_CHECKS)

Path_ = tuple[Any, ...]  # keys and indexes from the root of the plan data

#: Values of the wrong type, out of range, or unknown where a name is expected.
WRONG: tuple[Any, ...] = (
    "two",
    "",
    "0",
    "-1",
    "x" * 300,
    "{{ contact.",
    "teleport",
    "fortnight",
    "blursday",
    "25:99",
    "9:00",
    "09:00:00",
    "24:00",
    "2026-13-45",
    "2026-02-30",
    "2026-12-24T25:00",
    "Mars/Olympus",
    "../../etc/passwd",
    "monday",
    "before",
    "property.changed",
    "and",
    # names that are valid somewhere, so a step or trigger changes kind under its arguments
    "delay",
    "delay_until_day",
    "delay_until_date",
    "delay_until_anchor",
    "wait_for",
    "if",
    "branch_on",
    "split",
    "set",
    "copy",
    "create_record",
    "rotate_owner",
    "placeholder",
    "label",
    "go_to",
    "end",
    "filter",
    "event",
    "schedule",
    "manual",
    "once",
    "weekly",
    "monthly",
    "on_change",
    "every_time",
    "stop",
    "in_list",
    "has_event",
    "known",
    "between",
    "within_last",
    "minute",
    "week",
    0,
    1,
    -1,
    7,
    -7,
    2,
    101,
    -(10**6),
    10**9,
    10**30,
    2**63,
    -(2**63),
    10**400,
    1.5,
    -0.5,
    1e300,
    True,
    False,
    None,
    [],
    {},
    [[]],
    [[1]],
    [["two", "day"]],
    [[1, "day", 3]],
    [None],
    ["a", 1],
    [{}],
    {"op": "eq"},
    {"op": "teleport"},
    {"parts": "x", "seconds": "y"},
    {"type": 5},
    {"date": "2026-02-30"},
    {"time": []},
    {"percent": "half"},
    {"object": 1, "property": []},
)
#: Strings JSON can hold that `plan_to_json` never writes (read by `json.loads` all the same).
RAW_CONSTANTS = ("NaN", "Infinity", "-Infinity")


@functools.cache
def _compiled() -> str:
    return json.dumps(plan_to_data(load_plans([EXAMPLES])))


def _paths(data: Any, here: Path_ = ()) -> list[Path_]:
    """Every node below the root (objects, lists and leaves), in document order."""
    out: list[Path_] = []
    stack: list[tuple[Any, Path_]] = [(data, here)]
    while stack:
        node, at = stack.pop()
        if at:
            out.append(at)
        if isinstance(node, dict):
            stack.extend((v, (*at, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, (*at, i)) for i, v in reversed(list(enumerate(node))))
    return out


def _get(data: Any, path: Path_) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: Any, path: Path_, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _near(rnd: random.Random, value: Any) -> Any:
    """A wrong value that resembles the old one: same type, bad content."""
    if isinstance(value, bool):
        return rnd.choice([not value, 0, 1, "true", None])
    if isinstance(value, int):
        return rnd.choice([-value, -1, value + 1, value * 10**12, 10**30, float(value) + 0.5, str(value), 7, 0])
    if isinstance(value, float):
        return rnd.choice([-value, value * 1e300, 0.0, int(value), str(value)])
    if isinstance(value, str):
        return rnd.choice(
            [
                value.upper(),
                value + "x",
                value[:-1],
                value[::-1],
                "",
                value.replace("0", "9"),
                value.replace(":", ""),
                [value],
                5,
            ]
        )
    if isinstance(value, list):
        if value and rnd.random() < 0.5:
            return value + [rnd.choice(WRONG)]
        return [value]
    if isinstance(value, dict):
        return list(value.values()) if rnd.random() < 0.5 else [value]
    return rnd.choice(WRONG)


def _pick(rnd: random.Random, paths: list[Path_]) -> Path_:
    # Half of the picks land inside step arguments, the rest anywhere.
    if rnd.random() < 0.5:
        inside = [p for p in paths if "args" in p]
        if inside:
            return rnd.choice(inside)
    return rnd.choice(paths)


def mutate(rnd: random.Random, data: Any) -> Any:
    """One to three mutations of plan data (a deep copy)."""
    data = copy.deepcopy(data)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = _pick(rnd, paths)
        old = _get(data, path)
        what = rnd.random()
        if what < 0.4:
            _set(data, path, copy.deepcopy(rnd.choice(WRONG)))
        elif what < 0.65:
            _set(data, path, _near(rnd, old))
        elif what < 0.8:  # delete a key (or an item of a list)
            del _get(data, path[:-1])[path[-1]]
        elif what < 0.9:  # a subtree from elsewhere in the plan
            _set(data, path, copy.deepcopy(_get(data, rnd.choice(paths))))
        else:  # an object (or the nearest one above) becomes a list of its values
            while path and not isinstance(_get(data, path), dict):
                path = path[:-1]
            if path:
                _set(data, path, list(_get(data, path).values()))
    return data


def _text(rnd: random.Random, data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False)
    if rnd.random() < 0.05:  # a number replaced by a constant JSON parsers accept
        numbers = [i for i, c in enumerate(text) if c.isdigit() and text[i - 1] in " ["]
        if numbers:
            i = rnd.choice(numbers)
            end = i
            while end < len(text) and (text[end].isdigit() or text[end] in ".e-"):
                end += 1
            text = text[:i] + rnd.choice(RAW_CONSTANTS) + text[end:]
    return text


COMMANDS: tuple[tuple[str, ...], ...] = (
    ("simulate", "{plan}", "--records", RECORDS, "--events", EVENTS),
    ("explain", "{plan}", "--records", RECORDS, "--events", EVENTS, "--record", "c1"),
    (
        "run",
        "{plan}",
        "--store",
        "memory://",
        "--crm",
        "memory://",
        "--clock",
        "virtual",
        "--until-idle",
        "--records",
        RECORDS,
        "--events",
        EVENTS,
        "--status-every",
        "0",
    ),
)


def _runs_or_is_refused(tmp: Path, text: str) -> None:
    plan = tmp / "plan.json"
    plan.write_text(text, encoding="utf-8")
    try:
        plans_from_json(text)
        refused = None
    except PlanError as error:
        refused = str(error)
    runner = CliRunner()
    for command in COMMANDS:
        args = [str(plan) if a == "{plan}" else a for a in command]
        result = runner.invoke(cli, args)
        shown = (args[0], refused, result.output[-2000:])
        assert result.exception is None or isinstance(result.exception, SystemExit), (shown, result.exc_info)
        assert "Traceback" not in result.output, shown
        assert result.exit_code in (0, 1, 2, 3), shown
        if refused is not None:
            # The loader refuses it: every command says so, naming the file and the place.
            assert result.exit_code == 2, shown
            assert f"wfdsl: error: {plan}: " in result.output, shown
        elif result.exit_code == 2:
            assert f"{plan}" in result.output, shown


def _invoke(command: tuple[str, ...], plan: Path) -> Any:
    return CliRunner().invoke(cli, [str(plan) if a == "{plan}" else a for a in command])


def test_the_unmutated_plan_runs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(_compiled(), encoding="utf-8")
    for command in COMMANDS:
        result = _invoke(command, plan)
        assert result.exit_code == 0, result.output


def test_mutations_reach_step_arguments() -> None:
    rnd = random.Random(0)
    paths = _paths(json.loads(_compiled()))
    assert sum(1 for _ in range(200) if "args" in _pick(rnd, paths)) > 80


# `use_true_random`: a real `Random` seeded by Hypothesis (fixed with derandomize), so the
# mutations spread over the whole plan instead of Hypothesis's simplest choices.
@SHORT
@given(st.randoms(use_true_random=True))
def test_mutated_plans_run_or_are_refused(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    text = _text(rnd, mutate(rnd, json.loads(_compiled())))
    _runs_or_is_refused(tmp_path_factory.mktemp("plan"), text)


@pytest.mark.slow
@LONG
@given(st.randoms(use_true_random=True))
def test_many_mutated_plans_run_or_are_refused(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    text = _text(rnd, mutate(rnd, json.loads(_compiled())))
    _runs_or_is_refused(tmp_path_factory.mktemp("plan"), text)


# ---------------------------------------------------------------- what the fuzz found, pinned


def _step(data: Any, kind: str) -> tuple[str, dict[str, Any]]:
    """The workflow name and the first step of `kind` in the examples' plan."""
    return next((w["name"], s) for w in data["workflows"] for s in w["steps"].values() if s["kind"] == kind)


#: (step kind, path under `args`, value, the message after `….steps['id'].args.`). Before
#: the loader checked arguments, most of these were a traceback in `simulate` and `explain`
#: (ValueError, TypeError, KeyError, AttributeError, OverflowError, TimingError, PlanError)
#: and a runtime failure (exit 3) in `run`; the rest ran with a value the plan cannot hold.
ARGS_FOUND: list[tuple[str, Path_, Any, str]] = [
    ("delay", ("duration", "parts", 0, 0), "two", "duration.parts[0][0]: expected a whole number, found a string"),
    ("delay", ("duration", "seconds"), "two", "duration.seconds: expected a whole number, found a string"),
    ("delay", ("duration", "parts", 0), [4], "duration.parts[0]: expected [amount, unit], found a list of 1"),
    (
        "delay",
        ("duration", "parts", 0, 1),
        "fortnight",
        'duration.parts[0][1]: expected one of "minute", "hour", "day", "week", found \'fortnight\'',
    ),
    ("delay", ("duration", "parts"), 5, "duration.parts: expected a list of [amount, unit] pairs, found a number"),
    ("delay", ("duration",), "fortnight", "duration: expected a duration"),
    ("delay", ("duration", "parts", 0, 0), 10**30, "duration: expected at most 5218 weeks"),
    ("delay", ("duration", "seconds"), 5, "duration.seconds: expected 345600"),
    ("wait_for", ("timeout", "parts", 0, 0), -1, "timeout.parts[0][0]: expected a whole number at least 1, found -1"),
    ("delay_until_day", ("at",), "24:00", "at: expected a time of day HH:MM from 00:00 to 23:59, found '24:00'"),
    ("delay_until_day", ("at",), 5, "at: expected a string, found a number"),
    ("delay_until_day", ("weekday",), 9, "weekday: expected a whole number from 0 to 6, found 9"),
    ("delay_until_date", ("sign",), "teleport", "sign: expected one of 1, -1, found 'teleport'"),
    ("delay_until_date", ("sign",), {}, "sign: expected one of 1, -1, found an object"),
    ("delay_until_date", ("base",), 7, 'base: expected {"date"}, {"datetime"} or {"property"}, found a number'),
    (
        "delay_until_date",
        ("base",),
        {"datetime": "7"},
        "base.datetime: expected a date-time YYYY-MM-DDTHH:MM, found '7'",
    ),
    ("delay_until_date", ("base",), {"property": []}, "base.property: expected a property"),
    ("copy", ("source",), 5, "source: expected a property"),
    ("copy", ("source",), {}, "source: missing field `object`"),
    ("copy", ("source", "object"), {}, "source.object: expected a string, found an object"),
    ("create_record", ("fields", 0), {}, "fields[0]: missing field `name`"),
    ("create_record", ("fields", 0), ["subject"], "fields[0]: expected an object, found a list"),
    (
        "create_record",
        ("fields", 0, "value"),
        {"date": "2026-02-30"},
        "fields[0].value.date: expected a date YYYY-MM-DD, found '2026-02-30'",
    ),
    ("set", ("value",), {"colour": "red"}, "value: expected a value"),
    ("increment", ("amount",), "10", "amount: expected a number, found a string"),
    ("increment", ("amount",), 10**400, "amount: expected a finite number"),
    ("create_task", ("assign_owner",), "yes", "assign_owner: expected true or false"),
    ("rotate_owner", ("owners",), "cs@example.com", "owners: expected a list of owners"),
    (
        "wait_for",
        ("event", "criteria"),
        {"op": "eq", "attribute": 5, "value": 1},
        "event.criteria.attribute: expected a string, found a number",
    ),
    ("delay_until_anchor", ("side",), "around", 'side: expected one of "before", "after", found \'around\''),
]


@pytest.mark.parametrize(
    ("kind", "where", "value", "message"),
    ARGS_FOUND,
    ids=[f"{k}.{'.'.join(map(str, w))}-{i}" for i, (k, w, _, _) in enumerate(ARGS_FOUND)],
)
def test_wrong_step_arguments_are_refused_with_their_place(
    tmp_path: Path, kind: str, where: Path_, value: Any, message: str
) -> None:
    data = json.loads(_compiled())
    name, step = _step(data, kind)
    _set(step["args"], where, value)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(data), encoding="utf-8")
    for command in COMMANDS:
        result = _invoke(command, plan)
        assert result.exit_code == 2, result.output
        assert f"wfdsl: error: {plan}: workflow {name!r}.steps[{step['id']!r}].args.{message}" in result.output, (
            result.output
        )


#: (a change to the first workflow of a kind, the message after the workflow's path).
WORKFLOW_FOUND: list[tuple[str, Any, str]] = [
    (
        "filter",
        lambda w: w["settings"].update(timezone="Mars/Olympus"),
        'settings.timezone: expected an IANA time zone name such as "Europe/Oslo"',
    ),
    (
        "filter",
        lambda w: w["settings"].update(pause_dates=["2026-12-32"]),
        "settings.pause_dates[0]: expected a date YYYY-MM-DD",
    ),
    (
        "filter",
        lambda w: w["settings"].update(windows=[{"days": [0], "start": "25:99", "end": "26:00"}]),
        "settings.windows[0].start: expected a time of day HH:MM",
    ),
    (
        "filter",
        lambda w: w["settings"].update(windows=[{"days": [7], "start": "09:00", "end": "17:00"}]),
        "settings.windows[0].days[0]: expected a whole number from 0 to 6, found 7",
    ),
    (
        "filter",
        lambda w: w["settings"].update(windows=[{"days": [0], "start": "17:00", "end": "09:00"}]),
        "settings.windows[0].end: expected a time after `start`",
    ),
    ("filter", lambda w: w["trigger"].update(criteria=None), "trigger: a `filter` trigger needs `criteria`"),
    ("schedule", lambda w: w["trigger"]["recurrence"].update(at="25:99"), "trigger.recurrence.at: expected"),
    (
        "schedule",
        lambda w: w["trigger"]["recurrence"].update(day=-5),
        "trigger.recurrence.day: expected a whole number from 1 to 31, found -5",
    ),
    ("schedule", lambda w: w["trigger"].pop("recurrence"), "trigger: a `schedule` trigger needs `recurrence`"),
    (
        "filter",
        lambda w: w.update(anchor={"property": None, "date": "someday", "annually": False}),
        "anchor.date: expected a date YYYY-MM-DD, found 'someday'",
    ),
    (
        "event",
        lambda w: w["trigger"]["events"][0].update(negated="no"),
        "trigger.events[0].negated: expected true or false, found a string",
    ),
]


@pytest.mark.parametrize(
    ("trigger", "change", "message"), WORKFLOW_FOUND, ids=[m.split(":")[0] for _, _, m in WORKFLOW_FOUND]
)
def test_wrong_workflow_fields_are_refused_with_their_place(
    tmp_path: Path, trigger: str, change: Any, message: str
) -> None:
    data = json.loads(_compiled())
    index, workflow = next((i, w) for i, w in enumerate(data["workflows"]) if w["trigger"]["kind"] == trigger)
    change(workflow)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(data), encoding="utf-8")
    result = _invoke(COMMANDS[0], plan)
    assert result.exit_code == 2, result.output
    assert (
        f"workflow {workflow['name']!r}.{message}" in result.output
        or f"plan.workflows[{index}].{message}" in result.output
    ), result.output
    assert f"wfdsl: error: {plan}: " in result.output


@pytest.mark.parametrize("constant", RAW_CONSTANTS)
def test_non_finite_numbers_are_not_json(tmp_path: Path, constant: str) -> None:
    text = _compiled().replace('"seconds": 345600', f'"seconds": {constant}', 1)
    assert constant in text
    with pytest.raises(PlanError, match=f"plan is not valid JSON: {constant} is not a JSON number"):
        plans_from_json(text)
