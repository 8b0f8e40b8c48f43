"""Workflows in, flow JSON out: each `.wf` workflow becomes a HubSpot Automation API v4 flow.

Flows are written disabled (`isEnabled: false`): turning a workflow on is a
decision made in HubSpot. Steps become actions with ids `1`, `2`, … in the
order the text lists them; a block's last step connects to the step after
the block (STANDARD from the last arm of a branch, GO-TO from the others),
`go to` becomes a GO-TO edge. What flow JSON cannot hold is an error with
the file, line and column of the construct.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from wfdsl.schema import BUILTIN, Schema
from wfdsl.syntax import nodes as n
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.flows import LABELS_PROPERTY, TIMEZONE_PROPERTY
from wfdsl.tools.hubspot.lockfile import LockFile
from wfdsl.tools.hubspot.problems import FlowError, Problem, has_errors

_BRANCHES = (n.If, n.BranchOn, n.Split)
_Target = Any  # an action id, None (the flow ends there), or ("label", name)


@attrs.frozen(kw_only=True)
class ExportResult:
    """One exported workflow: its flow JSON (None when it has errors) and problems."""

    name: str
    flow: dict[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.flow is not None and not has_errors(self.problems)


def export_workflow(workflow: n.Workflow, *, lock: LockFile, schema: Schema | None = None) -> ExportResult:
    """The flow JSON of one parsed workflow.

    >>> from wfdsl.syntax.parser import parse
    >>> wf = parse('workflow "W" { object contact steps { delay 2 days } }').module.workflows[0]
    >>> flow = export_workflow(wf, lock=LockFile()).flow
    >>> (flow["isEnabled"], flow["actions"][0]["fields"])
    (False, {'delta': '2', 'time_unit': 'DAYS'})
    """
    exporter = _Exporter(workflow=workflow, lock=lock, schema=schema or BUILTIN)
    try:
        flow = exporter.flow()
    except FlowError as error:
        exporter.problems.append(error.problem)
        flow = None
    problems = tuple(sorted(exporter.problems, key=lambda p: (p.span.line, p.span.col) if p.span else (0, 0)))
    return ExportResult(name=workflow.name.value, flow=None if has_errors(problems) else flow, problems=problems)


def export_project(
    workflows: Sequence[n.Workflow], *, lock: LockFile, schema: Schema | None = None
) -> list[ExportResult]:
    """`export_workflow` for each workflow, in order."""
    return [export_workflow(wf, lock=lock, schema=schema) for wf in workflows]


def flow_json(flow: dict[str, Any]) -> str:
    """The text of a flow file: indented JSON with a final newline, keys in insertion order."""
    return json.dumps(flow, indent=2, ensure_ascii=False) + "\n"


class _Exporter:
    def __init__(self, *, workflow: n.Workflow, lock: LockFile, schema: Schema) -> None:
        self.wf = workflow
        self.lock = lock
        self.schema = schema
        self.object = workflow.object_type or "contact"
        self.problems: list[Problem] = []
        self.ids: dict[int, str] = {}
        self.actions: list[dict[str, Any]] = []
        self.labels: dict[str, _Target] = {}
        self.patches: list[tuple[dict[str, Any], str, str]] = []  # (holder, key, label)
        self.label_order: list[str] = []
        self.standard_in: dict[str, int] = {}

    # -- problems
    def fail(self, node: n.Node, message: str, hint: str | None = None) -> FlowError:
        return FlowError(Problem(path="", message=message, hint=hint, span=node.span))

    def warn(self, node: n.Node, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(path="", message=message, hint=hint, span=node.span, error=False))

    # -- the flow
    def flow(self) -> dict[str, Any]:
        wf = self.wf
        if self.object not in ids.OBJECT_TYPE_IDS:
            clause = wf.first(n.ObjectClause) or wf
            raise self.fail(
                clause,
                f"{self.object} workflows have no flow JSON equivalent here; expected "
                + ", ".join(ids.OBJECT_TYPE_IDS),
            )
        flow: dict[str, Any] = {
            "type": "CONTACT_FLOW" if self.object == "contact" else "PLATFORM_FLOW",
            "objectTypeId": ids.OBJECT_TYPE_IDS[self.object],
            "flowType": "WORKFLOW",
            "name": wf.name.value,
        }
        description = wf.first(n.DescriptionClause)
        if isinstance(description, n.DescriptionClause):
            flow["description"] = description.text.value
        flow["isEnabled"] = False
        for kind, what in ((n.UnenrollClause, "`unenroll when`"), (n.AnchorClause, "`anchor` (date-centred)")):
            found = wf.first(kind)
            if found is not None:
                self.problems.append(
                    Problem(
                        path="",
                        span=found.span,
                        message=f"{what} has no flow JSON equivalent",
                        hint="keep this workflow in wfdsl, or remove the clause",
                    )
                )
        custom: dict[str, str] = {}
        settings = self.settings(custom)
        self.allocate(wf.steps)
        start = self.block(wf.steps, None, True)
        for holder, key, label in self.patches:
            target = self.resolve(label)
            if target is None:
                del holder[key]
            else:
                holder[key] = {"edgeType": "GO-TO", "nextActionId": target}
        if start is not None:
            flow["startActionId"] = start
        flow["nextAvailableActionId"] = str(len(self.actions) + 1)
        flow["actions"] = sorted(self.actions, key=lambda a: int(a["actionId"]))
        flow.update(self.enrollment(settings))
        goal = wf.first(n.GoalClause)
        if isinstance(goal, n.GoalClause):
            flow["goalFilterBranch"] = self.branch(goal.criteria)
        suppress = wf.first(n.SuppressClause)
        lists = []
        if isinstance(suppress, n.SuppressClause):
            for item in suppress.lists:
                ident = self.lock.id_for("lists", item.value, "", self.problems, span=item.span)
                lists.append(int(ident) if ident.isdigit() else ident)
        if lists or self.object == "contact":  # platform flows have no suppression list field unless used
            flow["suppressionListIds"] = lists
        flow["timeWindows"] = settings["timeWindows"]
        flow["blockedDates"] = settings["blockedDates"]
        defaults = [f"step {i + 1}" for i in range(len(self.label_order))]
        if self.label_order != defaults:
            custom[LABELS_PROPERTY] = json.dumps(self.label_order, ensure_ascii=False)
        flow["customProperties"] = custom
        flow["dataSources"] = []
        return flow

    def resolve(self, label: str) -> str | None:
        """The action a label stands before (following labels that stand before a `go to`)."""
        seen: set[str] = set()
        target: _Target = ("label", label)
        while isinstance(target, tuple):
            name = target[1]
            if name in seen or name not in self.labels:  # the checker reports these (unknown-label)
                raise FlowError(
                    Problem(path="", message=f"`go to {name!r}` leads nowhere: no label {name!r} before an action")
                )
            seen.add(name)
            target = self.labels[name]
        return target  # type: ignore[no-any-return]

    # -- settings
    def settings(self, custom: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {"timeWindows": [], "blockedDates": [], "unenroll_unmet": None}
        for setting in self.wf.settings:
            if isinstance(setting, n.TimezoneSetting):
                custom[TIMEZONE_PROPERTY] = setting.name.value
            elif isinstance(setting, n.ExecuteSetting):
                start, end = _time(setting.start.text), _time(setting.end.text)
                for day in _days(setting.days):
                    out["timeWindows"].append({"day": day.upper(), "startTime": start, "endTime": end})
            elif isinstance(setting, n.PauseSetting):
                for date in setting.dates:
                    year, month, dom = (int(x) for x in date.text.split("-"))
                    out["blockedDates"].append({"dayOfMonth": dom, "month": ids.MONTHS[month - 1], "year": year})
            elif isinstance(setting, n.UnenrollUnmetSetting):
                out["unenroll_unmet"] = setting
            elif isinstance(setting, n.EnrollExistingSetting):
                self.warn(
                    setting,
                    "flow JSON does not keep `enroll existing records`; it is not exported",
                    hint="choose to enroll existing records when you turn the workflow on in HubSpot",
                )
            elif isinstance(setting, n.OnFailureSetting) and setting.mode != "continue":
                self.problems.append(
                    Problem(
                        path="",
                        span=setting.span,
                        message="`on failure stop` has no flow "
                        "JSON equivalent (HubSpot continues after a failed action)",
                    )
                )
        return out

    # -- enrollment
    def enrollment(self, settings: dict[str, Any]) -> dict[str, Any]:
        trigger = self.wf.trigger
        reenroll = self.wf.first(n.ReenrollClause)
        every_time = isinstance(reenroll, n.ReenrollClause) and reenroll.every_time
        unmet = settings["unenroll_unmet"]
        if unmet is not None and not isinstance(trigger, n.FilterTrigger):
            raise self.fail(unmet, "`unenroll if criteria unmet` needs a filter trigger (`enroll when`)")
        if isinstance(trigger, n.ManualTrigger):
            return {"enrollmentCriteria": {"type": "MANUAL", "shouldReEnroll": False}}
        if isinstance(trigger, n.FilterTrigger):
            props = reenroll.properties if isinstance(reenroll, n.ReenrollClause) else ()
            triggers = []
            for prop in props:
                if prop.parts[0] != self.object or len(prop.parts) != 2:
                    raise self.fail(prop, f"re-enrollment watches properties of the enrolled {self.object}")
                triggers.append(
                    {
                        "filterBranchType": "AND",
                        "filterBranchOperator": "AND",
                        "filterBranches": [],
                        "filters": [_hs_name(prop.parts[1])],
                    }
                )
            return {
                "enrollmentCriteria": {
                    "type": "LIST_BASED",
                    "shouldReEnroll": bool(triggers),
                    "listFilterBranch": self.branch(trigger.criteria),
                    "reEnrollmentTriggersFilterBranches": triggers,
                    "unEnrollObjectsNotMeetingCriteria": unmet is not None,
                }
            }
        if isinstance(trigger, n.ScheduleTrigger):
            rec = trigger.recurrence
            schedule: dict[str, Any]
            if isinstance(rec, n.Daily):
                schedule = {"type": "DAILY", "timeOfDay": _time(rec.at.text)}
            elif isinstance(rec, n.Weekly):
                schedule = {
                    "type": "WEEKLY",
                    "daysOfWeek": [d.value.upper() for d in rec.days],
                    "timeOfDay": _time(rec.at.text),
                }
            elif isinstance(rec, n.Monthly):
                schedule = {
                    "type": "MONTHLY_SPECIFIC_DAYS",
                    "daysOfMonth": [int(rec.day.text)],
                    "timeOfDay": _time(rec.at.text),
                }
            else:
                raise self.fail(
                    rec,
                    "a schedule that runs once has no flow JSON equivalent",
                    hint="use a daily, weekly or monthly schedule",
                )
            branch = self.branch(trigger.refinement) if trigger.refinement is not None else _or([])
            return {
                "enrollmentCriteria": {
                    "type": "LIST_BASED",
                    "shouldReEnroll": every_time,
                    "listFilterBranch": branch,
                    "reEnrollmentTriggersFilterBranches": [],
                    "unEnrollObjectsNotMeetingCriteria": False,
                },
                "enrollmentSchedule": schedule,
            }
        if isinstance(trigger, n.EventTrigger):
            events, memberships = [], []
            for item in trigger.events:
                if item.negated:
                    raise self.fail(item, "the absence of an event cannot trigger enrollment")
                event = item.event
                if isinstance(event, n.EventRef) and event.name == "list.added":
                    memberships.append(self.list_membership(event))
                else:
                    events.append(self.unified_event(event, "HAS_COMPLETED"))
            criteria: dict[str, Any] = {
                "type": "EVENT_BASED",
                "shouldReEnroll": every_time,
                "eventFilterBranches": events,
                "listMembershipFilterBranches": memberships,
            }
            if trigger.refinement is not None:
                criteria["refinementCriteria"] = self.branch(trigger.refinement)
            return {"enrollmentCriteria": criteria}
        raise self.fail(self.wf, "this trigger has no flow JSON equivalent")  # pragma: no cover

    def list_membership(self, event: n.EventRef) -> dict[str, Any]:
        c = event.criteria
        if not (
            isinstance(c, n.Compare) and c.op == "=" and c.prop.dotted == "list" and isinstance(c.value, n.StringLit)
        ):
            raise self.fail(event, '`list.added` triggers are written `list.added(list = "Name")`')
        ident = self.lock.id_for("lists", c.value.value, "", self.problems, span=c.value.span)
        return {
            "filterBranchType": "AND",
            "filterBranchOperator": "AND",
            "filterBranches": [],
            "filters": [{"filterType": "IN_LIST", "listId": ident, "operator": "IN_LIST"}],
        }

    def unified_event(self, event: n.Node, operator: str) -> dict[str, Any]:
        branch: dict[str, Any] = {
            "filterBranchType": "UNIFIED_EVENTS",
            "filterBranchOperator": "AND",
            "operator": operator,
            "filterBranches": [],
        }
        if isinstance(event, n.PropertyChange):
            prop = event.prop
            if prop.parts[0] != self.object or len(prop.parts) != 2:
                raise self.fail(prop, f"property change triggers watch properties of the enrolled {self.object}")
            if event.from_value is not None:
                raise self.fail(
                    event.from_value,
                    "`changed from …` has no flow JSON equivalent",
                    hint="test the old value with `has ever been` in `only if`",
                )
            filters = [_hs_name(prop.parts[1])]
            if event.to_value is not None:
                filters.append(self.change_value(prop.parts[1], event.to_value))
            branch["eventTypeId"] = ids.PROPERTY_CHANGE_EVENT
            branch["filters"] = filters
            return branch
        assert isinstance(event, n.EventRef)
        branch["eventTypeId"] = self.event_type(event)
        branch["filters"] = self.event_filters(event)
        return branch

    def change_value(self, name: str, value: n.Node) -> dict[str, Any]:
        raw = self.raw_value(self.object, name, value)
        if self.prop_type(self.object, name, value) == "enumeration":
            operation = {
                "operationType": "ENUMERATION",
                "operator": "IS_ANY_OF",
                "values": [raw],
                "includeObjectsWithNoValueSet": False,
            }
        else:
            operation = {
                "operationType": "STRING",
                "operator": "IS_EQUAL_TO",
                "value": str(raw),
                "includeObjectsWithNoValueSet": False,
            }
        return {"filterType": "PROPERTY", "property": "hs_value", "operation": operation}

    def event_type(self, event: n.EventRef) -> str:
        for ident, name in self.lock.tables["event_types"].items():
            if name == event.name:
                return ident
        if event.name in ids.EVENT_TYPE_IDS:
            return ids.EVENT_TYPE_IDS[event.name]
        raise self.fail(
            event,
            f"the event {event.name} has no HubSpot event type id here",
            hint=f'add it to [event_types] of hubspot.lock.toml ("<eventTypeId>" = "{event.name}")',
        )

    def event_filters(self, event: n.EventRef) -> list[dict[str, Any]]:
        if event.criteria is None:
            return []
        items = event.criteria.items if isinstance(event.criteria, n.And) else (event.criteria,)
        out = []
        for item in items:
            if isinstance(item, n.Compare) and item.op in ("=", "!=") and isinstance(item.value, n.StringLit):
                attribute = item.prop.dotted
                prop = ids.EVENT_ATTRIBUTES.get(attribute)
                if prop is None or attribute == "url.original":
                    raise self.fail(item.prop, f"the attribute {attribute} has no HubSpot event property here")
                value = item.value.value
                table = {"form": "forms", "email": "marketing_emails"}.get(attribute)
                if table is not None:
                    value = self.lock.id_for(table, value, "", self.problems, span=item.value.span)
                op = "IS_EQUAL_TO" if item.op == "=" else "IS_NOT_EQUAL_TO"
                out.append(
                    {
                        "filterType": "PROPERTY",
                        "property": prop,
                        "operation": {
                            "operationType": "STRING",
                            "operator": op,
                            "value": value,
                            "includeObjectsWithNoValueSet": False,
                        },
                    }
                )
            elif isinstance(item, n.TextMatch) and item.prop.dotted in ids.EVENT_ATTRIBUTES:
                op = {
                    "contains": "CONTAINS",
                    "not_contains": "DOES_NOT_CONTAIN",
                    "starts_with": "STARTS_WITH",
                    "ends_with": "ENDS_WITH",
                }[item.op]
                out.append(
                    {
                        "filterType": "PROPERTY",
                        "property": ids.EVENT_ATTRIBUTES[item.prop.dotted],
                        "operation": {
                            "operationType": "MULTISTRING",
                            "operator": op,
                            "values": [item.value.value],
                            "includeObjectsWithNoValueSet": False,
                        },
                    }
                )
            else:
                raise self.fail(
                    item,
                    "event criteria in flow JSON are attribute tests joined by `and` "
                    '(`form = "…"`, `url contains "…"`)',
                )
        return out

    # -- criteria
    def branch(self, criteria: n.Node) -> dict[str, Any]:
        """Criteria as HubSpot's filter groups: an OR of AND groups."""
        items = criteria.items if isinstance(criteria, n.Or) else (criteria,)
        return _or([self.and_group(item) for item in items])

    def and_group(self, criteria: n.Node) -> dict[str, Any]:
        items = criteria.items if isinstance(criteria, n.And) else (criteria,)
        filters: list[dict[str, Any]] = []
        branches: list[dict[str, Any]] = []
        for item in items:
            kind, value = self.element(item)
            (filters if kind == "filter" else branches).append(value)
        return {
            "filterBranchType": "AND",
            "filterBranchOperator": "AND",
            "filters": filters,
            "filterBranches": branches,
        }

    def element(self, c: n.Node) -> tuple[str, dict[str, Any]]:
        if isinstance(c, n.Or):
            return "branch", self.branch(c)
        if isinstance(c, n.And):
            return "branch", self.and_group(c)
        if isinstance(c, n.Not) and isinstance(c.item, n.InList):
            ident = self.lock.id_for("lists", c.item.name.value, "", self.problems, span=c.item.name.span)
            return "filter", {"filterType": "IN_LIST", "listId": ident, "operator": "NOT_IN_LIST"}
        if isinstance(c, n.Not):
            inner = c.item.items if isinstance(c.item, n.Or) else (c.item,)
            group: dict[str, Any] = {
                "filterBranchType": "NOT_ANY",
                "filterBranchOperator": "OR",
                "filters": [],
                "filterBranches": [],
            }
            for item in inner:
                kind, value = self.element(item)
                group["filters" if kind == "filter" else "filterBranches"].append(value)
            return "branch", group
        if isinstance(c, n.InList):
            ident = self.lock.id_for("lists", c.name.value, "", self.problems, span=c.name.span)
            return "filter", {"filterType": "IN_LIST", "listId": ident, "operator": "IN_LIST"}
        if isinstance(c, n.HasEvent):
            if c.within is not None:
                raise self.fail(c.within, "`within last` on an event has no flow JSON equivalent here")
            event = c.event
            if isinstance(event, n.EventRef) and event.name == "form.submitted":
                f: dict[str, Any] = {
                    "filterType": "FORM_SUBMISSION",
                    "operator": "NOT_FILLED_OUT" if c.negated else "FILLED_OUT",
                }
                if event.criteria is not None:
                    crit = event.criteria
                    if not (
                        isinstance(crit, n.Compare)
                        and crit.op == "="
                        and crit.prop.dotted == "form"
                        and isinstance(crit.value, n.StringLit)
                    ):
                        raise self.fail(crit, 'a form submission filter names one form: `form = "…"`')
                    f["formId"] = self.lock.id_for("forms", crit.value.value, "", self.problems, span=crit.value.span)
                return "filter", f
            return "branch", self.unified_event(event, "HAS_NOT_COMPLETED" if c.negated else "HAS_COMPLETED")
        prop = getattr(c, "prop", None)
        if not isinstance(prop, n.PropertyRef):
            raise self.fail(
                c,
                "this condition has no flow JSON equivalent",
                hint="workflow membership and `received` conditions stay in wfdsl",
            )
        if len(prop.parts) != 2:
            raise self.fail(prop, f"{prop.dotted}: flow filters name a property of a record type")
        owner, name = prop.parts
        f = {"filterType": "PROPERTY", "property": name, "operation": self.operation(c, owner, name)}
        if owner == self.object:
            return "filter", f
        association = ids.ASSOCIATIONS.get((self.object, owner))
        if association is None or owner not in ids.OBJECT_TYPE_IDS:
            raise self.fail(prop, f"{owner} records are not associated with {self.object} records in flow JSON here")
        return "branch", {
            "filterBranchType": "ASSOCIATION",
            "filterBranchOperator": "AND",
            "objectTypeId": ids.OBJECT_TYPE_IDS[owner],
            "operator": "IN_LIST",
            "associationTypeId": association,
            "associationCategory": "HUBSPOT_DEFINED",
            "filters": [f],
            "filterBranches": [],
        }

    def prop_type(self, owner: str, name: str, value: n.Node | None) -> str:
        if name in ids.ID_PROPERTIES:
            return "enumeration"
        prop = self.schema.property(owner, name)
        if prop is not None:
            return prop.type
        if isinstance(value, n.NumberLit):
            return "number"
        if isinstance(value, n.BoolLit):
            return "bool"
        return "enumeration"

    def raw_value(self, owner: str, name: str, value: n.Node) -> Any:
        """A literal as flow JSON: ids of portal names, numbers as numbers."""
        if name in ids.ID_PROPERTIES and isinstance(value, n.StringLit):
            return self.lock.id_for(ids.ID_PROPERTIES[name], value.value, "", self.problems, span=value.span)
        if isinstance(value, n.StringLit):
            return ids.to_hubspot_tokens(value.value, self.object)
        if isinstance(value, n.NumberLit):
            return _number(value.text)
        if isinstance(value, n.BoolLit):
            return value.value
        if isinstance(value, (n.DateLit, n.DateTimeLit, n.TimeLit)):
            return value.text
        raise self.fail(value, "this value has no flow JSON equivalent here")

    def operation(self, c: n.Node, owner: str, name: str) -> dict[str, Any]:
        base = {"includeObjectsWithNoValueSet": False}
        if isinstance(c, n.IsKnown):
            return {**base, "operationType": "ALL_PROPERTY", "operator": "IS_KNOWN" if c.known else "IS_UNKNOWN"}
        if isinstance(c, n.Compare):
            kind = self.prop_type(owner, name, c.value)
            raw = self.raw_value(owner, name, c.value)
            if c.op in ("=", "!=") and kind == "enumeration":
                return {
                    **base,
                    "operationType": "ENUMERATION",
                    "operator": "IS_ANY_OF" if c.op == "=" else "IS_NONE_OF",
                    "values": [str(raw)],
                }
            ops = {
                "=": "IS_EQUAL_TO",
                "!=": "IS_NOT_EQUAL_TO",
                ">": "IS_GREATER_THAN",
                "<": "IS_LESS_THAN",
                ">=": "IS_GREATER_THAN_OR_EQUAL_TO",
                "<=": "IS_LESS_THAN_OR_EQUAL_TO",
            }
            if kind == "number" and isinstance(c.value, n.NumberLit):
                return {**base, "operationType": "NUMBER", "operator": ops[c.op], "value": raw}
            if kind == "bool" and c.op in ("=", "!=") and isinstance(c.value, n.BoolLit):
                return {**base, "operationType": "BOOL", "operator": ops[c.op], "value": raw}
            if kind == "string" and c.op in ("=", "!=") and isinstance(c.value, n.StringLit):
                return {**base, "operationType": "STRING", "operator": ops[c.op], "value": raw}
            raise self.fail(
                c,
                f"`{c.op}` on a {kind} property with this value has no flow JSON equivalent",
                hint="dates compare with `before`/`after`; numbers with numbers",
            )
        if isinstance(c, n.InValues):
            values = [str(self.raw_value(owner, name, v)) for v in c.values.items]
            return {
                **base,
                "operationType": "ENUMERATION",
                "operator": "IS_NONE_OF" if c.negated else "IS_ANY_OF",
                "values": values,
            }
        if isinstance(c, n.Between):
            if not (isinstance(c.low, n.NumberLit) and isinstance(c.high, n.NumberLit)):
                raise self.fail(c, "`between` in flow JSON takes numbers")
            return {
                **base,
                "operationType": "NUMBER_RANGED",
                "operator": "IS_BETWEEN",
                "lowerBound": _number(c.low.text),
                "upperBound": _number(c.high.text),
            }
        if isinstance(c, n.TextMatch):
            op = {
                "contains": "CONTAINS",
                "not_contains": "DOES_NOT_CONTAIN",
                "starts_with": "STARTS_WITH",
                "ends_with": "ENDS_WITH",
            }[c.op]
            return {**base, "operationType": "MULTISTRING", "operator": op, "values": [c.value.value]}
        if isinstance(c, n.HistoryMatch):
            kind = self.prop_type(owner, name, c.value)
            raw = self.raw_value(owner, name, c.value)
            if kind == "enumeration":
                return {
                    **base,
                    "operationType": "ENUMERATION",
                    "operator": "HAS_EVER_BEEN_ANY_OF" if c.ever else "HAS_NEVER_BEEN_ANY_OF",
                    "values": [str(raw)],
                }
            op = "HAS_EVER_BEEN_EQUAL_TO" if c.ever else "HAS_NEVER_BEEN_EQUAL_TO"
            return {
                **base,
                "operationType": "NUMBER" if kind == "number" else "STRING",
                "operator": op,
                "value": raw if kind == "number" else str(raw),
            }
        if isinstance(c, n.DateCompare):
            if not isinstance(c.value, n.DateLit):
                raise self.fail(c.value, "flow date filters compare with a date (2026-01-31)")
            year, month, day = (int(x) for x in c.value.text.split("-"))
            return {
                **base,
                "operationType": "DATE",
                "operator": "IS_BEFORE" if c.op == "before" else "IS_AFTER",
                "year": year,
                "month": ids.MONTHS[month - 1],
                "day": day,
            }
        if isinstance(c, n.RelativeDate):
            days = self.days(c.duration)
            if c.op == "within_last":
                return {
                    **base,
                    "operationType": "TIME_RANGED",
                    "type": "TIME_RANGED",
                    "operator": "IS_BETWEEN",
                    "propertyParser": "VALUE",
                    "lowerBoundEndpointBehavior": "INCLUSIVE",
                    "upperBoundEndpointBehavior": "INCLUSIVE",
                    "lowerBoundTimePoint": _point("TODAY", -days),
                    "upperBoundTimePoint": _point("NOW", 0),
                }
            if c.op == "within_next":
                return {
                    **base,
                    "operationType": "TIME_RANGED",
                    "type": "TIME_RANGED",
                    "operator": "IS_BETWEEN",
                    "propertyParser": "VALUE",
                    "lowerBoundEndpointBehavior": "INCLUSIVE",
                    "upperBoundEndpointBehavior": "INCLUSIVE",
                    "lowerBoundTimePoint": _point("NOW", 0),
                    "upperBoundTimePoint": _point("TODAY", days),
                }
            return {
                **base,
                "operationType": "TIME_POINT",
                "type": "TIME_POINT",
                "operator": "IS_BEFORE",
                "propertyParser": "VALUE",
                "endpointBehavior": "EXCLUSIVE",
                "timePoint": _point("TODAY", -days),
            }
        raise self.fail(c, "this condition has no flow JSON equivalent")  # pragma: no cover

    def days(self, duration: n.Duration) -> int:
        minutes = _minutes(duration)
        if minutes % (24 * 60):
            raise self.fail(duration, "flow date filters count whole days")
        return minutes // (24 * 60)

    # -- steps
    def allocate(self, steps: Sequence[n.Node]) -> None:
        """Action ids in the order the text lists the steps."""
        for step in steps:
            if isinstance(step, (n.Label, n.GoTo, n.End)):
                if isinstance(step, n.Label):
                    self.label_order.append(step.name.value)
                continue
            self.ids[id(step)] = str(len(self.ids) + 1)
            for block in _blocks(step):
                self.allocate(block.steps)

    def connect(self, action: dict[str, Any], key: str, target: _Target, standard: bool) -> None:
        if target is None:
            return
        if isinstance(target, tuple):
            action[key] = {}
            self.patches.append((action, key, target[1]))
            return
        action[key] = {"edgeType": "STANDARD" if standard else "GO-TO", "nextActionId": target}
        if standard:
            self.standard_in[target] = self.standard_in.get(target, 0) + 1

    def block(self, steps: Sequence[n.Node], cont: _Target, standard: bool) -> _Target:
        """Emit a block whose end continues at `cont`; return where the block starts.

        Returns the first action's id (entered by a STANDARD edge), the `cont`
        of an empty block, or a label target for a block that starts with `go to`.
        The flag tells whether an edge into the returned target is STANDARD.
        """
        target, _std = self.block_std(steps, cont, standard)
        return target

    def block_std(self, steps: Sequence[n.Node], cont: _Target, standard: bool) -> tuple[_Target, bool]:
        nxt, std = cont, standard
        for step in reversed(steps):
            if isinstance(step, n.Label):
                self.labels[step.name.value] = nxt
                continue
            if isinstance(step, n.GoTo):
                nxt, std = ("label", step.target.value), False
                continue
            if isinstance(step, n.End):
                nxt, std = None, True
                continue
            ident = self.ids[id(step)]
            if isinstance(step, n.If) and _tests_received(step):
                action = self.received_action(step, steps, ident, nxt, std)
                self.actions.append(action)
                nxt, std = ident, True
                continue
            if isinstance(step, _BRANCHES):
                action = self.branch_action(step, ident, nxt, std)
            else:
                action = self.single(step, ident)
                self.connect(action, "connection", nxt, std)
            self.actions.append(action)
            nxt, std = ident, True
        return nxt, std

    def arms(self, bodies: Sequence[n.Block | None], cont: _Target, standard: bool) -> list[tuple[_Target, bool]]:
        """The entry of each arm. One arm reaches `cont` by a STANDARD edge (the last one that
        reaches it at all), the others by GO-TO edges: every action keeps one STANDARD parent."""
        out: list[tuple[_Target, bool]] = []
        pending = standard
        for body in reversed(bodies):
            before = self.standard_in.get(cont, 0) if isinstance(cont, str) else 0
            steps = body.steps if body is not None else ()
            entry = self.block_std(steps, cont, pending)
            out.append(entry)
            # The arm's own edges reached `cont`, or the arm is empty and its entry edge will.
            if pending and isinstance(cont, str) and (self.standard_in.get(cont, 0) > before or entry == (cont, True)):
                pending = False
        out.reverse()
        return out

    def branch_action(self, step: n.Node, ident: str, cont: _Target, standard: bool) -> dict[str, Any]:
        if isinstance(step, n.If):
            bodies: list[n.Block | None] = [b.body for b in step.branches]
            has_else = step.else_body is not None or cont is not None
            bodies.append(step.else_body if has_else else None)
            entries = self.arms(bodies if has_else else bodies[:-1], cont, standard)
            action: dict[str, Any] = {"type": "LIST_BRANCH", "actionId": ident, "listBranches": []}
            for i, branch in enumerate(step.branches):
                arm: dict[str, Any] = {"branchName": f"Branch {i + 1}", "filterBranch": self.branch(branch.condition)}
                self.put_arm(arm, "connection", entries[i])
                action["listBranches"].append(arm)
            if has_else:
                action["defaultBranchName"] = "Otherwise"
                self.put_arm(action, "defaultBranch", entries[-1])
            return action
        if isinstance(step, n.BranchOn):
            if len(step.prop.parts) != 2 or step.prop.parts[0] != self.object:
                raise self.fail(step.prop, f"flow value branches test a property of the enrolled {self.object}")
            name = step.prop.parts[1]
            has_else = step.else_body is not None or cont is not None
            cases: list[n.Block | None] = [case.body for case in step.cases]
            entries = self.arms(cases + ([step.else_body] if has_else else []), cont, standard)
            action = {
                "type": "STATIC_BRANCH",
                "actionId": ident,
                "inputValue": {"type": "OBJECT_PROPERTY", "propertyName": name},
                "staticBranches": [],
            }
            for i, case in enumerate(step.cases):
                arm = {"branchValue": str(self.raw_value(self.object, name, case.value))}
                self.put_arm(arm, "connection", entries[i])
                action["staticBranches"].append(arm)
            if has_else:
                action["defaultBranchName"] = "Otherwise"
                self.put_arm(action, "defaultBranch", entries[-1])
            return action
        assert isinstance(step, n.Split)
        count = len(step.arms)
        for arm_node in step.arms:
            if _number(arm_node.percent.text) * count != 100:
                raise self.fail(
                    arm_node.percent,
                    "flow JSON splits into equal shares only (HubSpot's A/B test "
                    f"branch); expected {100 / count:g}% for each of {count} arms",
                )
        entries = self.arms([a.body for a in step.arms], cont, standard)
        branches = []
        for arm_node, entry in zip(step.arms, entries, strict=True):
            if entry[0] is None:
                raise self.fail(
                    arm_node,
                    "a split arm with nothing after it has no flow JSON equivalent",
                    hint="add a step, or `end` the workflow after the split",
                )
            holder: dict[str, Any] = {}
            self.put_arm(holder, "c", entry)
            branches.append(holder["c"])
        return {"type": "AB_TEST_BRANCH", "actionId": ident, "testBranches": branches}

    def received_action(
        self, step: n.If, block: Sequence[n.Node], ident: str, cont: _Target, standard: bool
    ) -> dict[str, Any]:
        """`if received { } else { }` after a `wait for`: a branch on the wait's outcome."""
        index = next(i for i, s in enumerate(block) if s is step)
        wait = block[index - 1] if index else None
        condition = step.branches[0].condition
        alone = isinstance(condition, n.Received) or (
            isinstance(condition, n.Not) and isinstance(condition.item, n.Received)
        )
        if not isinstance(wait, n.WaitFor) or len(step.branches) != 1 or not alone:
            raise self.fail(
                step,
                "flow JSON branches on a wait's outcome right after the `wait for`, "
                "with `if received` or `if not received` alone (and `else`)",
            )
        condition = step.branches[0].condition
        has_else = step.else_body is not None or cont is not None
        bodies: list[n.Block | None] = [step.branches[0].body]
        if has_else:
            bodies.append(step.else_body)
        entries = self.arms(bodies, cont, standard)
        arm: dict[str, Any] = {"branchValue": "true" if isinstance(condition, n.Received) else "false"}
        self.put_arm(arm, "connection", entries[0])
        action: dict[str, Any] = {
            "type": "STATIC_BRANCH",
            "actionId": ident,
            "inputValue": {"type": "FIELD_DATA", "actionId": self.ids[id(wait)], "dataKey": "hs_event_criteria_met"},
            "staticBranches": [arm],
        }
        if has_else:
            action["defaultBranchName"] = "Otherwise"
            self.put_arm(action, "defaultBranch", entries[-1])
        return action

    def put_arm(self, holder: dict[str, Any], key: str, entry: tuple[_Target, bool]) -> None:
        target, std = entry
        self.connect(holder, key, target, std)

    # -- single actions
    def action(self, ident: str, type_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "SINGLE_CONNECTION",
            "actionId": ident,
            "actionTypeId": type_id,
            "actionTypeVersion": 0,
            "fields": fields,
        }

    def single(self, step: n.Node, ident: str) -> dict[str, Any]:
        if isinstance(step, n.Delay):
            amount, unit = _single_unit(step.duration)
            return self.action(ident, ids.DELAY, {"delta": str(amount), "time_unit": unit})
        if isinstance(step, n.DelayUntilDate):
            fields: dict[str, Any] = {}
            base = step.base
            if isinstance(base, n.PropertyRef):
                if len(base.parts) != 2 or base.parts[0] != self.object:
                    raise self.fail(base, f"flow delays wait for a date property of the enrolled {self.object}")
                fields["date"] = {"type": "OBJECT_PROPERTY", "propertyName": base.parts[1]}
            elif isinstance(base, n.DateLit):
                fields["date"] = {"type": "STATIC_VALUE", "staticValue": base.text}
            else:
                raise self.fail(base, "flow delays wait until a date, not a date-time; use `at HH:MM`")
            if step.offset is not None:
                amount, unit = _single_unit(step.offset)
                fields["delta"] = str(-amount if step.sign == "-" else amount)
                fields["time_unit"] = unit
            if step.at is not None:
                fields["time_of_day"] = _time(step.at.text)
            return self.action(ident, ids.DELAY_UNTIL_DATE, fields)
        if isinstance(step, n.SendEmail):
            email = self.lock.id_for("marketing_emails", step.email.value, "", self.problems, span=step.email.span)
            return self.action(ident, ids.SEND_EMAIL, {"content_id": email})
        if isinstance(step, (n.SetProperty, n.ClearProperty, n.Increment, n.CopyProperty, n.AssignOwner)):
            return self.action(ident, ids.SET_PROPERTY, self.set_fields(step))
        if isinstance(step, n.CreateTask):
            return self.action(ident, ids.TASK, self.task_fields(step))
        if isinstance(step, n.Notify):
            fields = {}
            if step.recipient is None:
                fields["owner_properties"] = ["hubspot_owner_id"]
            else:
                fields["user_ids"] = [
                    self.lock.id_for("users", step.recipient.value, "", self.problems, span=step.recipient.span)
                ]
            if step.subject is not None:
                fields["subject"] = ids.to_hubspot_tokens(step.subject.value, self.object)
            if step.body is not None:
                fields["body"] = ids.to_hubspot_tokens(step.body.value, self.object)
            return self.action(ident, ids.NOTIFY, fields)
        if isinstance(step, n.RotateOwner):
            users = []
            for item in step.owners.items:
                if not isinstance(item, n.StringLit):
                    raise self.fail(item, "owners are named by strings")
                users.append(self.lock.id_for("owners", item.value, "", self.problems, span=item.span))
            return self.action(
                ident,
                ids.ROTATE_OWNER,
                {"user_ids": users, "target_property": "hubspot_owner_id", "overwrite_current_owner": "true"},
            )
        if isinstance(step, (n.AddToList, n.RemoveFromList)):
            list_id = self.lock.id_for("lists", step.name.value, "", self.problems, span=step.name.span)
            operation = "ADD" if isinstance(step, n.AddToList) else "REMOVE"
            return self.action(ident, ids.LIST, {"operation": operation, "list_id": list_id})
        if isinstance(step, n.CreateRecord):
            created = step.object_type.value
            if created not in ids.OBJECT_TYPE_IDS or (created, self.object) not in ids.ASSOCIATIONS:
                raise self.fail(step.object_type, f"creating {created} records has no flow JSON equivalent here")
            props = [
                {
                    "targetProperty": f.name.value,
                    "value": {
                        "type": "STATIC_VALUE",
                        "staticValue": _text(self.raw_value(created, f.name.value, f.value)),
                    },
                }
                for f in step.fields
            ]
            return self.action(
                ident,
                ids.CREATE_RECORD,
                {
                    "object_type_id": ids.OBJECT_TYPE_IDS[created],
                    "properties": props,
                    "associations": [
                        {
                            "target": {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": ids.ASSOCIATIONS[(created, self.object)],
                            },
                            "value": {"type": "ENROLLED_OBJECT"},
                        }
                    ],
                    "use_explicit_associations": "true",
                },
            )
        if isinstance(step, n.EnrollInWorkflow):
            flow_id = self.lock.id_for("workflows", step.workflow.value, "", self.problems, span=step.workflow.span)
            return self.action(ident, ids.ENROLL_IN_WORKFLOW, {"flow_id": flow_id})
        if isinstance(step, n.Webhook):
            if step.body is not None:
                raise self.fail(step.body, "HubSpot webhooks send the record; a `body` has no flow JSON equivalent")
            return {
                "type": "WEBHOOK",
                "actionId": ident,
                "method": step.method.upper(),
                "webhookUrl": step.url.value,
                "queryParams": [],
            }
        if isinstance(step, n.WaitFor):
            if not isinstance(step.event, (n.EventRef, n.PropertyChange)):
                raise self.fail(step, "this wait has no flow JSON equivalent")  # pragma: no cover
            return self.action(
                ident,
                ids.WAIT_FOR_EVENT,
                {
                    "event_filter_branches": [self.unified_event(step.event, "HAS_COMPLETED")],
                    "expiration_minutes": str(_minutes(step.timeout)),
                },
            )
        if isinstance(step, n.Placeholder):
            raise self.fail(
                step,
                "a placeholder must be filled before the workflow is exported",
                hint="replace it with the action it stands for",
            )
        what = {
            n.DelayUntilDay: "`delay until` a day or time",
            n.DelayUntilAnchor: "a date-centred delay",
            n.UnenrollFromWorkflow: "`unenroll from workflow`",
        }.get(type(step), "this step")
        raise self.fail(
            step, f"{what} has no flow JSON equivalent here", hint="keep this workflow in wfdsl, or rewrite the step"
        )

    def set_fields(self, step: n.Node) -> dict[str, Any]:
        if isinstance(step, n.AssignOwner):
            owner = self.lock.id_for("owners", step.owner.value, "", self.problems, span=step.owner.span)
            return {"property_name": "hubspot_owner_id", "value": {"type": "STATIC_VALUE", "staticValue": owner}}
        prop = step.target if isinstance(step, n.CopyProperty) else step.prop  # type: ignore[attr-defined]
        assert isinstance(prop, n.PropertyRef)
        if len(prop.parts) != 2:
            raise self.fail(prop, f"{prop.dotted}: flow actions set a property of a record type")
        owner, name = prop.parts
        fields: dict[str, Any] = {"property_name": name}
        if owner != self.object:
            association = ids.ASSOCIATIONS.get((self.object, owner))
            if association is None:
                raise self.fail(prop, f"{owner} records are not associated with {self.object} records here")
            fields["association"] = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association}
        if isinstance(step, n.SetProperty):
            raw = self.raw_value(owner, name, step.value)
            if raw == "":
                raise self.fail(step.value, 'setting "" is clearing the property; write `clear` instead')
            fields["value"] = {"type": "STATIC_VALUE", "staticValue": _text(raw)}
        elif isinstance(step, n.ClearProperty):
            fields["value"] = {"type": "STATIC_VALUE", "staticValue": ""}
        elif isinstance(step, n.Increment):
            fields["value"] = {"type": "INCREMENT", "incrementAmount": _number(step.amount.text)}
        elif isinstance(step, n.CopyProperty):
            source = step.source
            if len(source.parts) != 2 or source.parts[0] != self.object:
                raise self.fail(source, f"flow actions copy from a property of the enrolled {self.object}")
            fields["value"] = {"type": "OBJECT_PROPERTY", "propertyName": source.parts[1]}
        return fields

    def task_fields(self, step: n.CreateTask) -> dict[str, Any]:
        fields: dict[str, Any] = {"task_type": "TODO", "subject": ids.to_hubspot_tokens(step.title.value, self.object)}
        if step.notes is not None:
            fields["body"] = ids.to_hubspot_tokens(step.notes.value, self.object)
        if step.priority is not None:
            fields["priority"] = step.priority.upper()
        if step.due is not None:
            amount, unit = _single_unit(step.due)
            fields["due_time"] = {"delta": amount, "timeUnit": unit}
        if step.assign_owner:
            fields["owner_assignment"] = {
                "type": "CUSTOM",
                "value": {"type": "OBJECT_PROPERTY", "propertyName": "hubspot_owner_id"},
            }
        elif step.assignee is not None:
            owner = self.lock.id_for("owners", step.assignee.value, "", self.problems, span=step.assignee.span)
            fields["owner_assignment"] = {"type": "CUSTOM", "value": {"type": "STATIC_VALUE", "staticValue": owner}}
        fields["associations"] = [
            {
                "target": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ids.TASK_ASSOCIATIONS[self.object],
                },
                "value": {"type": "ENROLLED_OBJECT"},
            }
        ]
        fields["use_explicit_associations"] = "true"
        return fields


