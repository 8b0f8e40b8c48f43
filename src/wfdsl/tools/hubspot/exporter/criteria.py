"""wfdsl criteria in; HubSpot filter branches (property, association, event filters) out."""

from __future__ import annotations

from typing import Any

from wfdsl.syntax import nodes as n
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.exporter.writer import (
    FlowWriter,
    duration_minutes,
    hs_name,
    indexed_point,
    number_value,
    or_groups,
)


class CriteriaWriter(FlowWriter):
    """Criteria as filter branches."""

    def branch(self, criteria: n.Node) -> dict[str, Any]:
        """Criteria as HubSpot's filter groups: an OR of AND groups."""
        items = criteria.items if isinstance(criteria, n.Or) else (criteria,)
        return or_groups([self.and_group(item) for item in items])

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
                "lowerBound": number_value(c.low.text),
                "upperBound": number_value(c.high.text),
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
                    "lowerBoundTimePoint": indexed_point("TODAY", -days),
                    "upperBoundTimePoint": indexed_point("NOW", 0),
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
                    "lowerBoundTimePoint": indexed_point("NOW", 0),
                    "upperBoundTimePoint": indexed_point("TODAY", days),
                }
            return {
                **base,
                "operationType": "TIME_POINT",
                "type": "TIME_POINT",
                "operator": "IS_BEFORE",
                "propertyParser": "VALUE",
                "endpointBehavior": "EXCLUSIVE",
                "timePoint": indexed_point("TODAY", -days),
            }
        raise self.fail(c, "this condition has no flow JSON equivalent")  # pragma: no cover

    def days(self, duration: n.Duration) -> int:
        minutes = duration_minutes(duration)
        if minutes % (24 * 60):
            raise self.fail(duration, "flow date filters count whole days")
        return minutes // (24 * 60)

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
            filters = [hs_name(prop.parts[1])]
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
