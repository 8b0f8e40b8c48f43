"""The published JSON Schemas (docs/schemas/) match what the loaders accept.

Each schema is checked against the metaschema, against every example and
documented sample, and against generated input: whatever the loader accepts
the schema accepts (a schema must never make an editor flag a good file),
and the invalid inputs listed here are refused by both.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tomllib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfdsl.compile.compiler import compile_project
from wfdsl.host.simulate import SimulationInputError, load_records_data, parse_event
from wfdsl.plan.model import PlanError, plan_to_data, plans_from_data
from wfdsl.schema import ConfigError, lint_settings_from_config, load_schema, schema_from_config
from wfdsl.syntax.project import load_project
from wfdsl.tools.json_schemas import all_schemas

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))


CONFIG = _validator("wfdsl-toml.json")
RECORDS = _validator("records.json")
EVENT = _validator("event.json")
PLAN = _validator("plan.json")


def test_the_published_schemas_are_generated_and_valid() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_schemas.py"), "--check"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(all_schemas())
    for name, schema in all_schemas().items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/docs/schemas/{name}")


# ---------------------------------------------------------------- wfdsl.toml


def _config_ok(table: dict[str, Any]) -> bool:
    try:
        schema_from_config(table, "wfdsl.toml")
        lint_settings_from_config(table, "wfdsl.toml")
    except ConfigError:
        return False
    return True


def _doc_blocks(page: str, lang: str) -> list[str]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)


def test_config_examples_and_documented_tables_are_valid() -> None:
    tables = [tomllib.loads((ROOT / "examples" / "wfdsl.toml").read_text(encoding="utf-8"))]
    for block in _doc_blocks("configuration.md", "toml"):
        table = tomllib.loads(block)
        tables.append(table.get("tool", {}).get("wfdsl", table))
    assert len(tables) >= 4
    for table in tables:
        assert _config_ok(table)
        assert CONFIG.is_valid(table), list(CONFIG.iter_errors(table))


BAD_CONFIGS = [
    {"schema": {"contact": {"renewal_date": "dat"}}},
    {"schema": {"contcat": {"x": "string"}}},
    {"schema": {"custom": {"contact": {"x": "string"}}}},
    {"schema": {"contact": {"colour": {"type": "enumeration"}}}},
    {"schema": {"contact": {"colour": {"type": "string", "options": ["a"]}}}},
    {"schema": {"contact": {"colour": {"type": "enumeration", "options": []}}}},
    {"schema": {"contact": {"colour": {"kind": "string"}}}},
    {"schema": {"contact": {"bad name": "string"}}},
    {"schema": {"builtin": "yes"}},
    {"schema": []},
    {"lint": {"ignore": ["no-such-check"]}},
    {"lint": {"strict": 1}},
    {"lint": {"fix": True}},
    {"store": {}},
]


@pytest.mark.parametrize("table", BAD_CONFIGS, ids=lambda t: json.dumps(t)[:60])
def test_bad_configs_are_refused_by_the_schema_and_the_loader(table: dict[str, Any]) -> None:
    assert not _config_ok(table)
    assert not CONFIG.is_valid(table)


_prop_types = st.sampled_from(["string", "number", "bool", "date", "datetime", "enumeration", "text", ""])
_prop_spec = st.one_of(
    _prop_types,
    st.fixed_dictionaries(
        {"type": _prop_types},
        optional={"options": st.lists(st.sampled_from(["a", "b", 1]), max_size=2), "label": st.just("L")},
    ),
    st.integers(),
)
_props = st.dictionaries(st.sampled_from(["renewal_date", "x", "bad name", "9x"]), _prop_spec, max_size=3)
_configs = st.fixed_dictionaries(
    {},
    optional={
        "schema": st.dictionaries(
            st.sampled_from(["contact", "deal", "custom", "builtin", "contcat"]),
            st.one_of(_props, st.booleans(), st.dictionaries(st.sampled_from(["pet", "deal"]), _props, max_size=2)),
            max_size=3,
        ),
        "lint": st.dictionaries(
            st.sampled_from(["select", "ignore", "strict", "fix"]),
            st.one_of(st.booleans(), st.lists(st.sampled_from(["syntax", "WF018", "nope"]), max_size=2)),
            max_size=2,
        ),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_configs)
def test_schema_and_loader_agree_on_generated_configs(table: dict[str, Any]) -> None:
    assert CONFIG.is_valid(table) == _config_ok(table), (table, [e.message for e in CONFIG.iter_errors(table)])


def test_the_pyproject_table_is_the_same_schema(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wfdsl.schema.contact]\nrenewal_date = "date"\n', encoding="utf-8")
    table = tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["wfdsl"]
    assert CONFIG.is_valid(table) and load_schema(tmp_path).property("contact", "renewal_date") is not None


# ---------------------------------------------------------------- records and events


def _records_ok(data: Any) -> bool:
    try:
        load_records_data(data, "records.json", json.dumps(data))
    except SimulationInputError:
        return False
    return True


def _event_ok(data: Any) -> bool:
    try:
        parse_event(data, "events.jsonl", 1)
    except SimulationInputError:
        return False
    return True


def _sample_files(pattern: str) -> list[Path]:
    return sorted(
        p for p in [*ROOT.glob(f"examples/**/{pattern}"), *ROOT.glob(f"tests/cases/**/{pattern}")] if p.is_file()
    )


def test_example_records_and_events_are_valid() -> None:
    records = _sample_files("records*.json")
    assert records
    for path in records:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if _records_ok(data):
            assert RECORDS.is_valid(data), (path, [e.message for e in RECORDS.iter_errors(data)])
    lines = [
        (path, line)
        for path in _sample_files("*.jsonl")
        for line in path.read_text(encoding="utf-8-sig").splitlines()
        if line.strip()
    ]
    assert len(lines) > 20
    for path, line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if _event_ok(data):
            assert EVENT.is_valid(data), (path, line, [e.message for e in EVENT.iter_errors(data)])


BAD_RECORDS = [
    [],
    {"contact": {"id": "c1"}},
    {"contact": [{"email": "a@b.c"}]},
    {"contact": [{"id": True}]},
    {"contact": [{"id": "c1"}], "associations": [{"from": "c1", "to": "company:co1"}]},
    {"contact": [{"id": "c1"}], "associations": {"from": "contact:c1"}},
    {"lists": {"L": ["c1"]}},
    {"lists": ["contact:c1"]},
]


@pytest.mark.parametrize("data", BAD_RECORDS, ids=lambda d: json.dumps(d)[:60])
def test_bad_records_are_refused_by_both(data: Any) -> None:
    assert not _records_ok(data)
    assert not RECORDS.is_valid(data)


GOOD_EVENT = {"at": "2026-11-23T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1"}
BAD_EVENTS = [
    [],
    {k: v for k, v in GOOD_EVENT.items() if k != "at"},
    {**GOOD_EVENT, "at": "2026-11-23T10:00:00"},
    {**GOOD_EVENT, "at": "yesterday"},
    {**GOOD_EVENT, "type": ""},
    {**GOOD_EVENT, "object": ""},
    {**GOOD_EVENT, "id": False},
    {**GOOD_EVENT, "data": []},
    {**GOOD_EVENT, "type": "record.updated"},
    {**GOOD_EVENT, "type": "record.updated", "properties": {}},
    {**GOOD_EVENT, "type": "list.added", "data": {}},
    {**GOOD_EVENT, "type": "workflow.enroll", "data": {"workflow": 3}},
]


@pytest.mark.parametrize("data", BAD_EVENTS, ids=lambda d: json.dumps(d)[:60])
def test_bad_events_are_refused_by_both(data: Any) -> None:
    assert not _event_ok(data)
    assert not EVENT.is_valid(data)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4))
_events = st.fixed_dictionaries(
    {},
    optional={
        "at": st.sampled_from(["2026-11-23T10:00:00Z", "2026-11-23T10:00:00+01:00", "2026-11-23T10:00", "x", 5]),
        "type": st.sampled_from(["form.submitted", "record.updated", "list.added", "workflow.enroll", "nope"]),
        "object": st.sampled_from(["contact", "", 1]),
        "id": st.one_of(st.sampled_from(["c1", 7, True]), _scalars),
        "data": st.one_of(st.dictionaries(st.sampled_from(["list", "workflow", "form"]), _scalars), _scalars),
        "properties": st.one_of(st.dictionaries(st.sampled_from(["email", "city"]), _scalars), _scalars),
        "event_id": st.just("e1"),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_events)
def test_every_event_the_loader_accepts_the_schema_accepts(data: dict[str, Any]) -> None:
    if _event_ok(data):
        assert EVENT.is_valid(data), (data, [e.message for e in EVENT.iter_errors(data)])


# ---------------------------------------------------------------- plans


def _compiled() -> list[dict[str, Any]]:
    plans = []
    cases = sorted((ROOT / "tests" / "cases" / "compile").rglob("*.wf"))
    templates = sorted((ROOT / "src" / "wfdsl" / "templates").glob("*.wf"))
    for path in [ROOT / "examples", *cases, *templates]:
        plan, _ = compile_project(load_project([str(path)]), load_schema(path))
        if plan is not None:
            plans.append(plan_to_data(plan))
    return plans


PLANS = _compiled()


def _plan_ok(data: Any) -> bool:
    try:
        plans_from_data(data)
    except PlanError:
        return False
    return True


def test_compiled_plans_are_valid() -> None:
    assert len(PLANS) >= 5
    kinds = set()
    for data in PLANS:
        assert _plan_ok(data)
        assert PLAN.is_valid(data), [f"{e.json_path}: {e.message}" for e in PLAN.iter_errors(data)][:5]
        kinds |= {s["kind"] for w in data["workflows"] for s in w["steps"].values()}
    assert len(kinds) >= 25  # the examples reach (nearly) every step kind


def _first_step(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(s for w in data["workflows"] for s in w["steps"].values() if s["kind"] == kind)


def _mutations() -> list[tuple[str, Any]]:
    base = PLANS[0]
    out: list[tuple[str, Any]] = []

    def mutate(name: str, change: Any) -> None:
        data = copy.deepcopy(base)
        change(data)
        out.append((name, data))

    mutate("format_version", lambda d: d.update(format_version="2"))
    mutate("no workflows", lambda d: d.pop("workflows"))
    mutate("unknown step kind", lambda d: _first_step(d, "send_email").update(kind="teleport"))
    mutate("delay without duration", lambda d: _first_step(d, "delay")["args"].pop("duration"))
    mutate(
        "duration part as text", lambda d: _first_step(d, "delay")["args"]["duration"]["parts"][0].__setitem__(0, "1")
    )
    mutate("unknown unit", lambda d: _first_step(d, "delay")["args"]["duration"]["parts"][0].__setitem__(1, "year"))
    mutate("email not text", lambda d: _first_step(d, "send_email")["args"].update(email=5))
    mutate("step without span", lambda d: _first_step(d, "send_email").pop("span"))
    mutate("unknown criteria op", lambda d: d["workflows"][0].update(goal={"op": "roughly"}))
    mutate("unknown trigger kind", lambda d: d["workflows"][0]["trigger"].update(kind="sometimes"))
    mutate(
        "window time",
        lambda d: d["workflows"][0]["settings"].update(windows=[{"days": [0], "start": "9", "end": "17:00"}]),
    )
    mutate("split arm of 0%", lambda d: _first_step(d, "split")["arms"][0].update(percent=0))
    return out


@pytest.mark.parametrize(("name", "data"), _mutations(), ids=lambda v: v if isinstance(v, str) else "")
def test_broken_plans_are_refused_by_both(name: str, data: Any) -> None:
    assert not _plan_ok(data), name
    assert not PLAN.is_valid(data), name


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*here, index))
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_plan_the_loader_accepts_the_schema_accepts(data: st.DataObject) -> None:
    plan = copy.deepcopy(data.draw(st.sampled_from(PLANS)))
    path = data.draw(st.sampled_from(_paths(plan)[1:]))
    parent = plan
    for key in path[:-1]:
        parent = parent[key]
    replacement = data.draw(st.sampled_from([None, "", "x", 0, 1, -1, 2.5, True, [], {}, "09:00", "delete"]))
    if replacement == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    if _plan_ok(plan):
        errors = [f"{e.json_path}: {e.message}" for e in PLAN.iter_errors(plan)][:3]
        assert errors == [], (path, replacement)


def test_the_docs_script_validates_the_example_events(capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = _doc_blocks("schemas.md", "python")
    import os

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, "docs/schemas.md", "exec"), {})
    finally:
        os.chdir(here)
    assert capsys.readouterr().out == ""
    (settings_block,) = _doc_blocks("schemas.md", "json")
    urls = [entry["url"] for entry in json.loads(settings_block)["json.schemas"]]
    assert [u.rsplit("/", 1)[1] for u in urls] == ["records.json", "plan.json"]
    assert all(all_schemas()[u.rsplit("/", 1)[1]]["$id"] == u for u in urls)
    (toml_block,) = _doc_blocks("schemas.md", "toml")
    assert toml_block.startswith(f"#:schema {all_schemas()['wfdsl-toml.json']['$id']}\n")
    assert CONFIG.is_valid(tomllib.loads(toml_block))


_ARG_SAMPLES: list[Any] = [
    None, "", "x", "09:00", "25:00", "monday", "before", "2026-01-01", 0, 1, -1, 6, 7, 2.5, True, [], ["o1"], {},
    {"parts": [[1, "day"]], "seconds": 86400}, {"object": "contact", "property": "email"}, {"date": "2026-01-01"},
    {"datetime": "2026-01-01T09:00"}, {"type": "form.submitted"}, [{"name": "n", "value": "v"}],
]  # fmt: skip


def test_step_arguments_are_stated_from_the_step_classes() -> None:
    """The `args` of each step kind in plan.json are the step class's argument fields
    (JSON name, required when the field has no default), each stated from its check:
    every sample value the check accepts, the argument's schema accepts."""
    from wfdsl.plan.steps import STEP_CLASSES, arg_fields

    schema = all_schemas()["plan.json"]
    rules = {rule["if"]["properties"]["kind"]["const"]: rule["then"] for rule in schema["$defs"]["step"]["allOf"]}
    assert list(rules) == list(STEP_CLASSES)
    accepted = 0
    for kind, cls in STEP_CLASSES.items():
        args = rules[kind]["properties"]["args"]
        fields = arg_fields(cls)
        assert list(args["properties"]) == [f.json for f in fields], kind
        assert args.get("required", []) == [f.json for f in fields if f.required], kind
        for field in fields:
            validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], **args["properties"][field.json]})
            for value in _ARG_SAMPLES:
                try:
                    field.check(value, field.json)
                except PlanError:
                    continue
                accepted += 1
                assert validator.is_valid(value), (kind, field.json, value)
    assert accepted > 50
