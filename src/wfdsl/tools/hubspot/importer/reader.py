"""Reading flow JSON: typed accessors that name the JSON path of what they refuse, the
problems found so far, and the small trees (steps, criteria) the import builds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import attrs

from wfdsl.schema import Schema
from wfdsl.syntax import nodes as n
from wfdsl.tools.fmt import quote
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.lockfile import LockFile
from wfdsl.tools.hubspot.problems import FlowError, Problem, join_path

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")

#: Keys of a flow that are portal state, not workflow logic: import reads past them.
STATE_KEYS = frozenset(
    {
        "id",
        "uuid",
        "revisionId",
        "createdAt",
        "updatedAt",
        "isEnabled",
        "nextAvailableActionId",
        "crmObjectCreationStatus",
        "canEnrollFromSalesforce",
        "flowType",
    }
)


@attrs.define(kw_only=True)
class Step:
    """A step being built: a line of text, or a compound step with blocks.

    `parts` of a compound step are (header, steps) pairs written as
    `header { steps }`; `opener`/`closer` wrap them (`branch on … {` … `}`).
    `label`/`goto` hold action ids resolved to label names once all are known.
    """

    path: str
    text: str = ""
    parts: list[tuple[str, list[Step]]] = attrs.field(factory=list)
    opener: str | None = None
    label: str | None = None
    goto: str | None = None


def walk_steps(steps: list[Step]) -> Iterator[Step]:
    for step in steps:
        yield step
        for _header, body in step.parts:
            yield from walk_steps(body)


Crit = tuple[str, Any]  # ("or"|"and", [..]), ("not", crit), ("pred", text)


def crit_text(crit: Crit, parent: int = 0) -> str:
    kind, value = crit
    if kind == "pred":
        return str(value)
    if kind == "not":
        return f"not {crit_text(value, 3)}"
    rank = 1 if kind == "or" else 2
    text = f" {kind} ".join(crit_text(item, rank) for item in value)
    return f"({text})" if parent >= rank else text


def combine(kind: str, items: list[Crit]) -> Crit:
    return items[0] if len(items) == 1 else (kind, items)


def json_kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    return "an object"


def show(value: Any) -> str:
    return json.dumps(value) if value is not None else "nothing"


def number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def id_text(value: Any) -> str:
    return number_text(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def wf_literal(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return number_text(raw)
    return quote(str(raw))


def only_item(values: Any) -> Any:
    return values[0] if isinstance(values, list) and len(values) == 1 else None


def empty_branch(data: Any) -> bool:
    return isinstance(data, dict) and not data.get("filters") and not data.get("filterBranches")


def time_point(data: Any) -> tuple[str, int] | None:
    """An indexed time point as (reference, offset in days): ("TODAY", -30), ("NOW", 0)."""
    if not isinstance(data, dict) or data.get("timeType") != "INDEXED":
        return None
    reference = data.get("indexReference")
    if not isinstance(reference, dict) or reference.get("referenceType") not in ("TODAY", "NOW"):
        return None
    offset = data.get("offset") or {}
    if not isinstance(offset, dict) or set(offset) - {"days"}:
        return None
    days = offset.get("days", 0)
    return (str(reference["referenceType"]), days) if isinstance(days, int) else None


def day_spec(days: list[str]) -> str:
    """`monday..friday` for a run of consecutive days, else the days listed."""
    order = sorted(set(days), key=ids.WEEKDAYS.index)
    first, last = ids.WEEKDAYS.index(order[0]), ids.WEEKDAYS.index(order[-1])
    if len(order) > 2 and last - first + 1 == len(order):
        return f"{order[0]}..{order[-1]}"
    return ", ".join(order)


class FlowReader:
    """The state of one import and typed access to its JSON: a value of the wrong kind
    raises `FlowError` with its JSON path; `error` records a problem and goes on."""

    def __init__(self, *, lock: LockFile, schema: Schema) -> None:
        self.lock = lock
        self.schema = schema
        self.problems: list[Problem] = []
        self.object = "contact"
        self.actions: dict[str, tuple[int, dict[str, Any]]] = {}
        self.placed: set[str] = set()
        self.targets: set[str] = set()
        self.clause_paths: list[tuple[type[n.Node], str]] = []
        self.steps: list[Step] = []
        self.setting_paths: list[str] = []
        self.emitted_settings: list[str] = []
        self.label_names: dict[str, str] = {}
        self.exit_cache: dict[str, frozenset[str | None]] = {}

    def error(self, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(path=path, message=message, hint=hint))

    def fail(self, path: str, message: str, hint: str | None = None) -> FlowError:
        return FlowError(Problem(path=path, message=message, hint=hint))

    def obj(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(path, f"expected a JSON object, found {json_kind(data)}")
        return data

    def items(self, data: Any, path: str) -> list[Any]:
        if data is None:
            return []
        if not isinstance(data, list):
            raise self.fail(path, f"expected a JSON array, found {json_kind(data)}")
        return data

    def string(self, data: dict[str, Any], key: str, path: str) -> str:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number_text(value)
        if not isinstance(value, str):
            raise self.fail(join_path(path, key), f"expected a string, found {json_kind(value)}")
        return value

    def text(self, data: dict[str, Any], key: str, path: str) -> str:
        """A text of the flow with HubSpot's tokens of the enrolled record as wfdsl variables."""
        return ids.from_hubspot_tokens(self.string(data, key, path), self.object)

    def integer(self, data: dict[str, Any], key: str, path: str) -> int:
        value = data.get(key)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self.fail(join_path(path, key), f"expected a whole number, found {json_kind(value)}")

    def only_keys(self, data: dict[str, Any], path: str, allowed: set[str], what: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(
                    join_path(path, key),
                    f"`{key}` of {what} has no equivalent in wfdsl; the flow cannot be imported without losing it",
                    hint="remove it in HubSpot, or keep this workflow in HubSpot",
                )

    def prop(self, object_type: str, name: str, path: str) -> str:
        if not NAME.match(name):
            raise self.fail(path, f"the property name {name!r} cannot be written in wfdsl")
        return f"{object_type}.{name}"

    def time_of_day(self, data: Any, path: str) -> str:
        value = self.obj(data, path)
        hour, minute = self.integer(value, "hour", path), self.integer(value, "minute", path)
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise self.fail(path, f"{hour}:{minute:02d} is not a time of day")
        return f"{hour:02d}:{minute:02d}"

    def weekday(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or value.lower() not in ids.WEEKDAYS:
            raise self.fail(path, f"expected a day such as MONDAY, found {show(value)}")
        return value.lower()

    def value(self, object_type: str, name: str, raw: Any, path: str) -> str:
        """A property value as a wfdsl literal, typed by the schema; portal ids become names."""
        if name in ids.ID_PROPERTIES and raw is not None:
            return quote(self.lock.name_for(ids.ID_PROPERTIES[name], id_text(raw), path, self.problems))
        prop = self.schema.property(object_type, name)
        kind = prop.type if prop is not None else None
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, (int, float)):
            return number_text(raw) if kind in (None, "number") else quote(number_text(raw))
        if not isinstance(raw, str):
            raise self.fail(path, f"expected a value, found {json_kind(raw)}")
        if kind == "number" and NUMBER.match(raw):
            return raw
        if kind == "bool" and raw in ("true", "false"):
            return raw
        if kind in ("date", "datetime") and DATE.match(raw):
            return raw
        return quote(ids.from_hubspot_tokens(raw, self.object))
