"""JSON Schemas: the formats' constants in, JSON Schema documents (draft 2020-12) out.

Four files users write or read have a published schema (docs/schemas/),
for editors (completion and checking as you type) and for tools that
produce these files:

- `wfdsl-toml.json`: `wfdsl.toml`, and the `[tool.wfdsl]` table of `pyproject.toml`;
- `records.json`: the records file of `simulate`, `explain` and `test`;
- `event.json`: one line of an events file (JSON Lines);
- `plan.json`: the compiled plan of `wfdsl compile`.

The schemas are built here from the same constants the loaders use (object
types, property types, check names, event types, step kinds, criteria
operators) and, for each step kind's arguments, from the step classes
(`wfdsl.plan.steps`: each argument's JSON name, whether it is required, and
its check), and scripts/gen_schemas.py writes them, so they cannot drift.
The loaders keep their own checks: they say which line or JSON path is wrong
in words, and the core install does not depend on a schema validator.

>>> sorted(all_schemas())
['event.json', 'plan.json', 'records.json', 'wfdsl-toml.json']
"""

from __future__ import annotations

from typing import Any

from wfdsl.catalog import EVENTS, INPUT_EVENTS, STANDARD_OBJECT_TYPES
from wfdsl.diagnostics import RULES
from wfdsl.plan import checks
from wfdsl.plan.model import (
    CRITERIA_OPS,
    DURATION_UNITS,
    FORMAT_VERSION,
    RECURRENCE_KINDS,
    REENROLL_MODES,
    STEP_KINDS,
    TRIGGER_KINDS,
    WEEKDAYS,
)
from wfdsl.plan.steps import STEP_CLASSES, arg_fields
from wfdsl.schema import PROPERTY_TYPES

Schema = dict[str, Any]

#: Where the schemas are published (their `$id`s).
BASE_URL = "https://raw.githubusercontent.com/wfdsl/wfdsl/main/docs/schemas/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?$"
#: An ISO 8601 time with a zone (`Z` or an offset), as events need.
ZONED = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|z|[+-][0-9]{2}:?[0-9]{2})$"
RECORD_REF = r"^[^:]+:.+$"


def _doc(name: str, title: str, description: str, body: Schema) -> Schema:
    return {"$schema": DRAFT, "$id": BASE_URL + name, "title": title, "description": description, **body}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


# ---------------------------------------------------------------- wfdsl.toml


def config_schema() -> Schema:
    """`wfdsl.toml` (the same tables as `[tool.wfdsl]` in pyproject.toml)."""
    property_spec = {
        "description": 'A property: its type ("date"), or a table with `type` (and `options` for an enumeration).',
        "anyOf": [
            # An enumeration needs its options, so only a table names it.
            {"type": "string", "enum": [t for t in PROPERTY_TYPES if t != "enumeration"]},
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": list(PROPERTY_TYPES)},
                    "options": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "description": {"description": "Accepted and ignored."},
                    "label": {"description": "Accepted and ignored."},
                },
                "required": ["type"],
                "additionalProperties": False,
                "if": {"properties": {"type": {"const": "enumeration"}}},
                "then": {"required": ["options"]},
                "else": {"not": {"required": ["options"]}},
            },
        ],
    }
    properties = {
        "type": "object",
        "description": "Properties by name.",
        "propertyNames": {"pattern": NAME},
        "additionalProperties": {"$ref": "#/$defs/property"},
    }
    names = [*RULES, *(rule.code for rule in RULES.values())]
    check_names = {
        "type": "array",
        "items": {"type": "string", "enum": names},
        "description": "Check names or codes (`wfdsl rules` lists them).",
    }
    schema_table = {
        "type": "object",
        "description": "The CRM schema: properties added to the standard object types, and custom object types.",
        "properties": {
            "builtin": {
                "type": "boolean",
                "default": True,
                "description": "Start from the built-in HubSpot properties (true) or only from what is declared here.",
            },
            "custom": {
                "type": "object",
                "description": "Custom object types, with their properties.",
                "propertyNames": {"pattern": NAME, "not": {"enum": list(STANDARD_OBJECT_TYPES)}},
                "additionalProperties": {"$ref": "#/$defs/properties"},
            },
            **{name: {"$ref": "#/$defs/properties"} for name in STANDARD_OBJECT_TYPES},
        },
        "additionalProperties": False,
    }
    lint_table = {
        "type": "object",
        "description": "Defaults for `wfdsl lint`.",
        "properties": {
            "select": {**check_names, "description": "Report only these checks (default: all)."},
            "ignore": {**check_names, "description": "Never report these checks."},
            "strict": {"type": "boolean", "description": "Placeholders are errors."},
        },
        "additionalProperties": False,
    }
    return _doc(
        "wfdsl-toml.json",
        "wfdsl configuration",
        "wfdsl.toml, or the [tool.wfdsl] table of pyproject.toml: the CRM schema and lint settings.",
        {
            "type": "object",
            "properties": {"schema": schema_table, "lint": lint_table},
            "additionalProperties": False,
            "$defs": {"property": property_spec, "properties": properties},
        },
    )


