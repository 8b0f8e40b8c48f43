"""Flow JSON in, `.wf` text out: HubSpot Automation API v4 flows become formatted workflows.

The action graph is walked from `startActionId`. STANDARD edges make the
step sequence; a branch's arms become `if`/`branch on`/`split` blocks, and
where the arms meet again (the other arms' GO-TO edges lead to an action on
the last arm's path) the steps after the block continue there. Any other
GO-TO edge becomes `go to "step N"` and a `label "step N"` before its target.
Filter branches become criteria. Whatever the language cannot say is an
error naming its JSON path; nothing is dropped silently.

The text is printed by the formatter, so it is canonical: `wfdsl fmt --check`
accepts it as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from wfdsl.schema import BUILTIN, Schema
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import parse
from wfdsl.tools.fmt import format_source, quote
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.lockfile import LockFile
from wfdsl.tools.hubspot.problems import FlowError, Problem, has_errors, join_path

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")

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
#: Custom properties this bridge writes and reads back (text the flow JSON has no field for).
TIMEZONE_PROPERTY = "wfdsl.timezone"
LABELS_PROPERTY = "wfdsl.labels"


@attrs.frozen(kw_only=True)
class FlowImport:
    """One imported flow: its formatted text (None when it has errors), problems, and
    where each statement of the text came from (`source_map`: span -> JSON path)."""

    name: str | None
    text: str | None
    problems: tuple[Problem, ...]
    source_map: tuple[tuple[Span, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.text is not None and not has_errors(self.problems)

    def json_path_at(self, line: int, col: int = 1) -> str | None:
        """The JSON path of the innermost statement of the text at `line`, `col`."""
        best: tuple[Span, str] | None = None
        for span, path in self.source_map:
            inside = (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col) or span.line == line
            if inside and (best is None or (span.line, span.col) >= (best[0].line, best[0].col)):
                best = (span, path)
        return best[1] if best else None


def import_flow_file(path: str | Path, *, lock: LockFile, schema: Schema | None = None) -> FlowImport:
    """Read a flow JSON file and import it; unreadable files and bad JSON are problems too."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        return FlowImport(name=None, text=None, problems=(Problem(path="", message=f"cannot read: {error}"),))
    except UnicodeDecodeError:
        return FlowImport(name=None, text=None, problems=(Problem(path="", message="not UTF-8 text"),))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        problem = Problem(path="", message=f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")
        return FlowImport(name=None, text=None, problems=(problem,))
    return import_flow(data, lock=lock, schema=schema, file=str(path))


def import_flow(data: Any, *, lock: LockFile, schema: Schema | None = None, file: str = "<flow>") -> FlowImport:
    """Import one flow (the JSON of `GET /automation/v4/flows/{flowId}`, already decoded).

    >>> flow = {"type": "CONTACT_FLOW", "objectTypeId": "0-1", "name": "Hello",
    ...         "enrollmentCriteria": {"type": "MANUAL", "shouldReEnroll": False},
    ...         "startActionId": "1", "actions": [{"actionId": "1", "actionTypeId": "0-1",
    ...         "actionTypeVersion": 0, "type": "SINGLE_CONNECTION",
    ...         "fields": {"delta": "2", "time_unit": "DAYS"}}]}
    >>> print(import_flow(flow, lock=LockFile()).text, end="")
    workflow "Hello" {
      object contact
    <BLANKLINE>
      enroll manually
    <BLANKLINE>
      steps {
        delay 2 days
      }
    }
    """
    importer = _Importer(lock=lock, schema=schema or BUILTIN)
    try:
        name, pieces = importer.flow(data)
    except FlowError as error:
        importer.problems.append(error.problem)
        return FlowImport(name=None, text=None, problems=tuple(importer.problems))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as error:
        # A shape no check above foresaw: refuse the flow with what is known, never a traceback.
        problem = Problem(path="", message=f"this flow has a shape wfdsl cannot read ({type(error).__name__}: {error})")
        return FlowImport(name=None, text=None, problems=(*importer.problems, problem))
    if has_errors(importer.problems):
        return FlowImport(name=name, text=None, problems=tuple(importer.problems))
    raw = "\n".join(text for text, _path in pieces) + "\n"
    formatted = format_source(raw, file)
    if not isinstance(formatted, str):  # a bug here, not in the flow: say so plainly
        message = "; ".join(d.message for d in formatted)
        problem = Problem(path="", message=f"the imported text does not parse ({message}):\n{raw}")
        return FlowImport(name=name, text=None, problems=(*importer.problems, problem))
    source_map = _source_map(formatted, file, importer)
    return FlowImport(name=name, text=formatted, problems=tuple(importer.problems), source_map=source_map)


# ---------------------------------------------------------------- steps as a small tree


@attrs.define(kw_only=True)
class _Step:
    """A step being built: a line of text, or a compound step with blocks.

    `parts` of a compound step are (header, steps) pairs written as
    `header { steps }`; `opener`/`closer` wrap them (`branch on … {` … `}`).
    `label`/`goto` hold action ids resolved to label names once all are known.
    """

    path: str
    text: str = ""
    parts: list[tuple[str, list[_Step]]] = attrs.field(factory=list)
    opener: str | None = None
    label: str | None = None
    goto: str | None = None


def _walk_steps(steps: list[_Step]) -> Iterator[_Step]:
    for step in steps:
        yield step
        for _header, body in step.parts:
            yield from _walk_steps(body)


# ---------------------------------------------------------------- criteria as a small tree

_Crit = tuple[str, Any]  # ("or"|"and", [..]), ("not", crit), ("pred", text)


def _crit_text(crit: _Crit, parent: int = 0) -> str:
    kind, value = crit
    if kind == "pred":
        return str(value)
    if kind == "not":
        return f"not {_crit_text(value, 3)}"
    rank = 1 if kind == "or" else 2
    text = f" {kind} ".join(_crit_text(item, rank) for item in value)
    return f"({text})" if parent >= rank else text


def _combine(kind: str, items: list[_Crit]) -> _Crit:
    return items[0] if len(items) == 1 else (kind, items)


class _Importer:
    def __init__(self, *, lock: LockFile, schema: Schema) -> None:
        self.lock = lock
        self.schema = schema
        self.problems: list[Problem] = []
        self.object = "contact"
        self.actions: dict[str, tuple[int, dict[str, Any]]] = {}
        self.placed: set[str] = set()
        self.targets: set[str] = set()
        self.clause_paths: list[tuple[type[n.Node], str]] = []
        self.steps: list[_Step] = []
        self.setting_paths: list[str] = []
        self.emitted_settings: list[str] = []
        self.label_names: dict[str, str] = {}
        self.exit_cache: dict[str, frozenset[str | None]] = {}

    # -- helpers
    def error(self, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(path=path, message=message, hint=hint))

    def fail(self, path: str, message: str, hint: str | None = None) -> FlowError:
        return FlowError(Problem(path=path, message=message, hint=hint))

    def obj(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(path, f"expected a JSON object, found {_kind(data)}")
        return data

    def items(self, data: Any, path: str) -> list[Any]:
        if data is None:
            return []
        if not isinstance(data, list):
            raise self.fail(path, f"expected a JSON array, found {_kind(data)}")
        return data

    def string(self, data: dict[str, Any], key: str, path: str) -> str:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number_text(value)
        if not isinstance(value, str):
            raise self.fail(join_path(path, key), f"expected a string, found {_kind(value)}")
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
        raise self.fail(join_path(path, key), f"expected a whole number, found {_kind(value)}")

    def only_keys(self, data: dict[str, Any], path: str, allowed: set[str], what: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(
                    join_path(path, key),
                    f"`{key}` of {what} has no equivalent in wfdsl; the flow cannot be imported without losing it",
                    hint="remove it in HubSpot, or keep this workflow in HubSpot",
                )

    def prop(self, object_type: str, name: str, path: str) -> str:
        if not _NAME.match(name):
            raise self.fail(path, f"the property name {name!r} cannot be written in wfdsl")
        return f"{object_type}.{name}"

    # -- the flow
    def flow(self, data: Any) -> tuple[str, list[tuple[str, str]]]:
        flow = self.obj(data, "")
        known = {
            *STATE_KEYS,
            "type",
            "objectTypeId",
            "name",
            "description",
            "actions",
            "startActionId",
            "enrollmentCriteria",
            "enrollmentSchedule",
            "goalFilterBranch",
            "suppressionListIds",
            "timeWindows",
            "blockedDates",
            "unEnrollmentSetting",
            "customProperties",
            "dataSources",
            "eventAnchor",
            "suppressionFilterBranch",
        }
        self.only_keys(flow, "", known, "a flow")
        kind = flow.get("type")
        if kind not in ("CONTACT_FLOW", "PLATFORM_FLOW"):
            raise self.fail("type", f"expected CONTACT_FLOW or PLATFORM_FLOW, found {_show(kind)}")
        if flow.get("flowType", "WORKFLOW") != "WORKFLOW":
            raise self.fail("flowType", f"only WORKFLOW flows are workflows; found {_show(flow.get('flowType'))}")
        type_id = flow.get("objectTypeId")
        if not isinstance(type_id, str) or type_id not in ids.OBJECT_TYPES:
            known_ids = ", ".join(f"{v} ({k})" for k, v in ids.OBJECT_TYPE_IDS.items())
            raise self.fail("objectTypeId", f"object type {_show(type_id)} is not supported; expected {known_ids}")
        self.object = ids.OBJECT_TYPES[type_id]
        name = flow.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("name", "a workflow needs a name; found none")
        for key in ("dataSources", "eventAnchor", "suppressionFilterBranch"):
            value = flow.get(key)
            if value not in (None, [], {}):
                self.error(
                    key,
                    f"`{key}` is not supported by wfdsl (fetched records, date-centred anchors and "
                    "suppression filters have no flow equivalent here)",
                )
        unenroll = flow.get("unEnrollmentSetting")
        if unenroll not in (None, {}) and not (
            isinstance(unenroll, dict) and unenroll.get("type") == "SELECTIVE" and not unenroll.get("flowIds")
        ):
            self.error(
                "unEnrollmentSetting",
                "unenrolling records from other workflows on enrollment has no wfdsl equivalent",
                hint='add `unenroll from workflow "…"` steps at the start instead',
            )
        custom = self.obj(flow.get("customProperties") or {}, "customProperties")
        for key in custom:
            if key not in (TIMEZONE_PROPERTY, LABELS_PROPERTY):
                self.error(join_path("customProperties", key), "custom properties have no wfdsl equivalent")

        out: list[tuple[str, str]] = [(f"workflow {quote(name)} {{", ""), (f"object {self.object}", "objectTypeId")]
        self.clause_paths.append((n.ObjectClause, "objectTypeId"))
        description = flow.get("description")
        if isinstance(description, str) and description:
            out.append((f"description {quote(description)}", "description"))
            self.clause_paths.append((n.DescriptionClause, "description"))
        out.extend(self.enrollment(flow))
        if flow.get("goalFilterBranch") not in (None, {}):
            crit = self.criteria(flow["goalFilterBranch"], "goalFilterBranch", self.object)
            out.append((f"goal {_crit_text(crit)}", "goalFilterBranch"))
            self.clause_paths.append((n.GoalClause, "goalFilterBranch"))
        lists = self.items(flow.get("suppressionListIds"), "suppressionListIds")
        if lists:
            names = [
                self.lock.name_for("lists", _id_text(v), join_path("suppressionListIds", i), self.problems)
                for i, v in enumerate(lists)
            ]
            out.append(("suppress " + ", ".join(f"list {quote(x)}" for x in names), "suppressionListIds"))
            self.clause_paths.append((n.SuppressClause, "suppressionListIds"))
        settings = self.settings(flow, custom)
        self.emitted_settings = [p for _t, p in settings]
        if settings:
            out.append(("settings {", ""))
            out.extend(settings)
            out.append(("}", ""))
        self.steps = self.walk(flow)
        if has_errors(self.problems):  # jumps to missing actions: nothing sensible to print
            return name, out
        self.name_labels(custom)
        out.append(("steps {", ""))
        out.extend(self.render(self.steps))
        out.append(("}", ""))
        out.append(("}", ""))
        return name, out

    # -- enrollment
    def enrollment(self, flow: dict[str, Any]) -> list[tuple[str, str]]:
        path = "enrollmentCriteria"
        criteria = self.obj(flow.get("enrollmentCriteria") or {"type": "MANUAL"}, path)
        kind = criteria.get("type")
        schedule = flow.get("enrollmentSchedule")
        reenroll = criteria.get("shouldReEnroll", False)
        out: list[tuple[str, str]] = []
        self.clause_paths.append((n.EnrollClause, path))
        if schedule not in (None, {}):
            if kind != "LIST_BASED":
                raise self.fail(path + ".type", f"a schedule needs LIST_BASED criteria; found {_show(kind)}")
            self.only_keys(
                criteria,
                path,
                {
                    "type",
                    "listFilterBranch",
                    "shouldReEnroll",
                    "reEnrollmentTriggersFilterBranches",
                    "unEnrollObjectsNotMeetingCriteria",
                },
                "scheduled enrollment",
            )
            if self.items(criteria.get("reEnrollmentTriggersFilterBranches"), path + ".x"):
                self.error(path + ".reEnrollmentTriggersFilterBranches", "a schedule re-enrolls every time or never")
            if criteria.get("unEnrollObjectsNotMeetingCriteria"):
                self.error(
                    path + ".unEnrollObjectsNotMeetingCriteria", "wfdsl has this setting for filter triggers only"
                )
            head = f"enroll on schedule {self.recurrence(self.obj(schedule, 'enrollmentSchedule'))}"
            branch = criteria.get("listFilterBranch")
            if branch is not None and not _empty_branch(branch):
                head += f" only if {_crit_text(self.criteria(branch, path + '.listFilterBranch', self.object))}"
            out.append((head, path))
            if reenroll is True:
                out.append(("reenroll every time", path + ".shouldReEnroll"))
                self.clause_paths.append((n.ReenrollClause, path + ".shouldReEnroll"))
            return out
        if kind == "MANUAL":
            self.only_keys(criteria, path, {"type", "shouldReEnroll"}, "manual enrollment")
            if reenroll is True:
                self.error(
                    path + ".shouldReEnroll",
                    "records enrolled by hand re-enroll in wfdsl only by hand",
                    hint="set shouldReEnroll to false",
                )
            out.append(("enroll manually", path))
            return out
        if kind == "LIST_BASED":
            self.only_keys(
                criteria,
                path,
                {
                    "type",
                    "listFilterBranch",
                    "shouldReEnroll",
                    "reEnrollmentTriggersFilterBranches",
                    "unEnrollObjectsNotMeetingCriteria",
                },
                "filter enrollment",
            )
            crit = self.criteria(criteria.get("listFilterBranch"), path + ".listFilterBranch", self.object)
            out.append((f"enroll when {_crit_text(crit)}", path))
            triggers = self.items(criteria.get("reEnrollmentTriggersFilterBranches"), path + ".x")
            props = [
                self.reenroll_property(t, join_path(path, "reEnrollmentTriggersFilterBranches", i))
                for i, t in enumerate(triggers)
            ]
            if reenroll is True and props:
                out.append(("reenroll on change of " + ", ".join(props), path + ".reEnrollmentTriggersFilterBranches"))
                self.clause_paths.append((n.ReenrollClause, path + ".reEnrollmentTriggersFilterBranches"))
            elif reenroll is True:
                self.error(
                    path + ".shouldReEnroll",
                    "re-enrollment without re-enrollment triggers",
                    hint="add the properties whose change re-enrolls, or set shouldReEnroll to false",
                )
            elif props:
                self.error(
                    path + ".reEnrollmentTriggersFilterBranches",
                    "re-enrollment triggers while shouldReEnroll is false would be lost",
                    hint="set shouldReEnroll to true or remove the triggers",
                )
            if criteria.get("unEnrollObjectsNotMeetingCriteria") is True:
                self.setting_paths.append(path + ".unEnrollObjectsNotMeetingCriteria")
            return out
        if kind == "EVENT_BASED":
            self.only_keys(
                criteria,
                path,
                {"type", "eventFilterBranches", "listMembershipFilterBranches", "shouldReEnroll", "refinementCriteria"},
                "event enrollment",
            )
            events = [
                self.trigger_event(b, join_path(path, "eventFilterBranches", i))
                for i, b in enumerate(self.items(criteria.get("eventFilterBranches"), path + ".eventFilterBranches"))
            ]
            events += [
                self.list_event(b, join_path(path, "listMembershipFilterBranches", i))
                for i, b in enumerate(
                    self.items(criteria.get("listMembershipFilterBranches"), path + ".listMembershipFilterBranches")
                )
            ]
            if not events:
                raise self.fail(path + ".eventFilterBranches", "event enrollment without any event")
            head = "enroll on " + " or ".join(events)
            refinement = criteria.get("refinementCriteria")
            if refinement is not None and not _empty_branch(refinement):
                head += f" only if {_crit_text(self.criteria(refinement, path + '.refinementCriteria', self.object))}"
            out.append((head, path))
            if reenroll is True:
                out.append(("reenroll every time", path + ".shouldReEnroll"))
                self.clause_paths.append((n.ReenrollClause, path + ".shouldReEnroll"))
            return out
        raise self.fail(path + ".type", f"expected MANUAL, LIST_BASED or EVENT_BASED, found {_show(kind)}")

    def recurrence(self, schedule: dict[str, Any]) -> str:
        path = "enrollmentSchedule"
        kind = schedule.get("type")
        at = self.time_of_day(schedule.get("timeOfDay"), path + ".timeOfDay")
        if kind == "DAILY":
            self.only_keys(schedule, path, {"type", "timeOfDay"}, "a daily schedule")
            return f"daily at {at}"
        if kind == "WEEKLY":
            self.only_keys(schedule, path, {"type", "timeOfDay", "daysOfWeek"}, "a weekly schedule")
            days = [
                self.weekday(d, join_path(path, "daysOfWeek", i))
                for i, d in enumerate(self.items(schedule.get("daysOfWeek"), path + ".daysOfWeek"))
            ]
            if not days:
                raise self.fail(path + ".daysOfWeek", "a weekly schedule without days")
            return f"weekly on {', '.join(days)} at {at}"
        if kind == "MONTHLY_SPECIFIC_DAYS":
            self.only_keys(schedule, path, {"type", "timeOfDay", "daysOfMonth"}, "a monthly schedule")
            days = self.items(schedule.get("daysOfMonth"), path + ".daysOfMonth")
            if len(days) != 1 or not isinstance(days[0], int):
                raise self.fail(
                    path + ".daysOfMonth",
                    f"wfdsl schedules one day of the month; found {len(days)} days",
                    hint="split the workflow, one per day",
                )
            return f"monthly on day {days[0]} at {at}"
        raise self.fail(
            path + ".type",
            f"the schedule {_show(kind)} has no wfdsl equivalent; expected DAILY, WEEKLY or MONTHLY_SPECIFIC_DAYS",
        )

    def time_of_day(self, data: Any, path: str) -> str:
        value = self.obj(data, path)
        hour, minute = self.integer(value, "hour", path), self.integer(value, "minute", path)
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise self.fail(path, f"{hour}:{minute:02d} is not a time of day")
        return f"{hour:02d}:{minute:02d}"

    def weekday(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or value.lower() not in ids.WEEKDAYS:
            raise self.fail(path, f"expected a day such as MONDAY, found {_show(value)}")
        return value.lower()

    def reenroll_property(self, branch: Any, path: str) -> str:
        """A re-enrollment trigger: the property-change pattern (`hs_name` = the property)."""
        data = self.obj(branch, path)
        filters = self.items(data.get("filters"), path + ".filters")
        if data.get("filterBranches") or len(filters) != 1:
            raise self.fail(path, "wfdsl re-enrolls on a change of a property; expected one `hs_name` filter")
        name = self.property_change_name(filters[0], join_path(path, "filters", 0))
        return self.prop(self.object, name, path)

    def property_change_name(self, data: Any, path: str) -> str:
        f = self.obj(data, path)
        op = self.obj(f.get("operation"), path + ".operation")
        if f.get("property") != "hs_name" or op.get("operator") != "IS_EQUAL_TO":
            raise self.fail(path, "expected the filter `hs_name` IS_EQUAL_TO <property>")
        return self.string(op, "value", path + ".operation")

    def trigger_event(self, branch: Any, path: str) -> str:
        data = self.obj(branch, path)
        if data.get("filterBranchType") != "UNIFIED_EVENTS":
            raise self.fail(path + ".filterBranchType", "expected UNIFIED_EVENTS")
        if data.get("operator", "HAS_COMPLETED") != "HAS_COMPLETED":
            raise self.fail(
                path + ".operator",
                "the absence of an event cannot trigger enrollment",
                hint="use a filter trigger with `has not …`",
            )
        return self.event_text(data, path)

    def event_text(self, data: dict[str, Any], path: str) -> str:
        self.only_keys(
            data,
            path,
            {"filterBranchType", "filterBranchOperator", "operator", "eventTypeId", "filters", "filterBranches"},
            "an event filter",
        )
        if data.get("filterBranches"):
            raise self.fail(path + ".filterBranches", "nested filter groups inside an event are not supported")
        event_id = self.string(data, "eventTypeId", path)
        filters = self.items(data.get("filters"), path + ".filters")
        if event_id == ids.PROPERTY_CHANGE_EVENT:
            if not filters:
                raise self.fail(path + ".filters", "a property change event needs the `hs_name` filter")
            name = self.property_change_name(filters[0], join_path(path, "filters", 0))
            text = f"{self.prop(self.object, name, path)} changed"
            if len(filters) == 2:
                fpath = join_path(path, "filters", 1)
                f = self.obj(filters[1], fpath)
                op = self.obj(f.get("operation"), fpath + ".operation")
                if f.get("property") != "hs_value" or op.get("operator") not in ("IS_EQUAL_TO", "IS_ANY_OF"):
                    raise self.fail(fpath, "expected the filter `hs_value` IS_EQUAL_TO <new value>")
                raw = op.get("value") if op.get("operator") == "IS_EQUAL_TO" else _single(op.get("values"))
                if raw is None:
                    raise self.fail(fpath + ".operation", "expected one new value")
                text += f" to {self.value(self.object, name, raw, fpath)}"
            elif len(filters) > 2:
                raise self.fail(path + ".filters", "a property change is `changed` or `changed to <value>`")
            return text
        event = self.event_name(event_id, path + ".eventTypeId")
        if not filters:
            return event
        preds = [self.event_filter(event, f, join_path(path, "filters", i)) for i, f in enumerate(filters)]
        return f"{event}({' and '.join(preds)})"

    def event_name(self, event_id: str, path: str) -> str:
        if event_id in self.lock.tables["event_types"]:
            return self.lock.tables["event_types"][event_id]
        for name, known in ids.EVENT_TYPE_IDS.items():
            if known == event_id:
                return name
        raise self.fail(
            path,
            f"event type {event_id} is not one wfdsl knows",
            hint='name it in [event_types] of hubspot.lock.toml, e.g. "4-1234" = "page.visited"',
        )

    def event_filter(self, event: str, data: Any, path: str) -> str:
        f = self.obj(data, path)
        prop = f.get("property")
        attribute = ids.EVENT_PROPERTIES.get(prop) if isinstance(prop, str) else None
        if attribute is None:
            raise self.fail(path + ".property", f"the event property {_show(prop)} has no wfdsl attribute")
        table = {"form": "forms", "email": "marketing_emails"}.get(attribute)
        return str(self.property_filter(f, path, attribute, table=table)[1])

    def list_event(self, branch: Any, path: str) -> str:
        data = self.obj(branch, path)
        filters = self.items(data.get("filters"), path + ".filters")
        if data.get("filterBranches") or len(filters) != 1:
            raise self.fail(path, "expected one IN_LIST filter per list membership trigger")
        fpath = join_path(path, "filters", 0)
        f = self.obj(filters[0], fpath)
        if f.get("filterType") != "IN_LIST" or f.get("operator", "IN_LIST") != "IN_LIST":
            raise self.fail(fpath, "expected an IN_LIST filter")
        name = self.lock.name_for("lists", self.string(f, "listId", fpath), fpath + ".listId", self.problems)
        return f"list.added(list = {quote(name)})"

    # -- settings
    def settings(self, flow: dict[str, Any], custom: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        timezone = custom.get(TIMEZONE_PROPERTY)
        if timezone is not None:
            out.append((f"timezone {quote(str(timezone))}", join_path("customProperties", TIMEZONE_PROPERTY)))
        windows = self.items(flow.get("timeWindows"), "timeWindows")
        groups: dict[tuple[str, str], list[str]] = {}
        first_index: dict[tuple[str, str], int] = {}
        for i, window in enumerate(windows):
            path = join_path("timeWindows", i)
            w = self.obj(window, path)
            self.only_keys(w, path, {"day", "startTime", "endTime"}, "a time window")
            day = self.weekday(w.get("day"), path + ".day")
            if w.get("startTime") is None or w.get("endTime") is None:
                raise self.fail(path, "wfdsl time windows have a start and an end time")
            key = (
                self.time_of_day(w["startTime"], path + ".startTime"),
                self.time_of_day(w["endTime"], path + ".endTime"),
            )
            groups.setdefault(key, []).append(day)
            first_index.setdefault(key, i)
        for (start, end), days in groups.items():
            out.append(
                (
                    f"execute on {_day_spec(days)} from {start} to {end}",
                    join_path("timeWindows", first_index[(start, end)]),
                )
            )
        blocked = self.items(flow.get("blockedDates"), "blockedDates")
        dates = []
        for i, item in enumerate(blocked):
            path = join_path("blockedDates", i)
            b = self.obj(item, path)
            if b.get("year") is None:
                raise self.fail(
                    path + ".year",
                    "a blocked date without a year (every year) has no wfdsl equivalent",
                    hint="give it a year; wfdsl pauses on dates (`pause on 2026-12-24`)",
                )
            month = b.get("month")
            if month not in ids.MONTHS:
                raise self.fail(path + ".month", f"expected a month such as DECEMBER, found {_show(month)}")
            dates.append(
                f"{self.integer(b, 'year', path):04d}-{ids.MONTHS.index(month) + 1:02d}-"
                f"{self.integer(b, 'dayOfMonth', path):02d}"
            )
        if dates:
            out.append(("pause on " + ", ".join(dates), "blockedDates"))
        for path in self.setting_paths:
            out.append(("unenroll if criteria unmet", path))
        return out

    # -- criteria
    def criteria(self, data: Any, path: str, object_type: str) -> _Crit:
        branch = self.obj(data, path)
        kind = branch.get("filterBranchType")
        if kind == "UNIFIED_EVENTS":
            return ("pred", self.has_event(branch, path))
        if kind == "ASSOCIATION":
            return self.association(branch, path)
        if kind not in ("OR", "AND", "NOT_ALL", "NOT_ANY"):
            raise self.fail(path + ".filterBranchType", f"the filter group {_show(kind)} has no wfdsl equivalent")
        self.only_keys(
            branch, path, {"filterBranchType", "filterBranchOperator", "filters", "filterBranches"}, "a filter group"
        )
        items: list[_Crit] = [
            self.filter(f, join_path(path, "filters", i), object_type)
            for i, f in enumerate(self.items(branch.get("filters"), path + ".filters"))
        ]
        items += [
            self.criteria(b, join_path(path, "filterBranches", i), object_type)
            for i, b in enumerate(self.items(branch.get("filterBranches"), path + ".filterBranches"))
        ]
        if not items:
            raise self.fail(path, "an empty filter group: there is nothing to test")
        joiner = "or" if kind in ("OR", "NOT_ANY") else "and"
        crit = _combine(joiner, items)
        return ("not", crit) if kind.startswith("NOT_") else crit

    def association(self, branch: dict[str, Any], path: str) -> _Crit:
        self.only_keys(
            branch,
            path,
            {
                "filterBranchType",
                "filterBranchOperator",
                "filters",
                "filterBranches",
                "objectTypeId",
                "operator",
                "associationTypeId",
                "associationCategory",
            },
            "an association filter",
        )
        other = ids.OBJECT_TYPES.get(str(branch.get("objectTypeId")))
        expected = ids.ASSOCIATIONS.get((self.object, other or ""))
        if other is None or expected is None or branch.get("associationTypeId") != expected:
            raise self.fail(
                path,
                "wfdsl reads other records through the primary association only; found "
                f"objectTypeId {_show(branch.get('objectTypeId'))}, associationTypeId "
                f"{_show(branch.get('associationTypeId'))}",
            )
        if branch.get("filterBranches"):
            raise self.fail(path + ".filterBranches", "nested groups inside an association filter are not supported")
        items = [
            self.filter(f, join_path(path, "filters", i), other)
            for i, f in enumerate(self.items(branch.get("filters"), path + ".filters"))
        ]
        if not items:
            raise self.fail(path + ".filters", "an association filter without filters")
        return _combine("and", items)

    def has_event(self, branch: dict[str, Any], path: str) -> str:
        negated = branch.get("operator") == "HAS_NOT_COMPLETED"
        return f"has {'not ' if negated else ''}{self.event_text(branch, path)}"

    def filter(self, data: Any, path: str, object_type: str) -> _Crit:
        f = self.obj(data, path)
        kind = f.get("filterType")
        if kind == "IN_LIST":
            self.only_keys(f, path, {"filterType", "listId", "operator", "metadata"}, "a list filter")
            name = self.lock.name_for("lists", self.string(f, "listId", path), path + ".listId", self.problems)
            op = f.get("operator", "IN_LIST")
            if op not in ("IN_LIST", "NOT_IN_LIST"):
                raise self.fail(path + ".operator", f"expected IN_LIST or NOT_IN_LIST, found {_show(op)}")
            return ("pred", f"{'not ' if op == 'NOT_IN_LIST' else ''}in list {quote(name)}")
        if kind == "FORM_SUBMISSION":
            self.only_keys(f, path, {"filterType", "formId", "operator"}, "a form submission filter")
            op = f.get("operator")
            if op not in ("FILLED_OUT", "NOT_FILLED_OUT"):
                raise self.fail(path + ".operator", f"expected FILLED_OUT or NOT_FILLED_OUT, found {_show(op)}")
            neg = "not " if op == "NOT_FILLED_OUT" else ""
            if f.get("formId") is None:
                return ("pred", f"has {neg}form.submitted")
            name = self.lock.name_for("forms", self.string(f, "formId", path), path + ".formId", self.problems)
            return ("pred", f"has {neg}form.submitted(form = {quote(name)})")
        if kind != "PROPERTY":
            raise self.fail(path + ".filterType", f"the filter type {_show(kind)} has no wfdsl equivalent")
        name = self.string(f, "property", path)
        return self.property_filter(
            f, path, self.prop(object_type, name, path + ".property"), object_type=object_type, name=name
        )

    def property_filter(
        self,
        f: dict[str, Any],
        path: str,
        ref: str,
        *,
        object_type: str | None = None,
        name: str | None = None,
        table: str | None = None,
    ) -> _Crit:
        """A PROPERTY filter as a predicate on `ref` (a property, or an event attribute)."""
        self.only_keys(f, path, {"filterType", "property", "operation"}, "a property filter")
        opath = path + ".operation"
        op = self.obj(f.get("operation"), opath)
        kind = op.get("operationType")
        operator = op.get("operator")
        if not isinstance(kind, str) or not isinstance(operator, str):
            raise self.fail(opath, "expected an operation with an operationType and an operator")

        def val(raw: Any, where: str) -> str:
            if table is not None:
                return quote(self.lock.name_for(table, _id_text(raw), where, self.problems))
            if object_type is not None and name is not None:
                return self.value(object_type, name, raw, where)
            return _literal(raw)

        def pred(text: str) -> _Crit:
            return ("pred", f"{ref} {text}")

        if kind == "ALL_PROPERTY" and operator in ("IS_KNOWN", "IS_UNKNOWN"):
            return pred("is known" if operator == "IS_KNOWN" else "is unknown")
        if kind in ("STRING", "NUMBER", "BOOL"):
            ops = {
                "IS_EQUAL_TO": "=",
                "IS_NOT_EQUAL_TO": "!=",
                "IS_GREATER_THAN": ">",
                "IS_LESS_THAN": "<",
                "IS_GREATER_THAN_OR_EQUAL_TO": ">=",
                "IS_LESS_THAN_OR_EQUAL_TO": "<=",
            }
            texts = {
                "CONTAINS": "contains",
                "DOES_NOT_CONTAIN": "not contains",
                "STARTS_WITH": "starts with",
                "ENDS_WITH": "ends with",
            }
            history = {"HAS_EVER_BEEN_EQUAL_TO": "has ever been", "HAS_NEVER_BEEN_EQUAL_TO": "has never been"}
            raw = op.get("value")
            if operator in ops and (kind != "BOOL" or operator in ("IS_EQUAL_TO", "IS_NOT_EQUAL_TO")):
                return pred(f"{ops[operator]} {val(raw, opath + '.value')}")
            if kind == "STRING" and operator in texts:
                return pred(f"{texts[operator]} {quote(str(raw))}")
            if operator in history:
                return pred(f"{history[operator]} {val(raw, opath + '.value')}")
        if kind == "MULTISTRING" and operator in ("CONTAINS", "DOES_NOT_CONTAIN", "STARTS_WITH", "ENDS_WITH"):
            words = {
                "CONTAINS": "contains",
                "DOES_NOT_CONTAIN": "not contains",
                "STARTS_WITH": "starts with",
                "ENDS_WITH": "ends with",
            }[operator]
            values = self.items(op.get("values"), opath + ".values")
            if not values:
                raise self.fail(opath + ".values", "expected at least one value")
            items: list[_Crit] = [pred(f"{words} {quote(str(v))}") for v in values]
            return _combine("and" if operator == "DOES_NOT_CONTAIN" else "or", items)
        if kind == "NUMBER_RANGED" and operator == "IS_BETWEEN":
            low, high = op.get("lowerBound"), op.get("upperBound")
            return pred(f"between {_literal(low)} and {_literal(high)}")
        if kind == "ENUMERATION" and operator in (
            "IS_ANY_OF",
            "IS_NONE_OF",
            "HAS_EVER_BEEN_ANY_OF",
            "HAS_NEVER_BEEN_ANY_OF",
        ):
            values = self.items(op.get("values"), opath + ".values")
            if not values:
                raise self.fail(opath + ".values", "expected at least one value")
            shown = [val(v, join_path(opath, "values", i)) for i, v in enumerate(values)]
            if operator.startswith("HAS_"):
                word = "has ever been" if operator == "HAS_EVER_BEEN_ANY_OF" else "has never been"
                items = [pred(f"{word} {s}") for s in shown]
                return _combine("or" if operator == "HAS_EVER_BEEN_ANY_OF" else "and", items)
            if len(shown) == 1:
                return pred(f"{'=' if operator == 'IS_ANY_OF' else '!='} {shown[0]}")
            return pred(f"{'in' if operator == 'IS_ANY_OF' else 'not in'} [{', '.join(shown)}]")
        if kind == "DATE" and operator in ("IS_BEFORE", "IS_AFTER"):
            month = op.get("month")
            if month not in ids.MONTHS:
                raise self.fail(opath + ".month", f"expected a month such as JANUARY, found {_show(month)}")
            date = (
                f"{self.integer(op, 'year', opath):04d}-{ids.MONTHS.index(month) + 1:02d}-"
                f"{self.integer(op, 'day', opath):02d}"
            )
            return pred(f"{'before' if operator == 'IS_BEFORE' else 'after'} {date}")
        if kind == "TIME_RANGED" and operator == "IS_BETWEEN" and op.get("propertyParser", "VALUE") == "VALUE":
            low = _time_point(op.get("lowerBoundTimePoint"))
            high = _time_point(op.get("upperBoundTimePoint"))
            if low is not None and high == ("NOW", 0) and low[0] == "TODAY" and low[1] < 0:
                return pred(f"within last {-low[1]} day{'s' if low[1] != -1 else ''}")
            if low == ("NOW", 0) and high is not None and high[0] == "TODAY" and high[1] > 0:
                return pred(f"within next {high[1]} day{'s' if high[1] != 1 else ''}")
        if kind == "TIME_POINT" and operator == "IS_BEFORE" and op.get("propertyParser", "VALUE") == "VALUE":
            point = _time_point(op.get("timePoint"))
            if point is not None and point[0] == "TODAY" and point[1] < 0:
                return pred(f"more than {-point[1]} day{'s' if point[1] != -1 else ''} ago")
        raise self.fail(opath, f"the operation {_show(kind)} {_show(operator)} has no wfdsl equivalent")

    def value(self, object_type: str, name: str, raw: Any, path: str) -> str:
        """A property value as a wfdsl literal, typed by the schema; portal ids become names."""
        if name in ids.ID_PROPERTIES and raw is not None:
            return quote(self.lock.name_for(ids.ID_PROPERTIES[name], _id_text(raw), path, self.problems))
        prop = self.schema.property(object_type, name)
        kind = prop.type if prop is not None else None
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, (int, float)):
            return _number_text(raw) if kind in (None, "number") else quote(_number_text(raw))
        if not isinstance(raw, str):
            raise self.fail(path, f"expected a value, found {_kind(raw)}")
        if kind == "number" and _NUMBER.match(raw):
            return raw
        if kind == "bool" and raw in ("true", "false"):
            return raw
        if kind in ("date", "datetime") and _DATE.match(raw):
            return raw
        return quote(ids.from_hubspot_tokens(raw, self.object))

    # -- the action graph
    def walk(self, flow: dict[str, Any]) -> list[_Step]:
        for i, action in enumerate(self.items(flow.get("actions"), "actions")):
            path = join_path("actions", i)
            a = self.obj(action, path)
            ident = self.string(a, "actionId", path)
            if ident in self.actions:
                raise self.fail(path + ".actionId", f"a second action with the id {ident}")
            self.actions[ident] = (i, a)
        start = flow.get("startActionId")
        if start is None:
            if self.actions:
                raise self.fail("startActionId", "actions without a startActionId")
            return []
        steps = self.chain(_id_text(start), None, "startActionId")
        for ident, (i, _a) in self.actions.items():
            if ident not in self.placed:
                self.error(
                    join_path("actions", i),
                    f"action {ident} is not reached from startActionId by a STANDARD edge",
                    hint="connect it, or delete it in HubSpot",
                )
        for target in self.targets:
            if target not in self.placed:
                self.error("actions", f"a GO-TO edge leads to action {target}, which does not exist")
        return steps

    def action(self, ident: str, path: str) -> tuple[int, dict[str, Any]]:
        if ident not in self.actions:
            raise self.fail(path, f"no action has the id {ident}")
        return self.actions[ident]

    def chain(self, start: str | None, cont: str | None, path: str) -> list[_Step]:
        """The steps from `start` until the flow ends or reaches `cont` (where the enclosing
        block continues)."""
        steps: list[_Step] = []
        current, where = start, path
        while current is not None and current != cont:
            if current in self.placed:  # a second STANDARD edge into an action: a jump
                self.targets.add(current)
                steps.append(_Step(path=where, goto=current))
                return steps
            index, action = self.action(current, where)
            apath = join_path("actions", index)
            self.placed.add(current)
            steps.append(_Step(path=apath, label=current))
            kind = action.get("type", "SINGLE_CONNECTION")
            if kind in ("LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"):
                step, after = self.branch(action, apath, cont)
                steps.append(step)
                current, where = after, apath
                continue
            steps.append(self.single(action, apath, kind))
            connection = action.get("connection")
            if connection in (None, {}):
                if cont is not None:
                    steps.append(_Step(path=apath, text="end"))
                return steps
            target, go_to = self.connection(connection, apath + ".connection")
            if go_to and target != cont:
                self.targets.add(target)
                steps.append(_Step(path=apath + ".connection", goto=target))
                return steps
            current, where = target, apath + ".connection.nextActionId"
        return steps

    def connection(self, data: Any, path: str) -> tuple[str, bool]:
        c = self.obj(data, path)
        edge = c.get("edgeType", "STANDARD")
        if edge not in ("STANDARD", "GO-TO", "GOTO"):
            raise self.fail(path + ".edgeType", f"expected STANDARD or GO-TO, found {_show(edge)}")
        return self.string(c, "nextActionId", path), edge != "STANDARD"

    # -- branches
    def arms(self, action: dict[str, Any], path: str) -> tuple[list[tuple[Any, str]], bool]:
        """The arms of a branch action as (connection, path) in order; and whether the last is the default."""
        kind = action.get("type")
        arms: list[tuple[Any, str]] = []
        if kind == "LIST_BRANCH":
            for i, arm in enumerate(self.items(action.get("listBranches"), path + ".listBranches")):
                apath = join_path(path, "listBranches", i)
                arms.append((self.obj(arm, apath).get("connection"), apath + ".connection"))
        elif kind == "STATIC_BRANCH":
            for i, arm in enumerate(self.items(action.get("staticBranches"), path + ".staticBranches")):
                apath = join_path(path, "staticBranches", i)
                arms.append((self.obj(arm, apath).get("connection"), apath + ".connection"))
        else:
            for i, arm in enumerate(self.items(action.get("testBranches"), path + ".testBranches")):
                arms.append((arm, join_path(path, "testBranches", i)))
            return arms, False
        default = action.get("defaultBranch")
        if default not in (None, {}):
            arms.append((default, path + ".defaultBranch"))
            return arms, True
        return arms, False

    def exits(self, start: Any, path: str) -> frozenset[str | None]:
        """Where the steps from a connection leave: GO-TO targets, or None when they end."""
        if start in (None, {}):
            return frozenset({None})
        target, go_to = self.connection(start, path)
        return frozenset({target}) if go_to else self.exits_of(target)

    def exits_of(self, ident: str) -> frozenset[str | None]:
        """`exits` of the steps from an action, remembered: each action is walked once, so
        finding where branches meet stays linear in the size of the flow."""
        chain: list[str] = []
        current: str | None = ident
        found: frozenset[str | None] = frozenset()
        while current is not None and current in self.actions:
            if current in self.exit_cache:
                found = self.exit_cache[current]
                break
            self.exit_cache[current] = frozenset()  # a cycle of STANDARD edges leads nowhere
            chain.append(current)
            index, action = self.actions[current]
            apath = join_path("actions", index)
            if action.get("type") in ("LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"):
                found = frozenset().union(*(self.exits(conn, cpath) for conn, cpath in self.arms(action, apath)[0]))
                break
            conn = action.get("connection")
            if conn in (None, {}):
                found = frozenset({None})
                break
            current, go_to = self.connection(conn, apath + ".connection")
            if go_to:
                found = frozenset({current})
                break
        for item in chain:
            self.exit_cache[item] = found
        return found

    def tail_path(self, start: Any, path: str) -> Iterator[str]:
        """The actions reached from a connection by STANDARD edges, into each branch's last arm."""
        if start in (None, {}):
            return
        target, go_to = self.connection(start, path)
        current: str | None = None if go_to else target
        seen: set[str] = set()
        while current is not None and current not in seen and current in self.actions:
            seen.add(current)
            yield current
            index, action = self.actions[current]
            apath = join_path("actions", index)
            if action.get("type") in ("LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"):
                arms = self.arms(action, apath)[0]
                if not arms:
                    return
                conn, cpath = arms[-1]
            else:
                conn, cpath = action.get("connection"), apath + ".connection"
            if conn in (None, {}):
                return
            current, go_to = self.connection(conn, cpath)
            if go_to:
                return

    def join(self, arms: list[tuple[Any, str]], cont: str | None) -> str | None:
        """Where the arms meet again: an action on one arm's STANDARD path (the last arm's
        first) that the other arms reach by GO-TO edges."""
        if len(arms) < 2:
            return None
        exits = [self.exits(conn, cpath) for conn, cpath in arms]
        for k in reversed(range(len(arms))):
            candidates = set().union(*(e for i, e in enumerate(exits) if i != k))
            for ident in self.tail_path(*arms[k]):
                if ident in candidates:
                    return None if ident == cont else ident
        return None

    def arm_steps(self, conn: Any, path: str, cont: str | None) -> list[_Step]:
        if conn in (None, {}):  # an arm that stops the workflow
            return [_Step(path=path, text="end")]
        target, go_to = self.connection(conn, path)
        if target == cont:
            return []
        if go_to:
            self.targets.add(target)
            return [_Step(path=path, goto=target)]
        return self.chain(target, cont, path + ".nextActionId")

    def branch(self, action: dict[str, Any], path: str, cont: str | None) -> tuple[_Step, str | None]:
        kind = action.get("type")
        arms, has_default = self.arms(action, path)
        joined = self.join(arms, cont)
        inner = joined if joined is not None else cont
        bodies = [self.arm_steps(conn, cpath, inner) for conn, cpath in arms]
        step = _Step(path=path)
        if kind == "LIST_BRANCH":
            self.only_keys(
                action, path, {"type", "actionId", "listBranches", "defaultBranch", "defaultBranchName"}, "a branch"
            )
            for i, arm in enumerate(self.items(action.get("listBranches"), path + ".listBranches")):
                apath = join_path(path, "listBranches", i)
                self.only_keys(arm, apath, {"branchName", "connection", "filterBranch"}, "a branch arm")
                crit = self.criteria(arm.get("filterBranch"), apath + ".filterBranch", self.object)
                step.parts.append((f"{'if' if i == 0 else 'else if'} {_crit_text(crit)}", bodies[i]))
            if not step.parts:
                raise self.fail(path + ".listBranches", "a branch without any condition")
        elif kind == "STATIC_BRANCH":
            self.only_keys(
                action,
                path,
                {"type", "actionId", "inputValue", "staticBranches", "defaultBranch", "defaultBranchName"},
                "a value branch",
            )
            ipath = path + ".inputValue"
            value = self.obj(action.get("inputValue"), ipath)
            if value.get("type") == "FIELD_DATA" and value.get("dataKey") == "hs_event_criteria_met":
                return self.received_branch(action, path, bodies, has_default), joined
            if value.get("type") != "OBJECT_PROPERTY":
                raise self.fail(
                    ipath + ".type", f"wfdsl branches on a property of the record; found {_show(value.get('type'))}"
                )
            name = self.string(value, "propertyName", ipath)
            ref = self.prop(self.object, name, ipath + ".propertyName")
            step.opener = f"branch on {ref} {{"
            for i, arm in enumerate(self.items(action.get("staticBranches"), path + ".staticBranches")):
                apath = join_path(path, "staticBranches", i)
                self.only_keys(arm, apath, {"branchValue", "connection"}, "a branch arm")
                step.parts.append(
                    (self.value(self.object, name, arm.get("branchValue"), apath + ".branchValue"), bodies[i])
                )
        else:
            self.only_keys(action, path, {"type", "actionId", "testBranches"}, "a random split")
            count = len(arms)
            if count < 2 or 100 % count:
                raise self.fail(
                    path + ".testBranches",
                    f"a split into {count} equal shares cannot be written in whole percentages",
                    hint="wfdsl splits into 2, 4, 5 or 10 equal shares",
                )
            step.opener = "split {"
            for body in bodies:
                step.parts.append((f"{100 // count}%", body))
        if has_default and bodies[-1]:  # an empty default arm just continues: no `else`
            step.parts.append(("else", bodies[-1]))
        return step, joined

    def received_branch(self, action: dict[str, Any], path: str, bodies: list[list[_Step]], has_default: bool) -> _Step:
        """The branch on a wait's outcome (`hs_event_criteria_met`): `if received { } else { }`."""
        arms = self.items(action.get("staticBranches"), path + ".staticBranches")
        if len(arms) != 1:
            raise self.fail(path + ".staticBranches", "expected one branch on the outcome of the wait")
        apath = join_path(path, "staticBranches", 0)
        value = self.obj(arms[0], apath).get("branchValue")
        if value not in ("true", "false"):
            raise self.fail(apath + ".branchValue", f'expected "true" or "false", found {_show(value)}')
        step = _Step(path=path)
        step.parts.append(("if received" if value == "true" else "if not received", bodies[0]))
        if has_default and bodies[-1]:
            step.parts.append(("else", bodies[-1]))
        return step

    def _action_0_29(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"event_filter_branches", "expiration_minutes"}, "a wait for an event")
        branches = self.items(fields.get("event_filter_branches"), path + ".event_filter_branches")
        if len(branches) != 1:
            raise self.fail(path + ".event_filter_branches", "wfdsl waits for one event")
        event = self.trigger_event(branches[0], join_path(path, "event_filter_branches", 0))
        minutes = self.integer(fields, "expiration_minutes", path)
        if minutes <= 0:
            raise self.fail(path + ".expiration_minutes", "wfdsl waits up to a positive time")
        for unit, size in (("week", 10080), ("day", 1440), ("hour", 60), ("minute", 1)):
            if minutes % size == 0:
                amount = minutes // size
                return f"wait for {event} up to {amount} {unit}{'' if amount == 1 else 's'}"
        raise AssertionError("unreachable")  # pragma: no cover

    # -- single actions
    def single(self, action: dict[str, Any], path: str, kind: str) -> _Step:
        if kind == "WEBHOOK":
            self.only_keys(
                action, path, {"type", "actionId", "method", "webhookUrl", "queryParams", "connection"}, "a webhook"
            )
            if action.get("queryParams"):
                self.error(path + ".queryParams", "webhook query parameters have no wfdsl equivalent")
            method = str(action.get("method", "POST")).lower()
            if method not in ("post", "get", "put", "patch", "delete"):
                raise self.fail(path + ".method", f"the method {_show(action.get('method'))} is not supported")
            return _Step(path=path, text=f"webhook {method} {quote(self.string(action, 'webhookUrl', path))}")
        if kind != "SINGLE_CONNECTION":
            raise self.fail(
                path + ".type",
                f"the action type {_show(kind)} has no wfdsl equivalent",
                hint="custom code stays in HubSpot",
            )
        self.only_keys(
            action, path, {"type", "actionId", "actionTypeId", "actionTypeVersion", "fields", "connection"}, "an action"
        )
        type_id = self.string(action, "actionTypeId", path)
        version = action.get("actionTypeVersion", 0)
        if version != 0:
            raise self.fail(
                path + ".actionTypeVersion",
                f"version {_show(version)} of action {type_id} is not the built-in action (version 0)",
            )
        fpath = path + ".fields"
        fields = self.obj(action.get("fields") or {}, fpath)
        convert = getattr(self, "_action_" + type_id.replace("-", "_"), None)
        if convert is None:
            what = ids.ACTION_NAMES.get(type_id, "an app or integration action")
            raise self.fail(
                path + ".actionTypeId",
                f"the action {type_id} ({what}) has no wfdsl equivalent",
                hint='keep it as a `placeholder "…"` by hand, or leave this workflow in HubSpot',
            )
        text: str = convert(fields, fpath)
        return _Step(path=path, text=text)

    def _action_0_1(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"delta", "time_unit"}, "a delay")
        return f"delay {self.duration(fields, 'delta', 'time_unit', path)}"

    def duration(self, fields: dict[str, Any], amount_key: str, unit_key: str, path: str) -> str:
        amount = self.integer(fields, amount_key, path)
        unit = ids.TIME_UNITS.get(str(fields.get(unit_key)))
        if unit is None:
            raise self.fail(
                join_path(path, unit_key),
                f"expected MINUTES, HOURS, DAYS or WEEKS, found {_show(fields.get(unit_key))}",
            )
        if amount <= 0:
            raise self.fail(join_path(path, amount_key), f"a duration must be positive; found {amount}")
        return f"{amount} {unit}{'' if amount == 1 else 's'}"

    def _action_0_35(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"date", "delta", "time_unit", "time_of_day"}, "a delay until a date")
        date = self.obj(fields.get("date"), path + ".date")
        if date.get("type") == "OBJECT_PROPERTY":
            base = self.prop(self.object, self.string(date, "propertyName", path + ".date"), path + ".date")
        elif date.get("type") == "STATIC_VALUE" and _DATE.match(str(date.get("staticValue"))):
            base = str(date["staticValue"])
        else:
            raise self.fail(path + ".date", "expected a date property or a date (STATIC_VALUE 2026-12-24)")
        text = f"delay until {base}"
        if fields.get("delta") not in (None, "0", 0):
            offset = self.integer(fields, "delta", path)
            unit = ids.TIME_UNITS.get(str(fields.get("time_unit", "DAYS")))
            if unit is None:
                raise self.fail(path + ".time_unit", "expected MINUTES, HOURS, DAYS or WEEKS")
            size = abs(offset)
            text += f" {'-' if offset < 0 else '+'} {size} {unit}{'' if size == 1 else 's'}"
        if fields.get("time_of_day") is not None:
            text += f" at {self.time_of_day(fields['time_of_day'], path + '.time_of_day')}"
        return text

    def _action_0_4(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"content_id"}, "a marketing email")
        name = self.lock.name_for(
            "marketing_emails", self.string(fields, "content_id", path), path + ".content_id", self.problems
        )
        return f"send email {quote(name)}"

    def _action_0_13(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"operation", "list_id"}, "a list action")
        name = self.lock.name_for("lists", self.string(fields, "list_id", path), path + ".list_id", self.problems)
        operation = fields.get("operation")
        if operation == "ADD":
            return f"add to list {quote(name)}"
        if operation == "REMOVE":
            return f"remove from list {quote(name)}"
        raise self.fail(path + ".operation", f"expected ADD or REMOVE, found {_show(operation)}")

    def _action_0_15(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"flow_id"}, "enrolling in a workflow")
        name = self.lock.name_for("workflows", self.string(fields, "flow_id", path), path + ".flow_id", self.problems)
        return f"enroll in workflow {quote(name)}"

    def _action_0_5(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"property_name", "value", "association"}, "setting a property")
        name = self.string(fields, "property_name", path)
        target = self.object
        association = fields.get("association")
        if association not in (None, {}):
            apath = path + ".association"
            a = self.obj(association, apath)
            found = [
                other
                for (source, other), type_id in ids.ASSOCIATIONS.items()
                if source == self.object and type_id == a.get("associationTypeId")
            ]
            if a.get("associationCategory", "HUBSPOT_DEFINED") != "HUBSPOT_DEFINED" or not found:
                raise self.fail(
                    apath,
                    "wfdsl sets properties of the primary associated records only; found "
                    f"association type {_show(a.get('associationTypeId'))}",
                )
            target = found[0]
        ref = self.prop(target, name, path + ".property_name")
        vpath = path + ".value"
        value = self.obj(fields.get("value"), vpath)
        kind = value.get("type")
        if kind == "STATIC_VALUE":
            raw = value.get("staticValue")
            if raw in ("", None):
                return f"clear {ref}"
            if name == "hubspot_owner_id" and target == self.object:
                owner = self.lock.name_for("owners", _id_text(raw), vpath + ".staticValue", self.problems)
                return f"assign owner {quote(owner)}"
            return f"set {ref} = {self.value(target, name, raw, vpath + '.staticValue')}"
        if kind == "INCREMENT":
            amount = value.get("incrementAmount")
            if not isinstance(amount, (int, float)) or isinstance(amount, bool):
                raise self.fail(vpath + ".incrementAmount", f"expected a number, found {_kind(amount)}")
            return f"increment {ref} by {_number_text(amount)}"
        if kind == "OBJECT_PROPERTY":
            source = self.prop(self.object, self.string(value, "propertyName", vpath), vpath + ".propertyName")
            return f"copy {source} to {ref}"
        raise self.fail(vpath + ".type", f"the value type {_show(kind)} has no wfdsl equivalent")

    def _action_0_3(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(
            fields,
            path,
            {
                "task_type",
                "subject",
                "body",
                "priority",
                "due_time",
                "owner_assignment",
                "associations",
                "use_explicit_associations",
            },
            "a task",
        )
        if fields.get("task_type", "TODO") != "TODO":
            raise self.fail(path + ".task_type", f"wfdsl creates to-do tasks; found {_show(fields.get('task_type'))}")
        standard = [
            {
                "target": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ids.TASK_ASSOCIATIONS.get(self.object),
                },
                "value": {"type": "ENROLLED_OBJECT"},
            }
        ]
        if fields.get("associations") not in (None, [], standard):
            raise self.fail(path + ".associations", "wfdsl associates a task with the enrolled record only")
        text = f"create task {quote(self.text(fields, 'subject', path))}"
        if fields.get("due_time") is not None:
            due = self.obj(fields["due_time"], path + ".due_time")
            self.only_keys(due, path + ".due_time", {"delta", "timeUnit"}, "a task's due time")
            text += f" due in {self.duration(due, 'delta', 'timeUnit', path + '.due_time')}"
        owner = fields.get("owner_assignment")
        if owner is not None:
            opath = path + ".owner_assignment"
            value = self.obj(self.obj(owner, opath).get("value"), opath + ".value")
            if value.get("type") == "OBJECT_PROPERTY" and value.get("propertyName") == "hubspot_owner_id":
                text += " assign to owner"
            elif value.get("type") == "STATIC_VALUE":
                who = self.lock.name_for(
                    "owners", _id_text(value.get("staticValue")), opath + ".value.staticValue", self.problems
                )
                text += f" assign to {quote(who)}"
            else:
                raise self.fail(opath, "wfdsl assigns a task to the record's owner or to one owner")
        if fields.get("body") not in (None, ""):
            text += f" notes {quote(self.text(fields, 'body', path))}"
        if fields.get("priority") is not None:
            priority = str(fields["priority"]).lower()
            if priority not in ("low", "medium", "high"):
                raise self.fail(path + ".priority", f"expected LOW, MEDIUM or HIGH, found {_show(fields['priority'])}")
            text += f" priority {priority}"
        return text

    def _action_0_9(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(
            fields,
            path,
            {"user_ids", "owner_properties", "subject", "body", "delivery_method"},
            "an in-app notification",
        )
        self.problems.append(
            Problem(
                path=path.removesuffix(".fields") + ".actionTypeId",
                message="an in-app notification (0-9) is imported as `notify`, wfdsl's one internal "
                "notification; export writes it as an internal email notification (0-8)",
                error=False,
            )
        )
        return self.notification({k: v for k, v in fields.items() if k != "delivery_method"}, path)

    def _action_0_8(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"user_ids", "owner_properties", "subject", "body"}, "a notification")
        return self.notification(fields, path)

    def notification(self, fields: dict[str, Any], path: str) -> str:
        users = self.items(fields.get("user_ids"), path + ".user_ids")
        owners = self.items(fields.get("owner_properties"), path + ".owner_properties")
        if owners == ["hubspot_owner_id"] and not users:
            text = "notify owner"
        elif len(users) == 1 and not owners:
            who = self.lock.name_for("users", _id_text(users[0]), path + ".user_ids[0]", self.problems)
            text = f"notify {quote(who)}"
        else:
            raise self.fail(
                path, "wfdsl notifies the record's owner or one user", hint="split the notification, one per user"
            )
        if fields.get("subject") is not None:
            text += f" subject {quote(self.text(fields, 'subject', path))}"
        if fields.get("body") is not None:
            text += f" body {quote(self.text(fields, 'body', path))}"
        return text

    def _action_0_11(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"user_ids", "target_property", "overwrite_current_owner"}, "rotating owners")
        if fields.get("target_property", "hubspot_owner_id") != "hubspot_owner_id":
            raise self.fail(path + ".target_property", "wfdsl rotates the record's owner (hubspot_owner_id)")
        if str(fields.get("overwrite_current_owner", "true")).lower() != "true":
            raise self.fail(path + ".overwrite_current_owner", "wfdsl's `rotate owner` always overwrites the owner")
        users = self.items(fields.get("user_ids"), path + ".user_ids")
        if not users:
            raise self.fail(path + ".user_ids", "nobody to rotate among")
        names = [
            self.lock.name_for("owners", _id_text(u), join_path(path, "user_ids", i), self.problems)
            for i, u in enumerate(users)
        ]
        return "rotate owner among [" + ", ".join(quote(x) for x in names) + "]"

    def _action_0_14(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(
            fields,
            path,
            {"object_type_id", "properties", "associations", "use_explicit_associations"},
            "creating a record",
        )
        created = ids.OBJECT_TYPES.get(str(fields.get("object_type_id")))
        if created is None:
            raise self.fail(
                path + ".object_type_id", f"cannot create records of type {_show(fields.get('object_type_id'))}"
            )
        out = []
        for i, item in enumerate(self.items(fields.get("properties"), path + ".properties")):
            ppath = join_path(path, "properties", i)
            p = self.obj(item, ppath)
            name = self.string(p, "targetProperty", ppath)
            if not _NAME.match(name):
                raise self.fail(ppath + ".targetProperty", f"the property name {name!r} cannot be written in wfdsl")
            value = self.obj(p.get("value"), ppath + ".value")
            if value.get("type") != "STATIC_VALUE":
                raise self.fail(ppath + ".value.type", "wfdsl creates records with fixed values (STATIC_VALUE)")
            out.append(f"{name} = {self.value(created, name, value.get('staticValue'), ppath + '.value')}")
        standard = [
            {
                "target": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ids.ASSOCIATIONS.get((created, self.object)),
                },
                "value": {"type": "ENROLLED_OBJECT"},
            }
        ]
        if fields.get("associations") not in (None, [], standard):
            raise self.fail(path + ".associations", "wfdsl associates a created record with the enrolled record only")
        return f"create {created} {{ {', '.join(out)} }}"

    # -- labels and text
    def name_labels(self, custom: dict[str, Any]) -> None:
        order = [s.label for s in _walk_steps(self.steps) if s.label is not None and s.label in self.targets]
        names = [f"step {i + 1}" for i in range(len(order))]
        given = custom.get(LABELS_PROPERTY)
        if given is not None:
            try:
                decoded = json.loads(str(given))
            except json.JSONDecodeError:
                decoded = None
            if isinstance(decoded, list) and len(decoded) == len(order) and all(isinstance(x, str) for x in decoded):
                names = decoded
            else:
                self.error(
                    join_path("customProperties", LABELS_PROPERTY), f"expected a JSON list of {len(order)} label names"
                )
        self.label_names = dict(zip(order, names, strict=True))

    def render(self, steps: list[_Step]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for step in steps:
            if step.label is not None:
                if step.label in self.label_names:
                    out.append((f"label {quote(self.label_names[step.label])}", step.path))
                continue
            if step.goto is not None:
                out.append((f"go to {quote(self.label_names[step.goto])}", step.path))
                continue
            if not step.parts:
                out.append((step.text, step.path))
                continue
            if step.opener:
                out.append((step.opener, step.path))
            for i, (header, body) in enumerate(step.parts):
                prefix = "} " if i and not step.opener else ""
                out.append((f"{prefix}{header} {{", step.path))
                out.extend(self.render(body))
                if step.opener:
                    out.append(("}", ""))
            out.append(("}", ""))
        return out

    def step_paths(self) -> list[str]:
        """JSON paths of the steps in the order the text lists them (pre-order)."""
        out: list[str] = []

        def visit(steps: list[_Step]) -> None:
            for step in steps:
                if step.label is not None:
                    if step.label in self.label_names:
                        out.append(step.path)
                    continue
                out.append(step.path)
                for _header, body in step.parts:
                    visit(body)

        visit(self.steps)
        return out


def _source_map(text: str, file: str, importer: _Importer) -> tuple[tuple[Span, str], ...]:
    """Pair the statements of the printed text with the JSON paths they came from."""
    result = parse(text, file)
    if not result.ok or not result.module.workflows:
        return ()
    wf = result.module.workflows[0]
    out: list[tuple[Span, str]] = [(wf.name.span, "name")]
    for kind, path in importer.clause_paths:
        clause = wf.first(kind)
        if clause is not None:
            out.append((clause.span, path))
    settings = wf.settings
    for setting, path in zip(settings, importer.emitted_settings, strict=False):
        out.append((setting.span, path))
    steps: list[n.Node] = []

    def visit(block: tuple[n.Node, ...]) -> None:
        for step in block:
            steps.append(step)
            if isinstance(step, n.If):
                for branch in step.branches:
                    visit(branch.body.steps)
                if step.else_body is not None:
                    visit(step.else_body.steps)
            elif isinstance(step, n.BranchOn):
                for case in step.cases:
                    visit(case.body.steps)
                if step.else_body is not None:
                    visit(step.else_body.steps)
            elif isinstance(step, n.Split):
                for arm in step.arms:
                    visit(arm.body.steps)

    visit(wf.steps)
    out.extend(zip((s.span for s in steps), importer.step_paths(), strict=False))
    return tuple(out)


def _kind(value: Any) -> str:
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


def _show(value: Any) -> str:
    return json.dumps(value) if value is not None else "nothing"


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _id_text(value: Any) -> str:
    return _number_text(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _literal(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return _number_text(raw)
    return quote(str(raw))


def _single(values: Any) -> Any:
    return values[0] if isinstance(values, list) and len(values) == 1 else None


def _empty_branch(data: Any) -> bool:
    return isinstance(data, dict) and not data.get("filters") and not data.get("filterBranches")


def _time_point(data: Any) -> tuple[str, int] | None:
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


def _day_spec(days: list[str]) -> str:
    """`monday..friday` for a run of consecutive days, else the days listed."""
    order = sorted(set(days), key=ids.WEEKDAYS.index)
    first, last = ids.WEEKDAYS.index(order[0]), ids.WEEKDAYS.index(order[-1])
    if len(order) > 2 and last - first + 1 == len(order):
        return f"{order[0]}..{order[-1]}"
    return ", ".join(order)
