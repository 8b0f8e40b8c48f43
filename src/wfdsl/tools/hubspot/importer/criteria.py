"""Filter branches and event filters of a flow in; wfdsl criteria text out."""

from __future__ import annotations

from typing import Any

from wfdsl.tools.fmt import quote
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.importer.reader import (
    Crit,
    FlowReader,
    combine,
    id_text,
    only_item,
    show,
    time_point,
    wf_literal,
)
from wfdsl.tools.hubspot.problems import join_path


class CriteriaReader(FlowReader):
    """Filter branches (property, association, event filters) as criteria."""

    def criteria(self, data: Any, path: str, object_type: str) -> Crit:
        branch = self.obj(data, path)
        kind = branch.get("filterBranchType")
        if kind == "UNIFIED_EVENTS":
            return ("pred", self.has_event(branch, path))
        if kind == "ASSOCIATION":
            return self.association(branch, path)
        if kind not in ("OR", "AND", "NOT_ALL", "NOT_ANY"):
            raise self.fail(path + ".filterBranchType", f"the filter group {show(kind)} has no wfdsl equivalent")
        self.only_keys(
            branch, path, {"filterBranchType", "filterBranchOperator", "filters", "filterBranches"}, "a filter group"
        )
        items: list[Crit] = [
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
        crit = combine(joiner, items)
        return ("not", crit) if kind.startswith("NOT_") else crit

    def association(self, branch: dict[str, Any], path: str) -> Crit:
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
                f"objectTypeId {show(branch.get('objectTypeId'))}, associationTypeId "
                f"{show(branch.get('associationTypeId'))}",
            )
        if branch.get("filterBranches"):
            raise self.fail(path + ".filterBranches", "nested groups inside an association filter are not supported")
        items = [
            self.filter(f, join_path(path, "filters", i), other)
            for i, f in enumerate(self.items(branch.get("filters"), path + ".filters"))
        ]
        if not items:
            raise self.fail(path + ".filters", "an association filter without filters")
        return combine("and", items)

    def has_event(self, branch: dict[str, Any], path: str) -> str:
        negated = branch.get("operator") == "HAS_NOT_COMPLETED"
        return f"has {'not ' if negated else ''}{self.event_text(branch, path)}"

    def filter(self, data: Any, path: str, object_type: str) -> Crit:
        f = self.obj(data, path)
        kind = f.get("filterType")
        if kind == "IN_LIST":
            self.only_keys(f, path, {"filterType", "listId", "operator", "metadata"}, "a list filter")
            name = self.lock.name_for("lists", self.string(f, "listId", path), path + ".listId", self.problems)
            op = f.get("operator", "IN_LIST")
            if op not in ("IN_LIST", "NOT_IN_LIST"):
                raise self.fail(path + ".operator", f"expected IN_LIST or NOT_IN_LIST, found {show(op)}")
            return ("pred", f"{'not ' if op == 'NOT_IN_LIST' else ''}in list {quote(name)}")
        if kind == "FORM_SUBMISSION":
            self.only_keys(f, path, {"filterType", "formId", "operator"}, "a form submission filter")
            op = f.get("operator")
            if op not in ("FILLED_OUT", "NOT_FILLED_OUT"):
                raise self.fail(path + ".operator", f"expected FILLED_OUT or NOT_FILLED_OUT, found {show(op)}")
            neg = "not " if op == "NOT_FILLED_OUT" else ""
            if f.get("formId") is None:
                return ("pred", f"has {neg}form.submitted")
            name = self.lock.name_for("forms", self.string(f, "formId", path), path + ".formId", self.problems)
            return ("pred", f"has {neg}form.submitted(form = {quote(name)})")
        if kind != "PROPERTY":
            raise self.fail(path + ".filterType", f"the filter type {show(kind)} has no wfdsl equivalent")
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
    ) -> Crit:
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
                return quote(self.lock.name_for(table, id_text(raw), where, self.problems))
            if object_type is not None and name is not None:
                return self.value(object_type, name, raw, where)
            return wf_literal(raw)

        def pred(text: str) -> Crit:
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
            items: list[Crit] = [pred(f"{words} {quote(str(v))}") for v in values]
            return combine("and" if operator == "DOES_NOT_CONTAIN" else "or", items)
        if kind == "NUMBER_RANGED" and operator == "IS_BETWEEN":
            low, high = op.get("lowerBound"), op.get("upperBound")
            return pred(f"between {wf_literal(low)} and {wf_literal(high)}")
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
                return combine("or" if operator == "HAS_EVER_BEEN_ANY_OF" else "and", items)
            if len(shown) == 1:
                return pred(f"{'=' if operator == 'IS_ANY_OF' else '!='} {shown[0]}")
            return pred(f"{'in' if operator == 'IS_ANY_OF' else 'not in'} [{', '.join(shown)}]")
        if kind == "DATE" and operator in ("IS_BEFORE", "IS_AFTER"):
            month = op.get("month")
            if month not in ids.MONTHS:
                raise self.fail(opath + ".month", f"expected a month such as JANUARY, found {show(month)}")
            date = (
                f"{self.integer(op, 'year', opath):04d}-{ids.MONTHS.index(month) + 1:02d}-"
                f"{self.integer(op, 'day', opath):02d}"
            )
            return pred(f"{'before' if operator == 'IS_BEFORE' else 'after'} {date}")
        if kind == "TIME_RANGED" and operator == "IS_BETWEEN" and op.get("propertyParser", "VALUE") == "VALUE":
            low = time_point(op.get("lowerBoundTimePoint"))
            high = time_point(op.get("upperBoundTimePoint"))
            if low is not None and high == ("NOW", 0) and low[0] == "TODAY" and low[1] < 0:
                return pred(f"within last {-low[1]} day{'s' if low[1] != -1 else ''}")
            if low == ("NOW", 0) and high is not None and high[0] == "TODAY" and high[1] > 0:
                return pred(f"within next {high[1]} day{'s' if high[1] != 1 else ''}")
        if kind == "TIME_POINT" and operator == "IS_BEFORE" and op.get("propertyParser", "VALUE") == "VALUE":
            point = time_point(op.get("timePoint"))
            if point is not None and point[0] == "TODAY" and point[1] < 0:
                return pred(f"more than {-point[1]} day{'s' if point[1] != -1 else ''} ago")
        raise self.fail(opath, f"the operation {show(kind)} {show(operator)} has no wfdsl equivalent")

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
                raw = op.get("value") if op.get("operator") == "IS_EQUAL_TO" else only_item(op.get("values"))
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
            raise self.fail(path + ".property", f"the event property {show(prop)} has no wfdsl attribute")
        table = {"form": "forms", "email": "marketing_emails"}.get(attribute)
        return str(self.property_filter(f, path, attribute, table=table)[1])

    def property_change_name(self, data: Any, path: str) -> str:
        f = self.obj(data, path)
        op = self.obj(f.get("operation"), path + ".operation")
        if f.get("property") != "hs_name" or op.get("operator") != "IS_EQUAL_TO":
            raise self.fail(path, "expected the filter `hs_name` IS_EQUAL_TO <property>")
        return self.string(op, "value", path + ".operation")