# ---------------------------------------------------------------- records and events

_ID = {"anyOf": [{"type": "string"}, {"type": "integer"}], "description": "The record's id."}


def records_schema() -> Schema:
    """The records file: records per object type, associations and lists."""
    record = {
        "type": "object",
        "properties": {"id": _ID},
        "required": ["id"],
        "additionalProperties": {"description": "A property value, in any form HubSpot's API uses."},
    }
    ref = {"type": "string", "pattern": RECORD_REF, "description": 'A record as "type:id", e.g. "contact:c1".'}
    return _doc(
        "records.json",
        "wfdsl records file",
        "The records that exist before a simulation starts: a list per object type, associations and lists.",
        {
            "type": "object",
            "properties": {
                "associations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"from": ref, "to": ref},
                        "required": ["from", "to"],
                    },
                },
                "lists": {
                    "type": "object",
                    "description": "List names and their members.",
                    "additionalProperties": {"type": "array", "items": ref},
                },
            },
            "additionalProperties": {"type": "array", "items": record, "description": "Records of one object type."},
        },
    )


def _needs(key: str) -> Schema:
    return {"required": [key], "properties": {key: {"type": "string"}}}


def event_schema() -> Schema:
    """One line of an events file."""
    types = sorted({*EVENTS, *INPUT_EVENTS})
    needs = [
        (
            "record.updated",
            {"required": ["properties"], "properties": {"properties": {"type": "object", "minProperties": 1}}},
        ),
        *(
            (kind, {"required": ["data"], "properties": {"data": _needs("list")}})
            for kind in ("list.added", "list.removed")
        ),
        ("workflow.enroll", {"required": ["data"], "properties": {"data": _needs("workflow")}}),
    ]
    return _doc(
        "event.json",
        "wfdsl event (one line of an events file)",
        "Events files are JSON Lines, in time order; each line is one event.",
        {
            "type": "object",
            "properties": {
                "at": {"type": "string", "pattern": ZONED, "description": "ISO 8601 with a zone."},
                "type": {
                    "type": "string",
                    "minLength": 1,
                    "examples": types,
                    "description": "An event type of the catalog; another type is delivered as is, with a warning.",
                },
                "object": {"type": "string", "minLength": 1},
                "id": _ID,
                "event_id": {"type": "string", "description": "Deduplicates: a second event with this id is dropped."},
                "data": {
                    "type": "object",
                    "description": "The event's attributes.",
                },
                "properties": {
                    "type": ["object", "null"],
                    "description": "Property values (record.created, record.updated).",
                },
            },
            "required": ["at", "type", "object", "id"],
            "allOf": [{"if": {"properties": {"type": {"const": kind}}}, "then": then} for kind, then in needs],
        },
    )


# ---------------------------------------------------------------- plans

_TEXT: Schema = {"type": "string"}
_OPT_TEXT: Schema = {"type": ["string", "null"]}
_D: Schema = {"$ref": "#/$defs/duration"}
_OPT_D: Schema = _nullable(_D)
_P: Schema = {"$ref": "#/$defs/property"}
_V: Schema = {"$ref": "#/$defs/value"}

#: What each check of a step argument (`wfdsl.plan.checks`) accepts, as JSON Schema;
#: `optional(...)` and `one_of(...)` are read from the checks they make
#: (`_check_schema`). A step argument with a check missing here fails at import.
CHECK_SCHEMAS: dict[checks.Check, Schema] = {
    checks.string: _TEXT,
    checks.number: {"type": "number"},
    checks.flag: {"type": "boolean"},
    checks.check_value: _V,
    checks.check_duration: _D,
    checks.check_prop: _P,
    checks.check_event: {"$ref": "#/$defs/event"},
    checks.time_of_day: {"type": "string", "pattern": TIME},
    checks.weekday: {"type": "integer", "minimum": 0, "maximum": 6},
    checks.weekday_name: {"enum": list(WEEKDAYS)},
    checks.check_base: {
        "type": "object",
        "oneOf": [
            {"properties": {"date": {"type": "string", "pattern": DATE}}, "required": ["date"]},
            {"properties": {"datetime": {"type": "string", "pattern": DATETIME}}, "required": ["datetime"]},
            {"properties": {"property": _P}, "required": ["property"]},
        ],
    },
    checks.check_fields: {
        "type": "array",
        "items": {"type": "object", "properties": {"name": _TEXT, "value": _V}, "required": ["name", "value"]},
    },
    checks.check_owners: {"type": "array", "items": _V},
}