def _tests_received(step: n.If) -> bool:
    """Whether the `if` tests the outcome of a wait (`received` anywhere in its first condition)."""
    return any(isinstance(node, n.Received) for node in step.branches[0].condition.walk())


def _blocks(step: n.Node) -> list[n.Block]:
    if isinstance(step, n.If):
        return [b.body for b in step.branches] + ([step.else_body] if step.else_body is not None else [])
    if isinstance(step, n.BranchOn):
        return [c.body for c in step.cases] + ([step.else_body] if step.else_body is not None else [])
    if isinstance(step, n.Split):
        return [a.body for a in step.arms]
    return []


def _or(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"filterBranchType": "OR", "filterBranchOperator": "OR", "filters": [], "filterBranches": groups}


def _hs_name(prop: str) -> dict[str, Any]:
    return {
        "filterType": "PROPERTY",
        "property": "hs_name",
        "operation": {
            "operationType": "STRING",
            "operator": "IS_EQUAL_TO",
            "value": prop,
            "includeObjectsWithNoValueSet": False,
        },
    }


def _point(reference: str, days: int) -> dict[str, Any]:
    point: dict[str, Any] = {
        "timeType": "INDEXED",
        "timezoneSource": "CUSTOM",
        "zoneId": "UTC",
        "indexReference": {"referenceType": reference},
    }
    if days:
        point["offset"] = {"days": days}
    return point


def _time(text: str) -> dict[str, int]:
    hour, minute = text.split(":")
    return {"hour": int(hour), "minute": int(minute)}


def _days(days: Sequence[n.Node]) -> list[str]:
    out: list[str] = []
    for day in days:
        if isinstance(day, n.DayRange):
            start, end = ids.WEEKDAYS.index(day.start), ids.WEEKDAYS.index(day.end)
            out.extend(ids.WEEKDAYS[start : end + 1])
        elif isinstance(day, n.Day):
            out.append(day.name)
    return out


_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60, "week": 7 * 24 * 60}


def _minutes(duration: n.Duration) -> int:
    return sum(int(part.amount) * _UNIT_MINUTES[part.unit] for part in duration.parts)


def _single_unit(duration: n.Duration) -> tuple[int, str]:
    """A duration as one amount and unit: as written when it has one part, else in its smallest unit."""
    if len(duration.parts) == 1:
        part = duration.parts[0]
        return int(part.amount), ids.UNIT_NAMES[part.unit]
    smallest = min(duration.parts, key=lambda p: _UNIT_MINUTES[p.unit]).unit
    return _minutes(duration) // _UNIT_MINUTES[smallest], ids.UNIT_NAMES[smallest]


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)