def _made_with(check: checks.Check, name: str) -> Any:
    """The value `name` that `checks.optional` or `checks.one_of` made `check` with."""
    free = dict(zip(check.__code__.co_freevars, check.__closure__ or (), strict=True))
    return free[name].cell_contents


def _check_schema(check: checks.Check) -> Schema:
    """The JSON Schema of the values `check` accepts. `optional(c)` adds null: to the
    enum of a `one_of`, to a bare type, or else as `anyOf`."""
    if check.__name__ == "check_optional":
        inner = _made_with(check, "check")
        if inner.__name__ == "check_one_of":
            return {"enum": [*_made_with(inner, "allowed"), None]}
        schema = _check_schema(inner)
        if set(schema) == {"type"} and isinstance(schema["type"], str):
            return {"type": [schema["type"], "null"]}
        return _nullable(schema)
    if check.__name__ == "check_one_of":
        return {"enum": list(_made_with(check, "allowed"))}
    found = CHECK_SCHEMAS.get(check)
    if found is None:
        raise KeyError(f"no JSON Schema for the step argument check {check.__qualname__}")
    return found


def step_arg_schemas() -> dict[str, dict[str, Schema]]:
    """The arguments of each step kind as JSON Schema, by JSON name: made from the
    step classes' fields (`wfdsl.plan.steps`), each through its check."""
    return {
        kind: {field.json: _check_schema(field.check) for field in arg_fields(cls)}
        for kind, cls in STEP_CLASSES.items()
    }


#: Argument schemas of each step kind, by JSON name (`step_arg_schemas`).
STEP_ARG_SCHEMAS: dict[str, dict[str, Schema]] = step_arg_schemas()

#: Targets of branching steps, besides `next`.
_TARGET: Schema = {"type": ["string", "null"]}
STEP_TARGETS: dict[str, Schema] = {
    "if": {
        "branches": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"criteria": {"$ref": "#/$defs/criteria"}, "target": _TARGET},
                "required": ["criteria"],
            },
        },
        "else_target": _TARGET,
    },
    "branch_on": {
        "cases": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"value": _V, "criteria": {"$ref": "#/$defs/criteria"}, "target": _TARGET},
                "required": ["value", "criteria"],
            },
        },
        "else_target": _TARGET,
    },
    "split": {
        "arms": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100}, "target": _TARGET},
                "required": ["percent"],
            },
        }
    },
    "go_to": {"target": {"type": "string"}},
}

#: Operand keys of each criteria operator (`wfdsl.plan.model`'s checks, as JSON Schema).
_COMPARED = ("eq", "ne", "lt", "le", "gt", "ge", "ever", "never", "before", "after")
_TEXT_OPS = ("contains", "not_contains", "starts_with", "ends_with")


def _criteria_schema() -> Schema:
    operands: dict[str, tuple[Schema, list[str]]] = {
        "and": ({"items": {"type": "array", "items": {"$ref": "#/$defs/criteria"}}}, ["items"]),
        "or": ({"items": {"type": "array", "items": {"$ref": "#/$defs/criteria"}}}, ["items"]),
        "not": ({"item": {"$ref": "#/$defs/criteria"}}, ["item"]),
        "in_list": ({"list": _TEXT}, ["list"]),
        "enrolled_in": ({"workflow": _TEXT}, ["workflow"]),
        "reached_goal": ({"workflow": _TEXT}, ["workflow"]),
        "has_event": (
            {
                "event": {"$ref": "#/$defs/event"},
                "negated": {"type": "boolean"},
                "within": _OPT_D,
                "at_least": {"type": "integer", "minimum": 1},
            },
            ["event"],
        ),
        "received": ({}, []),
        "known": ({}, []),
        "unknown": ({}, []),
        "in": ({"values": {"type": "array", "items": _V}}, ["values"]),
        "not_in": ({"values": {"type": "array", "items": _V}}, ["values"]),
        "between": ({"low": _V, "high": _V}, ["low", "high"]),
        **{op: ({"value": _V}, ["value"]) for op in _COMPARED},
        **{op: ({"value": _TEXT}, ["value"]) for op in _TEXT_OPS},
        **{op: ({"duration": _D}, ["duration"]) for op in ("within_last", "within_next", "more_than_ago")},
        **{op: ({"duration": _D}, ["duration"]) for op in ("updated_within", "not_updated_within")},
    }
    assert set(operands) == set(CRITERIA_OPS), set(CRITERIA_OPS) ^ set(operands)
    subject = {
        "description": "What is tested: a property (`object`, `property`) or, inside an event, an `attribute`.",
        "anyOf": [{"required": ["object", "property"]}, {"required": ["attribute"]}],
    }
    property_ops = {"known", "unknown", "in", "not_in", "between", *_COMPARED, *_TEXT_OPS}
    property_ops |= {"within_last", "within_next", "more_than_ago", "updated_within", "not_updated_within"}
    rules = []
    for op, (props, required) in sorted(operands.items()):
        then: Schema = {"properties": props, "required": required}
        if op in property_ops:
            then = {"allOf": [then, subject]}
        rules.append({"if": {"properties": {"op": {"const": op}}}, "then": then})
    return {
        "type": "object",
        "properties": {
            "op": {"enum": sorted(CRITERIA_OPS)},
            "object": _TEXT,
            "property": _TEXT,
            "attribute": _TEXT,
        },
        "required": ["op"],
        "allOf": rules,
    }


def _span_schema() -> Schema:
    """A source span as plans carry it."""
    return {
        "type": "array",
        "description": "[file, line, col, end_line, end_col], 1-based, end column exclusive.",
        "prefixItems": [
            {"type": "string"},
            {"type": "integer"},
            {"type": "integer"},
            {"type": "integer"},
            {"type": "integer"},
        ],
        "minItems": 5,
        "maxItems": 5,
    }


def _step_schema() -> Schema:
    """A step: its kind, arguments by kind, next step and span."""
    kind_rules = []
    for kind in STEP_KINDS:
        args: Schema = {"type": "object", "properties": STEP_ARG_SCHEMAS[kind]}
        required = [field.json for field in arg_fields(STEP_CLASSES[kind]) if field.required]
        if required:
            args["required"] = required
        targets = STEP_TARGETS.get(kind, {})
        then: Schema = {"properties": {"args": args, **targets}}
        kind_rules.append({"if": {"properties": {"kind": {"const": kind}}}, "then": then})
    return {
        "type": "object",
        "properties": {
            "id": _TEXT,
            "key": {"type": "string", "description": "The step's identity across versions."},
            "kind": {"enum": list(STEP_KINDS)},
            "args": {"type": "object"},
            "next": _TARGET,
            "span": {"$ref": "#/$defs/span"},
        },
        "required": ["id", "kind", "span"],
        "allOf": kind_rules,
    }


def _trigger_schema() -> Schema:
    """A workflow's trigger: filter, events, manual or schedule."""
    return {
        "type": "object",
        "properties": {
            "kind": {"enum": list(TRIGGER_KINDS)},
            "criteria": {"$ref": "#/$defs/criteria"},
            "events": {"type": "array", "items": {"$ref": "#/$defs/event"}},
            "recurrence": {
                "type": "object",
                "properties": {
                    "kind": {"enum": list(RECURRENCE_KINDS)},
                    "at": {"type": "string"},
                    "days": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}},
                    "day": {"type": ["integer", "null"]},
                },
                "required": ["kind", "at"],
            },
            "refinement": _nullable({"$ref": "#/$defs/criteria"}),
        },
        "required": ["kind"],
        "allOf": [
            {"if": {"properties": {"kind": {"const": "filter"}}}, "then": {"required": ["criteria"]}},
            {"if": {"properties": {"kind": {"const": "schedule"}}}, "then": {"required": ["recurrence"]}},
        ],
    }


def _settings_schema() -> Schema:
    """A workflow's settings: time zone, windows, pauses, failure handling."""
    return {
        "type": "object",
        "properties": {
            "timezone": {"type": "string", "description": "An IANA time zone name."},
            "windows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "days": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}},
                        "start": {"type": "string", "pattern": TIME},
                        "end": {"type": "string", "pattern": TIME},
                    },
                    "required": ["days", "start", "end"],
                },
            },
            "pause_dates": {"type": "array", "items": {"type": "string", "pattern": DATE}},
            "enroll_existing": {"type": "boolean"},
            "unenroll_unmet": {"type": "boolean"},
            "on_failure": {"enum": ["continue", "stop"]},
        },
    }


def _workflow_schema() -> Schema:
    """One compiled workflow."""
    index_part = {
        "type": "object",
        "properties": {k: {"type": "array", "items": _TEXT} for k in ("events", "properties", "lists", "workflows")},
    }
    return {
        "type": "object",
        "properties": {
            "name": _TEXT,
            "object": _TEXT,
            "description": _OPT_TEXT,
            "source_hash": {"type": "string", "description": "SHA-256 hex of the workflow's source text."},
            "span": {"$ref": "#/$defs/span"},
            "trigger": _trigger_schema(),
            "reenroll": {
                "type": "object",
                "properties": {
                    "mode": {"enum": list(REENROLL_MODES)},
                    "properties": {"type": "array", "items": _P},
                },
            },
            "goal": _nullable({"$ref": "#/$defs/criteria"}),
            "unenroll": _nullable({"$ref": "#/$defs/criteria"}),
            "suppress_lists": {"type": "array", "items": _TEXT},
            "anchor": _nullable(
                {
                    "type": "object",
                    "properties": {
                        "property": _nullable(_P),
                        "date": {"anyOf": [{"type": "string", "pattern": DATE}, {"type": "null"}]},
                        "annually": {"type": "boolean"},
                    },
                }
            ),
            "settings": _settings_schema(),
            "index": {"type": "object", "additionalProperties": index_part},
            "entry": _TARGET,
            "steps": {"type": "object", "additionalProperties": {"$ref": "#/$defs/step"}},
        },
        "required": ["name", "object", "trigger", "steps"],
    }


def _value_schema() -> Schema:
    """A typed value of criteria and actions."""
    return {
        "description": "A typed value: JSON scalars as they are; dates, times and percentages as small objects.",
        "anyOf": [
            {"type": ["string", "number", "boolean"]},
            {"type": "array", "items": {"$ref": "#/$defs/value"}},
            {"type": "object", "properties": {"date": {"type": "string", "pattern": DATE}}, "required": ["date"]},
            {
                "type": "object",
                "properties": {"datetime": {"type": "string", "pattern": DATETIME}},
                "required": ["datetime"],
            },
            {"type": "object", "properties": {"time": {"type": "string", "pattern": TIME}}, "required": ["time"]},
            {"type": "object", "properties": {"percent": {"type": "number"}}, "required": ["percent"]},
        ],
    }


def _duration_schema() -> Schema:
    """A duration as written and in seconds."""
    return {
        "type": "object",
        "description": 'What was written and the total: {"parts": [[1, "day"], [6, "hour"]], "seconds": 108000}.',
        "properties": {
            "parts": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "integer", "minimum": 1}, {"enum": list(DURATION_UNITS)}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            "seconds": {"type": "integer", "minimum": 0},
        },
        "required": ["parts", "seconds"],
    }


def _event_pattern_schema() -> Schema:
    """An event pattern of triggers, waits and `has …`."""
    return {
        "type": "object",
        "description": "An event pattern: a trigger group, the event of `wait for` or of `has …`.",
        "properties": {
            "type": {"type": "string"},
            "negated": {"type": "boolean"},
            "object": _OPT_TEXT,
            "property": _OPT_TEXT,
            "from": _nullable(_V),
            "to": _nullable(_V),
            "criteria": _nullable({"$ref": "#/$defs/criteria"}),
        },
        "required": ["type"],
    }


def plan_schema() -> Schema:
    """The compiled plan (`wfdsl compile -o plan.json`)."""
    assert set(STEP_ARG_SCHEMAS) == set(STEP_KINDS)
    return _doc(
        "plan.json",
        "wfdsl compiled plan",
        "The output of `wfdsl compile`: every workflow with its trigger, criteria and steps as a graph.",
        {
            "type": "object",
            "properties": {
                "format_version": {"const": FORMAT_VERSION},
                "workflows": {"type": "array", "items": {"$ref": "#/$defs/workflow"}},
            },
            "required": ["format_version", "workflows"],
            "$defs": {
                "workflow": _workflow_schema(),
                "step": _step_schema(),
                "criteria": _criteria_schema(),
                "event": _event_pattern_schema(),
                "value": _value_schema(),
                "duration": _duration_schema(),
                "property": {
                    "type": "object",
                    "properties": {"object": _TEXT, "property": _TEXT},
                    "required": ["object", "property"],
                },
                "span": _span_schema(),
            },
        },
    )


def all_schemas() -> dict[str, Schema]:
    """Every published schema by file name."""
    return {
        "wfdsl-toml.json": config_schema(),
        "records.json": records_schema(),
        "event.json": event_schema(),
        "plan.json": plan_schema(),
    }
